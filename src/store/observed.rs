//! A store that reports how long each operation took and whether it failed, around either
//! backend: what the `store_operation_*` metrics read. One decorator, so neither backend has
//! to remember to time its methods.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    ConflictResolution, ConflictResolved, DeadLetterStore, Erasure, Fence, InboxStore, JobStore,
    LedgerStore, OrderFilter, OwnershipStore, Pruned, Store, StoreError, StoreGauges, StoreResult,
    TenantStore, UpkeepStore,
};
use crate::domain::erasure::CustomerRef;
use crate::domain::transfer_job::{ItemState, JobItem, NewJob, TransferJob};
use crate::domain::{
    Accepted, DeadLetter, EventStatus, HistoryEntry, NewDeadLetter, NewEvent, OrderRecord,
    OrderSummary, OutboxRecord, Reached, Step, StoredEvent, Tenant, TenantCounts,
};

/// Told of every store operation once it ends.
pub trait StoreObserver: Send + Sync {
    /// `operation` is the method's name; `error` is set when it failed.
    fn finished(&self, operation: &'static str, elapsed: Duration, error: Option<&StoreError>);
}

/// `inner`, with each operation reported to `observer`.
pub struct ObservedStore {
    inner: Arc<dyn Store>,
    observer: Arc<dyn StoreObserver>,
}

impl ObservedStore {
    pub fn new(inner: Arc<dyn Store>, observer: Arc<dyn StoreObserver>) -> Self {
        ObservedStore { inner, observer }
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let started = Instant::now();
        let result = call.await;
        self.observer
            .finished(operation, started.elapsed(), result.as_ref().err());
        result
    }
}

/// `observed!(self.method(args))`: the inner store's method, timed under its own name.
macro_rules! observed {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        $self
            .observe(stringify!($method), $self.inner.$method($($arg),*))
            .await
    };
}

#[async_trait]
impl TenantStore for ObservedStore {
    async fn put_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        observed!(self.put_tenant(tenant))
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
        observed!(self.tenant(id))
    }

    async fn update_tenant(
        &self,
        id: &str,
        change: &(dyn for<'t> Fn(&'t mut Tenant) + Send + Sync),
    ) -> StoreResult<Option<Tenant>> {
        observed!(self.update_tenant(id, change))
    }

    async fn tenants(&self, after: &str, limit: i64) -> StoreResult<Vec<Tenant>> {
        observed!(self.tenants(after, limit))
    }

    async fn pause(&self, tenant: &str, reason: &str) -> StoreResult<()> {
        observed!(self.pause(tenant, reason))
    }

    async fn tenant_counts(
        &self,
        tenant: Option<&str>,
        after: &str,
        limit: i64,
    ) -> StoreResult<BTreeMap<String, TenantCounts>> {
        observed!(self.tenant_counts(tenant, after, limit))
    }
}

#[async_trait]
impl InboxStore for ObservedStore {
    async fn accept_event(&self, event: NewEvent) -> StoreResult<Accepted> {
        observed!(self.accept_event(event))
    }

    async fn next_pending_event(&self, tenant: &str) -> StoreResult<Option<StoredEvent>> {
        observed!(self.next_pending_event(tenant))
    }

    async fn pending_event_for_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        observed!(self.pending_event_for_order(tenant, order_id))
    }

    async fn events_for_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> StoreResult<Vec<StoredEvent>> {
        observed!(self.events_for_order(tenant, order_id))
    }

    async fn set_event_status(
        &self,
        seq: i64,
        status: EventStatus,
        fence: &Fence,
    ) -> StoreResult<()> {
        observed!(self.set_event_status(seq, status, fence))
    }

    async fn tenants_with_pending_events(&self) -> StoreResult<Vec<String>> {
        observed!(self.tenants_with_pending_events())
    }

    async fn count_pending(&self, tenant: &str) -> StoreResult<i64> {
        observed!(self.count_pending(tenant))
    }

    async fn tenants_on(&self, topic: &str, partitions: &[i32]) -> StoreResult<Vec<String>> {
        observed!(self.tenants_on(topic, partitions))
    }

    async fn tenants_pending_on(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> StoreResult<Vec<String>> {
        observed!(self.tenants_pending_on(topic, partitions))
    }
}

#[async_trait]
impl LedgerStore for ObservedStore {
    async fn document(
        &self,
        tenant: &str,
        order_id: &str,
        document: &str,
    ) -> StoreResult<Option<OrderRecord>> {
        observed!(self.document(tenant, order_id, document))
    }

    async fn documents(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<OrderRecord>> {
        observed!(self.documents(tenant, order_id))
    }

    async fn save_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
    ) -> StoreResult<()> {
        observed!(self.save_order(order, history, fence))
    }

