//! End to end over real HTTP: an order's later money events (`order.refunded`,
//! `order.cancelled`, `order.paid`) into the application, credit notes and payments out in
//! `dinero-sim`, checked in the simulator's own state.

mod common;

use std::time::{Duration, Instant};

use common::*;
use dinero_sim::FaultConfig;
use reqwest::Method;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(60);

/// An event of `kind` about `order_id` with `data` (its `order_id` added).
fn event(tenant: &str, id: &str, kind: &str, order_id: &str, mut data: Value) -> Value {
    data["order_id"] = json!(order_id);
    json!({
        "specversion": "1.0", "id": id, "source": "/webshop", "type": kind,
        "subject": order_id, "tenantid": tenant, "data": data,
    })
}

fn refund(tenant: &str, order_id: &str, refund_id: &str, mut data: Value) -> Value {
    data["refund_id"] = json!(refund_id);
    data["refunded_at"] = json!("2026-11-25T09:00:00Z");
    let id = format!("evt-{order_id}-refund-{refund_id}");
    event(tenant, &id, "order.refunded", order_id, data)
}

fn card(amount: &str) -> Value {
    json!({"method": "card", "amount": amount, "paid_at": "2026-11-25T09:00:00Z"})
}

/// The order's detail: summary, documents, history, events.
async fn detail(harness: &Harness, tenant: &str, order_id: &str) -> Value {
    harness
        .get(&format!("/v1/tenants/{tenant}/orders/{order_id}"))
        .await
}

