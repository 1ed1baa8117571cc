//! The Prometheus metrics of one application, in its own registry (several applications in
//! one process, as in the tests, never mix their counts). Names follow Prometheus' rules:
//! the `dinero_bridge_` prefix, base units, `_total` counters. No metric carries a tenant
//! label: 10,000 shops times histogram buckets would be millions of series.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::dinero::CallObserver;
use crate::store::{StoreError, StoreGauges, StoreObserver};

/// Buckets for request durations, in seconds: 5 ms to 30 s.
const REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets for store operations, in seconds: half a millisecond to 5 s.
const STORE_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Buckets for an order's way from acceptance to done, in seconds: 50 ms to an hour.
const ORDER_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

pub struct Metrics {
    registry: Registry,
    /// Events at the door by source (webhook, kafka), result (accepted, replaced, duplicate,
    /// conflict, rejected, or unavailable when the store or broker could not take it) and,
    /// for the last two, the reason (the problem code).
    pub intake_events: IntCounterVec,
    /// HTTP requests by route template, method and status.
    pub http_requests: IntCounterVec,
    /// HTTP answer durations by route template (the webhook's included).
    pub http_duration: HistogramVec,
    /// Transfer attempts by outcome: done, retried, dead_lettered, paused, handed_over,
    /// superseded (a newer version of the order replaced the event being transferred).
    pub transfers: IntCounterVec,
    /// Seconds from an order's acceptance to done.
    pub order_duration: Histogram,
    /// Dead letters by error class.
    pub dead_letters: IntCounterVec,
    /// Tenants paused by reason: dead_letter, tenant_state, operator.
    pub pauses: IntCounterVec,
    /// Resumes by an operator.
    pub resumes: IntCounter,
    /// Dinero calls by operation and status class (2xx..5xx, or error without an answer).
    pub dinero_requests: IntCounterVec,
    /// Dinero call durations by operation.
    pub dinero_duration: HistogramVec,
    /// Dinero's 429 answers.
    pub dinero_throttled: IntCounter,
    /// Seconds spent waiting: for Dinero's Retry-After, and in our own rate limiter.
    pub dinero_wait_seconds: prometheus::CounterVec,
    /// 1, labelled with the version.
    pub build_info: IntGaugeVec,
    /// Lanes running now.
    pub lanes: IntGauge,
    /// Inbox events by state: waiting (a live tenant's), held (a paused tenant's).
    pub inbox_events: IntGaugeVec,
    /// Seconds the oldest waiting or held event has waited.
    pub inbox_oldest_seconds: Gauge,
    /// Tenants paused now.
    pub paused_tenants: IntGauge,
    /// Dead letters not yet resolved or replayed.
    pub open_dead_letters: IntGauge,
    /// Outbox records not yet published.
    pub outbox_pending: IntGauge,
    /// Seconds the oldest unpublished outbox record has waited.
    pub outbox_oldest_seconds: Gauge,
    /// 1 while the Kafka storm guard has stopped consuming.
    pub storm_guard_active: IntGauge,
    /// Times the storm guard tripped.
    pub storm_guard_trips: IntCounter,
    /// Kafka rebalances by kind (assign, revoke).
    pub rebalances: IntCounterVec,
    /// Kafka offset commits by result (ok, failed).
    pub commits: IntCounterVec,
    /// Records the Kafka consumer took together (what librdkafka had fetched): one offset
    /// commit and shared inbox commits per batch.
    pub consumer_batch: Histogram,
    /// The consumer's lag per input partition it holds (librdkafka's statistics): records
    /// behind the partition's end. Partitions are few and fixed, unlike tenants.
    pub consumer_lag: IntGaugeVec,
    /// Store connections by state (open, idle), from the pool.
    pub store_connections: IntGaugeVec,
    /// Store operations by operation and result (ok, or the error's kind).
    pub store_operations: IntCounterVec,
    /// Store operation durations by operation.
    pub store_duration: HistogramVec,
    /// Reconciliations of a tenant by result (ok, failed) and trigger (request, schedule).
    pub reconciliations: IntCounterVec,
    /// What reconciliations found, by kind (missing_in_dinero, unknown_to_ledger,
    /// total_differs, payment_differs).
    pub reconciliation_findings: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(counter.clone()))
        .expect("registered once");
    counter
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("registered once");
    gauge
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let gauge = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("registered once");
    gauge
}

