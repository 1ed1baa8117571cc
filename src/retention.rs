//! Retention: every replica prunes finished rows older than `store.retention_days` now and
//! then (jobs too, by when they finished). Deletes are idempotent, so replicas pruning at once only repeat each other's work.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::store::{Pruned, StoreResult, UpkeepStore};

/// Rows per table per statement: small transactions that never hold up a lane for long.
const BATCH: i64 = 1000;

pub struct Pruner {
    pub store: Arc<dyn UpkeepStore>,
    pub retention: chrono::Duration,
    pub interval: Duration,
}

impl Pruner {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.prune_once().await {
                Ok(total) if total != Pruned::default() => {
                    tracing::info!(?total, "pruned finished rows past retention")
                }
                Ok(_) => {}
                // Nothing is lost by pruning later; the next pass tries again.
                Err(error) => tracing::warn!(%error, "pruning failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Prune in batches until nothing older than the retention is left.
    pub async fn prune_once(&self) -> StoreResult<Pruned> {
        let before = Utc::now() - self.retention;
        let mut total = Pruned::default();
        loop {
            let pass = self.store.prune(before, BATCH).await?;
            total.events += pass.events;
            total.history += pass.history;
            total.outbox += pass.outbox;
            total.dead_letters += pass.dead_letters;
            total.jobs += pass.jobs;
            let most = [
                pass.events,
                pass.history,
                pass.outbox,
                pass.dead_letters,
                pass.jobs,
            ];
            if most.into_iter().max().unwrap_or(0) < BATCH as u64 {
                return Ok(total);
            }
        }
    }
}
