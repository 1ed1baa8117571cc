//! End to end over real HTTP: a newer version of an order (`order.updated`, or the same
//! order id with other content) replaces the waiting one while nothing is made in Dinero;
//! once its invoice exists it is a conflict the orders list filters on, resolved by keeping
//! the booked invoice or by crediting it and invoicing the new version. Checked in the
//! simulator's own state.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// Order `order_id` with `shirts` T-shirts at 99.95 plus 39 shipping, paid by card, as event
/// `id` of `kind`.
fn version(order_id: &str, shirts: u32, id: &str, kind: &str) -> Value {
    let lines = json!([
        {"kind": "product", "sku": "SKU-1", "name": "T-shirt", "quantity": shirts, "unit_price": "99.95", "vat_rate": 25},
        {"kind": "shipping", "name": "PostNord", "quantity": 1, "unit_price": 39, "vat_rate": 25}
    ]);
    let total = dec!(99.95) * Decimal::from(shirts) + dec!(39);
    // VAT of an amount including 25%: a fifth of it, rounded to the øre.
    let vat = (total / dec!(5)).round_dp(2);
    let mut event = order_with(
        "shop",
        order_id,
        1,
        ("DK", "DKK"),
        lines,
        (&total.to_string(), &vat.to_string()),
        json!({}),
    );
    event["id"] = json!(id);
    event["type"] = json!(kind);
    event
}

/// The simulator's invoices of an order: (total incl. VAT, number, booked, payments).
fn invoices(harness: &Harness, order_id: &str) -> Vec<(Decimal, Option<i64>, bool, Vec<Decimal>)> {
    let org = harness.sim.sim().world.org(81).unwrap();
    let org = org.lock();
    let reference = format!("shop:{order_id}");
    org.invoices
        .values()
        .filter(|v| v.input.external_reference.as_deref() == Some(reference.as_str()))
        .map(|v| {
            (
                v.totals.total_incl_vat,
                v.number,
                v.is_booked(),
                v.payments.iter().map(|p| p.input.amount).collect(),
            )
        })
        .collect()
}

/// A credit note in the simulator: the credited invoice's number, total, booked, and the
/// payments paid out (deposit account, amount).
type CreditNote = (Option<i64>, Decimal, bool, Vec<(i32, Decimal)>);

fn credit_notes(harness: &Harness) -> Vec<CreditNote> {
    let org = harness.sim.sim().world.org(81).unwrap();
    let org = org.lock();
    org.credit_notes
        .values()
        .map(|n| {
            let credited = n
                .input
                .credit_note_for
                .and_then(|guid| org.invoices.get(&guid))
                .and_then(|i| i.number);
            (
                credited,
                n.totals.total_incl_vat,
                n.is_booked(),
                n.payments
                    .iter()
                    .map(|p| (p.input.deposit_account_number, p.input.amount))
                    .collect(),
            )
        })
        .collect()
}

async fn shop() -> Harness {
    let harness = Harness::start(vec![organization(81)], |_| {}).await;
    let status = harness
        .put_tenant("shop", 81, settings(json!({})))
        .await
        .status();
    assert_eq!(status, 201);
    harness
}

