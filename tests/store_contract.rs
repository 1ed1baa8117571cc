//! The store contract, run against both backends: every test below runs once on SQLite (a
//! temporary file) and once on PostgreSQL (a database of its own). Two store instances on one
//! database stand in for two replicas.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Duration, Utc};
use dinero_bridge::config::{EncryptionKeys, Settings, StoreSettings};
use dinero_bridge::domain::erasure::CustomerRef;
use dinero_bridge::domain::money_events::correction_document;
use dinero_bridge::domain::transfer_job::{JobKind, NewJob};
use dinero_bridge::domain::ErrorClass;
use dinero_bridge::domain::{
    Accepted, DeadLetterStatus, DineroCredentials, EventSource, EventStatus, NewDeadLetter,
    NewEvent, OrderRecord, Reached, Step, Tenant, TenantSecrets, TenantSettings, CREATE_INVOICE,
};
use dinero_bridge::store::{
    self, ConflictResolution, Erasure, Fence, OrderFilter, Store, StoreError,
};
use serde_json::json;

use common::pg::PgDatabase;

/// A store and what keeps its database alive.
struct Backend {
    store: Arc<dyn Store>,
    settings: StoreSettings,
    _sqlite_dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

fn keys() -> EncryptionKeys {
    EncryptionKeys {
        current_id: "k1".into(),
        keys: BTreeMap::from([("k1".to_owned(), [3u8; 32])]),
    }
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings {
            url: format!("sqlite://{}", dir.path().join("store.db").display()),
            ..Settings::defaults().store
        };
        Backend {
            store: store::open(&settings, keys(), true).await.unwrap(),
            settings,
            _sqlite_dir: Some(dir),
            _pg: None,
        }
    }

    async fn postgres() -> Backend {
        let db = PgDatabase::create().await;
        let settings = StoreSettings {
            url: db.url.clone(),
            ..Settings::defaults().store
        };
        Backend {
            store: store::open(&settings, keys(), true).await.unwrap(),
            settings,
            _sqlite_dir: None,
            _pg: Some(db),
        }
    }

    /// Another store on the same database: a second replica.
    async fn replica(&self) -> Arc<dyn Store> {
        store::open(&self.settings, keys(), true).await.unwrap()
    }
}

/// Each contract test, once per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                super::$name(&super::Backend::sqlite().await).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                super::$name(&super::Backend::postgres().await).await
            })*
        }
    };
}

contract!(
    tenants_keep_their_secrets_and_first_pause_reason,
    duplicates_and_conflicts_are_recognised,
    a_superseded_owner_cannot_write,
    dead_letters_pause_and_resume_replays_them_in_order,
    dead_letter_transitions_are_conditional,
    outbox_records_are_published_once,
    resume_and_retry_together_queue_each_event_once,
    tenants_are_found_by_partition,
    ledger_rows_history_and_contacts,
    concurrent_writers_keep_each_tenants_order,
    concurrent_claims_leave_exactly_one_owner,
    concurrent_tenant_updates_lose_nothing,
    retention_prunes_only_what_is_finished,
    erasure_removes_personal_data_and_keeps_the_ledger,
    an_orders_later_documents_are_told_apart_in_inbox_and_ledger,
    completing_an_order_writes_row_history_event_and_dead_letter_together,
    inbox_writes_arriving_together_are_each_answered_after_the_shared_commit,
    ledger_writes_of_many_lanes_at_once_all_land_and_a_fenced_one_fails_alone,
    a_newer_version_replaces_a_waiting_order_until_its_invoice_create_is_marked,
    a_conflict_is_listed_and_resolved_by_keeping_or_rebooking,
    a_scheduled_run_is_claimed_once_per_day,
    ledger_vouchers_are_found_by_their_date_or_when_written,
);

fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.into(),
        organization_id: 4242,
        settings: TenantSettings::default(),
        account_vat: BTreeMap::new(),
        secrets: TenantSecrets {
            dinero: DineroCredentials::ApiKey {
                api_key: "api-key-secret".into(),
            },
            webhook_secrets: vec!["whsec_abc".into()],
        },
        paused: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn event(tenant: &str, event_id: &str, order_id: &str, content: &str) -> NewEvent {
    NewEvent {
        tenant_id: tenant.into(),
        event_id: event_id.into(),
        order_id: order_id.into(),
        document: "invoice".into(),
        payload: json!({"id": event_id, "data": {"order_id": order_id}}).to_string(),
        content_hash: content.into(),
        source: None,
        traceparent: None,
        imported: false,
    }
}

async fn accept(store: &dyn Store, tenant: &str, order_id: &str) -> i64 {
    match store
        .accept_event(event(tenant, &format!("e-{order_id}"), order_id, order_id))
        .await
        .unwrap()
    {
        Accepted::New { seq } => seq,
        other => panic!("{other:?}"),
    }
}

fn letter(tenant: &str, seq: i64, order_id: &str) -> NewDeadLetter {
    NewDeadLetter {
        tenant_id: tenant.into(),
        event_seq: seq,
        order_id: order_id.into(),
        error_class: ErrorClass::Permanent,
        error_code: Some("validation".into()),
        message: "account 9999 does not exist".into(),
        attempts: 1,
        first_failed_at: Utc::now(),
        traceparent: None,
    }
}

async fn tenants_keep_their_secrets_and_first_pause_reason(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let read = store.tenant("shop").await.unwrap().unwrap();
    assert_eq!(read.secrets, tenant("shop").secrets);
    assert_eq!(read.organization_id, 4242);
    assert!(read.paused.is_none());
    store.pause("shop", "first").await.unwrap();
    store.pause("shop", "second").await.unwrap();
    let paused = store.tenant("shop").await.unwrap().unwrap().paused.unwrap();
    assert_eq!(paused.reason, "first");
    // Only the pause that took effect is announced.
    let records = store.unpublished(10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, "paused");
    assert_eq!(records[0].headers["reason"], "first");
    // Saving the tenant again keeps its pause.
    store.put_tenant(&tenant("shop")).await.unwrap();
    assert!(store
        .tenant("shop")
        .await
        .unwrap()
        .unwrap()
        .paused
        .is_some());
    assert_eq!(store.tenants("", 100).await.unwrap().len(), 1);
    assert!(store.tenant("other").await.unwrap().is_none());
    // Paged by id, after a cursor.
    for id in ["b-shop", "a-shop"] {
        store.put_tenant(&tenant(id)).await.unwrap();
    }
    let ids = |page: Vec<Tenant>| page.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.tenants("", 2).await.unwrap()),
        ["a-shop", "b-shop"]
    );
    assert_eq!(ids(store.tenants("b-shop", 2).await.unwrap()), ["shop"]);
    assert!(store.tenants("shop", 2).await.unwrap().is_empty());
    let counted: Vec<String> = store
        .tenant_counts(None, "a-shop", 1)
        .await
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(counted, ["b-shop"]);
}

