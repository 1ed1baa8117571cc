//! The idempotent producer (acks=all): webhooks in Kafka mode, and dead-letter records.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::client::{base, KafkaError};
use crate::config::KafkaSettings;
use crate::service::InputTopic;
use crate::telemetry::traces;
use tracing::{field, Instrument};

#[derive(Clone)]
pub struct EventProducer {
    producer: FutureProducer,
    input_topic: String,
    dead_letter_topic: String,
}

const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

fn headers(pairs: &BTreeMap<String, String>) -> OwnedHeaders {
    pairs
        .iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        })
}

impl EventProducer {
    pub fn new(settings: &KafkaSettings) -> Result<Self, KafkaError> {
        let producer = base(settings)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .create()?;
        Ok(EventProducer {
            producer,
            input_topic: settings.input_topic.clone(),
            dead_letter_topic: settings.dead_letter_topic.clone(),
        })
    }

    /// An order event onto the input topic, keyed by tenant; returns once the broker has it.
    /// The record's `traceparent` is this send's span (the caller's when none is recorded).
    pub async fn send_event(
        &self,
        tenant: &str,
        value: &[u8],
        traceparent: Option<&str>,
    ) -> Result<(i32, i64), KafkaError> {
        let span = tracing::info_span!(
            "kafka.send",
            otel.name = format!("send {}", self.input_topic),
            otel.kind = "producer",
            messaging.system = "kafka",
            messaging.operation.type = "send",
            messaging.operation.name = "send",
            messaging.destination.name = %self.input_topic,
            messaging.kafka.message.key = tenant,
            messaging.destination.partition.id = field::Empty,
            messaging.kafka.offset = field::Empty,
        );
        let mut pairs = BTreeMap::from([(
            "content-type".to_owned(),
            "application/cloudevents+json".to_owned(),
        )]);
        if let Some(traceparent) = span.in_scope(|| traces::traceparent_or(traceparent)) {
            pairs.insert("traceparent".into(), traceparent);
        }
        let record = FutureRecord::to(&self.input_topic)
            .key(tenant)
            .payload(value)
            .headers(headers(&pairs));
        let delivery = self
            .producer
            .send(record, QUEUE_TIMEOUT)
            .instrument(span.clone())
            .await
            .map_err(|(error, _)| error)?;
        span.record(
            "messaging.destination.partition.id",
            delivery.partition.to_string(),
        );
        span.record("messaging.kafka.offset", delivery.offset);
        Ok((delivery.partition, delivery.offset))
    }

    /// A record onto the dead-letter topic, keyed by tenant, facts as headers.
    pub async fn send_dead_letter(
        &self,
        tenant: &str,
        value: &[u8],
        facts: &BTreeMap<String, String>,
    ) -> Result<(), KafkaError> {
        let record = FutureRecord::to(&self.dead_letter_topic)
            .key(tenant)
            .payload(value)
            .headers(headers(facts));
        self.producer
            .send(record, QUEUE_TIMEOUT)
            .await
            .map_err(|(error, _)| error)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl InputTopic for EventProducer {
    async fn send_event(
        &self,
        tenant: &str,
        body: &[u8],
        traceparent: Option<&str>,
    ) -> Result<(i32, i64), String> {
        EventProducer::send_event(self, tenant, body, traceparent)
            .await
            .map_err(|error| error.to_string())
    }
}
