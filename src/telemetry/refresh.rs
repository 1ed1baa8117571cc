//! One periodic query per replica for the gauges that live in the database (waiting and
//! held events, the oldest one's age, paused tenants, open dead letters, the outbox).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Metrics;
use crate::store::UpkeepStore;

pub struct GaugeRefresher {
    pub store: Arc<dyn UpkeepStore>,
    pub metrics: Arc<Metrics>,
    pub interval: Duration,
}

impl GaugeRefresher {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            match self.store.gauges().await {
                Ok(gauges) => self.metrics.set_store_gauges(&gauges),
                Err(error) => tracing::warn!(%error, "cannot read the store's gauges"),
            }
        }
    }
}