async fn duplicates_and_conflicts_are_recognised(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let first = accept(store, "shop", "1").await;
    let resend = store
        .accept_event(event("shop", "e-1", "1", "1"))
        .await
        .unwrap();
    assert_eq!(resend, Accepted::DuplicateEvent { seq: first });
    let same_order = store
        .accept_event(event("shop", "e-1b", "1", "1"))
        .await
        .unwrap();
    assert_eq!(same_order, Accepted::DuplicateOrder { seq: first });
    let changed = store
        .accept_event(event("shop", "e-1c", "1", "changed"))
        .await
        .unwrap();
    // Nothing was made from the first version yet: the changed one takes its place.
    let Accepted::Replaced {
        seq: current,
        replaced_seq,
    } = changed
    else {
        panic!("a changed waiting order replaces it: {changed:?}");
    };
    assert_eq!(replaced_seq, first);
    // The same ids under another tenant are another event.
    assert!(matches!(
        store
            .accept_event(event("other", "e-1", "1", "1"))
            .await
            .unwrap(),
        Accepted::New { .. }
    ));
    let second = accept(store, "shop", "2").await;
    assert_eq!(
        store.next_pending_event("shop").await.unwrap().unwrap().seq,
        current
    );
    assert_eq!(store.count_pending("shop").await.unwrap(), 2);
    // The orders list: the first event of each order, its status computed, filtered and
    // paged by the store.
    let list = |held: bool, status: Option<&'static str>, after_seq: i64, limit: i64| {
        let filter = OrderFilter {
            tenant: "shop",
            held,
            status,
            order_id: None,
            after_seq,
            limit,
        };
        async move {
            store
                .order_summaries(&filter)
                .await
                .unwrap()
                .iter()
                .map(|o| (o.seq, o.status.clone()))
                .collect::<Vec<_>>()
        }
    };
    let pending = |seq: i64| (seq, "pending".to_owned());
    assert_eq!(
        list(false, None, 0, 10).await,
        vec![pending(current), pending(second)]
    );
    assert_eq!(list(false, None, current, 10).await, vec![pending(second)]);
    assert_eq!(list(false, None, 0, 1).await, vec![pending(current)]);
    assert_eq!(list(false, Some("done"), 0, 10).await, vec![]);
    assert_eq!(
        list(true, Some("held"), 0, 10).await,
        vec![(current, "held".to_owned()), (second, "held".to_owned())]
    );
    let counts = store.tenant_counts(None, "", 100).await.unwrap();
    assert_eq!(counts.get("shop").map(|c| c.pending_events), Some(2));
    let statuses: Vec<EventStatus> = store
        .events_for_order("shop", "1")
        .await
        .unwrap()
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(
        statuses,
        [
            EventStatus::Superseded,
            EventStatus::Duplicate,
            EventStatus::Pending
        ]
    );
    let mut pending = store.tenants_with_pending_events().await.unwrap();
    pending.sort();
    assert_eq!(pending, ["other", "shop"]);
}

async fn a_superseded_owner_cannot_write(b: &Backend) {
    let (a, other_replica) = (&*b.store, b.replica().await);
    let seq = accept(a, "shop", "1").await;
    let first = a.claim_tenant("shop", "replica-a").await.unwrap();
    let second = other_replica
        .claim_tenant("shop", "replica-b")
        .await
        .unwrap();
    assert_eq!((first.epoch, second.epoch), (1, 2));
    let order = OrderRecord::new("shop", "1", seq);
    let fenced = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Fenced(_)));
    assert!(fenced(
        a.save_order(&order, &[Reached::now("received", None)], &first)
            .await
    ));
    assert!(fenced(
        a.set_event_status(seq, EventStatus::Done, &first).await
    ));
    assert!(fenced(a.mark_replayed(seq, &first).await));
    assert!(matches!(
        a.dead_letter_and_pause(letter("shop", seq, "1"), "why", &first)
            .await,
        Err(StoreError::Fenced(_))
    ));
    assert!(
        a.order("shop", "1").await.unwrap().is_none(),
        "nothing written"
    );
    assert!(a.dead_letters("shop").await.unwrap().is_empty());
    assert_eq!(
        a.next_pending_event("shop").await.unwrap().unwrap().seq,
        seq
    );
    other_replica
        .save_order(&order, &[Reached::now("received", None)], &second)
        .await
        .unwrap();
    assert_eq!(
        a.order("shop", "1").await.unwrap().unwrap().step,
        Step::Received
    );
    // Claims of another tenant are independent; an unclaimed tenant fences every write.
    assert_eq!(a.claim_tenant("other", "replica-a").await.unwrap().epoch, 1);
    let never = Fence {
        tenant: "nobody".into(),
        epoch: 1,
    };
    assert!(fenced(
        a.set_event_status(seq, EventStatus::Done, &never).await
    ));
}

const ACCEPTED_UNDER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const FAILED_UNDER: &str = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";

