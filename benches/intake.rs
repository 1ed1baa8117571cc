//! Intake throughput: signed webhooks accepted per second with the lanes paused (intake
//! alone, every event a new order) and while the lanes transfer, then the answer time at half
//! of that rate. Beside it, the reference from the same run: a bare actix-web server answering
//! the same POSTs from the same client in the same process. Prints numbers; asserts nothing.
//!
//! `cargo bench --bench intake` (SQLite), `DINERO_BRIDGE_TEST_STORE=postgres cargo bench
//! --bench intake` (PostgreSQL at `DINERO_BRIDGE_TEST_PG`). `BENCH_SECONDS` sets each phase's
//! length (default 10).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use common::*;
use reqwest::Method;
use serde_json::json;

const TENANTS: i64 = 20;
const SENDERS: usize = 32;

/// One pre-signed webhook: URL, headers, body.
struct Signed {
    url: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

fn sign(base: &str, tenant: &str, n: usize, customer: usize) -> Signed {
    let event = order(tenant, &format!("bench-{n}"), customer);
    let body = serde_json::to_vec(&event).unwrap();
    let msg_id = format!("msg_{tenant}_{n}");
    let timestamp = chrono::Utc::now().timestamp();
    let signature = standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .sign(&msg_id, timestamp, &body)
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("webhook-id", msg_id.parse().unwrap());
    headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    Signed {
        url: format!("{base}/v1/webhooks/{tenant}"),
        headers,
        body,
    }
}

/// What a load phase measured.
struct Load {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Send `requests` (over and over when `cycle`, else each once) from `SENDERS` tasks (or
/// paced to `rate` a second), for at most `seconds`; each answer must be `status`.
async fn load(
    http: &reqwest::Client,
    requests: Arc<Vec<Signed>>,
    cycle: bool,
    seconds: f64,
    rate: Option<f64>,
    status: u16,
) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (http, requests, next) = (http.clone(), requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let index = if cycle { n % requests.len() } else { n };
                let Some(request) = requests.get(index) else {
                    break;
                };
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                if Instant::now() > deadline {
                    break;
                }
                let sent = Instant::now();
                let answer = http
                    .post(&request.url)
                    .headers(request.headers.clone())
                    .body(request.body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    answer.status().as_u16(),
                    status,
                    "{:?}",
                    answer.text().await
                );
                let _ = answer.bytes().await;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let took = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Load {
        per_second: latencies.len() as f64 / took,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

/// The reference: a bare actix-web server that reads the body and answers 202.
async fn bare_server() -> String {
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|body: web::Bytes| async move {
            HttpResponse::Accepted().json(json!({"status": "accepted", "bytes": body.len()}))
        }))
    })
    .workers(2)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let organizations: Vec<i64> = (1..=TENANTS).map(|n| 3000 + n).collect();
    let harness = Harness::start(
        organizations.iter().map(|id| organization(*id)).collect(),
        |s| {
            s.log.level = "warn".into();
            s.dinero.requests_per_minute = 0;
        },
    )
    .await;
    harness.sim.sim().faults.set(Default::default());
    let tenants: Vec<String> = organizations.iter().map(|o| format!("shop{o}")).collect();
    for (tenant, org) in tenants.iter().zip(&organizations) {
        let status = harness
            .put_tenant(tenant, *org, settings(json!({})))
            .await
            .status();
        assert_eq!(status, 201);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(SENDERS)
        .build()
        .unwrap();
    // Pre-signed orders for each phase (the signing is not measured): more than the intake
    // can take in a phase today; the bare server's phase cycles through its set.
    let budget = (seconds * 6_000.0) as usize;
    let signed = |base: &str, offset: usize| -> Arc<Vec<Signed>> {
        Arc::new(
            (0..budget)
                .map(|n| {
                    let tenant = &tenants[n % tenants.len()];
                    sign(base, tenant, offset + n, n % 50)
                })
                .collect(),
        )
    };

    let bare = bare_server().await;
    let reference = load(&http, signed(&bare, 0), true, seconds, None, 202).await;
    println!(
        "bare actix-web server (the reference): {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms ({SENDERS} senders)",
        reference.per_second, reference.p50_ms, reference.p99_ms
    );

    for tenant in &tenants {
        let paused = harness
            .admin(Method::POST, &format!("/v1/tenants/{tenant}/pause"))
            .json(&json!({"reason": "bench: intake alone"}))
            .send()
            .await
            .unwrap();
        assert!(paused.status().is_success());
    }
    let alone = load(&http, signed(&harness.base, 0), false, seconds, None, 202).await;
    println!(
        "intake, lanes paused: {:.0} events/s = {:.1}% of the reference, p50 {:.1} ms, p99 {:.1} ms",
        alone.per_second,
        alone.per_second / reference.per_second * 100.0,
        alone.p50_ms,
        alone.p99_ms
    );

    for tenant in &tenants {
        let resumed = harness
            .admin(Method::POST, &format!("/v1/tenants/{tenant}/resume"))
            .send()
            .await
            .unwrap();
        assert!(resumed.status().is_success());
    }
    let busy = load(
        &http,
        signed(&harness.base, budget),
        false,
        seconds,
        None,
        202,
    )
    .await;
    println!(
        "intake, lanes transferring: {:.0} events/s = {:.1}% of the reference, p50 {:.1} ms, p99 {:.1} ms",
        busy.per_second,
        busy.per_second / reference.per_second * 100.0,
        busy.p50_ms,
        busy.p99_ms
    );
    let half = busy.per_second / 2.0;
    let paced = load(
        &http,
        signed(&harness.base, 2 * budget),
        false,
        seconds,
        Some(half),
        202,
    )
    .await;
    println!(
        "at half that rate ({half:.0}/s), lanes transferring: p50 {:.1} ms, p99 {:.1} ms",
        paced.p50_ms, paced.p99_ms
    );
}
