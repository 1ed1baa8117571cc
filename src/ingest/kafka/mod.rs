//! Kafka: the consumer group on the input topic, the producer, the dead-letter publisher.