async fn dead_letters_pause_and_resume_replays_them_in_order(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let mut source = event("shop", "e-1", "1", "1");
    source.source = Some(EventSource {
        topic: "shop.orders".into(),
        partition: 3,
        offset: 77,
    });
    source.traceparent = Some(ACCEPTED_UNDER.into());
    let Accepted::New { seq: one } = store.accept_event(source).await.unwrap() else {
        panic!()
    };
    // The trace context it was accepted under comes back with the event.
    let stored = store.next_pending_event("shop").await.unwrap().unwrap();
    assert_eq!(stored.traceparent.as_deref(), Some(ACCEPTED_UNDER));
    let two = accept(store, "shop", "2").await;
    let three = accept(store, "shop", "3").await;
    let mut first = letter("shop", one, "1");
    first.traceparent = Some(FAILED_UNDER.into());
    let id1 = store
        .dead_letter_and_pause(first, "order 1 failed", &fence)
        .await
        .unwrap();
    store.resume("shop").await.unwrap();
    store
        .set_event_status(one, EventStatus::Done, &fence)
        .await
        .unwrap();
    store.mark_replayed(one, &fence).await.unwrap();
    let id2 = store
        .dead_letter_and_pause(letter("shop", two, "2"), "order 2 failed", &fence)
        .await
        .unwrap();
    let paused = store.tenant("shop").await.unwrap().unwrap().paused.unwrap();
    assert_eq!(paused.reason, "order 2 failed");
    // Held: order 3 waits, order 2 is dead.
    assert_eq!(
        store.next_pending_event("shop").await.unwrap().unwrap().seq,
        three
    );
    assert_eq!(
        store
            .pending_event_for_order("shop", "2")
            .await
            .unwrap()
            .unwrap()
            .status,
        EventStatus::Dead
    );
    let letters = store.dead_letters("shop").await.unwrap();
    assert_eq!(
        letters.iter().map(|l| (l.id, l.status)).collect::<Vec<_>>(),
        [
            (id1, DeadLetterStatus::Replayed),
            (id2, DeadLetterStatus::Open)
        ]
    );
    assert_eq!(letters[1].message, "account 9999 does not exist");
    // The dead letter's record carries its reason and source.
    let records = store.unpublished(10).await.unwrap();
    let first_letter = records.iter().find(|r| r.kind == "dead_letter").unwrap();
    assert_eq!(first_letter.headers["order-id"], "1");
    assert_eq!(first_letter.headers["source-partition"], "3");
    assert_eq!(first_letter.headers["source-offset"], "77");
    assert_eq!(first_letter.headers["error-class"], "permanent");
    assert_eq!(first_letter.headers["tenant-id"], "shop");
    assert_eq!(first_letter.headers["traceparent"], FAILED_UNDER);
    assert!(first_letter.value.contains("\"e-1\""));
    // Resume queues the dead letter again ahead of the held order.
    assert_eq!(store.resume("shop").await.unwrap(), 1);
    assert!(store
        .tenant("shop")
        .await
        .unwrap()
        .unwrap()
        .paused
        .is_none());
    assert_eq!(
        store.next_pending_event("shop").await.unwrap().unwrap().seq,
        two
    );
    assert_eq!(
        store
            .dead_letter("shop", id2)
            .await
            .unwrap()
            .unwrap()
            .status,
        DeadLetterStatus::Retrying
    );
    let kinds: Vec<String> = store
        .unpublished(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds, ["dead_letter", "resumed", "dead_letter", "resumed"]);
}

async fn dead_letter_transitions_are_conditional(b: &Backend) {
    let store = &*b.store;
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let seq = accept(store, "shop", "1").await;
    let id = store
        .dead_letter_and_pause(letter("shop", seq, "1"), "failed", &fence)
        .await
        .unwrap();
    assert!(store.retry_dead_letter("shop", id).await.unwrap());
    assert!(
        !store.retry_dead_letter("shop", id).await.unwrap(),
        "only an open one"
    );
    assert!(
        !store.retry_dead_letter("other", id).await.unwrap(),
        "only the tenant's own"
    );
    assert!(store
        .resolve_dead_letter("shop", id, "refunded")
        .await
        .unwrap());
    assert!(!store
        .resolve_dead_letter("shop", id, "again")
        .await
        .unwrap());
    let resolved = store.dead_letter("shop", id).await.unwrap().unwrap();
    assert_eq!(resolved.status, DeadLetterStatus::Resolved);
    assert_eq!(resolved.resolution.as_deref(), Some("refunded"));
    assert!(resolved.resolved_at.is_some());
    assert_eq!(
        store.events_for_order("shop", "1").await.unwrap()[0].status,
        EventStatus::Resolved
    );
    assert!(store.next_pending_event("shop").await.unwrap().is_none());
}

async fn outbox_records_are_published_once(b: &Backend) {
    let store = &*b.store;
    let headers = BTreeMap::from([("reason".to_owned(), "bad json".to_owned())]);
    let first = store
        .add_outbox("shop", "poison", "{not json", &headers)
        .await
        .unwrap();
    let second = store
        .add_outbox("shop", "poison", "x", &headers)
        .await
        .unwrap();
    let waiting = store.unpublished(10).await.unwrap();
    assert_eq!(
        waiting.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(waiting[0].value, "{not json");
    assert_eq!(waiting[0].headers["dinero-bridge-record"], "poison");
    store.mark_published(first).await.unwrap();
    let published = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // A second publication (a publisher that crashed before it recorded the first) changes
    // nothing: the record's age still counts from the first.
    store.mark_published(first).await.unwrap();
    assert_eq!(
        store
            .unpublished(10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [second]
    );
    let pruned = store.prune(published, 100).await.unwrap();
    assert_eq!(pruned.outbox, 1, "published before the cut-off: {pruned:?}");
}

/// Resume and a retry of one of its dead letters, at the same time: each dead letter's event
/// is queued once, by one of them.
async fn resume_and_retry_together_queue_each_event_once(b: &Backend) {
    let store = b.store.clone();
    store.put_tenant(&tenant("shop")).await.unwrap();
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let one = accept(&*store, "shop", "1").await;
    let two = accept(&*store, "shop", "2").await;
    let id1 = store
        .dead_letter_and_pause(letter("shop", one, "1"), "order 1 failed", &fence)
        .await
        .unwrap();
    store
        .dead_letter_and_pause(letter("shop", two, "2"), "order 2 failed", &fence)
        .await
        .unwrap();
    let (resumed, retried) = tokio::join!(
        tokio::spawn({
            let store = store.clone();
            async move { store.resume("shop").await.unwrap() }
        }),
        tokio::spawn({
            let store = store.clone();
            async move { store.retry_dead_letter("shop", id1).await.unwrap() }
        }),
    );
    let (resumed, retried) = (resumed.unwrap(), retried.unwrap());
    assert_eq!(
        resumed + u64::from(retried),
        2,
        "resume {resumed}, retry {retried}"
    );
    assert_eq!(store.count_pending("shop").await.unwrap(), 2);
    let letters = store.dead_letters("shop").await.unwrap();
    assert!(
        letters
            .iter()
            .all(|l| l.status == DeadLetterStatus::Retrying),
        "{letters:?}"
    );
    assert!(store
        .tenant("shop")
        .await
        .unwrap()
        .unwrap()
        .paused
        .is_none());
}

async fn tenants_are_found_by_partition(b: &Backend) {
    let store = &*b.store;
    for (tenant, partition) in [("a", 0), ("b", 1), ("c", 2)] {
        let mut e = event(tenant, "e", "1", "1");
        e.source = Some(EventSource {
            topic: "shop.orders".into(),
            partition,
            offset: 0,
        });
        store.accept_event(e).await.unwrap();
    }
    let fence = store.claim_tenant("b", "me").await.unwrap();
    let b_seq = store.next_pending_event("b").await.unwrap().unwrap().seq;
    store
        .set_event_status(b_seq, EventStatus::Done, &fence)
        .await
        .unwrap();
    let mut on = store.tenants_on("shop.orders", &[1, 2]).await.unwrap();
    on.sort();
    assert_eq!(on, ["b", "c"]);
    assert_eq!(
        store
            .tenants_pending_on("shop.orders", &[1, 2])
            .await
            .unwrap(),
        ["c"]
    );
    // No partitions (a consumer with none assigned): no tenants, on both databases.
    assert!(store
        .tenants_pending_on("shop.orders", &[])
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .tenants_on("shop.orders", &[])
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .tenants_on("other.topic", &[0])
        .await
        .unwrap()
        .is_empty());
}

async fn ledger_rows_history_and_contacts(b: &Backend) {
    let store = &*b.store;
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let mut order = OrderRecord::new("shop", "1", 1);
    store
        .save_order(&order, &[Reached::now("received", None)], &fence)
        .await
        .unwrap();
    order.step = Step::InvoiceCreated;
    order.invoice_guid = Some(uuid::Uuid::new_v4());
    order.in_flight = Some("book".into());
    order.in_flight_epoch = Some(fence.epoch);
    order.invoice_version = Some("v1".into());
    order.payments_done = 1;
    order.attempts = 2;
    store
        .save_order(
            &order,
            &[Reached::now("invoice_created", Some("guid".into()))],
            &fence,
        )
        .await
        .unwrap();
    let read = store.order("shop", "1").await.unwrap().unwrap();
    assert_eq!(
        (
            read.step,
            read.invoice_guid,
            read.in_flight.as_deref(),
            read.in_flight_epoch
        ),
        (
            Step::InvoiceCreated,
            order.invoice_guid,
            Some("book"),
            Some(fence.epoch)
        )
    );
    assert_eq!((read.payments_done, read.attempts), (1, 2));
    let steps: Vec<String> = store
        .order_history("shop", "1")
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.step)
        .collect();
    assert_eq!(steps, ["received", "invoice_created"]);
    store
        .save_order(&OrderRecord::new("shop", "2", 2), &[], &fence)
        .await
        .unwrap();
    assert_eq!(store.orders("shop", None, 10).await.unwrap().len(), 2);
    let created = store
        .orders("shop", Some(Step::InvoiceCreated), 10)
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].order_id, "1");

    let guid = uuid::Uuid::new_v4();
    assert!(store
        .contact("shop", "email:a@b.dk")
        .await
        .unwrap()
        .is_none());
    store
        .put_contact("shop", "email:a@b.dk", guid)
        .await
        .unwrap();
    store
        .put_contact("shop", "email:a@b.dk", guid)
        .await
        .unwrap();
    assert_eq!(
        store.contact("shop", "email:a@b.dk").await.unwrap(),
        Some(guid)
    );
    assert!(store
        .contact("other", "email:a@b.dk")
        .await
        .unwrap()
        .is_none());
}