fn float_gauge(registry: &Registry, name: &str, help: &str) -> Gauge {
    let gauge = Gauge::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("registered once");
    gauge
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let histogram = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("a valid metric");
    registry
        .register(Box::new(histogram.clone()))
        .expect("registered once");
    histogram
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("dinero_bridge".into()), None).expect("a valid prefix");
        let resumes = IntCounter::new("resumes_total", "Tenants resumed by an operator.")
            .expect("a valid metric");
        registry
            .register(Box::new(resumes.clone()))
            .expect("registered once");
        let dinero_throttled =
            IntCounter::new("dinero_throttled_total", "Dinero's 429 answers.").expect("valid");
        registry
            .register(Box::new(dinero_throttled.clone()))
            .expect("registered once");
        let dinero_wait_seconds = prometheus::CounterVec::new(
            Opts::new(
                "dinero_wait_seconds_total",
                "Seconds waited before Dinero calls: retry_after (Dinero's 429) or limiter (ours).",
            ),
            &["cause"],
        )
        .expect("valid");
        registry
            .register(Box::new(dinero_wait_seconds.clone()))
            .expect("registered once");
        let order_duration = Histogram::with_opts(
            HistogramOpts::new(
                "order_duration_seconds",
                "Seconds from an order's acceptance to its transfer being done.",
            )
            .buckets(ORDER_BUCKETS.to_vec()),
        )
        .expect("valid");
        registry
            .register(Box::new(order_duration.clone()))
            .expect("registered once");
        let consumer_batch = Histogram::with_opts(
            HistogramOpts::new(
                "kafka_consumer_batch_records",
                "Records the Kafka consumer took together from what librdkafka had fetched.",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )
        .expect("valid");
        registry
            .register(Box::new(consumer_batch.clone()))
            .expect("registered once");
        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "1, labelled with the version of this build."),
            &["version"],
        )
        .expect("valid");
        registry
            .register(Box::new(build_info.clone()))
            .expect("registered once");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let lanes = gauge(&registry, "lanes", "Tenant lanes running on this replica.");
        let inbox_events = IntGaugeVec::new(
            Opts::new(
                "inbox_events",
                "Inbox events by state: waiting (live tenants) or held (paused tenants).",
            ),
            &["state"],
        )
        .expect("valid");
        registry
            .register(Box::new(inbox_events.clone()))
            .expect("registered once");
        let storm_guard_trips = IntCounter::new(
            "storm_guard_trips_total",
            "Times the storm guard stopped the Kafka consumer.",
        )
        .expect("valid");
        registry
            .register(Box::new(storm_guard_trips.clone()))
            .expect("registered once");
        Metrics {
            intake_events: counter(
                &registry,
                "intake_events_total",
                "Events at the door by source, result and (rejected) reason.",
                &["source", "result", "reason"],
            ),
            http_requests: counter(
                &registry,
                "http_requests_total",
                "HTTP requests by route template, method and status.",
                &["route", "method", "status"],
            ),
            http_duration: histogram(
                &registry,
                "http_request_duration_seconds",
                "HTTP answer durations by route template.",
                &["route"],
                REQUEST_BUCKETS,
            ),
            reconciliations: counter(
                &registry,
                "reconciliations_total",
                "Reconciliations of a tenant's ledger with Dinero, by result and trigger.",
                &["result", "trigger"],
            ),
            reconciliation_findings: counter(
                &registry,
                "reconciliation_findings_total",
                "Disagreements reconciliations found between the ledger and Dinero, by kind.",
                &["kind"],
            ),
            transfers: counter(
                &registry,
                "transfers_total",
                "Transfer attempts by outcome.",
                &["outcome"],
            ),
            order_duration,
            dead_letters: counter(
                &registry,
                "dead_letters_total",
                "Orders dead-lettered, by error class.",
                &["class"],
            ),
            pauses: counter(
                &registry,
                "pauses_total",
                "Tenants paused, by reason.",
                &["reason"],
            ),
            resumes,
            dinero_requests: counter(
                &registry,
                "dinero_requests_total",
                "Dinero calls by operation and status class.",
                &["operation", "status_class"],
            ),
            dinero_duration: histogram(
                &registry,
                "dinero_request_duration_seconds",
                "Dinero call durations by operation.",
                &["operation"],
                REQUEST_BUCKETS,
            ),
            dinero_throttled,
            dinero_wait_seconds,
            build_info,
            lanes,
            inbox_events,
            inbox_oldest_seconds: float_gauge(
                &registry,
                "inbox_oldest_waiting_seconds",
                "Seconds the oldest waiting or held inbox event has waited.",
            ),
            paused_tenants: gauge(&registry, "paused_tenants", "Tenants paused now."),
            open_dead_letters: gauge(
                &registry,
                "open_dead_letters",
                "Dead letters not yet resolved or replayed.",
            ),
            outbox_pending: gauge(
                &registry,
                "outbox_pending",
                "Outbox records (dead letters, pauses, resumes) not yet published.",
            ),
            outbox_oldest_seconds: float_gauge(
                &registry,
                "outbox_oldest_seconds",
                "Seconds the oldest unpublished outbox record has waited.",
            ),
            storm_guard_active: gauge(
                &registry,
                "storm_guard_active",
                "1 while the storm guard has stopped the Kafka consumer.",
            ),
            storm_guard_trips,
            rebalances: counter(
                &registry,
                "kafka_rebalances_total",
                "Kafka consumer group rebalances by kind.",
                &["kind"],
            ),
            commits: counter(
                &registry,
                "kafka_commits_total",
                "Kafka offset commits by result.",
                &["result"],
            ),
            consumer_batch,
            consumer_lag: gauge_vec(
                &registry,
                "kafka_consumer_lag_records",
                "Records behind the end of each input partition this replica holds.",
                &["partition"],
            ),
            store_connections: gauge_vec(
                &registry,
                "store_connections",
                "Store pool connections by state: open (in all), idle.",
                &["state"],
            ),
            store_operations: counter(
                &registry,
                "store_operations_total",
                "Store operations by operation and result: ok, or the error's kind \
                 (database, fenced, not_found, corrupt, secrets, migration).",
                &["operation", "result"],
            ),
            store_duration: histogram(
                &registry,
                "store_operation_duration_seconds",
                "Store operation durations by operation (a transaction each, waits for a \
                 connection included).",
                &["operation"],
                STORE_BUCKETS,
            ),
            registry,
        }
    }

    /// Count an event at the door; `reason` only for rejections.
    pub fn intake(&self, source: &str, result: &str, reason: &str) {
        self.intake_events
            .with_label_values(&[source, result, reason])
            .inc();
    }

    /// The store's gauges, as `GaugeRefresher` reads them.
    pub fn set_store_gauges(&self, gauges: &StoreGauges) {
        self.inbox_events
            .with_label_values(&["waiting"])
            .set(gauges.waiting_events);
        self.inbox_events
            .with_label_values(&["held"])
            .set(gauges.held_events);
        self.inbox_oldest_seconds.set(gauges.oldest_waiting_seconds);
        self.paused_tenants.set(gauges.paused_tenants);
        self.open_dead_letters.set(gauges.open_dead_letters);
        self.outbox_pending.set(gauges.outbox_pending);
        self.outbox_oldest_seconds.set(gauges.outbox_oldest_seconds);
        self.store_connections
            .with_label_values(&["open"])
            .set(gauges.connections_open);
        self.store_connections
            .with_label_values(&["idle"])
            .set(gauges.connections_idle);
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("the text format encodes");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl CallObserver for Metrics {
    fn answered(&self, operation: &'static str, status: Option<u16>, elapsed: Duration) {
        let class = match status {
            Some(status) => format!("{}xx", status / 100),
            None => "error".to_owned(),
        };
        self.dinero_requests
            .with_label_values(&[operation, &class])
            .inc();
        self.dinero_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
        if status == Some(429) {
            self.dinero_throttled.inc();
        }
    }

    fn waited(&self, cause: &'static str, waited: Duration) {
        self.dinero_wait_seconds
            .with_label_values(&[cause])
            .inc_by(waited.as_secs_f64());
    }
}

impl StoreObserver for Metrics {
    fn finished(&self, operation: &'static str, elapsed: Duration, error: Option<&StoreError>) {
        let result = error.map_or("ok", StoreError::kind);
        self.store_operations
            .with_label_values(&[operation, result])
            .inc();
        self.store_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }
}
