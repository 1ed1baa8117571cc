//! Traces end to end: one W3C trace from the webhook's `traceparent` (or the event's own) to
//! every Dinero call, through Kafka's record headers in Kafka mode, to the dead-letter
//! record; and the binary exporting over OTLP to a collector, its JSON log lines naming the
//! trace. This test binary installs an in-memory span exporter as its global subscriber.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use dinero_bridge::config::LogFormat;
use dinero_bridge::telemetry::traces;
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rdkafka::mocking::MockCluster;
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const WAIT: Duration = Duration::from_secs(30);

/// The process-wide exporter: every span any test here records ends up in it.
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(traces::layer(&provider))
            .init();
        // The provider lives as long as the process, like the binary's.
        std::mem::forget(provider);
        exporter
    })
}

/// A trace id of this test's own, and a caller's span in it, as a `traceparent`.
fn caller() -> (String, String, String) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let parent = format!("{:016x}", rand_u64());
    let header = format!("00-{trace}-{parent}-01");
    (trace, parent, header)
}

fn rand_u64() -> u64 {
    u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap()) | 1
}

/// The spans of one trace, once one named `last` has ended.
async fn trace(trace: &str, last: &str) -> Vec<SpanData> {
    let id = TraceId::from_hex(trace).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let spans: Vec<SpanData> = exporter()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|span| span.span_context.trace_id() == id)
            .collect();
        if spans.iter().any(|span| span.name == last) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "no '{last}' span in trace {trace}: {:#?}",
            names(&spans)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|span| span.name.to_string()).collect()
}

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one '{name}' in {:#?}", names(spans));
    found[0]
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn id(span: &SpanData) -> String {
    span.span_context.span_id().to_string()
}

fn assert_child(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.parent_span_id.to_string(),
        id(parent),
        "'{}' is a child of '{}'",
        child.name,
        parent.name
    );
}

/// Where the simulator's request log stands: calls after this are the order's.
fn sim_position(harness: &Harness) -> u64 {
    harness.sim.sim().log.stats().requests
}

/// The Dinero API calls the simulator saw for an organization since `since`, with the
/// `traceparent` each carried.
fn dinero_calls(harness: &Harness, organization: i64, since: u64) -> Vec<(String, Option<String>)> {
    harness
        .sim
        .sim()
        .log
        .entries(since, Some(organization))
        .into_iter()
        .map(|entry| (entry.route.unwrap_or(entry.path), entry.traceparent))
        .collect()
}

/// Every Dinero call of the transfer is a client span under it, and Dinero received that
/// span as the call's parent: the simulator's `traceparent`s name exactly these spans.
fn assert_dinero_calls_in(
    spans: &[SpanData],
    transfer: &SpanData,
    harness: &Harness,
    org: i64,
    since: u64,
) {
    let trace = transfer.span_context.trace_id().to_string();
    let clients: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert!(!clients.is_empty(), "{:#?}", names(spans));
    for client in &clients {
        assert_child(client, transfer);
        assert!(
            attribute(client, "url.template").is_some_and(|t| t.starts_with("/v1/")),
            "{client:?}"
        );
        assert!(attribute(client, "http.response.status_code").is_some());
    }
    let calls = dinero_calls(harness, org, since);
    assert_eq!(calls.len(), clients.len(), "{calls:#?}");
    let received: BTreeSet<String> = calls
        .iter()
        .map(|(route, traceparent)| {
            let traceparent = traceparent
                .as_deref()
                .unwrap_or_else(|| panic!("{route} came without traceparent"));
            let parts: Vec<&str> = traceparent.split('-').collect();
            assert_eq!(parts[1], trace, "{route}: {traceparent}");
            parts[2].to_owned()
        })
        .collect();
    let sent: BTreeSet<String> = clients.iter().map(|c| id(c)).collect();
    assert_eq!(received, sent);
    let names: BTreeSet<String> = clients.iter().map(|c| c.name.to_string()).collect();
    assert!(
        names.contains("POST /v1/{organizationId}/invoices"),
        "{names:?}"
    );
}