/// Four writers on two replicas accept the same events of one tenant at once while a lane
/// works them off. Each event must be new exactly once, and the lane must never see an event
/// after a later one (a sequence number drawn before another's but committed after it would
/// be skipped by a reader that already moved past it).
async fn concurrent_writers_keep_each_tenants_order(b: &Backend) {
    let replicas = [b.store.clone(), b.replica().await];
    let fence = b.store.claim_tenant("shop", "lane").await.unwrap();
    let events = 200;
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = replicas[w % 2].clone();
        writers.push(tokio::spawn(async move {
            let mut new = 0;
            for n in 0..events {
                let id = n.to_string();
                match store
                    .accept_event(event("shop", &id, &id, "x"))
                    .await
                    .unwrap()
                {
                    Accepted::New { .. } => new += 1,
                    Accepted::DuplicateEvent { .. } => {}
                    other => panic!("{other:?}"),
                }
            }
            new
        }));
    }
    let lane = {
        let store = b.store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < events {
                match store.next_pending_event("shop").await.unwrap() {
                    Some(event) => {
                        store
                            .set_event_status(event.seq, EventStatus::Done, &fence)
                            .await
                            .unwrap();
                        seen.push(event.seq);
                    }
                    None => tokio::task::yield_now().await,
                }
            }
            seen
        })
    };
    let mut new = 0;
    for writer in writers {
        new += writer.await.unwrap();
    }
    assert_eq!(new, events, "each event accepted as new exactly once");
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), lane)
        .await
        .expect("the lane saw every event")
        .unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "the lane went back in time: {seen:?}"
    );
    assert_eq!(b.store.count_pending("shop").await.unwrap(), 0);
}

/// A refresh token rotated by a lane while an operator saves the tenant on another replica:
/// each update reads, changes and writes in one transaction, so none is lost. Here 40
/// updates on two replicas each add one webhook secret; all 40 must be there, and the pause
/// and the credentials nobody changed stay.
async fn concurrent_tenant_updates_lose_nothing(b: &Backend) {
    b.store.put_tenant(&tenant("shop")).await.unwrap();
    b.store.pause("shop", "month end").await.unwrap();
    assert!(b
        .store
        .update_tenant("nobody", &|t| t.organization_id = 1)
        .await
        .unwrap()
        .is_none());
    let replicas = [b.store.clone(), b.replica().await];
    let mut updates = Vec::new();
    for (r, store) in replicas.iter().enumerate() {
        for n in 0..20 {
            let store = store.clone();
            updates.push(tokio::spawn(async move {
                let secret = format!("whsec_{r}_{n}");
                store
                    .update_tenant("shop", &|t| t.secrets.webhook_secrets.push(secret.clone()))
                    .await
                    .unwrap()
                    .unwrap();
            }));
        }
    }
    for update in updates {
        update.await.unwrap();
    }
    let stored = b.store.tenant("shop").await.unwrap().unwrap();
    assert_eq!(
        stored.secrets.webhook_secrets.len(),
        41,
        "no update was lost"
    );
    assert_eq!(
        stored.paused.map(|p| p.reason).as_deref(),
        Some("month end")
    );
    assert!(matches!(
        stored.secrets.dinero,
        DineroCredentials::ApiKey { ref api_key } if api_key == "api-key-secret"
    ));
}