async fn listed(harness: &Harness, status: &str) -> Vec<String> {
    harness
        .get(&format!("/v1/tenants/shop/orders?status={status}"))
        .await["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Held orders of a paused shop are corrected in place: the newer version is the one
/// invoiced, also for an order whose first version was dead-lettered (its letter is closed,
/// so resume does not replay it).
#[tokio::test]
async fn a_correction_before_transfer_replaces_the_waiting_version() {
    let harness = shop().await;
    let (status, _) = harness
        .post("/v1/tenants/shop/pause", json!({"reason": "month end"}))
        .await;
    assert_eq!(status, 200);
    let (status, answer) = harness
        .send("shop", &version("1", 2, "evt-1", "order.completed"))
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));
    let (status, answer) = harness
        .send("shop", &version("1", 3, "evt-1-fix", "order.updated"))
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("replaced")),
        "{answer}"
    );
    assert_eq!(answer["replaced_sequence"], 1);
    let orders = harness.orders("shop").await;
    assert_eq!(
        orders.len(),
        1,
        "one order, in its newer version: {orders:#?}"
    );
    assert_eq!(
        (orders[0]["event_id"].as_str(), orders[0]["status"].as_str()),
        (Some("evt-1-fix"), Some("held"))
    );

    // Order 2's first version cannot be mapped (a fee line and German VAT, which the demo
    // chart's accounts do not carry): dead-lettered before anything is made. The shop sends
    // it corrected.
    let (status, _) = harness.post("/v1/tenants/shop/resume", json!({})).await;
    assert_eq!(status, 200);
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    let with_fee = json!([
        {"kind": "product", "name": "T-Shirt", "quantity": 1, "unit_price": "100.00", "vat_rate": 19},
        {"kind": "fee", "name": "Gebühr", "quantity": 1, "unit_price": "5.00", "vat_rate": 19}
    ]);
    let mut unmappable = order_with(
        "shop",
        "2",
        2,
        ("DE", "EUR"),
        with_fee,
        ("105.00", "16.76"),
        json!({}),
    );
    unmappable["id"] = json!("evt-2");
    let (status, answer) = harness.send("shop", &unmappable).await;
    assert_eq!(status, 202, "{answer}");
    harness
        .wait_for_orders("shop", 2, &["done", "failed"], WAIT)
        .await;
    assert_eq!(listed(&harness, "failed").await, ["2"]);
    // The corrected order: the customer's address in Denmark, one shirt, no fee.
    let fixed = version("2", 1, "evt-2-fix", "order.updated");
    let (status, answer) = harness.send("shop", &fixed).await;
    assert_eq!(answer["status"], "replaced", "{answer}");
    assert_eq!(status, 202);
    let letters = harness.get("/v1/tenants/shop/dead-letters").await;
    let letter = &letters["dead_letters"][0];
    assert_eq!(letter["status"], "resolved", "{letters:#}");
    assert!(letter["resolution"].as_str().unwrap().contains("evt-2-fix"));
    let (_, resumed) = harness.post("/v1/tenants/shop/resume", json!({})).await;
    assert_eq!(resumed["requeued_dead_letters"], 0, "{resumed}");
    harness.wait_for_orders("shop", 2, &["done"], WAIT).await;

    let one = invoices(&harness, "1");
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0].0,
        dec!(338.85),
        "the corrected order: 3 × 99.95 + 39"
    );
    let two = invoices(&harness, "2");
    assert_eq!(two.len(), 1);
    assert_eq!(
        two[0].0,
        dec!(138.95),
        "the corrected order: one shirt and shipping, no fee"
    );
    let history = harness.get("/v1/tenants/shop/orders/1").await["history"].to_string();
    assert!(
        history
            .contains("replaced before transfer by a newer version of the order (event evt-1-fix)"),
        "{history}"
    );
}

