//! History import, end to end: the `import` command sends a file of past order events to the
//! running service, which takes them through the webhook's checks into the inbox and
//! transfers them after the shop's live orders; the same file again changes nothing.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use dinero_sim::FaultConfig;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(180);

/// A file of `orders` past order events, numbered from `first`, one JSON event a line.
fn history(orders: std::ops::Range<usize>, extra: &[&str]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for n in orders {
        let mut event = order("shop", &format!("old-{n}"), n % 50);
        event["id"] = json!(format!("evt-old-{n}"));
        writeln!(file, "{event}").unwrap();
    }
    for line in extra {
        writeln!(file, "{line}").unwrap();
    }
    file.flush().unwrap();
    file
}

/// `dinero-bridge import --wait` against the harness: its exit status and output.
fn import(harness: &Harness, file: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dinero-bridge"))
        .args([
            "import",
            "--tenant",
            "shop",
            "--wait",
            "--url",
            &harness.base,
        ])
        .arg(file)
        .env("DINERO_BRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn booked(state: &Value) -> Vec<String> {
    state["invoices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["Status"] == "Booked")
        .map(|i| i["ExternalReference"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_past_orders_imported_twice_make_one_invoice_each() {
    let harness = Harness::start(vec![organization(51)], |_| {}).await;
    assert_eq!(
        harness
            .put_tenant("shop", 51, settings(json!({})))
            .await
            .status(),
        201
    );
    let file = history(0..1000, &["{not json", ""]);
    let started = Instant::now();
    let (ok, output) = import(&harness, file.path());
    assert!(ok, "{output}");
    assert!(
        output.contains("1001 lines: 1000 accepted, 0 already there, 0 conflicts, 1 refused; 10 jobs; 1000 transferred, 0 failed"),
        "{output}"
    );
    assert!(
        output.contains("refused: line 1001: the body is not JSON"),
        "{output}"
    );
    println!(
        "1000 imported orders transferred in {:?}",
        started.elapsed()
    );
    let references = booked(&harness.dinero(51).await);
    assert_eq!(references.len(), 1000);
    // Each part's job took its orders in the file's order.
    let expected: Vec<String> = (0..1000).map(|n| format!("shop:old-{n}")).collect();
    assert_eq!(references, expected);
    let listed = harness
        .get("/v1/tenants/shop/orders?status=done&limit=2000")
        .await;
    assert_eq!(listed["orders"].as_array().unwrap().len(), 1000);

    // The same file again: nothing new, no job, no call to Dinero.
    let calls = harness.sim.sim().log.stats().requests;
    let (ok, output) = import(&harness, file.path());
    assert!(ok, "{output}");
    assert!(
        output
            .contains("1001 lines: 0 accepted, 1000 already there, 0 conflicts, 1 refused; 0 jobs"),
        "{output}"
    );
    assert_eq!(booked(&harness.dinero(51).await).len(), 1000);
    assert_eq!(harness.sim.sim().log.stats().requests, calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imported_orders_wait_for_the_live_ones_and_for_a_paused_shop() {
    // Dinero slow enough that the live orders are still draining when the import lands.
    let harness = Harness::start_with(
        vec![organization(52)],
        |sim| {
            sim.faults = FaultConfig {
                latency_ms: 15,
                ..FaultConfig::default()
            }
        },
        |_| {},
    )
    .await;
    assert_eq!(
        harness
            .put_tenant("shop", 52, settings(json!({})))
            .await
            .status(),
        201
    );
    for n in 0..15 {
        assert_eq!(
            harness
                .send("shop", &order("shop", &format!("live-{n}"), n))
                .await
                .0,
            202
        );
    }
    let body: String = (0..15)
        .map(|n| {
            let mut event = order("shop", &format!("old-{n}"), n);
            event["id"] = json!(format!("evt-old-{n}"));
            format!("{event}\n")
        })
        .collect();
    let response = harness
        .admin(Method::POST, "/v1/tenants/shop/imports")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["accepted"], 15);
    assert_eq!(report["job"]["kind"], "import");
    let job = report["job"]["id"].as_str().unwrap().to_owned();
    // Listed as imported until their turn.
    let deadline = Instant::now() + WAIT;
    loop {
        let view = harness
            .get(&format!("/v1/tenants/shop/transfers/{job}"))
            .await;
        if view["status"] == "done" {
            break;
        }
        assert!(Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let references = booked(&harness.dinero(52).await);
    let first_import = references.iter().position(|r| r.contains("old-")).unwrap();
    assert_eq!(
        first_import, 15,
        "every live order before the imported ones: {references:?}"
    );

    let empty = harness
        .admin(Method::POST, "/v1/tenants/shop/imports")
        .body("\n\n")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    assert_eq!(empty.json::<Value>().await.unwrap()["code"], "no_lines");

    // A paused shop's import waits for resume, as its live orders do.
    let paused = harness
        .admin(Method::POST, "/v1/tenants/shop/pause")
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    let mut event = order("shop", "old-later", 1);
    event["id"] = json!("evt-old-later");
    let response = harness
        .admin(Method::POST, "/v1/tenants/shop/imports")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    let job = report["job"]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let view = harness
        .get(&format!("/v1/tenants/shop/transfers/{job}"))
        .await;
    assert_eq!(view["progress"]["waiting"], 1, "{view}");
    let orders = harness.orders("shop").await;
    let later = orders
        .iter()
        .find(|o| o["order_id"] == "old-later")
        .unwrap();
    assert_eq!(later["status"], "imported");
    let resumed = harness
        .admin(Method::POST, "/v1/tenants/shop/resume")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    harness.wait_for_orders("shop", 31, &["done"], WAIT).await;
}