async fn concurrent_claims_leave_exactly_one_owner(b: &Backend) {
    let replicas = [b.store.clone(), b.replica().await];
    let seq = accept(&*b.store, "shop", "1").await;
    let mut claims = Vec::new();
    for (r, store) in replicas.iter().enumerate() {
        for _ in 0..25 {
            let store = store.clone();
            claims.push(tokio::spawn(async move {
                store
                    .claim_tenant("shop", &format!("replica-{r}"))
                    .await
                    .unwrap()
            }));
        }
    }
    let mut fences = Vec::new();
    for claim in claims {
        fences.push(claim.await.unwrap());
    }
    let epochs: BTreeSet<i64> = fences.iter().map(|f| f.epoch).collect();
    assert_eq!(epochs, (1..=50).collect(), "every claim its own epoch");
    // Every write under any claim but the last one is refused.
    let mut accepted = Vec::new();
    for fence in &fences {
        let mut order = OrderRecord::new("shop", "1", seq);
        order.attempts = fence.epoch as u32;
        if b.store.save_order(&order, &[], fence).await.is_ok() {
            accepted.push(fence.epoch);
        }
    }
    assert_eq!(accepted, [50]);
    assert_eq!(
        b.store.order("shop", "1").await.unwrap().unwrap().attempts,
        50
    );
}

async fn retention_prunes_only_what_is_finished(b: &Backend) {
    let store = &*b.store;
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let done = accept(store, "shop", "done").await;
    let waiting = accept(store, "shop", "waiting").await;
    let dead = accept(store, "shop", "dead").await;
    store
        .accept_event(event("shop", "dup", "done", "done"))
        .await
        .unwrap();
    store
        .set_event_status(done, EventStatus::Done, &fence)
        .await
        .unwrap();
    let mut order = OrderRecord::new("shop", "done", done);
    order.step = Step::Done;
    store
        .save_order(&order, &[Reached::now("done", None)], &fence)
        .await
        .unwrap();
    let unfinished = OrderRecord::new("shop", "dead", dead);
    store
        .save_order(&unfinished, &[Reached::now("received", None)], &fence)
        .await
        .unwrap();
    store
        .dead_letter_and_pause(letter("shop", dead, "dead"), "failed", &fence)
        .await
        .unwrap();
    for record in store.unpublished(10).await.unwrap() {
        store.mark_published(record.id).await.unwrap();
    }
    // A finished job goes with its orders; a running one stays.
    let job = |id: &str| NewJob {
        id: id.into(),
        tenant_id: "shop".into(),
        kind: JobKind::Transfer,
        overrides: "{}".into(),
        order_ids: vec!["done".into(), "waiting".into()],
    };
    store.create_job(&job("finished")).await.unwrap();
    store.create_job(&job("running")).await.unwrap();
    store.finish_job("finished").await.unwrap();

    // Nothing is older than a day ago.
    let nothing = store
        .prune(Utc::now() - Duration::days(1), 100)
        .await
        .unwrap();
    assert_eq!(nothing, Default::default());

    let pruned = store
        .prune(Utc::now() + Duration::days(1), 100)
        .await
        .unwrap();
    assert_eq!(
        (
            pruned.events,
            pruned.history,
            pruned.outbox,
            pruned.dead_letters,
            pruned.jobs
        ),
        (2, 1, 1, 0, 1),
        "the done event and its duplicate, the done order's history, the published record, \
         the finished job"
    );
    assert!(store.job("shop", "finished").await.unwrap().is_none());
    assert!(store.next_job_order("finished").await.unwrap().is_none());
    assert_eq!(
        store
            .next_job_order("running")
            .await
            .unwrap()
            .map(|o| o.position),
        Some(0),
        "the running job keeps its orders"
    );
    assert!(store
        .events_for_order("shop", "done")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.next_pending_event("shop").await.unwrap().unwrap().seq,
        waiting
    );
    assert_eq!(
        store.dead_letters("shop").await.unwrap().len(),
        1,
        "open: kept"
    );
    assert_eq!(store.order_history("shop", "dead").await.unwrap().len(), 1);
    assert_eq!(
        store.order("shop", "done").await.unwrap().unwrap().step,
        Step::Done
    );
    // A resend after pruning is new to the inbox; the kept ledger row makes its transfer a
    // no-op (tests/pipeline.rs, a_resend_after_retention_pruned_the_event_changes_nothing_in_dinero).
    assert!(matches!(
        store
            .accept_event(event("shop", "late", "done", "done"))
            .await
            .unwrap(),
        Accepted::New { .. }
    ));
    // Closed dead letters go too, with their events.
    let id = store.dead_letters("shop").await.unwrap()[0].id;
    store
        .resolve_dead_letter("shop", id, "refunded")
        .await
        .unwrap();
    let pruned = store
        .prune(Utc::now() + Duration::days(1), 100)
        .await
        .unwrap();
    assert_eq!((pruned.events, pruned.dead_letters), (1, 1));
    // Batches are bounded.
    for n in 0..5 {
        let seq = accept(store, "bulk", &n.to_string()).await;
        let fence = store.claim_tenant("bulk", "me").await.unwrap();
        store
            .set_event_status(seq, EventStatus::Done, &fence)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .prune(Utc::now() + Duration::days(1), 2)
            .await
            .unwrap()
            .events,
        2
    );
}

fn customer_event(tenant: &str, order_id: &str, email: &str, customer_id: &str) -> NewEvent {
    let payload = json!({
        "specversion": "1.0", "id": format!("e-{order_id}"), "source": "/shop",
        "type": "order.completed", "subject": order_id, "tenantid": tenant,
        "data": {
            "order_id": order_id, "order_number": format!("#{order_id}"),
            "completed_at": "2026-11-20T10:00:00Z", "currency": "DKK", "prices_include_vat": true,
            "customer": {"kind": "person", "id": customer_id, "name": "Anna Berg", "email": email,
                "phone": "+45 12345678",
                "address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"}},
            "lines": [{"kind": "product", "name": "Mug", "quantity": 1, "unit_price": "100", "vat_rate": 25}],
            "totals": {"total": "100", "vat": "20"}
        }
    });
    NewEvent {
        tenant_id: tenant.into(),
        event_id: format!("e-{order_id}"),
        order_id: order_id.into(),
        document: "invoice".into(),
        payload: payload.to_string(),
        content_hash: order_id.into(),
        source: None,
        traceparent: None,
        imported: false,
    }
}

