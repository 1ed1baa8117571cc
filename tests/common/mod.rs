//! Shared by the end-to-end tests: `dinero-sim` and the real application on port 0, a SQLite
//! file in a temporary folder (or, with `DINERO_BRIDGE_TEST_STORE=postgres`, a PostgreSQL
//! database of the test's own), signed webhooks, and polling helpers.
#![allow(dead_code)]

pub mod pg;

use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

use base64::Engine;
use dinero_bridge::app::{Application, StartError, StopHandle};
use dinero_bridge::config::Settings;
use dinero_sim::scenario::OrganizationSeed;
use dinero_sim::{SimConfig, Simulator};
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub struct Harness {
    pub sim: Simulator,
    pub settings: Settings,
    pub http: reqwest::Client,
    pub base: String,
    /// `/metrics` on its own listener, when `metrics.listen` is set.
    pub metrics_base: Option<String>,
    stop: Option<StopHandle>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
    _pg: Option<pg::PgDatabase>,
}

/// An organization in the simulator with the demo chart and API key `key-<id>`.
pub fn organization(id: i64) -> OrganizationSeed {
    serde_json::from_value(
        json!({"id": id, "name": format!("Shop {id} ApS"), "api_keys": [format!("key-{id}")]}),
    )
    .unwrap()
}

impl Harness {
    pub async fn start(
        organizations: Vec<OrganizationSeed>,
        adjust: impl FnOnce(&mut Settings),
    ) -> Harness {
        Self::start_with(organizations, |_| {}, adjust).await
    }

