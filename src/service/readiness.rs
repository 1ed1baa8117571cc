//! Readiness: the store answers, intake is open, and in Kafka mode the consumer is in its
//! group with its assignment (possibly none) and the storm guard has not tripped.

use serde::Serialize;

use super::Core;

/// The Kafka consumer's standing, as readiness sees it.
pub trait ConsumerStatus: Send + Sync {
    /// In its group with an assignment, the broker reachable, the storm guard quiet.
    fn ready(&self) -> bool;
    /// The input partitions it holds.
    fn partitions(&self) -> Vec<i32>;
}

#[derive(Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub store: bool,
    pub accepting: bool,
    /// Kafka mode only.
    pub kafka: Option<bool>,
    /// The input partitions this replica holds (Kafka mode).
    pub partitions: Option<Vec<i32>>,
}

impl Core {
    pub async fn readiness(&self) -> Readiness {
        let accepting = self.accepting();
        let store = self.store.ping().await.is_ok();
        let kafka = self.consumer.as_ref().map(|k| k.ready());
        Readiness {
            ready: accepting && store && kafka.unwrap_or(true),
            store,
            accepting,
            kafka,
            partitions: self.consumer.as_ref().map(|k| k.partitions()),
        }
    }
}
