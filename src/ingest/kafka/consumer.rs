//! The consumer group on the input topic. The records librdkafka has fetched are taken
//! together; each is checked and written to the inbox, and only then are their offsets
//! committed (manual commits only, one per batch). A paused or slow tenant never
//! holds back its partition: its events wait in the inbox, not in Kafka. A record that is not
//! an acceptable event goes to the dead-letter topic with the reason, and consuming goes on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use futures::FutureExt as _;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::ClientContext;
use tokio::sync::{mpsc, watch};

use super::client::{base, KafkaError};
use super::decode;
use super::storm::StormGuard;
use crate::config::KafkaSettings;
use crate::domain::ErrorClass;
use crate::domain::EventSource;
use crate::pipeline::Pipeline;
use crate::service::checks;
use crate::service::{ConsumerStatus, Core, CoreError, Origin};
use crate::store::Store;
use crate::telemetry::{traces, Metrics};
use tracing::Instrument;

/// What readiness reports about Kafka.
#[derive(Default)]
pub struct ConsumerHealth {
    /// In the group with an assignment (possibly empty: other replicas may hold every
    /// partition), and the last poll reached the broker. An empty topic delivers no record,
    /// so a record is not what proves it.
    pub connected: AtomicBool,
    /// The storm guard stopped consuming.
    pub storm: AtomicBool,
    /// The input topic's partitions this replica holds now (shown by /readyz: a replica that
    /// holds none while others are short of work points at the group, not the service).
    partitions: parking_lot::Mutex<Vec<i32>>,
}

impl ConsumerStatus for ConsumerHealth {
    fn ready(&self) -> bool {
        self.connected.load(Ordering::SeqCst) && !self.storm.load(Ordering::SeqCst)
    }

    fn partitions(&self) -> Vec<i32> {
        self.partitions.lock().clone()
    }
}

/// What a rebalance changed, in the order it happened.
enum Ownership {
    Revoked(Vec<i32>),
    /// The partitions held now are in `ConsumerHealth`, updated before this is sent.
    Assigned,
}

/// Reports rebalances into one queue: lanes are released on revoke and started on assign by
/// a single task, strictly in that order (two independent tasks could release a lane after
/// it was woken for a partition that stays here, leaving its tenant without a lane).
struct Rebalancer {
    topic: String,
    changes: mpsc::UnboundedSender<Ownership>,
    health: Arc<ConsumerHealth>,
    metrics: Arc<Metrics>,
}

impl ClientContext for Rebalancer {
    /// librdkafka's statistics (every `statistics.interval.ms`): the lag of each input
    /// partition held.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        let held = self.health.partitions();
        for (partition, stats) in &topic.partitions {
            if held.contains(partition) && stats.consumer_lag >= 0 {
                self.metrics
                    .consumer_lag
                    .with_label_values(&[&partition.to_string()])
                    .set(stats.consumer_lag);
            }
        }
    }
}

impl Rebalancer {
    fn partitions(&self, list: &rdkafka::TopicPartitionList) -> Vec<i32> {
        list.elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect()
    }
}

impl ConsumerContext for Rebalancer {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        // Hand over exactly where we are: the next owner starts after our last inbox write.
        if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(%error, "commit on revoke");
        }
        let partitions = self.partitions(revoked);
        tracing::info!(?partitions, "partitions revoked");
        self.metrics.rebalances.with_label_values(&["revoke"]).inc();
        self.health
            .partitions
            .lock()
            .retain(|p| !partitions.contains(p));
        let _ = self.changes.send(Ownership::Revoked(partitions));
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(assigned) = rebalance else {
            return;
        };
        let partitions = self.partitions(assigned);
        tracing::info!(?partitions, "partitions assigned");
        self.metrics.rebalances.with_label_values(&["assign"]).inc();
        self.health.connected.store(true, Ordering::SeqCst);
        {
            let mut held = self.health.partitions.lock();
            held.extend(&partitions);
            held.sort_unstable();
            held.dedup();
        }
        let _ = self.changes.send(Ownership::Assigned);
    }
}

