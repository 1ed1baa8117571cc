//! The fault suite: 1,000 orders across 50 tenants in Kafka mode on tansu, two replicas (real
//! processes of the `dinero-bridge` binary) on one PostgreSQL store, while replicas are
//! SIGKILLed and restarted, Dinero answers with 5xx, ambiguous failures, 429 storms and latency
//! spikes, and PostgreSQL and the broker restart. Then the simulator's books must hold exactly
//! one booked invoice per order with the order's total, and the only dead letters must be the
//! two the scenario forces (a shop invoice number used twice).
//!
//! Bounded: every wait has a deadline; the whole run takes about two and a half minutes.
//!
//! A killed replica comes back after the consumer session timeout (6 s), not sooner: on
//! tansu 0.6.0, a member that rejoins while its killed predecessor is still in the group can
//! leave partitions assigned to the dead member for good (seen in 2 of 7 runs with restarts
//! after 0.1-1.5 s: those shops' orders stayed in the topic, unread); with static membership
//! (`group.instance.id`) the restarted replicas got no partitions at all. Real Kafka expires
//! the dead member after the session timeout and rebalances; MockCluster does too
//! (`tests/kafka_mock.rs`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::Rng;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use common::pg::PgDatabase;
use common::{free_port, money, order_with, organization, settings, ADMIN_TOKEN, SECRET};

const TENANTS: i64 = 50;
const ORDERS_PER_TENANT: usize = 20;
const KILLS: usize = 12;
/// Organizations whose shops lock voucher numbers and send order 9 with order 4's number:
/// Dinero refuses it, which no retry can fix. These two dead letters are the expected ones.
const FORCED: [i64; 2] = [5007, 5023];
const FORCED_ORDER: usize = 9;
const FIRST_ORG: i64 = 5000;
/// Orders arrive in 20 rounds, one per shop each, spread over the faults' two minutes.
const ROUND_INTERVAL: Duration = Duration::from_secs(6);

fn tenant_of(org: i64) -> String {
    format!("shop{org}")
}

/// Order `n`: 1-3 T-shirts and shipping, one of five customers per shop.
fn fault_order(org: i64, n: usize) -> Value {
    let quantity = n % 3 + 1;
    let (total, vat) = [
        ("138.95", "27.79"),
        ("238.90", "47.78"),
        ("338.85", "67.77"),
    ][n % 3];
    let lines = json!([
        {"kind": "product", "sku": "SKU-1", "name": "T-shirt", "quantity": quantity, "unit_price": "99.95", "vat_rate": 25},
        {"kind": "shipping", "name": "PostNord", "quantity": 1, "unit_price": 39, "vat_rate": 25}
    ]);
    let extra = if FORCED.contains(&org) {
        let number = if n == FORCED_ORDER { 1004 } else { 1000 + n };
        json!({ "invoice_number": number })
    } else {
        json!({})
    };
    order_with(
        &tenant_of(org),
        &n.to_string(),
        n % 5,
        ("DK", "DKK"),
        lines,
        (total, vat),
        extra,
    )
}

/// A process the suite starts, kills with SIGKILL and starts again on the same port, with
/// its output appended to a log file.
struct Process {
    name: &'static str,
    port: u16,
    log: PathBuf,
    command: Box<dyn Fn(u16) -> Command>,
    child: Option<Child>,
}

impl Process {
    fn start(name: &'static str, dir: &Path, command: Box<dyn Fn(u16) -> Command>) -> Process {
        let mut process = Process {
            name,
            port: free_port(),
            log: dir.join(format!("{name}.log")),
            command,
            child: None,
        };
        process.spawn();
        process
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = (self.command)(self.port)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; run scripts/test", self.name));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "{} did not listen", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown, no commit, no goodbye to the group.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// tansu on its SQLite storage engine (a file in `dir`), so a restart keeps its records.
fn broker(dir: &Path) -> Process {
    let dir = dir.to_owned();
    Process::start(
        "tansu",
        &dir.clone(),
        Box::new(move |port| {
            let binary = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
            let url = format!("tcp://127.0.0.1:{port}");
            let mut command = Command::new(binary);
            command
                .current_dir(&dir)
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                ])
                .args(["--storage-engine", "sqlite://tansu.db"]);
            command
        }),
    )
}

