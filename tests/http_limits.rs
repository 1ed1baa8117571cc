//! What slow or stalled clients can do to the HTTP server: a client that sends half a request
//! head is dropped after the request timeout, neither starves `/healthz` nor holds up
//! shutdown.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Connections that sent part of a request head and then nothing more.
fn stalled_clients(addr: &str, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"POST /v1/webhooks/shop HTTP/1.1\r\nHost: x\r\nContent-Ty")
                .unwrap();
            stream
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_neither_starve_health_nor_hold_up_shutdown() {
    let mut harness = Harness::start(vec![], |_| {}).await;
    let addr = harness.base.trim_start_matches("http://").to_owned();
    let stalled = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || stalled_clients(&addr, 1_100)
    })
    .await
    .unwrap();
    let health = harness
        .http
        .get(format!("{}/healthz", harness.base))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // Stop while they still hang: the server must not wait on them for good.
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), harness.stop_app())
        .await
        .expect("the application stopped although clients were stalled");
    println!(
        "stopped in {:?} with {} stalled clients",
        started.elapsed(),
        stalled.len()
    );
    drop(stalled);
}