/// Applies ownership changes in order; every few seconds also wakes the tenants with waiting
/// events on the partitions held now, so no tenant is ever left without a lane.
async fn follow_ownership(
    mut changes: mpsc::UnboundedReceiver<Ownership>,
    health: Arc<ConsumerHealth>,
    store: Arc<dyn Store>,
    pipeline: Arc<Pipeline>,
    topic: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut sweep = tokio::time::interval(Duration::from_secs(5));
    loop {
        let wake = tokio::select! {
            change = changes.recv() => match change {
                Some(Ownership::Revoked(partitions)) => {
                    match store.tenants_on(&topic, &partitions).await {
                        Ok(tenants) => pipeline.release(&tenants),
                        Err(error) => tracing::error!(%error, "cannot read the inbox after a revocation"),
                    }
                    false
                }
                Some(Ownership::Assigned) => true,
                None => return,
            },
            _ = sweep.tick() => true,
            // Any change of the stop signal means stopping.
            _ = stop.changed() => return,
        };
        let held = if wake {
            health.partitions()
        } else {
            Vec::new()
        };
        if !held.is_empty() {
            match store.tenants_pending_on(&topic, &held).await {
                Ok(tenants) => tenants.iter().for_each(|t| pipeline.wake(t)),
                Err(error) => {
                    tracing::error!(%error, "cannot read the inbox for the held partitions")
                }
            }
        }
    }
}

/// The most records taken from librdkafka's queue at once (what it has fetched already).
const MAX_BATCH: usize = 256;

pub struct Consumer {
    consumer: StreamConsumer<Rebalancer>,
    store: Arc<dyn Store>,
    core: Arc<Core>,
    metrics: Arc<Metrics>,
    storm: StormGuard,
    health: Arc<ConsumerHealth>,
    topic: String,
    group: String,
    ownership: Option<mpsc::UnboundedReceiver<Ownership>>,
}

/// Why a record is refused: it goes to the dead-letter topic.
struct Poison {
    tenant: String,
    reason: String,
}