/// Poll until the order's `document` is at `step`.
async fn wait_for_document(
    harness: &Harness,
    tenant: &str,
    order_id: &str,
    document: &str,
    step: &str,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let detail = detail(harness, tenant, order_id).await;
        let found = detail["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["document"] == document)
            .cloned();
        if let Some(found) = found.filter(|d| d["step"] == step) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{order_id} {document}: not {step}: {detail:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll until the tenant has an open dead letter; returns them.
async fn wait_for_dead_letters(harness: &Harness, tenant: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let letters = harness
            .get(&format!("/v1/tenants/{tenant}/dead-letters"))
            .await;
        let letters = letters["dead_letters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if letters.len() >= count {
            return letters;
        }
        assert!(Instant::now() < deadline, "{tenant}: no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A credit note as the simulator holds it.
struct Note {
    credits: Option<Uuid>,
    booked: bool,
    total: Decimal,
    lines: usize,
    payments: Vec<(i32, Decimal)>,
    reference: Option<String>,
}

fn credit_notes(harness: &Harness, organization: i64) -> Vec<Note> {
    let org = harness.sim.sim().world.org(organization).unwrap();
    let org = org.lock();
    org.credit_notes
        .values()
        .map(|v| Note {
            credits: v.input.credit_note_for,
            booked: v.is_booked(),
            total: v.totals.total_incl_vat,
            lines: v.input.product_lines.len(),
            payments: v
                .payments
                .iter()
                .map(|p| (p.input.deposit_account_number, p.input.amount))
                .collect(),
            reference: v.input.external_reference.clone(),
        })
        .collect()
}

fn invoice_guid(harness: &Harness, organization: i64, reference: &str) -> Uuid {
    let org = harness.sim.sim().world.org(organization).unwrap();
    let org = org.lock();
    org.invoices
        .values()
        .find(|v| v.input.external_reference.as_deref() == Some(reference))
        .map(|v| v.guid)
        .unwrap_or_else(|| panic!("no invoice {reference}"))
}

async fn shop(org_id: i64, extra: Value) -> Harness {
    let harness = Harness::start(vec![organization(org_id)], |_| {}).await;
    let status = harness
        .put_tenant("shop", org_id, settings(extra))
        .await
        .status();
    assert_eq!(status, 201);
    harness
}

async fn send_ok(harness: &Harness, event: &Value) {
    let (status, body) = harness.send("shop", event).await;
    assert_eq!(status, 202, "{body}");
}

/// Two partial refunds (a line, then shipping) and a full refund of another order, each a
/// booked credit note with its refund paid out from the card's deposit account; a third
/// refund beyond what is left is refused with the figures; a resend changes nothing.
#[tokio::test]
async fn refunds_become_booked_credit_notes_with_their_refund_payments() {
    let harness = shop(71, json!({})).await;
    // 2 × 99.95 + 39 shipping = 238.90, paid by card.
    send_ok(&harness, &order("shop", "A", 1)).await;
    send_ok(&harness, &order("shop", "B", 2)).await;
    harness.wait_for_orders("shop", 2, &["done"], WAIT).await;

    let one_shirt = refund(
        "shop",
        "A",
        "r1",
        json!({"lines": [{"line": 0, "quantity": 1}], "payment": card("99.95"), "reason": "Returned"}),
    );
    send_ok(&harness, &one_shirt).await;
    let shipping = refund(
        "shop",
        "A",
        "r2",
        json!({"shipping": "39", "payment": card("39")}),
    );
    send_ok(&harness, &shipping).await;
    let everything = refund("shop", "B", "all", json!({"payment": card("238.90")}));
    send_ok(&harness, &everything).await;
    let r1 = wait_for_document(&harness, "shop", "A", "refund:r1", "done").await;
    let r2 = wait_for_document(&harness, "shop", "A", "refund:r2", "done").await;
    let all = wait_for_document(&harness, "shop", "B", "refund:all", "done").await;
    assert_eq!(
        (
            money(&r1["amount"]),
            money(&r2["amount"]),
            money(&all["amount"])
        ),
        (dec!(99.95), dec!(39), dec!(238.90))
    );

    let invoice_a = invoice_guid(&harness, 71, "shop:A");
    let invoice_b = invoice_guid(&harness, 71, "shop:B");
    let notes = credit_notes(&harness, 71);
    assert_eq!(notes.len(), 3);
    let mut of_a: Vec<&Note> = notes
        .iter()
        .filter(|n| n.credits == Some(invoice_a))
        .collect();
    of_a.sort_by_key(|n| n.total);
    assert_eq!(of_a.len(), 2);
    assert_eq!(
        (of_a[0].total, of_a[0].lines, of_a[0].reference.as_deref()),
        (dec!(39), 1, Some("shop:A:refund:r2"))
    );
    assert_eq!(
        (of_a[1].total, of_a[1].lines, of_a[1].reference.as_deref()),
        (dec!(99.95), 1, Some("shop:A:refund:r1"))
    );
    let of_b: Vec<&Note> = notes
        .iter()
        .filter(|n| n.credits == Some(invoice_b))
        .collect();
    assert_eq!(of_b.len(), 1);
    // generate-creditnote: the invoice's own two lines, to the øre.
    assert_eq!((of_b[0].total, of_b[0].lines), (dec!(238.90), 2));
    for note in &notes {
        assert!(note.booked);
        assert_eq!(
            note.payments,
            vec![(55010, note.total)],
            "paid out once, by card"
        );
    }

    // A resend of a refund is a duplicate: nothing more in Dinero.
    let (status, body) = harness.send("shop", &one_shirt).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("duplicate_event"))
    );

    // One shirt (99.95) is left; a refund of it and 10.00 more is refused with the figures.
    let too_much = refund(
        "shop",
        "A",
        "r3",
        json!({"lines": [{"line": 0, "quantity": 1}], "amount": "10"}),
    );
    send_ok(&harness, &too_much).await;
    let letters = wait_for_dead_letters(&harness, "shop", 1).await;
    let message = letters[0]["message"].as_str().unwrap();
    assert!(
        message.contains("refund r3 of 109.95 DKK goes beyond the invoice")
            && message.contains("138.95 of its 238.90 DKK are credited already"),
        "{message}"
    );
    assert_eq!(credit_notes(&harness, 71).len(), 3, "nothing made for r3");
    let history = detail(&harness, "shop", "A").await["history"].to_string();
    assert!(history.contains("refund:r1: credit note"), "{history}");
}

/// Refunds in a foreign currency without a DKK amount are paid out at the DKK rate Dinero
/// used for the credit note.
#[tokio::test]
async fn a_foreign_refund_is_paid_out_at_dineros_own_rate() {
    let harness = shop(72, json!({})).await;
    let lines = json!([
        {"kind": "product", "name": "Jacket", "quantity": 1, "unit_price": "100.00", "vat_rate": 25}
    ]);
    let mut eur = order_with(
        "shop",
        "E",
        1,
        ("DK", "EUR"),
        lines,
        ("100.00", "20.00"),
        json!({}),
    );
    eur["data"]["payment"]["amount_dkk"] = json!("745.60");
    send_ok(&harness, &eur).await;
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    let back = refund(
        "shop",
        "E",
        "half",
        json!({"amount": "50.00", "payment": card("50.00")}),
    );
    send_ok(&harness, &back).await;
    wait_for_document(&harness, "shop", "E", "refund:half", "done").await;
    let notes = credit_notes(&harness, 72);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].total, dec!(50.00));
    // dinero-sim converts EUR at 746.04 per 100: 50 EUR = 373.02 DKK.
    assert_eq!(notes[0].payments, vec![(55010, dec!(373.02))]);
}

/// Cancelled while waiting (the shop paused): nothing is made and the order ends
/// `cancelled`. Cancelled once booked: a credit note for all of its invoice.
#[tokio::test]
async fn a_cancellation_before_transfer_makes_nothing_and_after_it_credits_the_invoice() {
    let harness = shop(73, json!({})).await;
    send_ok(&harness, &order("shop", "booked", 1)).await;
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    let paused = harness
        .admin(Method::POST, "/v1/tenants/shop/pause")
        .json(&json!({"reason": "month-end"}))
        .send()
        .await
        .unwrap();
    assert!(paused.status().is_success(), "{}", paused.status());
    send_ok(&harness, &order("shop", "waiting", 2)).await;
    // A refund of an order not transferred yet waits behind it.
    send_ok(&harness, &order("shop", "later", 3)).await;
    send_ok(
        &harness,
        &refund("shop", "later", "r1", json!({"shipping": "39"})),
    )
    .await;
    let cancel = |order_id: &str| {
        event(
            "shop",
            &format!("evt-{order_id}-cancel"),
            "order.cancelled",
            order_id,
            json!({"cancelled_at": "2026-11-21T08:00:00Z", "reason": "Customer changed their mind"}),
        )
    };
    send_ok(&harness, &cancel("waiting")).await;
    send_ok(&harness, &cancel("booked")).await;
    let resumed = harness
        .admin(Method::POST, "/v1/tenants/shop/resume")
        .send()
        .await
        .unwrap();
    assert!(resumed.status().is_success());
    wait_for_document(&harness, "shop", "booked", "cancel", "done").await;
    wait_for_document(&harness, "shop", "waiting", "cancel", "done").await;
    wait_for_document(&harness, "shop", "later", "refund:r1", "done").await;

    let cancelled = harness
        .get("/v1/tenants/shop/orders?status=cancelled")
        .await;
    let ids: Vec<&str> = cancelled["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["waiting"]);
    let state = harness.dinero(73).await;
    let references: Vec<&str> = state["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ExternalReference"].as_str().unwrap())
        .collect();
    assert_eq!(
        references,
        ["shop:booked", "shop:later"],
        "nothing made for the cancelled order"
    );
    let booked = invoice_guid(&harness, 73, "shop:booked");
    let notes: Vec<Note> = credit_notes(&harness, 73)
        .into_iter()
        .filter(|n| n.credits == Some(booked))
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (
            notes[0].credits,
            notes[0].booked,
            notes[0].total,
            notes[0].payments.len()
        ),
        (Some(booked), true, dec!(238.90), 0)
    );
}