/// After transfer a newer version is a conflict, listed by `?status=conflict` with both
/// versions in the order's detail. Keeping the booked invoice sets it aside; a rebook
/// credits the invoice (paying back its card payment) and invoices the new version, once.
#[tokio::test]
async fn a_correction_after_transfer_is_a_conflict_resolved_by_keeping_or_rebooking() {
    let harness = shop().await;
    for order in ["A", "B"] {
        let event = version(order, 2, &format!("evt-{order}"), "order.completed");
        assert_eq!(harness.send("shop", &event).await.0, 202);
    }
    harness.wait_for_orders("shop", 2, &["done"], WAIT).await;
    for order in ["A", "B"] {
        let event = version(order, 1, &format!("evt-{order}-fix"), "order.updated");
        let (status, answer) = harness.send("shop", &event).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("conflict")));
    }
    assert_eq!(listed(&harness, "conflict").await, ["A", "B"]);
    let detail = harness.get("/v1/tenants/shop/orders/A").await;
    let versions: Vec<(&str, &str, &Value)> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
                &e["payload"]["data"]["totals"]["total"],
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("evt-A", "done", &json!("238.90")),
            ("evt-A-fix", "conflict", &json!("138.95"))
        ]
    );
    let (status, problem) = harness
        .post(
            "/v1/tenants/shop/orders/A/resolve-conflict",
            json!({"resolution": "undo"}),
        )
        .await;
    assert_eq!(status, 400, "{problem}");

    // Keep the booked one: nothing changes in Dinero.
    let (status, answer) = harness
        .post(
            "/v1/tenants/shop/orders/A/resolve-conflict",
            json!({"resolution": "keep_booked"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["resolved"]["set_aside"], json!(["evt-A-fix"]));
    assert_eq!(answer["order"]["status"], "done");
    assert_eq!(listed(&harness, "conflict").await, ["B"]);
    assert_eq!(invoices(&harness, "A").len(), 1);

    // Rebook: the 238.90 invoice credited (its card payment paid back), 138.95 invoiced.
    let (status, answer) = harness
        .post(
            "/v1/tenants/shop/orders/B/resolve-conflict",
            json!({"resolution": "rebook"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["resolved"]["rebook"], "evt-B-fix");
    assert_eq!(answer["order"]["status"], "done", "{answer}");
    assert!(listed(&harness, "conflict").await.is_empty());
    let mut of_b = invoices(&harness, "B");
    of_b.sort_by_key(|i| i.1);
    assert_eq!(of_b.len(), 2, "{of_b:?}");
    let (old, new) = (&of_b[0], &of_b[1]);
    assert_eq!(
        (old.0, old.2, &old.3),
        (dec!(238.90), true, &vec![dec!(238.90)])
    );
    assert_eq!(
        (new.0, new.2, &new.3),
        (dec!(138.95), true, &vec![dec!(138.95)])
    );
    let notes = credit_notes(&harness);
    assert_eq!(
        notes,
        [(old.1, dec!(238.90), true, vec![(55010, dec!(238.90))])]
    );

    let detail = harness.get("/v1/tenants/shop/orders/B").await;
    let documents: Vec<(&str, &str)> = detail["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["document"].as_str().unwrap(), d["step"].as_str().unwrap()))
        .collect();
    assert!(documents.contains(&("invoice@2", "done")), "{documents:?}");
    assert!(
        documents
            .iter()
            .any(|(d, s)| d.starts_with("correction:") && *s == "done"),
        "{documents:?}"
    );
    assert_eq!(detail["dinero"]["invoice_number"], json!(new.1));
    let history = detail["history"].to_string();
    assert!(history.contains("conflict resolved"), "{history}");

    // The new version is now the current one: a resend of it is a duplicate, of the old one
    // a conflict again; nothing more is made.
    let mut again = version("B", 1, "evt-B-fix-again", "order.updated");
    let (_, answer) = harness.send("shop", &again).await;
    assert_eq!(answer["status"], "duplicate_order");
    again = version("B", 2, "evt-B-old-again", "order.updated");
    let (_, answer) = harness.send("shop", &again).await;
    assert_eq!(answer["status"], "conflict");
    // The old version back again is rebooked the same way: a second credit note, a third
    // invoice.
    let (status, answer) = harness
        .post(
            "/v1/tenants/shop/orders/B/resolve-conflict",
            json!({"resolution": "rebook"}),
        )
        .await;
    assert_eq!(
        (status, answer["order"]["status"].as_str()),
        (200, Some("done")),
        "{answer}"
    );
    let (status, problem) = harness
        .post(
            "/v1/tenants/shop/orders/B/resolve-conflict",
            json!({"resolution": "keep_booked"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("no_conflict"))
    );
    let mut of_b = invoices(&harness, "B");
    of_b.sort_by_key(|i| i.1);
    let totals: Vec<Decimal> = of_b.iter().map(|i| i.0).collect();
    assert_eq!(totals, [dec!(238.90), dec!(138.95), dec!(238.90)]);
    let mut notes: Vec<(Option<i64>, Decimal)> = credit_notes(&harness)
        .into_iter()
        .map(|n| (n.0, n.1))
        .collect();
    notes.sort();
    assert_eq!(
        notes,
        [(of_b[0].1, dec!(238.90)), (of_b[1].1, dec!(138.95))]
    );
    assert_eq!(listed(&harness, "done").await, ["A", "B"]);
}

/// Corrections racing the lane: with Dinero slow, each of 40 orders gets a newer version a
/// moment after it arrived, while its transfer may be under way. Whatever the moment, each
/// order has exactly one invoice, of the version the intake's answer named: the newer one
/// when it said `replaced`, the first when it said `conflict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correction_racing_the_transfer_never_makes_two_invoices() {
    let harness = Harness::start_with(
        vec![organization(81)],
        |sim| {
            sim.faults = dinero_sim::FaultConfig {
                latency_ms: 3,
                latency_jitter_ms: 6,
                ..Default::default()
            }
        },
        |_| {},
    )
    .await;
    let status = harness
        .put_tenant("shop", 81, settings(json!({})))
        .await
        .status();
    assert_eq!(status, 201);
    let mut expected = Vec::new();
    for n in 0..40u64 {
        let order = format!("R{n}");
        let first = version(&order, 2, &format!("evt-{order}"), "order.completed");
        assert_eq!(harness.send("shop", &first).await.0, 202);
        tokio::time::sleep(Duration::from_millis(n % 10 * 8)).await;
        let newer = version(&order, 3, &format!("evt-{order}-fix"), "order.updated");
        let (_, answer) = harness.send("shop", &newer).await;
        let total = match answer["status"].as_str() {
            Some("replaced") => dec!(338.85),
            Some("conflict") => dec!(238.90),
            other => panic!("{order}: {other:?}"),
        };
        expected.push((order, total));
    }
    harness
        .wait_for_orders("shop", 40, &["done", "conflict"], WAIT)
        .await;
    let replaced = expected.iter().filter(|(_, t)| *t == dec!(338.85)).count();
    println!("{replaced} of 40 corrections replaced the waiting version, the rest were conflicts");
    for (order, total) in &expected {
        let made = invoices(&harness, order);
        assert_eq!(made.len(), 1, "{order}: {made:?}");
        assert_eq!(made[0].0, *total, "{order}: the version the answer named");
    }
}

/// A rebook's answers lost, one Dinero write after another (the credit note's create, book
/// and refund, the new invoice's create, book and payment), each followed by a crash: the
/// restarted service finishes the rebook with one credit note and one new invoice, each
/// paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_each_rebook_write_never_makes_anything_twice() {
    let mut harness = shop().await;
    let routes = [
        "/v1/{organizationId}/invoices/{guid}/generate-creditnote",
        "/v1/{organizationId}/sales/creditnotes/{guid}/book",
        "/v1/{organizationId}/sales/creditnotes/{guid}/payments",
        "/v1/{organizationId}/invoices",
        "/v1/{organizationId}/invoices/{guid}/book",
        "/v1/{organizationId}/invoices/{guid}/payments",
    ];
    for (n, route) in routes.iter().enumerate() {
        let order = format!("X{n}");
        let first = version(&order, 2, &format!("evt-{order}"), "order.completed");
        assert_eq!(harness.send("shop", &first).await.0, 202);
        harness
            .wait_for_orders("shop", n + 1, &["done"], WAIT)
            .await;
        let newer = version(&order, 1, &format!("evt-{order}-fix"), "order.updated");
        assert_eq!(harness.send("shop", &newer).await.1["status"], "conflict");
        harness.sim.sim().faults.set(dinero_sim::FaultConfig {
            ambiguous_rate: 1.0,
            only_route: Some(route.to_string()),
            ..Default::default()
        });
        let before = harness.answers_lost();
        let resolve = harness
            .admin(
                Method::POST,
                &format!("/v1/tenants/shop/orders/{order}/resolve-conflict"),
            )
            .json(&json!({"resolution": "rebook"}))
            .send();
        let resolving = tokio::spawn(resolve);
        let deadline = std::time::Instant::now() + WAIT;
        while harness.answers_lost() == before {
            assert!(
                std::time::Instant::now() < deadline,
                "{route}: no answer was lost"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        harness.crash_and_restart().await;
        resolving.abort();
        harness
            .sim
            .sim()
            .faults
            .set(dinero_sim::FaultConfig::default());
        harness
            .wait_for_orders("shop", n + 1, &["done"], WAIT)
            .await;
        let mut made = invoices(&harness, &order);
        made.sort_by_key(|i| i.1);
        let made: Vec<(Decimal, bool, Vec<Decimal>)> =
            made.into_iter().map(|i| (i.0, i.2, i.3)).collect();
        assert_eq!(
            made,
            [
                (dec!(238.90), true, vec![dec!(238.90)]),
                (dec!(138.95), true, vec![dec!(138.95)])
            ],
            "{route}: the credited invoice and one new one, each paid once"
        );
        let credited = invoices_numbers(&harness, &order);
        let notes: Vec<CreditNote> = credit_notes(&harness)
            .into_iter()
            .filter(|n| n.0 == Some(credited))
            .collect();
        assert_eq!(
            notes,
            [(
                Some(credited),
                dec!(238.90),
                true,
                vec![(55010, dec!(238.90))]
            )],
            "{route}: one credit note, paid back once"
        );
    }
}

/// The number of the order's first (credited) invoice.
fn invoices_numbers(harness: &Harness, order_id: &str) -> i64 {
    invoices(harness, order_id)
        .into_iter()
        .filter_map(|i| i.1)
        .min()
        .unwrap()
}