impl Consumer {
    /// Joins the group on `settings.input_topic`; `health` is what readiness reads.
    pub fn new(
        settings: &KafkaSettings,
        store: Arc<dyn Store>,
        core: Arc<Core>,
        health: Arc<ConsumerHealth>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, KafkaError> {
        let (changes, ownership) = mpsc::unbounded_channel();
        let context = Rebalancer {
            topic: settings.input_topic.clone(),
            changes,
            health: health.clone(),
            metrics: metrics.clone(),
        };
        let consumer: StreamConsumer<Rebalancer> = base(settings)
            .set("group.id", &settings.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("statistics.interval.ms", "5000")
            .set(
                "session.timeout.ms",
                settings.session_timeout_ms.to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                settings.heartbeat_interval_ms.to_string(),
            )
            .create_with_context(context)?;
        consumer.subscribe(&[&settings.input_topic])?;
        Ok(Consumer {
            consumer,
            store,
            core,
            metrics,
            storm: StormGuard::new(settings.storm_window, settings.storm_max_refused_ratio),
            health,
            topic: settings.input_topic.clone(),
            group: settings.group_id.clone(),
            ownership: Some(ownership),
        })
    }

    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        if let Some(changes) = self.ownership.take() {
            let (store, pipeline, topic) = (
                self.store.clone(),
                self.core.pipeline().clone(),
                self.topic.clone(),
            );
            tokio::spawn(follow_ownership(
                changes,
                self.health.clone(),
                store,
                pipeline,
                topic,
                stop.clone(),
            ));
        }
        loop {
            let first = tokio::select! {
                message = self.consumer.recv() => message,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            let first = match first {
                Ok(message) => message,
                Err(error) => {
                    self.health.connected.store(false, Ordering::SeqCst);
                    tracing::warn!(%error, "Kafka poll failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.health.connected.store(true, Ordering::SeqCst);
            let batch = self.fetched_with(first);
            let outcomes = self.handle_batch(&batch).await;
            // Only now, with the records in the inbox (or the outbox), do their offsets count.
            self.commit_written(&batch, &outcomes);
            if outcomes.contains(&None) {
                // Shutting down before a record was written: it and what follows it in its
                // partition stay uncommitted.
                break;
            }
            let tripped = outcomes
                .iter()
                .any(|refused| self.storm.record(*refused == Some(true)));
            if tripped {
                self.health.storm.store(true, Ordering::SeqCst);
                self.metrics.storm_guard_active.set(1);
                self.metrics.storm_guard_trips.inc();
                tracing::error!("most recent records were refused: stopping the consumer (a bad deploy, not bad data?)");
                break;
            }
        }
        // Offsets of everything written to the inbox are committed before leaving the group.
        if let Err(error) = self.consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(%error, "final commit");
        }
        tracing::info!("Kafka consumer stopped");
    }

    /// `first` and the records librdkafka has already fetched behind it (up to
    /// `MAX_BATCH`), without waiting for more: under load a batch fills, in a trickle it is
    /// one record. (`recv` is cancellation safe: a record not ready is not taken.)
    fn fetched_with<'c>(&'c self, first: BorrowedMessage<'c>) -> Vec<BorrowedMessage<'c>> {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => batch.push(message),
                // An error is met again, and reported, by the next wait.
                Some(Err(_)) | None => break,
            }
        }
        self.metrics.consumer_batch.observe(batch.len() as f64);
        batch
    }

    /// Each record of the batch into the inbox or the outbox; the outcomes in the batch's
    /// order, as `handle` gives them. A tenant's records are written one after another, in
    /// their order; different tenants side by side, so their writes share commits.
    async fn handle_batch(&self, batch: &[BorrowedMessage<'_>]) -> Vec<Option<bool>> {
        let mut by_tenant: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
        for (index, message) in batch.iter().enumerate() {
            by_tenant
                .entry(decode::key(message))
                .or_default()
                .push(index);
        }
        let tenants = by_tenant.into_values().map(|indexes| async move {
            let mut outcomes = Vec::with_capacity(indexes.len());
            for index in indexes {
                let outcome = self.handle(&batch[index]).await;
                outcomes.push((index, outcome));
                if outcome.is_none() {
                    break;
                }
            }
            outcomes
        });
        let mut outcomes = vec![None; batch.len()];
        for (index, outcome) in join_all(tenants).await.into_iter().flatten() {
            outcomes[index] = outcome;
        }
        outcomes
    }

    /// Store the offset of each partition's last record written with nothing unwritten
    /// before it, then commit them all in one request (asynchronously: a failure only means a
    /// record may be read again, which the inbox recognises).
    fn commit_written(&self, batch: &[BorrowedMessage<'_>], outcomes: &[Option<bool>]) {
        let mut blocked: Vec<i32> = Vec::new();
        let mut stored = 0;
        for (message, outcome) in batch.iter().zip(outcomes) {
            if blocked.contains(&message.partition()) {
                continue;
            }
            if outcome.is_none() {
                blocked.push(message.partition());
                continue;
            }
            if let Err(error) = self.consumer.store_offset_from_message(message) {
                self.metrics.commits.with_label_values(&["failed"]).inc();
                tracing::warn!(%error, "offset not stored; the record may be read again (the inbox deduplicates)");
                blocked.push(message.partition());
                continue;
            }
            stored += 1;
        }
        if stored == 0 {
            return;
        }
        let committed = self.consumer.commit_consumer_state(CommitMode::Async);
        let result = if committed.is_ok() { "ok" } else { "failed" };
        self.metrics.commits.with_label_values(&[result]).inc();
        if let Err(error) = committed {
            tracing::warn!(%error, "offset commit failed; the records may be read again (the inbox deduplicates)");
        }
    }

    /// Inbox or dead-letter record: `Some(true)` when refused, `None` when shutdown came
    /// first. Store failures are retried here and the offset is not committed until the
    /// record is safely written somewhere. One consumer span per record, continuing the trace
    /// in its `traceparent` header (OpenTelemetry messaging conventions).
    async fn handle(&self, message: &BorrowedMessage<'_>) -> Option<bool> {
        let traceparent = decode::header(message, "traceparent");
        let span = tracing::info_span!(
            "kafka.process",
            otel.name = format!("process {}", message.topic()),
            otel.kind = "consumer",
            messaging.system = "kafka",
            messaging.operation.type = "process",
            messaging.operation.name = "process",
            messaging.destination.name = message.topic(),
            messaging.destination.partition.id = message.partition().to_string(),
            messaging.kafka.offset = message.offset(),
            messaging.consumer.group.name = %self.group,
            messaging.kafka.message.key = decode::key(message),
        );
        traces::continue_from(&span, traceparent.as_deref());
        self.handle_in_span(message, traceparent.as_deref())
            .instrument(span)
            .await
    }

    async fn handle_in_span(
        &self,
        message: &BorrowedMessage<'_>,
        traceparent: Option<&str>,
    ) -> Option<bool> {
        let source = EventSource {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
        };
        let key = decode::key(message);
        let checked = decode::event_json(message)
            .and_then(|json| checks::check_json(json).map_err(|error| error.describe()))
            .and_then(|checked| {
                if key.as_deref() == Some(checked.event.tenant()) {
                    Ok(checked)
                } else {
                    Err("the record's key is not the event's tenantid".into())
                }
            });
        let checked = match checked {
            Ok(checked) => checked,
            Err(reason) => {
                self.metrics.intake("kafka", "rejected", "invalid_event");
                let poison = Poison {
                    tenant: key.unwrap_or_default(),
                    reason,
                };
                self.dead_letter(message, &source, &poison).await;
                return Some(true);
            }
        };
        loop {
            match self
                .core
                .submit(
                    &checked,
                    Origin::Kafka {
                        source: source.clone(),
                        traceparent,
                    },
                )
                .await
            {
                Ok(receipt) => {
                    self.metrics.intake("kafka", receipt.result(), "");
                    return Some(false);
                }
                Err(error @ CoreError::NotFound { .. }) => {
                    self.metrics.intake("kafka", "rejected", "unknown_tenant");
                    let poison = Poison {
                        tenant: checked.event.tenant().to_owned(),
                        reason: error.to_string(),
                    };
                    self.dead_letter(message, &source, &poison).await;
                    return Some(true);
                }
                Err(CoreError::Unavailable(_)) => return None,
                Err(error) => {
                    tracing::error!(%error, "the store cannot take a Kafka record; retrying before committing");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn dead_letter(
        &self,
        message: &BorrowedMessage<'_>,
        source: &EventSource,
        poison: &Poison,
    ) {
        tracing::warn!(tenant = %poison.tenant, reason = %poison.reason, offset = source.offset, "refused record sent to the dead-letter topic");
        let headers = BTreeMap::from([
            (
                "error-class".to_owned(),
                ErrorClass::BadInput.as_str().to_owned(),
            ),
            ("error-message".to_owned(), poison.reason.clone()),
            ("source-topic".to_owned(), source.topic.clone()),
            ("source-partition".to_owned(), source.partition.to_string()),
            ("source-offset".to_owned(), source.offset.to_string()),
        ]);
        let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        while let Err(error) = self
            .store
            .add_outbox(&poison.tenant, "poison", &value, &headers)
            .await
        {
            tracing::error!(%error, "cannot record a refused record; retrying before committing");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
