//! End to end over real HTTP: a reconciliation of a shop's ledger with Dinero's invoice and
//! credit-note lists finds an invoice deleted in the simulator, one created behind the
//! service's back and one whose payment was removed; on request (admin API and the CLI)
//! and on its nightly schedule, counted in the metrics.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use common::*;
use dinero_bridge::dinero::{
    Credentials, DineroClient, LineKind, NewInvoice, NewInvoiceLine, PaymentCondition,
};
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(60);
const ORG: i64 = 83;

async fn shop(adjust: impl FnOnce(&mut dinero_bridge::config::Settings)) -> Harness {
    let harness = Harness::start(vec![organization(ORG)], adjust).await;
    let status = harness
        .put_tenant("shop", ORG, settings(json!({})))
        .await
        .status();
    assert_eq!(status, 201);
    harness
}

async fn reconcile(harness: &Harness, from: &str, to: &str) -> (u16, Value) {
    let range = json!({"from": from, "to": to});
    harness
        .post("/v1/tenants/shop/reconciliations", range)
        .await
}

fn kinds(report: &Value) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let who = f["order_id"]
                .as_str()
                .or(f["external_reference"].as_str())
                .unwrap_or("-");
            (f["kind"].as_str().unwrap().to_owned(), who.to_owned())
        })
        .collect();
    kinds.sort();
    kinds
}