async fn erasure_removes_personal_data_and_keeps_the_ledger(b: &Backend) {
    let store = &*b.store;
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let anna = CustomerRef {
        customer_id: None,
        email: Some("Anna@Example.dk".into()),
    };
    let mut seqs = Vec::new();
    for (order, email, id) in [("1", "anna@example.dk", "c1"), ("2", "bo@example.dk", "c2")] {
        let Accepted::New { seq } = store
            .accept_event(customer_event("shop", order, email, id))
            .await
            .unwrap()
        else {
            panic!()
        };
        seqs.push(seq);
    }
    // Anna's order is still waiting: nothing may be erased yet.
    assert_eq!(
        store.erase_customer("shop", &anna).await.unwrap(),
        Erasure::Held {
            orders: vec!["1".into()]
        }
    );
    assert!(store.events_for_order("shop", "1").await.unwrap()[0]
        .payload
        .contains("Vestergade"));

    store
        .set_event_status(seqs[0], EventStatus::Done, &fence)
        .await
        .unwrap();
    let mut ledger = OrderRecord::new("shop", "1", seqs[0]);
    ledger.step = Step::Done;
    store
        .save_order(&ledger, &[Reached::now("done", None)], &fence)
        .await
        .unwrap();
    store
        .put_contact("shop", "email:anna@example.dk", uuid::Uuid::new_v4())
        .await
        .unwrap();
    store
        .put_contact("shop", "email:bo@example.dk", uuid::Uuid::new_v4())
        .await
        .unwrap();
    let anna_payload = store.events_for_order("shop", "1").await.unwrap()[0]
        .payload
        .clone();
    store
        .add_outbox("shop", "poison", &anna_payload, &BTreeMap::new())
        .await
        .unwrap();

    assert_eq!(
        store.erase_customer("shop", &anna).await.unwrap(),
        Erasure::Erased {
            events: 1,
            outbox_records: 1,
            contacts: 1
        }
    );
    let erased = &store.events_for_order("shop", "1").await.unwrap()[0];
    for personal in ["Anna", "anna@", "Vestergade", "Aarhus", "12345678", "c1"] {
        assert!(
            !erased.payload.contains(personal),
            "{personal} in {}",
            erased.payload
        );
    }
    assert!(erased.payload.contains("\"total\":\"100\""), "amounts stay");
    let record = store.unpublished(10).await.unwrap();
    assert!(!record[0].value.contains("Anna"));
    assert!(store
        .contact("shop", "email:anna@example.dk")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .contact("shop", "email:bo@example.dk")
        .await
        .unwrap()
        .is_some());
    let other_customer = &store.events_for_order("shop", "2").await.unwrap()[0];
    assert!(
        other_customer.payload.contains("bo@example.dk"),
        "another customer: untouched"
    );
    assert_eq!(
        store.order("shop", "1").await.unwrap().unwrap().step,
        Step::Done
    );
    // By customer id, in another tenant: nothing of this tenant matches.
    let by_id = CustomerRef {
        customer_id: Some("c2".into()),
        email: None,
    };
    assert_eq!(
        store.erase_customer("elsewhere", &by_id).await.unwrap(),
        Erasure::Erased {
            events: 0,
            outbox_records: 0,
            contacts: 0
        }
    );
}

/// A refund of an order is not a duplicate of its order event: the inbox tells duplicates
/// and conflicts per order and document, the ledger keeps a row per document with its
/// amount, and the orders list shows the order once.
async fn an_orders_later_documents_are_told_apart_in_inbox_and_ledger(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let of = |event_id: &str, document: &str, content: &str| NewEvent {
        document: document.into(),
        ..event("shop", event_id, "1", content)
    };
    let invoice = accept(store, "shop", "1").await;
    let refund = store
        .accept_event(of("e-r1", "refund:r1", "r1"))
        .await
        .unwrap();
    let Accepted::New { seq: refund } = refund else {
        panic!("a refund is a new document: {refund:?}")
    };
    assert_eq!(
        store
            .accept_event(of("e-r1b", "refund:r1", "r1"))
            .await
            .unwrap(),
        Accepted::DuplicateOrder { seq: refund }
    );
    assert!(matches!(
        store
            .accept_event(of("e-r1c", "refund:r1", "other"))
            .await
            .unwrap(),
        Accepted::Conflict { first_seq, .. } if first_seq == refund
    ));
    assert!(matches!(
        store
            .accept_event(of("e-r2", "refund:r2", "r2"))
            .await
            .unwrap(),
        Accepted::New { .. }
    ));
    let documents: Vec<String> = store
        .events_for_order("shop", "1")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.document)
        .collect();
    assert_eq!(
        documents,
        [
            "invoice",
            "refund:r1",
            "refund:r1",
            "refund:r1",
            "refund:r2"
        ]
    );

    let fence = store.claim_tenant("shop", "me").await.unwrap();
    store
        .save_order(&OrderRecord::new("shop", "1", invoice), &[], &fence)
        .await
        .unwrap();
    let mut credit = OrderRecord::for_document("shop", "1", "refund:r1", refund);
    credit.amount = Some(rust_decimal::Decimal::new(9995, 2));
    credit.step = Step::CreditNoteCreated;
    store.save_order(&credit, &[], &fence).await.unwrap();
    let read = store
        .document("shop", "1", "refund:r1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.step, read.amount, read.document.as_str()),
        (Step::CreditNoteCreated, credit.amount, "refund:r1")
    );
    assert_eq!(
        store.order("shop", "1").await.unwrap().unwrap().step,
        Step::Received,
        "the invoice row is its own"
    );
    let rows: Vec<String> = store
        .documents("shop", "1")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.document)
        .collect();
    assert_eq!(rows, ["invoice", "refund:r1"]);
    let filter = OrderFilter {
        tenant: "shop",
        held: false,
        status: None,
        order_id: None,
        after_seq: 0,
        limit: 10,
    };
    let listed = store.order_summaries(&filter).await.unwrap();
    assert_eq!(listed.len(), 1, "one order, however many documents");
    assert_eq!(listed[0].seq, invoice);
}

/// An order's last write, in one transaction: its row at the final step with every step noted
/// since the last write, its event done, its dead letter replayed; refused when fenced.
async fn completing_an_order_writes_row_history_event_and_dead_letter_together(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let seq = accept(store, "shop", "1").await;
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    store
        .dead_letter_and_pause(letter("shop", seq, "1"), "failed", &fence)
        .await
        .unwrap();
    store.resume("shop").await.unwrap();
    let mut order = OrderRecord::new("shop", "1", seq);
    order.step = Step::Done;
    // Steps noted at their own times, written together later: each keeps its time.
    let at = |minutes_ago: i64| Utc::now() - Duration::minutes(minutes_ago);
    let history = [
        Reached {
            at: at(3),
            ..Reached::now("booked", Some("number 7".to_owned()))
        },
        Reached {
            at: at(2),
            ..Reached::now("paid", None)
        },
        Reached::now("done", Some("invoice 7".to_owned())),
    ];
    let later = store.claim_tenant("shop", "other").await.unwrap();
    assert!(matches!(
        store.complete_order(&order, &history, seq, &fence).await,
        Err(StoreError::Fenced(_))
    ));
    assert!(
        store.order("shop", "1").await.unwrap().is_none(),
        "nothing written"
    );
    store
        .complete_order(&order, &history, seq, &later)
        .await
        .unwrap();
    assert_eq!(
        store.order("shop", "1").await.unwrap().unwrap().step,
        Step::Done
    );
    let written = store.order_history("shop", "1").await.unwrap();
    let steps: Vec<&str> = written.iter().map(|h| h.step.as_str()).collect();
    assert_eq!(steps, ["booked", "paid", "done"]);
    for (row, given) in written.iter().zip(&history) {
        let apart = (row.at - given.at).num_milliseconds().abs();
        assert!(
            apart < 1,
            "{}: written at {}, reached at {}",
            row.step,
            row.at,
            given.at
        );
    }
    let events = store.events_for_order("shop", "1").await.unwrap();
    assert_eq!(events[0].status, EventStatus::Done);
    let letters = store.dead_letters("shop").await.unwrap();
    assert_eq!(letters[0].status, DeadLetterStatus::Replayed);
}