/// Booked on credit (`awaiting_payment`), then paid by `order.paid`: the payment lands on the
/// invoice once and the order is `done`.
#[tokio::test]
async fn a_payment_after_booking_on_credit_settles_the_invoice() {
    let harness = shop(74, json!({"payment_terms_days": 14})).await;
    let mut unpaid = order("shop", "B2B", 1);
    unpaid["data"].as_object_mut().unwrap().remove("payment");
    send_ok(&harness, &unpaid).await;
    harness
        .wait_for_orders("shop", 1, &["awaiting_payment"], WAIT)
        .await;
    let paid = event(
        "shop",
        "evt-B2B-paid",
        "order.paid",
        "B2B",
        json!({"payment_id": "bank-1", "payment": {"method": "paypal", "amount": "238.90", "paid_at": "2026-12-01T12:00:00Z"}}),
    );
    let before = harness.calls(74).len();
    send_ok(&harness, &paid).await;
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    assert_eq!(
        harness.calls(74)[before..],
        [
            "GET /v1/{organizationId}/invoices/{guid}",
            "POST /v1/{organizationId}/invoices/{guid}/payments",
            "GET /v2/{organizationId}/invoices/{guid}/payments"
        ],
        "the invoice's version, the payment, whether it is settled"
    );
    wait_for_document(&harness, "shop", "B2B", "paid:bank-1", "done").await;
    let (status, _) = harness.send("shop", &paid).await;
    assert_eq!(status, 200, "a resend is a duplicate");
    let guid = invoice_guid(&harness, 74, "shop:B2B");
    let org = harness.sim.sim().world.org(74).unwrap();
    let org = org.lock();
    let invoice = &org.invoices[&guid];
    let payments: Vec<(i32, Decimal)> = invoice
        .payments
        .iter()
        .map(|p| (p.input.deposit_account_number, p.input.amount))
        .collect();
    assert_eq!(payments, vec![(55020, dec!(238.90))]);
}

