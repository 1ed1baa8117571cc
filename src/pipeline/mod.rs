//! The order pipeline: lanes per tenant that move inbox events through Dinero (design.md §1-3).

pub mod backoff;
mod credentials;
mod credit;
mod documents;
mod error;
mod lane;
mod transfer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

pub use credentials::{stored_credentials, StoredRefreshToken};
pub use error::TransferError;
pub use lane::ManualError;
pub use transfer::Overrides;

use crate::config::PipelineSettings;
use crate::dinero::DineroClient;
use crate::domain::OrderRecord;
use crate::store::Store;
use crate::telemetry::Metrics;
use lane::{Command, Lane};

/// What every lane shares.
pub struct Shared {
    /// This replica's id, recorded with each tenant it claims.
    pub owner: String,
    /// The Dinero client's total timeout: how long a call sent elsewhere may still run.
    pub call_timeout: Duration,
    pub store: Arc<dyn Store>,
    pub dinero: DineroClient,
    pub settings: PipelineSettings,
    pub time_zone: Tz,
    pub metrics: Arc<Metrics>,
}

pub struct Pipeline {
    shared: Arc<Shared>,
    /// Lanes live on the application's runtime, whoever wakes them (an HTTP worker's
    /// runtime ends with its worker).
    runtime: tokio::runtime::Handle,
    lanes: Mutex<HashMap<String, mpsc::Sender<Command>>>,
    tasks: Mutex<JoinSet<()>>,
    stop: watch::Sender<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Manual(#[from] lane::ManualError),
}

impl Pipeline {
    /// Built on the application's runtime, where every lane will run.
    pub fn new(shared: Shared) -> Arc<Self> {
        let (stop, _) = watch::channel(false);
        Arc::new(Pipeline {
            shared: Arc::new(shared),
            runtime: tokio::runtime::Handle::current(),
            lanes: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            stop,
        })
    }

    fn lane(&self, tenant: &str) -> Option<mpsc::Sender<Command>> {
        if *self.stop.borrow() {
            return None;
        }
        let mut lanes = self.lanes.lock();
        if let Some(sender) = lanes.get(tenant).filter(|s| !s.is_closed()) {
            return Some(sender.clone());
        }
        let (sender, receiver) = mpsc::channel(64);
        let lane = Lane::new(
            tenant.to_owned(),
            self.shared.clone(),
            receiver,
            self.stop.subscribe(),
        );
        self.tasks.lock().spawn_on(lane.run(), &self.runtime);
        lanes.insert(tenant.to_owned(), sender.clone());
        Some(sender)
    }

    /// Tell a tenant's lane to look at its inbox (new events, resume, new settings).
    pub fn wake(&self, tenant: &str) {
        if let Some(lane) = self.lane(tenant) {
            // A full queue already holds a wake-up: the lane will look anyway.
            let _ = lane.try_send(Command::Wake);
        }
    }

    /// Stop the lanes of tenants this replica no longer owns (their partitions were revoked).
    /// Each finishes the step it is in; the new owner's claim fences anything later.
    pub fn release(&self, tenants: &[String]) {
        let mut lanes = self.lanes.lock();
        for tenant in tenants {
            if let Some(lane) = lanes.remove(tenant) {
                let _ = lane.try_send(Command::Stop);
            }
        }
    }

    /// Start lanes for every tenant with waiting events (after a restart).
    pub async fn start(&self) -> Result<usize, crate::store::StoreError> {
        let tenants = self.shared.store.tenants_with_pending_events().await?;
        for tenant in &tenants {
            self.wake(tenant);
        }
        Ok(tenants.len())
    }

    /// Transfer one order now through its tenant's lane, even while the tenant is paused.
    pub async fn transfer_now(
        &self,
        tenant: &str,
        order_id: &str,
        overrides: Overrides,
    ) -> Result<OrderRecord, PipelineError> {
        let lane = self.lane(tenant).ok_or(PipelineError::ShuttingDown)?;
        let (reply, answer) = oneshot::channel();
        lane.send(Command::Transfer {
            order_id: order_id.to_owned(),
            overrides,
            reply,
        })
        .await
        .map_err(|_| PipelineError::ShuttingDown)?;
        Ok(answer.await.map_err(|_| PipelineError::ShuttingDown)??)
    }

    /// Stop every lane: no new step starts; a Dinero call in flight may finish within
    /// `grace`, after which lanes are aborted (the ledger's in-flight marks make that safe).
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut tasks = std::mem::take(&mut *self.tasks.lock());
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("lanes did not stop within the grace period; aborting them");
            tasks.shutdown().await;
        }
        self.lanes.lock().clear();
    }
}
