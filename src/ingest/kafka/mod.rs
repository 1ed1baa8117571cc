//! Kafka mode: a consumer group on the input topic writing to the inbox, a producer that
//! webhooks go through (so every event of a tenant flows through one ordered stream), and a
//! publisher of the outbox to the dead-letter topic.

mod client;
mod consumer;
mod decode;
mod outbox;
mod producer;
mod storm;
mod topics;

pub use client::KafkaError;
pub use consumer::{Consumer, ConsumerHealth};
pub use outbox::OutboxPublisher;
pub use producer::EventProducer;
pub use topics::ensure_topics;