/// Four orders of 20 November, a refund of one of them on the 25th: Dinero and the ledger
/// agree. Then, in Dinero: B's invoice deleted, C's payment removed, and an invoice made by
/// hand. Reconciling the same days finds exactly those three, with a handful of calls.
async fn transferred_and_tampered_with(harness: &Harness) -> Uuid {
    for order in ["A", "B", "C", "D"] {
        assert_eq!(harness.send("shop", &order_of(order)).await.0, 202);
    }
    harness.wait_for_orders("shop", 4, &["done"], WAIT).await;
    let refund = json!({
        "specversion": "1.0", "id": "evt-A-r1", "source": "/webshop", "type": "order.refunded",
        "subject": "A", "tenantid": "shop",
        "data": {"order_id": "A", "refund_id": "r1", "refunded_at": "2026-11-25T09:00:00Z",
                 "lines": [{"line": 0, "quantity": 1}],
                 "payment": {"method": "card", "amount": "99.95", "paid_at": "2026-11-25T09:00:00Z"}}
    });
    assert_eq!(harness.send("shop", &refund).await.0, 202);
    let deadline = Instant::now() + WAIT;
    while harness.get("/v1/tenants/shop/orders/A").await["documents"][0]["step"] != "done" {
        assert!(Instant::now() < deadline, "the refund was not booked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, report) = reconcile(harness, "2026-11-20", "2026-11-25").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(kinds(&report), [], "{report:#}");
    assert_eq!(
        (
            report["dinero_invoices"].as_u64(),
            report["dinero_credit_notes"].as_u64()
        ),
        (Some(4), Some(1))
    );
    assert_eq!(report["ledger_vouchers"], 5);
    assert_eq!(
        report["dinero_calls"], 3,
        "one page of each list, nothing to look up"
    );

    let contact = {
        let org = harness.sim.sim().world.org(ORG).unwrap();
        let mut org = org.lock();
        let guid_of = |reference: &str| {
            org.invoices
                .values()
                .find(|v| v.input.external_reference.as_deref() == Some(reference))
                .map(|v| v.guid)
                .unwrap()
        };
        let (b, c) = (guid_of("shop:B"), guid_of("shop:C"));
        org.invoices.get_mut(&b).unwrap().deleted_at = Some(Utc::now());
        org.invoices.get_mut(&c).unwrap().payments.clear();
        org.invoices[&c].input.contact_guid.unwrap()
    };
    // An invoice made in Dinero by hand, dated in the range.
    let dinero = DineroClient::new(harness.settings.dinero.clone())
        .unwrap()
        .organization(ORG, Credentials::api_key(format!("key-{ORG}")));
    let by_hand = dinero
        .create_invoice(&NewInvoice {
            guid: None,
            contact_guid: Some(contact),
            date: NaiveDate::from_ymd_opt(2026, 11, 21),
            currency: "DKK".into(),
            language: None,
            external_reference: Some("made by hand".into()),
            heading: Some("Consulting".into()),
            comment: None,
            payment_condition: Some(PaymentCondition::Netto(8)),
            lines_include_vat: true,
            address: None,
            lines: vec![NewInvoiceLine {
                description: "An hour".into(),
                comments: None,
                quantity: dec!(1),
                unit: "hours".into(),
                unit_price: dec!(500),
                discount_percent: dec!(0),
                account_number: 1000,
                kind: LineKind::Product,
            }],
        })
        .await
        .unwrap();
    dinero
        .book_invoice(by_hand.guid, &by_hand.version, None)
        .await
        .unwrap();
    by_hand.guid
}

fn order_of(id: &str) -> Value {
    order("shop", id, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reconciliation_finds_a_deleted_a_foreign_and_an_unpaid_invoice() {
    let harness = shop(|_| {}).await;
    let by_hand = transferred_and_tampered_with(&harness).await;

    let (status, report) = reconcile(&harness, "2026-11-20", "2026-11-25").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        kinds(&report),
        [
            ("missing_in_dinero".to_owned(), "B".to_owned()),
            ("payment_differs".to_owned(), "C".to_owned()),
            ("unknown_to_ledger".to_owned(), "made by hand".to_owned()),
        ],
        "{report:#}"
    );
    let unknown = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "unknown_to_ledger")
        .unwrap();
    assert_eq!(unknown["dinero_guid"], by_hand.to_string());
    assert_eq!(
        report["dinero_calls"], 4,
        "three list pages and one look-up (B's invoice, gone)"
    );
    let paid = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "payment_differs")
        .unwrap();
    assert_eq!(
        (paid["ledger"].as_str(), paid["dinero"].as_str()),
        (Some("paid"), Some("unpaid"))
    );

    // Outside the range nothing is listed, and nothing differs.
    let (_, quiet) = reconcile(&harness, "2026-10-01", "2026-10-31").await;
    assert_eq!(kinds(&quiet), []);
    let (status, problem) = reconcile(&harness, "2026-11-25", "2026-11-20").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_range"))
    );

    let scrape = harness.scrape().await;
    for kind in ["missing_in_dinero", "payment_differs", "unknown_to_ledger"] {
        let line = format!("dinero_bridge_reconciliation_findings_total{{kind=\"{kind}\"}} 1");
        assert!(scrape.contains(&line), "{line} in {scrape}");
    }
    assert!(
        scrape.contains("dinero_bridge_reconciliations_total{result=\"ok\",trigger=\"request\"} 3")
    );

    // The CLI: the same report, readable, and exit status 1 for findings.
    let output = Command::new(env!("CARGO_BIN_EXE_dinero-bridge"))
        .args([
            "reconcile",
            "--tenant",
            "shop",
            "--from",
            "2026-11-20",
            "--to",
            "2026-11-25",
        ])
        .args(["--url", &harness.base])
        .env("DINERO_BRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    for line in [
        "shop, 2026-11-20 to 2026-11-25: 5 vouchers in the ledger, 4 invoices and 1 credit notes in Dinero (4 calls)",
        "3 differences:",
        "order B (invoice): invoice 2 is not in Dinero (deleted?)",
        "order C: invoice 3 is unpaid in Dinero, paid in the ledger",
        "invoice 5 of 500.00 DKK, dated 2026-11-21 is unknown to the service (reference made by hand)",
    ] {
        assert!(printed.contains(line), "{line:?} in {printed}");
    }
}

/// The nightly run: with `reconciliation.daily_at` set, every shop is reconciled for
/// yesterday at that time, its findings counted in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_nightly_run_reconciles_yesterday_for_every_shop() {
    let harness = shop(|_| {}).await;
    // Orders of yesterday (in the service's time zone), so the nightly run covers them.
    let yesterday = Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive()
        - Days::new(1);
    let mut order = order_of("Y");
    order["data"]["completed_at"] = json!(format!("{yesterday}T12:00:00Z"));
    assert_eq!(harness.send("shop", &order).await.0, 202);
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    {
        let org = harness.sim.sim().world.org(ORG).unwrap();
        let mut org = org.lock();
        let invoice = org.invoices.values_mut().next().unwrap();
        invoice.deleted_at = Some(Utc::now());
    }
    let mut harness = harness;
    harness.stop_app().await;
    let soon =
        Utc::now().with_timezone(&chrono_tz::Europe::Copenhagen) + chrono::Duration::seconds(2);
    harness.settings.reconciliation.daily_at = soon.format("%H:%M:%S").to_string();
    harness.start_app().await;
    let deadline = Instant::now() + WAIT;
    let line = "dinero_bridge_reconciliation_findings_total{kind=\"missing_in_dinero\"} 1";
    loop {
        let scrape = harness.scrape().await;
        if scrape.contains(line) {
            assert!(scrape.contains(
                "dinero_bridge_reconciliations_total{result=\"ok\",trigger=\"schedule\"} 1"
            ));
            break;
        }
        assert!(Instant::now() < deadline, "no nightly run: {scrape}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