/// A refund of an order the service never received is a dead letter that says so.
#[tokio::test]
async fn a_refund_of_an_unknown_order_is_a_dead_letter_saying_so() {
    let harness = shop(75, json!({})).await;
    send_ok(&harness, &refund("shop", "ghost", "r1", json!({}))).await;
    let letters = wait_for_dead_letters(&harness, "shop", 1).await;
    let message = letters[0]["message"].as_str().unwrap();
    assert!(
        message.contains("order ghost has never been received"),
        "{message}"
    );
    assert!(credit_notes(&harness, 75).is_empty());
}

/// The interruption test of the invoice steps, for the credit-note steps: an answer lost
/// after each credit-note write, then a crash; the restarted service looks before it writes
/// again, so each credit note and its refund exist once.
#[tokio::test]
async fn a_crash_right_after_each_credit_note_write_never_makes_anything_twice() {
    let mut harness = shop(76, json!({})).await;
    let routes = [
        (
            "/v1/{organizationId}/invoices/{guid}/generate-creditnote",
            json!({"payment": card("238.90")}),
        ),
        (
            "/v1/{organizationId}/sales/creditnotes",
            json!({"lines": [{"line": 0, "quantity": 2}], "payment": card("199.90")}),
        ),
        (
            "/v1/{organizationId}/sales/creditnotes/{guid}/book",
            json!({"payment": card("238.90")}),
        ),
        (
            "/v1/{organizationId}/sales/creditnotes/{guid}/payments",
            json!({"shipping": "39", "payment": card("39")}),
        ),
    ];
    for (n, (route, data)) in routes.iter().enumerate() {
        let order_id = format!("o{n}");
        send_ok(&harness, &order("shop", &order_id, n)).await;
        harness
            .wait_for_orders("shop", n + 1, &["done"], WAIT)
            .await;
        harness.sim.sim().faults.set(FaultConfig {
            ambiguous_rate: 1.0,
            only_route: Some(route.to_string()),
            ..FaultConfig::default()
        });
        let before = harness.answers_lost();
        send_ok(&harness, &refund("shop", &order_id, "r", data.clone())).await;
        let deadline = Instant::now() + WAIT;
        while harness.answers_lost() == before {
            assert!(Instant::now() < deadline, "{route}: no answer was lost");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        harness.crash_and_restart().await;
        harness.sim.sim().faults.set(FaultConfig::default());
        wait_for_document(&harness, "shop", &order_id, "refund:r", "done").await;
        let invoice = invoice_guid(&harness, 76, &format!("shop:{order_id}"));
        let notes: Vec<Note> = credit_notes(&harness, 76)
            .into_iter()
            .filter(|note| note.credits == Some(invoice))
            .collect();
        assert_eq!(notes.len(), 1, "{route}: one credit note");
        assert!(notes[0].booked, "{route}");
        assert_eq!(
            notes[0].payments,
            vec![(55010, notes[0].total)],
            "{route}: refunded once"
        );
    }

    // order.paid: the late payment's answer lost, then a crash.
    let mut unpaid = order("shop", "credit", 9);
    unpaid["data"].as_object_mut().unwrap().remove("payment");
    send_ok(&harness, &unpaid).await;
    harness
        .wait_for_orders(
            "shop",
            routes.len() + 1,
            &["done", "awaiting_payment"],
            WAIT,
        )
        .await;
    let route = "/v1/{organizationId}/invoices/{guid}/payments";
    harness.sim.sim().faults.set(FaultConfig {
        ambiguous_rate: 1.0,
        only_route: Some(route.to_string()),
        ..FaultConfig::default()
    });
    let before = harness.answers_lost();
    let paid = event(
        "shop",
        "evt-credit-paid",
        "order.paid",
        "credit",
        json!({"payment_id": "p1", "payment": card("238.90")}),
    );
    send_ok(&harness, &paid).await;
    let deadline = Instant::now() + WAIT;
    while harness.answers_lost() == before {
        assert!(Instant::now() < deadline, "{route}: no answer was lost");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    harness.crash_and_restart().await;
    harness.sim.sim().faults.set(FaultConfig::default());
    wait_for_document(&harness, "shop", "credit", "paid:p1", "done").await;
    let guid = invoice_guid(&harness, 76, "shop:credit");
    let org = harness.sim.sim().world.org(76).unwrap();
    assert_eq!(org.lock().invoices[&guid].payments.len(), 1, "paid once");
}