/// One replica: the service binary as a process of its own.
fn replica(name: &'static str, env: &[(String, String)], dir: &Path) -> Process {
    let env = env.to_vec();
    Process::start(
        name,
        dir,
        Box::new(move |port| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_dinero-bridge"));
            command
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("DINERO_BRIDGE__HTTP__LISTEN", format!("127.0.0.1:{port}"));
            command
        }),
    )
}

fn replica_env(store_url: &str, sim_url: &str, bootstrap: &str) -> Vec<(String, String)> {
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    [
        ("STORE__URL", store_url.to_owned()),
        ("STORE__MAX_CONNECTIONS", "6".into()),
        ("SECURITY__ADMIN_TOKENS", format!("[\"{ADMIN_TOKEN}\"]")),
        ("SECURITY__ENCRYPTION_KEY", key),
        ("DINERO__API_URL", sim_url.to_owned()),
        (
            "DINERO__TOKEN_URL",
            format!("{sim_url}/dineroapi/oauth/token"),
        ),
        ("DINERO__CLIENT_ID", "dinero-bridge-dev".into()),
        ("DINERO__CLIENT_SECRET", "dev-secret".into()),
        ("DINERO__REQUESTS_PER_MINUTE", "0".into()),
        ("DINERO__REQUEST_TIMEOUT_MS", "3000".into()),
        ("PIPELINE__BACKOFF_INITIAL_MS", "100".into()),
        ("PIPELINE__BACKOFF_MAX_MS", "3000".into()),
        ("PIPELINE__MAX_ATTEMPTS", "10".into()),
        ("KAFKA__ENABLED", "true".into()),
        ("KAFKA__BOOTSTRAP_SERVERS", bootstrap.to_owned()),
        ("KAFKA__CREATE_TOPICS", "true".into()),
        ("KAFKA__PARTITIONS", "6".into()),
        ("KAFKA__SESSION_TIMEOUT_MS", "6000".into()),
        ("KAFKA__HEARTBEAT_INTERVAL_MS", "1000".into()),
        ("LOG__LEVEL", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("DINERO_BRIDGE__{k}"), v))
    .collect()
}

/// Restart the local PostgreSQL cluster serving `127.0.0.1:5432`; false when the test runs
/// against another server (DINERO_BRIDGE_TEST_PG) or without `pg_ctlcluster`.
fn restart_postgres() -> bool {
    if !common::pg::admin_url().contains("@127.0.0.1:5432/") {
        return false;
    }
    let Ok(list) = Command::new("pg_lsclusters").arg("-h").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    let Some((version, cluster)) = text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(2) == Some(&"5432")).then(|| (fields[0].to_owned(), fields[1].to_owned()))
    }) else {
        return false;
    };
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, &cluster, "restart"])
        .stdout(Stdio::null())
        .status()
        .expect("pg_ctlcluster runs");
    // A restart that was possible but failed must not pass as a run without one.
    assert!(
        status.success(),
        "pg_ctlcluster {version} {cluster} restart failed"
    );
    true
}

struct Sim {
    url: String,
    http: reqwest::Client,
}