    /// As `start`, with the simulator's configuration adjusted too.
    pub async fn start_with(
        organizations: Vec<OrganizationSeed>,
        adjust_sim: impl FnOnce(&mut SimConfig),
        adjust: impl FnOnce(&mut Settings),
    ) -> Harness {
        let mut sim_config = SimConfig::for_tests();
        sim_config.rate_limit = 0;
        adjust_sim(&mut sim_config);
        let mut scenario = dinero_sim::scenario::demo();
        scenario.organizations.extend(organizations);
        let sim = Simulator::start_with(sim_config, scenario).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::load(None).unwrap();
        settings.http.listen = "127.0.0.1:0".parse().unwrap();
        let pg = match std::env::var("DINERO_BRIDGE_TEST_STORE").as_deref() {
            Ok("postgres") => Some(pg::PgDatabase::create().await),
            _ => None,
        };
        settings.store.url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", dir.path().join("bridge.db").display()),
        };
        settings.security.admin_tokens = vec![ADMIN_TOKEN.into()];
        settings.security.encryption_key =
            Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        settings.dinero =
            settings
                .dinero
                .clone()
                .for_simulator(&sim.url(), "dinero-bridge-dev", "dev-secret");
        settings.dinero.requests_per_minute = 0;
        settings.dinero.request_timeout_ms = 2_000;
        settings.pipeline.backoff_initial_ms = 20;
        settings.pipeline.backoff_max_ms = 300;
        settings.pipeline.shutdown_grace_secs = 5;
        adjust(&mut settings);
        let mut harness = Harness {
            sim,
            settings,
            http: reqwest::Client::new(),
            base: String::new(),
            metrics_base: None,
            stop: None,
            task: None,
            _dir: dir,
            _pg: pg,
        };
        harness.start_app().await;
        harness
    }

    pub async fn start_app(&mut self) {
        // After a simulated crash the old server's threads may still be letting go of the
        // port for a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let app = loop {
            match Application::build(self.settings.clone()).await {
                Err(StartError::Bind { source, .. })
                    if source.kind() == std::io::ErrorKind::AddrInUse
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                started => break started.expect("application starts"),
            }
        };
        self.base = format!("http://{}", app.addr());
        self.metrics_base = app.metrics_addr().map(|addr| format!("http://{addr}"));
        // Keep the port across restarts, so URLs stay valid.
        self.settings.http.listen = app.addr();
        let (stop, task) = app.spawn();
        self.stop = Some(stop);
        self.task = Some(task);
    }

    /// Stop gracefully (as on SIGTERM) and start again on the same store.
    pub async fn restart(&mut self) {
        self.stop_app().await;
        self.start_app().await;
    }

    /// Kill without grace: the task is aborted wherever it is, like a crash.
    pub async fn crash_and_restart(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.stop = None;
        // The aborted lanes' tasks die with the runtime's next poll; give them a moment.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.start_app().await;
    }

    pub async fn stop_app(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.stop();
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
    }

    pub async fn put_tenant(
        &self,
        tenant: &str,
        organization: i64,
        settings: Value,
    ) -> reqwest::Response {
        let body = json!({
            "organization_id": organization,
            "credentials": {"api_key": format!("key-{organization}")},
            "webhook_secrets": [SECRET],
            "settings": settings,
        });
        self.admin(reqwest::Method::PUT, &format!("/v1/tenants/{tenant}"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Send a webhook signed with the test secret; returns status and body.
    pub async fn send(&self, tenant: &str, event: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(event).unwrap();
        self.send_raw(tenant, &body, SECRET, "application/json")
            .await
    }

    pub async fn send_raw(
        &self,
        tenant: &str,
        body: &[u8],
        secret: &str,
        content_type: &str,
    ) -> (u16, Value) {
        answer(self.signed(tenant, body, secret, content_type)).await
    }

    /// Send a signed webhook with a W3C `traceparent` header.
    pub async fn send_traced(
        &self,
        tenant: &str,
        event: &Value,
        traceparent: &str,
    ) -> (u16, Value) {
        let body = serde_json::to_vec(event).unwrap();
        let request = self.signed(tenant, &body, SECRET, "application/json");
        answer(request.header("traceparent", traceparent)).await
    }

    fn signed(
        &self,
        tenant: &str,
        body: &[u8],
        secret: &str,
        content_type: &str,
    ) -> reqwest::RequestBuilder {
        let msg_id = format!("msg_{}", uuid::Uuid::new_v4());
        let timestamp = chrono::Utc::now().timestamp();
        let signature = standardwebhooks::Webhook::new(secret)
            .unwrap()
            .sign(&msg_id, timestamp, body)
            .unwrap();
        self.http
            .post(format!("{}/v1/webhooks/{tenant}", self.base))
            .header("content-type", content_type)
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
    }

    /// Answers the simulator dropped after committing the write (ambiguous failures so far).
    pub fn answers_lost(&self) -> u64 {
        self.sim
            .sim()
            .log
            .stats()
            .faults
            .get("dropped_after_commit")
            .copied()
            .unwrap_or(0)
    }

    /// Every call the organization received, as `METHOD route`.
    pub fn calls(&self, organization: i64) -> Vec<String> {
        self.sim
            .sim()
            .log
            .entries(0, Some(organization))
            .into_iter()
            .map(|e| format!("{} {}", e.method, e.route.unwrap_or_default()))
            .collect()
    }

    /// `/metrics` as Prometheus would scrape it.
    pub async fn scrape(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// `/readyz`: its status and body.
    pub async fn readiness(&self) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// An admin POST with a JSON body: status and answer.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        answer(self.admin(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.admin(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn orders(&self, tenant: &str) -> Vec<Value> {
        self.get(&format!("/v1/tenants/{tenant}/orders")).await["orders"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Poll until every listed order of the tenant has one of the statuses (or time out).
    pub async fn wait_for_orders(
        &self,
        tenant: &str,
        count: usize,
        statuses: &[&str],
        timeout: Duration,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let orders = self.orders(tenant).await;
            let settled = orders
                .iter()
                .filter(|o| statuses.contains(&o["status"].as_str().unwrap_or("")))
                .count();
            if orders.len() >= count && settled == orders.len() {
                return orders;
            }
            if Instant::now() > deadline {
                panic!("tenant {tenant}: timed out; orders: {orders:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The simulator's view of an organization: contacts, invoices, credit notes.
    pub async fn dinero(&self, organization: i64) -> Value {
        self.http
            .get(format!(
                "{}/_sim/organizations/{organization}",
                self.sim.url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Read `topic` from the start until `count` records arrived: each value and its headers.
pub async fn read_topic(
    bootstrap: &str,
    topic: &str,
    count: usize,
) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::{Headers, Message};
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while records.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records on {topic}: {records:#?}",
            records.len()
        );
        let Ok(Ok(message)) = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await
        else {
            continue;
        };
        let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        records.push((value, headers));
    }
    records
}

/// Account mapping matching the simulator's demo chart.
pub fn settings(extra: Value) -> Value {
    let mut settings = json!({
        "register_payment": true,
        "accounts": {
            "domestic": {"product": 1000, "shipping": 1010, "fee": 1020},
            "eu_consumer": {"product": 1000, "shipping": 1010},
            "eu_business": {"product": 1100},
            "export": {"product": 1200},
            "voec": {"product": 1300},
            "voec_vat_account": 7250,
            "deposit_accounts": {"card": 55010, "paypal": 55020},
            "default_deposit_account": 55000,
            "gift_card_deposit_account": 55000
        }
    });
    if let (Some(base), Some(extra)) = (settings.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    settings
}

/// A domestic order: `lines` × 99.95 DKK incl. 25% VAT plus 39 shipping, paid by card.
pub fn order(tenant: &str, order_id: &str, customer: usize) -> Value {
    let lines = json!([
        {"kind": "product", "sku": "SKU-1", "name": "T-shirt", "quantity": 2, "unit_price": "99.95", "vat_rate": 25},
        {"kind": "shipping", "name": "PostNord", "quantity": 1, "unit_price": 39, "vat_rate": 25}
    ]);
    // 199.90 + 39 = 238.90, VAT 47.78
    order_with(
        tenant,
        order_id,
        customer,
        ("DK", "DKK"),
        lines,
        ("238.90", "47.78"),
        json!({}),
    )
}

/// An order to `(country, currency)` with the given lines and `(total, vat)`; `extra`
/// replaces top-level fields of the order data.
pub fn order_with(
    tenant: &str,
    order_id: &str,
    customer: usize,
    (country, currency): (&str, &str),
    lines: Value,
    (total, vat): (&str, &str),
    extra: Value,
) -> Value {
    let mut data = json!({
        "order_id": order_id,
        "order_number": format!("#{order_id}"),
        "completed_at": "2026-11-20T10:00:00Z",
        "currency": currency,
        "prices_include_vat": true,
        "customer": {
            "kind": "person",
            "id": format!("cust-{customer}"),
            "name": format!("Kunde {customer}"),
            "email": format!("kunde{customer}@example.dk"),
            "address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": country}
        },
        "lines": lines,
        "payment": {"method": "card", "amount": total, "amount_dkk": total, "paid_at": "2026-11-20T10:00:00Z"},
        "totals": {"total": total, "vat": vat}
    });
    if let (Some(base), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    json!({
        "specversion": "1.0",
        "id": format!("evt-{tenant}-{order_id}"),
        "source": "/webshop",
        "type": "order.completed",
        "subject": order_id,
        "tenantid": tenant,
        "time": "2026-11-20T10:00:00Z",
        "data": data,
    })
}

pub fn money(value: &Value) -> rust_decimal::Decimal {
    value.to_string().trim_matches('"').parse().unwrap()
}

// ----- Kafka helpers -----

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Produce orders `numbers` for each tenant onto `shop.orders`, keyed by tenant.
pub async fn produce_orders(bootstrap: &str, tenants: &[String], numbers: std::ops::Range<usize>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    // Queue everything first, then wait for the acknowledgements (per-partition order holds).
    let mut deliveries = Vec::new();
    for n in numbers {
        for tenant in tenants {
            let value = serde_json::to_vec(&order(tenant, &n.to_string(), n % 3)).unwrap();
            let mut record = FutureRecord::to("shop.orders")
                .key(tenant.as_str())
                .payload(&value);
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => break deliveries.push(delivery),
                    Err((error, returned)) => {
                        assert!(format!("{error}").contains("QueueFull"), "{error}");
                        record = returned;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivered")
            .map_err(|(e, _)| e)
            .unwrap();
    }
}

/// Orders done across the tenants, as the instance at `base` reports them.
pub async fn done_count(harness: &Harness, base: &str, tenants: &[String]) -> usize {
    let mut done = 0;
    for tenant in tenants {
        let orders: Value = harness
            .http
            .get(format!("{base}/v1/tenants/{tenant}/orders?status=done"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        done += orders["orders"].as_array().map(Vec::len).unwrap_or(0);
    }
    done
}

/// Every organization holds exactly its orders' invoices: none missing, none twice.
pub async fn assert_exactly_one_invoice_per_order(
    harness: &Harness,
    organizations: &[i64],
    per_tenant: usize,
) {
    for org in organizations {
        let invoices = harness.dinero(*org).await["invoices"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let references: BTreeSet<String> = invoices
            .iter()
            .map(|i| i["ExternalReference"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            (invoices.len(), references.len()),
            (per_tenant, per_tenant),
            "organization {org}"
        );
        assert!(
            invoices
                .iter()
                .all(|i| i["Status"] == "Booked" && i["PaymentStatus"] == "Paid"),
            "organization {org}"
        );
    }
}

/// A tansu broker of its own on a free port (in-memory storage); killed when dropped.
pub struct Tansu {
    child: std::process::Child,
    pub bootstrap: String,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tansu() -> Tansu {
    let binary = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = std::process::Command::new(&binary)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start tansu ({binary}): {e}; run scripts/test, which installs it")
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Tansu {
        child,
        bootstrap: format!("127.0.0.1:{port}"),
    }
}

/// Register `shop<id>` for each organization with the standard settings; their ids.
pub async fn register_tenants(harness: &Harness, organizations: &[i64]) -> Vec<String> {
    let mut tenants = Vec::new();
    for org in organizations {
        let tenant = format!("shop{org}");
        let response = harness.put_tenant(&tenant, *org, settings(json!({}))).await;
        assert_eq!(response.status(), 201, "{tenant}");
        tenants.push(tenant);
    }
    tenants
}

/// Kafka mode on `bootstrap` with test timeouts; `create_topics` for real brokers (the mock
/// cluster's topics are made by the test, its admin API cannot).
pub fn kafka_mode(
    bootstrap: &str,
    create_topics: bool,
) -> impl FnOnce(&mut dinero_bridge::config::Settings) + '_ {
    move |s| {
        s.kafka.enabled = true;
        s.kafka.bootstrap_servers = bootstrap.to_owned();
        s.kafka.create_topics = create_topics;
        s.kafka.partitions = 6;
        s.kafka.session_timeout_ms = 6_000;
        s.kafka.heartbeat_interval_ms = 1_000;
        s.kafka.storm_window = 1_000;
    }
}