/// Group commit: 200 events of 8 shops sent at once share transactions, yet each is answered
/// for itself, is readable once answered, and each shop's events keep their sending order
/// (per sender). On PostgreSQL an event that fails alone (a NUL in its text) fails alone.
async fn inbox_writes_arriving_together_are_each_answered_after_the_shared_commit(b: &Backend) {
    let store = b.store.clone();
    let sends: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let tenant = format!("shop{t}");
                let mut seqs = Vec::new();
                for n in 0..25 {
                    let id = format!("{t}-{n}");
                    let accepted = store
                        .accept_event(event(&tenant, &id, &id, &id))
                        .await
                        .unwrap();
                    let Accepted::New { seq } = accepted else {
                        panic!("{accepted:?}")
                    };
                    // Durable and visible once answered.
                    assert_eq!(
                        store.events_for_order(&tenant, &id).await.unwrap()[0].seq,
                        seq
                    );
                    seqs.push(seq);
                }
                seqs
            })
        })
        .collect();
    for send in sends {
        let seqs = send.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }
    if b._pg.is_some() {
        let mut broken = event("shop0", "nul", "nul", "nul");
        broken.payload = "a\u{0}b".into();
        let (bad, good) = tokio::join!(
            store.accept_event(broken),
            store.accept_event(event("shop0", "fine", "fine", "fine"))
        );
        assert!(bad.is_err());
        assert!(matches!(good, Ok(Accepted::New { .. })), "{good:?}");
    }
}

/// Lanes of many tenants writing at once: every write is durable once answered, and a write
/// under a superseded claim fails alone, leaving the others of its batch written.
async fn ledger_writes_of_many_lanes_at_once_all_land_and_a_fenced_one_fails_alone(b: &Backend) {
    let store = b.store.clone();
    let lanes: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let tenant = format!("shop{t}");
                let fence = store.claim_tenant(&tenant, "me").await.unwrap();
                for n in 0..25 {
                    let seq = accept(&*store, &tenant, &n.to_string()).await;
                    let mut order = OrderRecord::new(&tenant, &n.to_string(), seq);
                    store
                        .save_order(&order, &[Reached::now("received", None)], &fence)
                        .await
                        .unwrap();
                    order.step = Step::Done;
                    store
                        .complete_order(&order, &[Reached::now("done", None)], seq, &fence)
                        .await
                        .unwrap();
                    // Durable and visible once answered.
                    let row = store.order(&tenant, &n.to_string()).await.unwrap().unwrap();
                    assert_eq!(row.step, Step::Done);
                }
            })
        })
        .collect();
    let stale = store.claim_tenant("stale", "old").await.unwrap();
    store.claim_tenant("stale", "new").await.unwrap();
    let seq = accept(&*store, "stale", "1").await;
    let refused = store
        .save_order(
            &OrderRecord::new("stale", "1", seq),
            &[Reached::now("received", None)],
            &stale,
        )
        .await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    for lane in lanes {
        lane.await.unwrap();
    }
    for t in 0..8 {
        let tenant = format!("shop{t}");
        assert_eq!(store.count_pending(&tenant).await.unwrap(), 0, "{tenant}");
        let history = store.order_history(&tenant, "24").await.unwrap();
        let steps: Vec<&str> = history.iter().map(|h| h.step.as_str()).collect();
        assert_eq!(steps, ["received", "done"]);
    }
    assert!(store.order("stale", "1").await.unwrap().is_none());
}

/// A changed order replaces the waiting version (a dead-lettered one too, whose letter is
/// closed), and once a lane has marked the invoice's create in flight it is a conflict
/// instead; the lane's mark for a replaced version fails, so nothing is made from it.
async fn a_newer_version_replaces_a_waiting_order_until_its_invoice_create_is_marked(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let v1 = accept(store, "shop", "1").await;
    let Accepted::Replaced {
        seq: v2,
        replaced_seq,
    } = store
        .accept_event(event("shop", "e-1-v2", "1", "v2"))
        .await
        .unwrap()
    else {
        panic!("the waiting version is replaced");
    };
    assert_eq!(replaced_seq, v1);
    // The lane had taken v1: its create's mark fails, so no invoice is made from it.
    let mut stale = OrderRecord::new("shop", "1", v1);
    stale.in_flight = Some(CREATE_INVOICE.into());
    assert!(matches!(
        store.save_order(&stale, &[], &fence).await,
        Err(StoreError::Superseded(_))
    ));
    assert!(matches!(
        store
            .dead_letter_and_pause(letter("shop", v1, "1"), "why", &fence)
            .await,
        Err(StoreError::Superseded(_))
    ));
    // v2's create is marked: from now on a v3 is a conflict, v2 stays.
    let mut marked = OrderRecord::new("shop", "1", v2);
    marked.in_flight = Some(CREATE_INVOICE.into());
    store.save_order(&marked, &[], &fence).await.unwrap();
    let v3 = store
        .accept_event(event("shop", "e-1-v3", "1", "v3"))
        .await
        .unwrap();
    assert!(matches!(v3, Accepted::Conflict { first_seq, .. } if first_seq == v2));
    let statuses: Vec<&str> = store
        .events_for_order("shop", "1")
        .await
        .unwrap()
        .iter()
        .map(|e| e.status.as_str())
        .collect();
    assert_eq!(statuses, ["superseded", "pending", "conflict"]);
    // A resend of v2 is a duplicate of the current version; of v1, a conflict.
    assert!(matches!(
        store
            .accept_event(event("shop", "e-1-v2-again", "1", "v2"))
            .await
            .unwrap(),
        Accepted::DuplicateOrder { seq } if seq == v2
    ));

    // A dead-lettered version is replaced too; its letter is closed, so resume queues
    // only the new version.
    let dead = accept(store, "shop", "2").await;
    store
        .dead_letter_and_pause(letter("shop", dead, "2"), "order 2 failed", &fence)
        .await
        .unwrap();
    let Accepted::Replaced { seq: fixed, .. } = store
        .accept_event(event("shop", "e-2-fixed", "2", "fixed"))
        .await
        .unwrap()
    else {
        panic!("the dead-lettered version is replaced");
    };
    let letters = store.dead_letters("shop").await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].status.as_str(), "resolved");
    assert!(letters[0]
        .resolution
        .as_deref()
        .is_some_and(|r| r.contains("e-2-fixed")));
    assert_eq!(
        store.resume("shop").await.unwrap(),
        0,
        "no letter to replay"
    );
    let waiting = store.pending_event_for_order("shop", "2").await.unwrap();
    assert_eq!(waiting.map(|e| e.seq), Some(fixed));
    let history = store.order_history("shop", "2").await.unwrap();
    assert!(history.iter().any(|h| h.step == "replaced"));
}