    async fn complete_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        event_seq: i64,
        fence: &Fence,
    ) -> StoreResult<()> {
        observed!(self.complete_order(order, history, event_seq, fence))
    }

    async fn order_history(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<HistoryEntry>> {
        observed!(self.order_history(tenant, order_id))
    }

    async fn orders(
        &self,
        tenant: &str,
        step: Option<Step>,
        limit: i64,
    ) -> StoreResult<Vec<OrderRecord>> {
        observed!(self.orders(tenant, step, limit))
    }

    async fn contact(&self, tenant: &str, key: &str) -> StoreResult<Option<Uuid>> {
        observed!(self.contact(tenant, key))
    }

    async fn put_contact(&self, tenant: &str, key: &str, guid: Uuid) -> StoreResult<()> {
        observed!(self.put_contact(tenant, key, guid))
    }

    async fn order_summaries(&self, filter: &OrderFilter<'_>) -> StoreResult<Vec<OrderSummary>> {
        observed!(self.order_summaries(filter))
    }

    async fn resolve_conflict(
        &self,
        tenant: &str,
        order_id: &str,
        resolution: ConflictResolution,
        note: &str,
    ) -> StoreResult<Option<ConflictResolved>> {
        observed!(self.resolve_conflict(tenant, order_id, resolution, note))
    }

    async fn move_invoice_aside(
        &self,
        credited: &OrderRecord,
        fresh: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
    ) -> StoreResult<()> {
        observed!(self.move_invoice_aside(credited, fresh, history, fence))
    }

    async fn ledger_vouchers(
        &self,
        tenant: &str,
        dates: (chrono::NaiveDate, chrono::NaiveDate),
        written: (DateTime<Utc>, DateTime<Utc>),
    ) -> StoreResult<Vec<OrderRecord>> {
        observed!(self.ledger_vouchers(tenant, dates, written))
    }

    async fn contacts_synced_at(&self, tenant: &str) -> StoreResult<Option<DateTime<Utc>>> {
        observed!(self.contacts_synced_at(tenant))
    }

    async fn sync_contacts(
        &self,
        tenant: &str,
        entries: &[(String, Uuid)],
        synced_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        observed!(self.sync_contacts(tenant, entries, synced_at))
    }
}

#[async_trait]
impl DeadLetterStore for ObservedStore {
    async fn dead_letter_and_pause(
        &self,
        letter: NewDeadLetter,
        pause_reason: &str,
        fence: &Fence,
    ) -> StoreResult<i64> {
        observed!(self.dead_letter_and_pause(letter, pause_reason, fence))
    }

    async fn dead_letters(&self, tenant: &str) -> StoreResult<Vec<DeadLetter>> {
        observed!(self.dead_letters(tenant))
    }

    async fn dead_letter(&self, tenant: &str, id: i64) -> StoreResult<Option<DeadLetter>> {
        observed!(self.dead_letter(tenant, id))
    }

    async fn retry_dead_letter(&self, tenant: &str, id: i64) -> StoreResult<bool> {
        observed!(self.retry_dead_letter(tenant, id))
    }

    async fn resolve_dead_letter(&self, tenant: &str, id: i64, reason: &str) -> StoreResult<bool> {
        observed!(self.resolve_dead_letter(tenant, id, reason))
    }

    async fn resume(&self, tenant: &str) -> StoreResult<u64> {
        observed!(self.resume(tenant))
    }

    async fn mark_replayed(&self, event_seq: i64, fence: &Fence) -> StoreResult<()> {
        observed!(self.mark_replayed(event_seq, fence))
    }

    async fn add_outbox(
        &self,
        tenant: &str,
        kind: &str,
        value: &str,
        headers: &BTreeMap<String, String>,
    ) -> StoreResult<i64> {
        observed!(self.add_outbox(tenant, kind, value, headers))
    }

    async fn unpublished(&self, limit: i64) -> StoreResult<Vec<OutboxRecord>> {
        observed!(self.unpublished(limit))
    }

    async fn mark_published(&self, id: i64) -> StoreResult<()> {
        observed!(self.mark_published(id))
    }
}

#[async_trait]
impl JobStore for ObservedStore {
    async fn create_job(&self, job: &NewJob) -> StoreResult<()> {
        observed!(self.create_job(job))
    }

    async fn job(&self, tenant: &str, id: &str) -> StoreResult<Option<TransferJob>> {
        observed!(self.job(tenant, id))
    }

    async fn next_job_order(&self, job_id: &str) -> StoreResult<Option<JobItem>> {
        observed!(self.next_job_order(job_id))
    }

    async fn set_job_order(
        &self,
        job_id: &str,
        position: i64,
        state: ItemState,
        reason: Option<&str>,
    ) -> StoreResult<()> {
        observed!(self.set_job_order(job_id, position, state, reason))
    }

    async fn finish_job(&self, job_id: &str) -> StoreResult<()> {
        observed!(self.finish_job(job_id))
    }

    async fn cancel_job(&self, tenant: &str, id: &str) -> StoreResult<bool> {
        observed!(self.cancel_job(tenant, id))
    }

    async fn running_jobs(&self) -> StoreResult<Vec<(String, String)>> {
        observed!(self.running_jobs())
    }
}

#[async_trait]
impl OwnershipStore for ObservedStore {
    async fn claim_tenant(&self, tenant: &str, owner: &str) -> StoreResult<Fence> {
        observed!(self.claim_tenant(tenant, owner))
    }
}

#[async_trait]
impl UpkeepStore for ObservedStore {
    async fn gauges(&self) -> StoreResult<StoreGauges> {
        observed!(self.gauges())
    }

    async fn ping(&self) -> StoreResult<()> {
        observed!(self.ping())
    }

    async fn prune(&self, before: DateTime<Utc>, batch: i64) -> StoreResult<Pruned> {
        observed!(self.prune(before, batch))
    }

    async fn erase_customer(&self, tenant: &str, who: &CustomerRef) -> StoreResult<Erasure> {
        observed!(self.erase_customer(tenant, who))
    }

    async fn claim_run(
        &self,
        name: &str,
        day: chrono::NaiveDate,
        owner: &str,
    ) -> StoreResult<bool> {
        observed!(self.claim_run(name, day, owner))
    }
}
