//! Without Kafka the platform hears when a shop stops: dead letters, pauses and resumes reach
//! its receiver as Standard Webhooks-signed CloudEvents, in order, retried until it answers,
//! and a restart loses none.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use common::*;
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{json, Value};

const NOTIFY_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const WAIT: Duration = Duration::from_secs(30);

/// A receiver on port 0 that checks each signature, records what it was sent and refuses the
/// first `fail_first` deliveries with 503.
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    refused: Arc<Mutex<usize>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0usize));
        let state = (received.clone(), refused.clone(), fail_first);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .route("/hooks", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url,
            received,
            refused,
            handle,
        }
    }

    async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let received = self.received.lock().clone();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} notifications: {received:#?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn types(&self) -> Vec<String> {
        self.received
            .lock()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }
}

type ReceiverState = (Arc<Mutex<Vec<Value>>>, Arc<Mutex<usize>>, usize);

async fn receive(
    request: HttpRequest,
    state: web::Data<ReceiverState>,
    body: web::Bytes,
) -> HttpResponse {
    let (received, refused, fail_first) = state.get_ref();
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = request.headers().get(name) {
            headers.insert(
                name,
                http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
    }
    let verified = standardwebhooks::Webhook::new(NOTIFY_SECRET)
        .unwrap()
        .verify(&body, &headers);
    if verified.is_err() {
        return HttpResponse::Unauthorized().finish();
    }
    {
        let mut refused = refused.lock();
        if *refused < *fail_first {
            *refused += 1;
            return HttpResponse::ServiceUnavailable().finish();
        }
    }
    received.lock().push(serde_json::from_slice(&body).unwrap());
    HttpResponse::NoContent().finish()
}

async fn harness(url: &str) -> Harness {
    let url = url.to_owned();
    let harness = Harness::start(vec![organization(81)], move |s| {
        s.notifications.url = url;
        s.notifications.secret = NOTIFY_SECRET.into();
        s.notifications.backoff_initial_ms = 50;
        s.notifications.backoff_max_ms = 200;
        s.notifications.poll_interval_ms = 50;
    })
    .await;
    assert_eq!(
        harness
            .put_tenant("shop", 81, settings(json!({"lock_voucher_number": true})))
            .await
            .status(),
        201
    );
    harness
}

async fn post(harness: &Harness, path: &str) {
    let response = harness.admin(Method::POST, path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
}

#[tokio::test]
async fn the_receiver_hears_of_a_dead_letter_the_pause_and_the_resume_in_order_and_signed() {
    let receiver = Receiver::start(0);
    let harness = harness(&receiver.url).await;
    // Order 2 carries order 1's invoice number: Dinero refuses it, which no retry fixes.
    let mut first = order("shop", "1", 1);
    first["data"]["invoice_number"] = json!(7001);
    let mut second = order("shop", "2", 1);
    second["data"]["invoice_number"] = json!(7001);
    assert_eq!(harness.send("shop", &first).await.0, 202);
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    assert_eq!(harness.send("shop", &second).await.0, 202);
    // The dead letter pauses the shop; its record says so (the pause reason is one of its
    // facts), so the platform hears of the stop with its reason at once.
    let events = receiver.wait_for(1).await;
    assert_eq!(receiver.types(), ["dinero_bridge.order.dead_lettered"]);
    assert_eq!(events[0]["subject"], "2");
    assert_eq!(events[0]["tenantid"], "shop");
    assert_eq!(events[0]["specversion"], "1.0");
    assert_eq!(events[0]["data"]["facts"]["error-class"], "permanent");
    assert!(events[0]["data"]["facts"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("7001")));
    assert_eq!(events[0]["data"]["record"]["data"]["order_id"], "2");

    // Resumed (the letter is retried and dead-letters again, since its number is still
    // taken): the resume is announced, then the new dead letter.
    post(&harness, "/v1/tenants/shop/resume").await;
    receiver.wait_for(3).await;
    assert_eq!(
        receiver.types(),
        [
            "dinero_bridge.order.dead_lettered",
            "dinero_bridge.tenant.resumed",
            "dinero_bridge.order.dead_lettered"
        ]
    );
    receiver.handle.stop(true).await;
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_still_gets_every_record_once() {
    let receiver = Receiver::start(3);
    let harness = harness(&receiver.url).await;
    for round in 0..3 {
        let reason = json!({"reason": format!("round {round}")});
        let paused = harness
            .admin(Method::POST, "/v1/tenants/shop/pause")
            .json(&reason)
            .send()
            .await
            .unwrap();
        assert_eq!(paused.status(), 200);
        post(&harness, "/v1/tenants/shop/resume").await;
    }
    let events = receiver.wait_for(6).await;
    assert_eq!(*receiver.refused.lock(), 3, "three refusals were answered");
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(unique, ids, "each once, in order");
    let kinds: Vec<String> = receiver.types();
    assert_eq!(
        kinds,
        [
            "dinero_bridge.tenant.paused",
            "dinero_bridge.tenant.resumed",
            "dinero_bridge.tenant.paused",
            "dinero_bridge.tenant.resumed",
            "dinero_bridge.tenant.paused",
            "dinero_bridge.tenant.resumed"
        ]
    );
    // Published records are what retention may prune: nothing waits any more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received.lock().len(), 6, "nothing delivered twice");
    receiver.handle.stop(true).await;
}

#[tokio::test]
async fn a_restart_loses_no_notification() {
    // Nobody listens at first: the records wait in the outbox across the restart.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let mut harness = harness(&url).await;
    post(&harness, "/v1/tenants/shop/pause").await;
    post(&harness, "/v1/tenants/shop/resume").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    harness.stop_app().await;

    let receiver = Receiver::start(0);
    harness.settings.notifications.url = receiver.url.clone();
    harness.start_app().await;
    receiver.wait_for(2).await;
    assert_eq!(
        receiver.types(),
        [
            "dinero_bridge.tenant.paused",
            "dinero_bridge.tenant.resumed"
        ]
    );
    receiver.handle.stop(true).await;
}