/// An order's conflict shows in the list; keeping the booked invoice sets the version
/// aside, a rebook makes the newest version current and opens its credit-note row.
async fn a_conflict_is_listed_and_resolved_by_keeping_or_rebooking(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let mut booked = Vec::new();
    for order in ["1", "2"] {
        let seq = accept(store, "shop", order).await;
        let mut record = OrderRecord::new("shop", order, seq);
        record.invoice_guid = Some(uuid::Uuid::new_v4());
        record.invoice_number = Some(seq);
        record.step = Step::Done;
        store
            .complete_order(&record, &[], seq, &fence)
            .await
            .unwrap();
        booked.push(seq);
        for version in ["b", "c"] {
            let id = format!("e-{order}-{version}");
            let answer = store
                .accept_event(event("shop", &id, order, version))
                .await
                .unwrap();
            assert!(matches!(answer, Accepted::Conflict { .. }), "{answer:?}");
        }
    }
    let conflicts = store
        .order_summaries(&OrderFilter {
            tenant: "shop",
            held: false,
            status: Some("conflict"),
            order_id: None,
            after_seq: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        conflicts.iter().map(|o| o.seq).collect::<Vec<_>>(),
        booked,
        "each booked order is listed once, as a conflict"
    );

    let kept = store
        .resolve_conflict("shop", "1", ConflictResolution::KeepBooked, "kept")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.set_aside, ["e-1-b", "e-1-c"]);
    assert_eq!(kept.rebook, None);
    let rebook = store
        .resolve_conflict("shop", "2", ConflictResolution::Rebook, "rebook")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rebook.set_aside, ["e-2-b"]);
    assert_eq!(rebook.rebook.as_deref(), Some("e-2-c"));
    assert!(store
        .resolve_conflict("shop", "2", ConflictResolution::Rebook, "again")
        .await
        .unwrap()
        .is_none());
    let statuses = |order: &'static str| async move {
        store
            .events_for_order("shop", order)
            .await
            .unwrap()
            .iter()
            .map(|e| e.status.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses("1").await, ["done", "set_aside", "set_aside"]);
    assert_eq!(statuses("2").await, ["superseded", "set_aside", "pending"]);
    let waiting = store
        .pending_event_for_order("shop", "2")
        .await
        .unwrap()
        .unwrap();
    let note = store
        .document("shop", "2", &correction_document(waiting.seq))
        .await
        .unwrap()
        .expect("the rebook's credit-note row");
    assert_eq!(note.step, Step::Received);
    // The credit note booked, the credited invoice's row moves aside for the new one.
    let credited = store.order("shop", "2").await.unwrap().unwrap();
    let fresh = OrderRecord::new("shop", "2", waiting.seq);
    store
        .move_invoice_aside(&credited, &fresh, &[], &fence)
        .await
        .unwrap();
    assert_eq!(
        store.order("shop", "2").await.unwrap().map(|o| o.event_seq),
        Some(waiting.seq)
    );
    let aside = store
        .document("shop", "2", &format!("invoice@{}", credited.event_seq))
        .await
        .unwrap()
        .expect("the credited invoice's row, moved aside");
    assert_eq!(aside.invoice_number, credited.invoice_number);
}

/// Each day's nightly run is made by one replica: the first claim wins.
async fn a_scheduled_run_is_claimed_once_per_day(b: &Backend) {
    let (a, other) = (&*b.store, b.replica().await);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    assert!(a.claim_run("reconciliation", day, "a").await.unwrap());
    assert!(!other.claim_run("reconciliation", day, "b").await.unwrap());
    assert!(!a.claim_run("reconciliation", day, "a").await.unwrap());
    let next = day.succ_opt().unwrap();
    assert!(other.claim_run("reconciliation", next, "b").await.unwrap());
}

/// A reconciliation reads the ledger's vouchers by the date they carry; rows without one
/// (written before dates were kept) by when they were first written.
async fn ledger_vouchers_are_found_by_their_date_or_when_written(b: &Backend) {
    let store = &*b.store;
    store.put_tenant(&tenant("shop")).await.unwrap();
    let fence = store.claim_tenant("shop", "me").await.unwrap();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let write = |order: &str, date: Option<chrono::NaiveDate>, guid: bool| {
        let mut record = OrderRecord::new("shop", order, 1);
        record.voucher_date = date;
        record.invoice_guid = guid.then(uuid::Uuid::new_v4);
        record
    };
    for record in [
        write("old-import", Some(day(2)), true),
        write("in-range", Some(day(20)), true),
        write("later", Some(day(27)), true),
        write("undated", None, true),
        write("draft-less", Some(day(20)), false),
    ] {
        store.save_order(&record, &[], &fence).await.unwrap();
    }
    let now = Utc::now();
    let found = |rows: Vec<OrderRecord>| {
        let mut ids: Vec<String> = rows.into_iter().map(|r| r.order_id).collect();
        ids.sort();
        ids
    };
    let written_now = (now - Duration::hours(1), now + Duration::hours(1));
    let long_ago = (now - Duration::days(30), now - Duration::days(29));
    assert_eq!(
        found(
            store
                .ledger_vouchers("shop", (day(19), day(21)), written_now)
                .await
                .unwrap()
        ),
        ["in-range", "undated"]
    );
    assert_eq!(
        found(
            store
                .ledger_vouchers("shop", (day(1), day(2)), long_ago)
                .await
                .unwrap()
        ),
        ["old-import"]
    );
}
