//! `/metrics` after a run with an accepted order, a duplicate, a refused signature, a dead
//! letter and an operator's pause: each counter moved as it should, no series names a tenant,
//! and (where promtool is installed, as `scripts/test` makes sure) the scrape passes
//! `promtool check metrics`.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::json;

/// The scrape's samples by `name{labels}` as written.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn sum(samples: &BTreeMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            series.starts_with(&format!("{name}{{")) && labels.iter().all(|l| series.contains(l))
        })
        .map(|(_, value)| value)
        .sum()
}

#[tokio::test]
async fn each_counter_moves_as_the_run_did_and_no_series_names_a_tenant() {
    let harness = Harness::start(vec![organization(91)], |s| s.metrics.refresh_secs = 1).await;
    let created = harness
        .put_tenant("shop", 91, settings(json!({"lock_voucher_number": true})))
        .await;
    assert_eq!(created.status(), 201);
    let mut first = order("shop", "1", 1);
    first["data"]["invoice_number"] = json!(7001);
    assert_eq!(harness.send("shop", &first).await.0, 202);
    assert_eq!(harness.send("shop", &first).await.0, 200, "a duplicate");
    let body = serde_json::to_vec(&first).unwrap();
    let (status, _) = harness
        .send_raw(
            "shop",
            &body,
            "whsec_bm90IHRoZSBzaG9wJ3Mgc2VjcmV0",
            "application/json",
        )
        .await;
    assert_eq!(status, 401, "a refused signature");
    harness
        .wait_for_orders("shop", 1, &["done"], Duration::from_secs(30))
        .await;
    // The shop's invoice number again: Dinero refuses it, a dead letter pauses the shop.
    let mut second = order("shop", "2", 1);
    second["data"]["invoice_number"] = json!(7001);
    assert_eq!(harness.send("shop", &second).await.0, 202);
    harness
        .wait_for_orders("shop", 2, &["done", "failed"], Duration::from_secs(30))
        .await;
    let paused = harness
        .admin(Method::POST, "/v1/tenants/shop/pause")
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    // Held behind the pause: the gauges read from the store will count it.
    assert_eq!(harness.send("shop", &order("shop", "3", 1)).await.0, 202);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = harness.scrape().await;
        let s = samples(&text);
        if s.get("dinero_bridge_inbox_events{state=\"held\"}") == Some(&1.0) {
            assert_eq!(s.get("dinero_bridge_paused_tenants"), Some(&1.0));
            assert_eq!(s.get("dinero_bridge_open_dead_letters"), Some(&1.0));
            assert_eq!(
                s.get("dinero_bridge_inbox_events{state=\"waiting\"}"),
                Some(&0.0)
            );
            assert!(s["dinero_bridge_inbox_oldest_waiting_seconds"] >= 0.0);
            assert!(s["dinero_bridge_store_connections{state=\"open\"}"] >= 1.0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store's gauges never showed the held order: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let response = harness
        .http
        .get(format!("{}/metrics", harness.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    let s = samples(&text);
    let intake = "dinero_bridge_intake_events_total";
    assert_eq!(
        sum(&s, intake, &["result=\"accepted\"", "source=\"webhook\""]),
        3.0
    );
    assert_eq!(sum(&s, intake, &["result=\"duplicate\""]), 1.0);
    assert_eq!(
        sum(
            &s,
            intake,
            &["result=\"rejected\"", "reason=\"invalid_signature\""]
        ),
        1.0
    );
    let transfers = "dinero_bridge_transfers_total";
    assert_eq!(sum(&s, transfers, &["outcome=\"done\""]), 1.0);
    assert_eq!(sum(&s, transfers, &["outcome=\"dead_lettered\""]), 1.0);
    assert_eq!(
        sum(
            &s,
            "dinero_bridge_dead_letters_total",
            &["class=\"permanent\""]
        ),
        1.0
    );
    let pauses = "dinero_bridge_pauses_total";
    assert_eq!(sum(&s, pauses, &["reason=\"dead_letter\""]), 1.0);
    assert_eq!(sum(&s, pauses, &["reason=\"operator\""]), 1.0);
    assert_eq!(
        s.get("dinero_bridge_order_duration_seconds_count"),
        Some(&1.0)
    );
    let dinero = "dinero_bridge_dinero_requests_total";
    assert!(sum(&s, dinero, &["status_class=\"2xx\""]) >= 4.0, "{text}");
    assert_eq!(
        sum(
            &s,
            dinero,
            &["operation=\"book invoice\"", "status_class=\"4xx\""]
        ),
        1.0,
        "the refused booking"
    );
    assert_eq!(
        sum(
            &s,
            "dinero_bridge_http_requests_total",
            &["route=\"/v1/webhooks/{tenant_id}\"", "status=\"202\""]
        ),
        3.0
    );
    // Every store operation is timed and counted: four events reached the inbox (one of them
    // a duplicate), one order was dead-lettered.
    let store = "dinero_bridge_store_operations_total";
    assert_eq!(
        sum(&s, store, &["operation=\"accept_event\"", "result=\"ok\""]),
        4.0
    );
    assert_eq!(
        sum(
            &s,
            store,
            &["operation=\"dead_letter_and_pause\"", "result=\"ok\""]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &s,
            "dinero_bridge_store_operation_duration_seconds_count",
            &["operation=\"accept_event\""]
        ),
        4.0
    );
    assert_eq!(sum(&s, "dinero_bridge_build_info", &[]), 1.0);
    assert!(
        !text.contains("=\"shop\"") && !text.contains("tenant=") && !text.contains("/shop"),
        "a series names a tenant"
    );

    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut promtool) => {
            promtool
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let output = promtool.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Err(error) => assert!(
            std::env::var_os("DINERO_BRIDGE_REQUIRE_PROMTOOL").is_none(),
            "promtool is required here: {error}"
        ),
    }
}

/// `metrics.listen` serves `/metrics` alone on an address of its own; the HTTP listener
/// keeps its `/metrics` too.
#[tokio::test]
async fn metrics_can_have_an_address_of_their_own() {
    let harness = Harness::start(vec![], |s| {
        s.metrics.listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let base = harness.metrics_base.clone().expect("a metrics address");
    assert_ne!(base, harness.base);
    let scrape = harness
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(scrape
        .text()
        .await
        .unwrap()
        .contains("dinero_bridge_build_info{version="));
    let elsewhere = harness
        .http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404, "only /metrics there");
}

/// Store writes per order, counted by the store's own operation metrics: every write is a
/// commit (and on PostgreSQL a WAL flush), so this is the intake's and the lanes' cost.
/// Printed for the README and the closing note, and held to the number stated there.
#[tokio::test]
async fn an_order_costs_a_handful_of_store_writes() {
    const WRITES: &[&str] = &[
        "accept_event",
        "save_order",
        "complete_order",
        "set_event_status",
        "mark_replayed",
        "put_contact",
        "claim_tenant",
    ];
    let harness = Harness::start(vec![organization(93)], |_| {}).await;
    let status = harness
        .put_tenant("shop", 93, settings(json!({})))
        .await
        .status();
    assert_eq!(status, 201);
    let writes = |text: &str| -> BTreeMap<&'static str, f64> {
        let s = samples(text);
        WRITES
            .iter()
            .map(|op| {
                let label = format!("operation=\"{op}\"");
                (
                    *op,
                    sum(&s, "dinero_bridge_store_operations_total", &[&label]),
                )
            })
            .filter(|(_, n)| *n > 0.0)
            .collect()
    };
    let total = |w: &BTreeMap<&str, f64>| w.values().sum::<f64>();
    // The lane's first order also claims the tenant; measure from the second on.
    assert_eq!(
        harness.send("shop", &order("shop", "warm-up", 1)).await.0,
        202
    );
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    let before = writes(&harness.scrape().await);
    assert_eq!(harness.send("shop", &order("shop", "new", 2)).await.0, 202);
    harness.wait_for_orders("shop", 2, &["done"], WAIT).await;
    let after_new = writes(&harness.scrape().await);
    assert_eq!(
        harness.send("shop", &order("shop", "known", 2)).await.0,
        202
    );
    harness.wait_for_orders("shop", 3, &["done"], WAIT).await;
    let after_known = writes(&harness.scrape().await);
    let new_customer = total(&after_new) - total(&before);
    let known_customer = total(&after_known) - total(&after_new);
    println!("store writes per order: new customer {new_customer}, known customer {known_customer}; by operation after three orders: {after_known:?}");
    assert_eq!(
        (new_customer, known_customer),
        (NEW_CUSTOMER_WRITES, KNOWN_CUSTOMER_WRITES)
    );
}

const WAIT: Duration = Duration::from_secs(60);
const NEW_CUSTOMER_WRITES: f64 = 6.0;
const KNOWN_CUSTOMER_WRITES: f64 = 5.0;
