//! How events come in. The webhook and the Kafka consumer share one intake: the same
//! schema, the same rules, the same inbox.

pub mod intake;
pub mod kafka;