impl Sim {
    async fn faults(&self, faults: Value) {
        let response = self
            .http
            .put(format!("{}/_sim/faults", self.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "faults {faults}");
    }

    /// `extra` faults on top of the base ones for `secs` seconds, then the base ones again.
    async fn storm(&self, extra: Value, secs: u64) {
        let mut faults = base_faults();
        faults
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.faults(faults).await;
        tokio::time::sleep(Duration::from_secs(secs)).await;
        self.faults(base_faults()).await;
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// 10% 5xx, 5% ambiguous failures (the write commits, the connection drops), some jitter.
fn base_faults() -> Value {
    json!({"error_rate": 0.10, "ambiguous_rate": 0.05, "latency_ms": 2, "latency_jitter_ms": 20})
}

fn admin(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    http.request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN)
}

/// Ask whichever replica answers (one may be down at that moment).
async fn ask(http: &reqwest::Client, bases: &[String], path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for base in bases {
            let request = admin(http, base, reqwest::Method::GET, path);
            if let Ok(response) = request.timeout(Duration::from_secs(10)).send().await {
                if response.status().is_success() {
                    return response.json().await.unwrap();
                }
            }
        }
        assert!(Instant::now() < deadline, "no replica answers {path}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Orders per status, summed over the tenants, and the tenants with orders not done.
async fn statuses(
    http: &reqwest::Client,
    bases: &[String],
    tenants: &[String],
) -> (BTreeMap<String, usize>, BTreeSet<String>) {
    let mut counts = BTreeMap::new();
    let mut unfinished = BTreeSet::new();
    for tenant in tenants {
        let orders = ask(
            http,
            bases,
            &format!("/v1/tenants/{tenant}/orders?limit=1000"),
        )
        .await;
        for order in orders["orders"].as_array().unwrap() {
            let status = order["status"].as_str().unwrap();
            *counts.entry(status.to_owned()).or_insert(0) += 1;
            if status != "done" {
                unfinished.insert(tenant.clone());
            }
        }
    }
    (counts, unfinished)
}

async fn wait_until(
    what: &str,
    timeout: Duration,
    replicas: &[&Process],
    mut done: impl AsyncFnMut() -> Result<(), String>,
) {
    let deadline = Instant::now() + timeout;
    loop {
        match done().await {
            Ok(()) => return,
            Err(state) if Instant::now() > deadline => {
                // The whole logs outlive the run's temporary folder.
                let kept = std::env::temp_dir().join("dinero-bridge-fault-suite-failed");
                let _ = std::fs::create_dir_all(&kept);
                for replica in replicas {
                    eprintln!("--- {} log tail ---\n{}", replica.name, replica.tail());
                    let name = replica.log.file_name().unwrap();
                    let _ = std::fs::copy(&replica.log, kept.join(name));
                }
                panic!(
                    "{what}: not reached in {timeout:?}; {state}; logs in {}",
                    kept.display()
                );
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_order_becomes_exactly_one_invoice_under_faults() {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("dinero-bridge-fault-suite-")
        .tempdir()
        .unwrap();
    let http = reqwest::Client::new();

    // Dinero: the simulator, its steady rate limit off (429s come as storms below).
    let mut sim_config = dinero_sim::SimConfig::for_tests();
    sim_config.rate_limit = 0;
    let mut scenario = dinero_sim::scenario::demo();
    let organizations: Vec<i64> = (FIRST_ORG..FIRST_ORG + TENANTS).collect();
    scenario
        .organizations
        .extend(organizations.iter().map(|id| organization(*id)));
    let simulator = dinero_sim::Simulator::start_with(sim_config, scenario)
        .await
        .unwrap();
    let sim = Sim {
        url: simulator.url(),
        http: http.clone(),
    };
    let db = PgDatabase::create().await;
    let mut broker = broker(dir.path());
    let bootstrap = format!("127.0.0.1:{}", broker.port);
    let env = replica_env(&db.url, &sim.url, &bootstrap);
    let mut replicas = [
        replica("replica-a", &env, dir.path()),
        replica("replica-b", &env, dir.path()),
    ];
    let bases: Vec<String> = replicas.iter().map(Process::base).collect();

    let tenants: Vec<String> = organizations.iter().map(|o| tenant_of(*o)).collect();
    for org in &organizations {
        let lock = FORCED.contains(org);
        let body = json!({
            "organization_id": org,
            "credentials": {"api_key": format!("key-{org}")},
            "webhook_secrets": [SECRET],
            "settings": settings(json!({"lock_voucher_number": lock})),
        });
        let response = admin(
            &http,
            &bases[0],
            reqwest::Method::PUT,
            &format!("/v1/tenants/{}", tenant_of(*org)),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    println!("setup: {:.1?}", started.elapsed());

    sim.faults(base_faults()).await;
    let faults_from = Instant::now();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "120000")
        // One record per batch: tansu 0.6.0 can skip the rest of a batch whose middle was
        // committed when a rebalance moves its partition (tests/kafka_tansu.rs).
        .set("batch.num.messages", "1")
        .create()
        .unwrap();
    let producing = tokio::spawn({
        let organizations = organizations.clone();
        async move {
            for n in 0..ORDERS_PER_TENANT {
                let mut deliveries = Vec::new();
                for org in &organizations {
                    let value = serde_json::to_vec(&fault_order(*org, n)).unwrap();
                    let key = tenant_of(*org);
                    let record = FutureRecord::to("shop.orders").key(&key).payload(&value);
                    // Queued at once; the acknowledgements are awaited per round.
                    match producer.send_result(record) {
                        Ok(delivery) => deliveries.push(delivery),
                        Err((error, _)) => panic!("cannot queue: {error}"),
                    }
                }
                for delivery in deliveries {
                    delivery
                        .await
                        .expect("delivery reported")
                        .map_err(|(e, _)| e)
                        .expect("delivered");
                }
                tokio::time::sleep(ROUND_INTERVAL).await;
            }
        }
    });

    // The faults, on one timeline: a kill 1-4 s after the last restart; storms, a latency
    // spike and the restarts of PostgreSQL and the broker in between.
    let mut rng = rand::rng();
    let mut kills = 0;
    let mut pg_restarted = None;
    let mut broker_restarted = false;
    while kills < KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(1000..4000))).await;
        let victim = rng.random_range(0..replicas.len());
        replicas[victim].kill();
        // Back after the session timeout (6 s): tansu 0.6.0 can leave partitions with a
        // killed member that is replaced sooner (see the note in the module docs).
        tokio::time::sleep(Duration::from_millis(rng.random_range(6500..8000))).await;
        replicas[victim].spawn();
        kills += 1;
        match kills {
            2 => sim.storm(json!({"throttle_rate": 0.7}), 5).await,
            4 => pg_restarted = Some(restart_postgres()),
            6 => {
                let spike = json!({"latency_ms": 900, "latency_jitter_ms": 1500});
                sim.storm(spike, 4).await
            }
            8 => {
                broker.restart();
                broker_restarted = true;
            }
            10 => sim.storm(json!({"throttle_rate": 1.0}), 4).await,
            _ => {}
        }
    }
    tokio::time::timeout(Duration::from_secs(180), producing)
        .await
        .expect("every order produced")
        .unwrap();
    println!(
        "faults: {kills} SIGKILLs, PostgreSQL restarted: {pg_restarted:?}, broker restarted: {broker_restarted}, in {:.1?}",
        faults_from.elapsed()
    );
    sim.faults(json!({})).await;

    // Everything settles: all orders done but the forced ones and what their shops hold back.
    let forced_tenants: BTreeSet<String> = FORCED.iter().map(|o| tenant_of(*o)).collect();
    let held_per_forced = ORDERS_PER_TENANT - FORCED_ORDER;
    let expected_done = TENANTS as usize * ORDERS_PER_TENANT - FORCED.len() * held_per_forced;
    let live: Vec<&Process> = replicas.iter().collect();
    wait_until(
        "all orders settled",
        Duration::from_secs(240),
        &live,
        async || {
            let (counts, unfinished) = statuses(&http, &bases, &tenants).await;
            let done = counts.get("done").copied().unwrap_or(0);
            (done == expected_done)
                .then_some(())
                .ok_or(format!("{counts:?}, not finished: {unfinished:?}"))
        },
    )
    .await;

    // Exactly the expected dead letters, and only their shops paused.
    for tenant in &tenants {
        let letters = ask(&http, &bases, &format!("/v1/tenants/{tenant}/dead-letters")).await;
        let letters = letters["dead_letters"].as_array().unwrap();
        let info = ask(&http, &bases, &format!("/v1/tenants/{tenant}")).await;
        if forced_tenants.contains(tenant) {
            assert_eq!(letters.len(), 1, "{tenant}: {letters:#?}");
            assert_eq!(letters[0]["order_id"], FORCED_ORDER.to_string(), "{tenant}");
            assert_eq!(letters[0]["status"], "open");
            assert!(
                letters[0]["message"].as_str().unwrap().contains("1004"),
                "{tenant}: {}",
                letters[0]["message"]
            );
            assert_eq!(info["paused"], true, "{tenant}: {info}");
        } else {
            assert!(
                letters.is_empty(),
                "{tenant}: unexpected dead letters {letters:#?}"
            );
            assert_eq!(info["paused"], false, "{tenant}: {info}");
        }
    }

    // The shop fixes it: order 9 without its number, then resume releases what was held.
    for tenant in &forced_tenants {
        let path = format!("/v1/tenants/{tenant}/orders/{FORCED_ORDER}/transfer");
        let response = admin(&http, &bases[0], reqwest::Method::POST, &path)
            .json(&json!({"lock_voucher_number": false}))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
        let path = format!("/v1/tenants/{tenant}/resume");
        let response = admin(&http, &bases[0], reqwest::Method::POST, &path)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }
    let total = TENANTS as usize * ORDERS_PER_TENANT;
    wait_until(
        "every order done",
        Duration::from_secs(120),
        &live,
        async || {
            let (counts, unfinished) = statuses(&http, &bases, &tenants).await;
            (counts.get("done") == Some(&total))
                .then_some(())
                .ok_or(format!("{counts:?}, not finished: {unfinished:?}"))
        },
    )
    .await;

    // The books: one booked, paid invoice per order, with the order's total.
    let mut invoices_seen = 0;
    for org in &organizations {
        let books = sim.get(&format!("/_sim/organizations/{org}")).await;
        let invoices = books["invoices"].as_array().unwrap();
        let mut by_reference: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for invoice in invoices {
            by_reference
                .entry(invoice["ExternalReference"].as_str().unwrap().to_owned())
                .or_default()
                .push(invoice);
        }
        for n in 0..ORDERS_PER_TENANT {
            let reference = format!("{}:{n}", tenant_of(*org));
            let found = by_reference.remove(&reference).unwrap_or_default();
            assert_eq!(found.len(), 1, "{reference}: {} invoices", found.len());
            let invoice = found[0];
            assert_eq!(invoice["Status"], "Booked", "{reference}");
            assert_eq!(invoice["PaymentStatus"], "Paid", "{reference}");
            let expected: Decimal = money(&fault_order(*org, n)["data"]["totals"]["total"]);
            assert_eq!(money(&invoice["TotalInclVat"]), expected, "{reference}");
            invoices_seen += 1;
        }
        assert!(
            by_reference.is_empty(),
            "org {org}: invoices for no order: {by_reference:?}"
        );
    }
    assert_eq!(invoices_seen, total);

    let stats = sim.get("/_sim/stats").await;
    let requests = stats["requests"].as_u64().unwrap();
    println!(
        "fault suite: {total} orders, {invoices_seen} invoices, {requests} Dinero calls ({:.2} per order), faults injected {}, by status {}, in {:.1?}",
        requests as f64 / total as f64,
        stats["faults"],
        stats["by_status"],
        started.elapsed()
    );
}
