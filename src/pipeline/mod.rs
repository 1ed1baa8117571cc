//! The order pipeline: lanes per tenant that move inbox events through Dinero (design.md §1-3).

pub mod backoff;
mod contact_sync;
mod credentials;
mod credit;
mod documents;
mod error;
mod lane;
mod preview;
mod reconcile;
mod transfer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use parking_lot::Mutex;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

pub use credentials::{stored_credentials, StoredRefreshToken};
pub use error::TransferError;
pub use lane::ManualError;
pub use preview::Preview;
pub use reconcile::Report;
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

/// The running lanes by tenant. Every command is sent under this lock, and a lane that
/// idles leaves under it too, only with an empty queue, closing it: so a command either
/// reaches a running lane or starts a new one. Never two lanes for a tenant, never a lost
/// wake-up.
type Lanes = Mutex<HashMap<String, mpsc::Sender<Command>>>;

pub struct Pipeline {
    shared: Arc<Shared>,
    /// Lanes live on the application's runtime, whoever wakes them (an HTTP worker's
    /// runtime ends with its worker).
    runtime: tokio::runtime::Handle,
    lanes: Arc<Lanes>,
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
    /// This replica's id, as claims and scheduled runs record it.
    pub fn owner(&self) -> &str {
        &self.shared.owner
    }

    /// Built on the application's runtime, where every lane will run.
    pub fn new(shared: Shared) -> Arc<Self> {
        let (stop, _) = watch::channel(false);
        Arc::new(Pipeline {
            shared: Arc::new(shared),
            runtime: tokio::runtime::Handle::current(),
            lanes: Arc::new(Mutex::new(HashMap::new())),
            tasks: Mutex::new(JoinSet::new()),
            stop,
        })
    }

    /// Send a command to the tenant's lane, starting one if it has none running.
    fn send(&self, tenant: &str, command: Command) -> Result<(), TrySendError<Command>> {
        if *self.stop.borrow() {
            return Err(TrySendError::Closed(command));
        }
        let mut lanes = self.lanes.lock();
        if let Some(sender) = lanes.get(tenant).filter(|s| !s.is_closed()) {
            return sender.try_send(command);
        }
        let (sender, receiver) = mpsc::channel(64);
        let lane = Lane::new(
            tenant.to_owned(),
            self.shared.clone(),
            (receiver, sender.clone(), self.lanes.clone()),
            self.stop.subscribe(),
        );
        let mut tasks = self.tasks.lock();
        // Ended lanes leave their task behind until it is joined.
        while tasks.try_join_next().is_some() {}
        tasks.spawn_on(lane.run(), &self.runtime);
        lanes.insert(tenant.to_owned(), sender.clone());
        sender.try_send(command)
    }

    /// Tell a tenant's lane to look at its inbox (new events, resume, new settings).
    pub fn wake(&self, tenant: &str) {
        // A full queue already holds a wake-up: the lane will look anyway.
        let _ = self.send(tenant, Command::Wake);
    }

    /// Lanes running now (they end when idle).
    pub fn running_lanes(&self) -> usize {
        self.lanes.lock().len()
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
        let (reply, answer) = oneshot::channel();
        let mut command = Command::Transfer {
            order_id: order_id.to_owned(),
            overrides,
            reply,
        };
        loop {
            match self.send(tenant, command) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    command = back;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(TrySendError::Closed(_)) => return Err(PipelineError::ShuttingDown),
            }
        }
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
