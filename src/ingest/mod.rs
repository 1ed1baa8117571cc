//! How events come in from Kafka: the consumer group on the input topic (an adapter over the
//! core's intake, like the webhook), the producer webhooks go through in Kafka mode, and the
//! outbox publisher. The checks every event passes are the core's (`service::checks`).

pub mod kafka;
