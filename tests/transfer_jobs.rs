//! Transfers of selected orders, end to end: one admin call makes a job, the shop's lane
//! takes its orders in order while the shop is paused, and the job reports each order's fate.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

/// An order carrying the shop's own invoice number `number`.
fn numbered(order_id: usize, number: i64) -> Value {
    order_with(
        "shop",
        &order_id.to_string(),
        order_id % 7,
        ("DK", "DKK"),
        json!([{"kind": "product", "name": "Kjole", "quantity": 1, "unit_price": 500, "vat_rate": 25}]),
        ("500", "100.00"),
        json!({"invoice_number": number}),
    )
}

fn booked(state: &Value) -> Vec<&Value> {
    state["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["Status"] == "Booked")
        .collect()
}

/// Poll the job until it is no longer running; every progress seen on the way.
async fn wait_for_job(harness: &Harness, job: &str) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let view = harness
            .get(&format!("/v1/tenants/shop/transfers/{job}"))
            .await;
        seen.push(view["progress"].clone());
        if view["status"] != "running" {
            return (view, seen);
        }
        assert!(Instant::now() < deadline, "the job did not finish: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn send_all(harness: &Harness, orders: impl Iterator<Item = Value>) {
    let sends: Vec<_> = orders
        .map(|event| async move { harness.send("shop", &event).await.0 })
        .collect();
    for status in futures::future::join_all(sends).await {
        assert_eq!(status, 202);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hundred_selected_orders_go_in_one_call_while_paused_with_progress_and_a_failure() {
    let mut shop = organization(31);
    // The shop's number 5150 is taken in Dinero already: that order cannot be booked with it.
    shop.used_invoice_numbers = vec![5150, 9000];
    let harness = Harness::start(vec![shop], |_| {}).await;
    let put = harness
        .put_tenant("shop", 31, settings(json!({"lock_voucher_number": true})))
        .await;
    assert_eq!(put.status(), 201);
    let (paused, _) = harness
        .post(
            "/v1/tenants/shop/pause",
            json!({"reason": "year-end closing"}),
        )
        .await;
    assert_eq!(paused, 200);
    send_all(&harness, (1..=300).map(|n| numbered(n, 5000 + n as i64))).await;
    harness.wait_for_orders("shop", 300, &["held"], WAIT).await;

    let ids: Vec<String> = (1..=300).map(|n| n.to_string()).collect();
    let (status, job) = harness
        .post("/v1/tenants/shop/transfers", json!({"order_ids": ids}))
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["progress"]["total"], 300);
    assert_eq!(job["orders"][0]["order_id"], "1");
    let id = job["id"].as_str().unwrap().to_owned();

    let (done, seen) = wait_for_job(&harness, &id).await;
    assert_eq!(done["status"], "done");
    assert_eq!(
        done["progress"],
        json!({"total": 300, "done": 299, "failed": 1, "waiting": 0, "cancelled": 0})
    );
    // Progress was reported on the way, never going backwards.
    let dones: Vec<u64> = seen.iter().map(|p| p["done"].as_u64().unwrap()).collect();
    assert!(dones.windows(2).all(|w| w[0] <= w[1]), "{dones:?}");
    let failed: Vec<&Value> = done["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["state"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["order_id"], "150");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("5150"),
        "the reason names the number: {reason}"
    );

    // Booked in the job's order; order 150 is left a draft, and the shop is still paused.
    let state = harness.dinero(31).await;
    let references: Vec<&str> = booked(&state)
        .into_iter()
        .map(|i| i["ExternalReference"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=300)
        .filter(|n| *n != 150)
        .map(|n| format!("shop:{n}"))
        .collect();
    assert_eq!(references, expected);
    assert_eq!(harness.get("/v1/tenants/shop").await["paused"], true);

    // A job that is through cannot be cancelled.
    let (status, problem) = harness
        .post(
            &format!("/v1/tenants/shop/transfers/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");

    // The failed order again, found by a filter, without the taken number (an override).
    let (status, job) = harness
        .post(
            "/v1/tenants/shop/transfers",
            json!({"filter": {"status": "failed"}, "overrides": {"lock_voucher_number": false}}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["progress"]["total"], 1);
    assert_eq!(job["orders"][0]["order_id"], "150");
    let (done, _) = wait_for_job(&harness, job["id"].as_str().unwrap()).await;
    assert_eq!(done["progress"]["done"], 1, "{done}");
    assert_eq!(booked(&harness.dinero(31).await).len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_job_leaves_its_untried_orders_held() {
    let harness = Harness::start(vec![organization(32)], |_| {}).await;
    let put = harness
        .put_tenant("shop", 32, settings(json!({"auto_transfer": false})))
        .await;
    assert_eq!(put.status(), 201);
    send_all(&harness, (1..=40).map(|n| order("shop", &n.to_string(), n))).await;
    harness.wait_for_orders("shop", 40, &["held"], WAIT).await;
    let ids: Vec<String> = (1..=40).map(|n| n.to_string()).collect();
    let (status, job) = harness
        .post("/v1/tenants/shop/transfers", json!({"order_ids": ids}))
        .await;
    assert_eq!(status, 202);
    let id = job["id"].as_str().unwrap().to_owned();
    let (status, cancelled) = harness
        .post(
            &format!("/v1/tenants/shop/transfers/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    // The order in flight when it was cancelled still finishes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let view = harness
        .get(&format!("/v1/tenants/shop/transfers/{id}"))
        .await;
    assert_eq!(view["status"], "cancelled");
    let progress = &view["progress"];
    assert_eq!(progress["waiting"], 0);
    let (done, cancelled) = (
        progress["done"].as_u64().unwrap(),
        progress["cancelled"].as_u64().unwrap(),
    );
    assert_eq!(done + cancelled, 40, "{progress}");
    assert!(cancelled > 0, "cancelled before the end: {progress}");
    let held = harness
        .orders("shop")
        .await
        .iter()
        .filter(|o| o["status"] == "held")
        .count() as u64;
    assert_eq!(held, cancelled, "untried orders stay held");
    assert_eq!(booked(&harness.dinero(32).await).len() as u64, done);
}

#[tokio::test]
async fn a_job_refuses_what_it_cannot_take() {
    let harness = Harness::start(vec![organization(33)], |_| {}).await;
    assert_eq!(
        harness
            .put_tenant("shop", 33, settings(json!({})))
            .await
            .status(),
        201
    );
    let too_many: Vec<String> = (1..=1001).map(|n| n.to_string()).collect();
    for (body, code) in [
        (json!({"order_ids": too_many}), "too_many_orders"),
        (json!({"order_ids": []}), "no_orders"),
        (json!({"order_ids": ["1"], "filter": {}}), "invalid_body"),
        (json!({"filter": {"status": "lost"}}), "invalid_status"),
        (json!({"filter": {}}), "no_orders"),
    ] {
        let (status, problem) = harness
            .post("/v1/tenants/shop/transfers", body.clone())
            .await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["code"], code, "{body}: {problem}");
    }
    let unknown = harness
        .admin(
            Method::GET,
            &format!("/v1/tenants/shop/transfers/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let (status, _) = harness
        .post("/v1/tenants/nobody/transfers", json!({"order_ids": ["1"]}))
        .await;
    assert_eq!(status, 404);
}

/// A job stopped by a restart halfway is picked up by the next start, and nothing it did
/// before is done again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_halfway_picks_the_job_up_and_repeats_nothing() {
    let mut harness = Harness::start_with(
        vec![organization(34)],
        |sim| {
            sim.faults = dinero_sim::FaultConfig {
                latency_ms: 10,
                ..Default::default()
            }
        },
        |_| {},
    )
    .await;
    let put = harness
        .put_tenant("shop", 34, settings(json!({"auto_transfer": false})))
        .await;
    assert_eq!(put.status(), 201);
    send_all(&harness, (1..=30).map(|n| order("shop", &n.to_string(), n))).await;
    harness.wait_for_orders("shop", 30, &["held"], WAIT).await;
    let ids: Vec<String> = (1..=30).map(|n| n.to_string()).collect();
    let (status, job) = harness
        .post("/v1/tenants/shop/transfers", json!({"order_ids": ids}))
        .await;
    assert_eq!(status, 202);
    let id = job["id"].as_str().unwrap().to_owned();
    // Stop once some, not all, are through.
    let deadline = Instant::now() + WAIT;
    loop {
        let view = harness
            .get(&format!("/v1/tenants/shop/transfers/{id}"))
            .await;
        if view["progress"]["done"].as_u64().unwrap() >= 5 {
            assert_eq!(view["status"], "running", "{view}");
            break;
        }
        assert!(Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    harness.restart().await;
    let (done, _) = wait_for_job(&harness, &id).await;
    assert_eq!(done["progress"]["done"], 30, "{done}");
    assert_eq!(booked(&harness.dinero(34).await).len(), 30);
    let all = harness.dinero(34).await["invoices"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(all, 30, "no invoice made twice");
}