/// No attribute of any span holds a secret the service knows.
fn assert_no_secrets(spans: &[SpanData], organization: i64) {
    let secrets = [
        SECRET.to_owned(),
        ADMIN_TOKEN.to_owned(),
        "dev-secret".to_owned(),
        format!("key-{organization}"),
    ];
    for span in spans {
        for kv in &span.attributes {
            let value = kv.value.to_string();
            for secret in &secrets {
                assert!(
                    !value.contains(secret.as_str()),
                    "{} = {value} on '{}'",
                    kv.key,
                    span.name
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_webhooks_traceparent_to_every_dinero_call() {
    exporter();
    let harness = Harness::start(vec![organization(81)], |_| {}).await;
    assert_eq!(
        harness
            .put_tenant("shop81", 81, settings(json!({})))
            .await
            .status(),
        201
    );
    let (trace_id, caller_span, traceparent) = caller();
    let since = sim_position(&harness);
    let (status, answer) = harness
        .send_traced("shop81", &order("shop81", "1", 1), &traceparent)
        .await;
    assert_eq!(status, 202, "{answer}");
    harness.wait_for_orders("shop81", 1, &["done"], WAIT).await;

    let spans = trace(&trace_id, "transfer order").await;
    let server = span(&spans, "POST /v1/webhooks/{tenant_id}");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(server.parent_span_id.to_string(), caller_span);
    assert_eq!(
        attribute(server, "http.route").as_deref(),
        Some("/v1/webhooks/{tenant_id}")
    );
    assert_eq!(
        attribute(server, "http.response.status_code").as_deref(),
        Some("202")
    );
    let accept = span(&spans, "accept order");
    assert_child(accept, server);
    let transfer = span(&spans, "transfer order");
    assert_child(transfer, accept);
    for (key, value) in [
        ("tenant.id", "shop81"),
        ("order.id", "1"),
        ("transfer.outcome", "done"),
    ] {
        assert_eq!(attribute(transfer, key).as_deref(), Some(value), "{key}");
    }
    assert_dinero_calls_in(&spans, transfer, &harness, 81, since);
    assert_no_secrets(&spans, 81);

    // Probes and scrapes make no spans; an admin request after them does.
    let (probes, _, probe_parent) = caller();
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = harness
            .http
            .get(format!("{}{path}", harness.base))
            .header("traceparent", &probe_parent)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let (admin, _, admin_parent) = caller();
    let listed = harness
        .admin(reqwest::Method::GET, "/v1/tenants")
        .header("traceparent", &admin_parent)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    trace(&admin, "GET /v1/tenants").await;
    let probe_id = TraceId::from_hex(&probes).unwrap();
    let probe_spans: Vec<String> = exporter()
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|span| span.span_context.trace_id() == probe_id)
        .map(|span| span.name.to_string())
        .collect();
    assert!(probe_spans.is_empty(), "{probe_spans:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_header_the_events_own_traceparent_continues_the_platforms_trace() {
    exporter();
    let harness = Harness::start(vec![organization(82)], |_| {}).await;
    assert_eq!(
        harness
            .put_tenant("shop82", 82, settings(json!({})))
            .await
            .status(),
        201
    );
    let (trace_id, caller_span, traceparent) = caller();
    let mut event = order("shop82", "1", 1);
    event["traceparent"] = json!(traceparent);
    let since = sim_position(&harness);
    let (status, answer) = harness.send("shop82", &event).await;
    assert_eq!(status, 202, "{answer}");
    harness.wait_for_orders("shop82", 1, &["done"], WAIT).await;

    let spans = trace(&trace_id, "transfer order").await;
    // The request itself started a trace of its own; the order continues the event's.
    assert!(
        !names(&spans).contains(&"POST /v1/webhooks/{tenant_id}".to_owned()),
        "{:#?}",
        names(&spans)
    );
    let accept = span(&spans, "accept order");
    assert_eq!(accept.parent_span_id.to_string(), caller_span);
    let transfer = span(&spans, "transfer order");
    assert_child(transfer, accept);
    assert_dinero_calls_in(&spans, transfer, &harness, 82, since);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_kafka_mode_the_trace_crosses_the_topic_and_reaches_the_dead_letter() {
    exporter();
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("shop.orders", 2, 1).unwrap();
    mock.create_topic("shop.orders.dead-letter", 2, 1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    // The shop's own invoice number is taken in Dinero: a dead letter.
    let mut locked = organization(84);
    locked.used_invoice_numbers = vec![7001];
    let harness = Harness::start(vec![locked], kafka_mode(&bootstrap, false)).await;
    assert_eq!(
        harness
            .put_tenant("shop84", 84, settings(json!({"lock_voucher_number": true})))
            .await
            .status(),
        201
    );
    let (trace_id, _, traceparent) = caller();
    let event = order_with(
        "shop84",
        "1",
        1,
        ("DK", "DKK"),
        json!([{"kind": "product", "name": "Kjole", "quantity": 1, "unit_price": 500, "vat_rate": 25}]),
        ("500", "100.00"),
        json!({"invoice_number": 7001}),
    );
    let since = sim_position(&harness);
    let (status, answer) = harness.send_traced("shop84", &event, &traceparent).await;
    assert_eq!(status, 202, "{answer}");
    harness
        .wait_for_orders("shop84", 1, &["failed"], WAIT)
        .await;

    let spans = trace(&trace_id, "transfer order").await;
    let server = span(&spans, "POST /v1/webhooks/{tenant_id}");
    let send = span(&spans, "send shop.orders");
    assert_eq!(send.span_kind, SpanKind::Producer);
    let process = span(&spans, "process shop.orders");
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_child(process, send);
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.destination.name", "shop.orders"),
        ("messaging.consumer.group.name", "dinero-bridge"),
        ("messaging.operation.type", "process"),
    ] {
        assert_eq!(attribute(process, key).as_deref(), Some(value), "{key}");
    }
    assert!(attribute(process, "messaging.kafka.offset").is_some());
    assert_eq!(
        attribute(process, "messaging.destination.partition.id"),
        attribute(send, "messaging.destination.partition.id"),
    );
    // The webhook's accept span sends; the consumer's accept span writes the inbox.
    let accepts: Vec<&SpanData> = spans.iter().filter(|s| s.name == "accept order").collect();
    assert_eq!(accepts.len(), 2, "{:#?}", names(&spans));
    let (at_door, from_topic) = if accepts[0].parent_span_id == server.span_context.span_id() {
        (accepts[0], accepts[1])
    } else {
        (accepts[1], accepts[0])
    };
    assert_child(at_door, server);
    assert_child(send, at_door);
    assert_child(from_topic, process);
    let transfer = span(&spans, "transfer order");
    assert_child(transfer, from_topic);
    assert_eq!(
        attribute(transfer, "transfer.outcome").as_deref(),
        Some("dead_lettered")
    );
    assert_dinero_calls_in(&spans, transfer, &harness, 84, since);

    // The dead-letter record names the failed transfer as its parent.
    let records = read_topic(&bootstrap, "shop.orders.dead-letter", 1).await;
    let (_, headers) = &records[0];
    assert_eq!(headers["dinero-bridge-record"], "dead_letter");
    assert_eq!(
        headers["traceparent"],
        format!("00-{trace_id}-{}-01", id(transfer))
    );
    assert_no_secrets(&spans, 84);
}

#[test]
fn json_log_lines_name_their_trace_and_span() {
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::registry()
        .with(dinero_bridge::telemetry::log_lines(
            LogFormat::Json,
            move || writer.clone(),
        ))
        .with(traces::layer(&provider));
    let (trace_id, _, traceparent) = caller();
    let span_id = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("transfer order");
        traces::continue_from(&span, Some(&traceparent));
        let _entered = span.enter();
        tracing::info!(order = "1", "order transferred");
        traces::current_traceparent().unwrap()[36..52].to_owned()
    });
    let text = String::from_utf8(lines.0.lock().clone()).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["fields"]["message"], "order transferred");
    assert_eq!(line["openTelemetry"]["traceId"], trace_id.as_str());
    assert_eq!(line["openTelemetry"]["spanId"], span_id.as_str());
}

/// The binary, configured only through the standard variables, exports its spans over OTLP
/// to a collector (flushed by a SIGTERM), and its JSON log lines carry the trace id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exports_to_an_otlp_collector_named_by_the_standard_variables() {
    let mut collector = fake_opentelemetry_collector::FakeCollectorServer::start()
        .await
        .unwrap();
    let mut harness = Harness::start(vec![organization(83)], |_| {}).await;
    // Only the simulator stays: the binary below is the service.
    harness.stop_app().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = &harness.settings;
    let child = Command::new(env!("CARGO_BIN_EXE_dinero-bridge"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("OTEL_SERVICE_NAME", "dinero-bridge-under-test")
        .env("DINERO_BRIDGE__LOG__FORMAT", "json")
        .env("DINERO_BRIDGE__LOG__LEVEL", "info")
        .env("DINERO_BRIDGE__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "DINERO_BRIDGE__STORE__URL",
            format!("sqlite://{}", dir.path().join("bridge.db").display()),
        )
        .env(
            "DINERO_BRIDGE__SECURITY__ADMIN_TOKENS",
            format!("[\"{ADMIN_TOKEN}\"]"),
        )
        .env(
            "DINERO_BRIDGE__SECURITY__ENCRYPTION_KEY",
            config.security.encryption_key.clone().unwrap(),
        )
        .env("DINERO_BRIDGE__DINERO__API_URL", &config.dinero.api_url)
        .env("DINERO_BRIDGE__DINERO__TOKEN_URL", &config.dinero.token_url)
        .env("DINERO_BRIDGE__DINERO__CLIENT_ID", &config.dinero.client_id)
        .env("DINERO_BRIDGE__DINERO__CLIENT_SECRET", "dev-secret")
        .env("DINERO_BRIDGE__DINERO__REQUESTS_PER_MINUTE", "0")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the binary did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    harness.base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        harness
            .put_tenant("shop83", 83, settings(json!({})))
            .await
            .status(),
        201
    );
    let (trace_id, caller_span, traceparent) = caller();
    let (status, answer) = harness
        .send_traced("shop83", &order("shop83", "1", 1), &traceparent)
        .await;
    assert_eq!(status, 202, "{answer}");
    harness.wait_for_orders("shop83", 1, &["done"], WAIT).await;
    // SIGTERM: the shutdown flushes the batch of spans still waiting. The collector is read
    // meanwhile: it takes a batch only as fast as it is read.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let wanted = [
        "POST /v1/webhooks/{tenant_id}",
        "transfer order",
        "POST /v1/{organizationId}/invoices",
    ];
    let mut exported = Vec::new();
    let deadline = Instant::now() + WAIT;
    while !wanted.iter().all(|name| {
        exported
            .iter()
            .any(|s: &fake_opentelemetry_collector::ExportedSpan| s.name == *name)
    }) {
        assert!(
            Instant::now() < deadline,
            "{:#?}",
            exported.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        exported.extend(
            collector
                .exported_spans(1, Duration::from_millis(500))
                .await
                .into_iter()
                .filter(|span| span.trace_id == trace_id),
        );
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let by_name: BTreeMap<&str, _> = exported.iter().map(|s| (s.name.as_str(), s)).collect();
    let server = by_name
        .get("POST /v1/webhooks/{tenant_id}")
        .unwrap_or_else(|| panic!("{:#?}", by_name.keys()));
    assert_eq!(server.parent_span_id, caller_span);
    assert_eq!(server.kind, "SPAN_KIND_SERVER");
    // The log line of the transfer names its trace.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let transferred: Value = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "order transferred")
        .unwrap_or_else(|| panic!("no transfer line in {stdout}"));
    assert_eq!(transferred["openTelemetry"]["traceId"], trace_id.as_str());
    assert!(!stdout.contains("dev-secret") && !stdout.contains("key-83"));
}
