//! Transfers of selected orders: the shop picks orders (by id, or by a filter), one call
//! makes a job, and a task takes them one after another through the shop's lane (also while
//! the shop is paused), recording what became of each. The job is kept in the store: its
//! progress can be read from any replica, it can be cancelled, and a restart picks it up.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::orders::ORDER_STATUSES;
use super::{Core, CoreError, CoreResult};
use crate::domain::transfer_job::{ItemState, JobKind, NewJob, TransferJob, MAX_JOB_ORDERS};
use crate::domain::{OrderId, TenantId};
use crate::pipeline::{ManualError, Overrides, PipelineError};
use crate::store::OrderFilter;

/// Which orders a job transfers.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These orders, in this order (a repeated id counts once).
    Orders(Vec<OrderId>),
    /// The orders with this status (by default every one not yet transferred) received in
    /// `[from, to)`, oldest first.
    Filter {
        status: Option<String>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    },
}

/// Statuses a filter without one selects: orders with something left to transfer.
const UNFINISHED: &[&str] = &["pending", "held", "in_progress", "failed"];

/// How long the job waits before asking the store again after it could not answer.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// Per tenant, the turn of its import jobs: one runs at a time, so a history in several parts
/// is transferred in the file's order.
pub(super) type ImportTurns =
    parking_lot::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// How often an import job looks whether the shop's live orders are through.
const LIVE_FIRST: Duration = Duration::from_millis(200);

impl Core {
    /// Make a job of the selected orders and start it. The job as created.
    pub async fn start_transfer(
        self: Arc<Self>,
        id: &TenantId,
        selection: Selection,
        overrides: Overrides,
    ) -> CoreResult<TransferJob> {
        self.existing(id).await?;
        let order_ids = self.selected(id, selection).await?;
        self.create_job(id, JobKind::Transfer, order_ids, overrides)
            .await
    }

    /// Store a job of `order_ids` and start it.
    pub(super) async fn create_job(
        self: Arc<Self>,
        id: &TenantId,
        kind: JobKind,
        order_ids: Vec<String>,
        overrides: Overrides,
    ) -> CoreResult<TransferJob> {
        let job = NewJob {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: id.as_str().to_owned(),
            kind,
            overrides: serde_json::to_string(&overrides).expect("overrides serialize"),
            order_ids,
        };
        self.store.create_job(&job).await?;
        tracing::info!(tenant.id = %id, job.id = %job.id, kind = kind.as_str(), orders = job.order_ids.len(), "job started");
        let created = self.job_view(id, &job.id).await?;
        self.runtime
            .spawn(self.clone().run_job(job.tenant_id, job.id, kind, overrides));
        Ok(created)
    }

    /// The job with each order's state and the counts.
    pub async fn transfer_job(&self, id: &TenantId, job: &str) -> CoreResult<TransferJob> {
        self.existing(id).await?;
        self.job_view(id, job).await
    }

    /// Stop a running job: orders not yet tried stay as they are. The job afterwards.
    pub async fn cancel_transfer(&self, id: &TenantId, job: &str) -> CoreResult<TransferJob> {
        self.existing(id).await?;
        let current = self.job_view(id, job).await?;
        if !self.store.cancel_job(id.as_str(), job).await? {
            return Err(CoreError::Conflict {
                code: "job_not_running",
                message: format!("job {job} is {}", current.status.as_str()),
                details: Default::default(),
            });
        }
        self.job_view(id, job).await
    }

    /// Start again the jobs a stop or crash left running (at start).
    pub async fn resume_jobs(self: &Arc<Self>) {
        let jobs = match self.store.running_jobs().await {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::error!(%error, "cannot read the transfer jobs at start");
                return;
            }
        };
        for (tenant, job) in jobs {
            let (kind, overrides) = match self.store.job(&tenant, &job).await {
                Ok(Some(found)) => (
                    found.kind,
                    serde_json::from_str(&found.overrides).unwrap_or_default(),
                ),
                _ => (JobKind::Transfer, Overrides::default()),
            };
            tracing::info!(tenant.id = %tenant, job.id = %job, "resuming job");
            self.runtime
                .spawn(self.clone().run_job(tenant, job, kind, overrides));
        }
    }

    /// An import's orders go after the live ones: the shop is not paused (an import waits
    /// for resume, as live orders do), and none of its orders waits for the lane.
    async fn live_orders_done(&self, tenant: &str) -> bool {
        let paused = match self.store.tenant(tenant).await {
            Ok(Some(found)) => found.paused.is_some(),
            _ => true,
        };
        !paused && self.store.count_pending(tenant).await.is_ok_and(|n| n == 0)
    }

    async fn job_view(&self, id: &TenantId, job: &str) -> CoreResult<TransferJob> {
        self.store
            .job(id.as_str(), job)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                code: "unknown_job",
                message: format!("no transfer job '{job}' for this tenant"),
            })
    }

    /// The order ids a selection names, checked against the limit.
    async fn selected(&self, id: &TenantId, selection: Selection) -> CoreResult<Vec<String>> {
        let order_ids = match selection {
            Selection::Orders(ids) => {
                let mut seen = std::collections::BTreeSet::new();
                ids.into_iter()
                    .map(|id| id.as_str().to_owned())
                    .filter(|id| seen.insert(id.clone()))
                    .collect::<Vec<_>>()
            }
            Selection::Filter { status, from, to } => {
                self.filtered(id, status.as_deref(), from, to).await?
            }
        };
        if order_ids.is_empty() {
            return Err(CoreError::bad_input(
                "no_orders",
                "the selection names no orders",
            ));
        }
        if order_ids.len() > MAX_JOB_ORDERS {
            return Err(CoreError::bad_input(
                "too_many_orders",
                format!(
                    "the selection holds {} orders; one job takes at most {MAX_JOB_ORDERS} (narrow the date range)",
                    order_ids.len()
                ),
            ));
        }
        Ok(order_ids)
    }

    async fn filtered(
        &self,
        id: &TenantId,
        status: Option<&str>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> CoreResult<Vec<String>> {
        if let Some(status) = status.filter(|s| !ORDER_STATUSES.contains(s)) {
            return Err(CoreError::bad_input(
                "invalid_status",
                format!(
                    "unknown status '{status}'; one of {}",
                    ORDER_STATUSES.join(", ")
                ),
            ));
        }
        let tenant = self.existing(id).await?;
        let statuses: Vec<&str> = match status {
            Some(status) => vec![status],
            None => UNFINISHED.to_vec(),
        };
        let mut found: Vec<(i64, String)> = Vec::new();
        for status in statuses {
            let mut after = 0;
            loop {
                let page = self
                    .store
                    .order_summaries(&OrderFilter {
                        tenant: id.as_str(),
                        held: super::orders::held(&tenant),
                        status: Some(status),
                        order_id: None,
                        after_seq: after,
                        limit: 1_000,
                    })
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                found.extend(
                    page.into_iter()
                        .filter(|o| from.is_none_or(|from| o.received_at >= from))
                        .filter(|o| to.is_none_or(|to| o.received_at < to))
                        .map(|o| (o.seq, o.order_id)),
                );
                // One more than a job takes is enough to refuse it.
                if found.len() > MAX_JOB_ORDERS {
                    break;
                }
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, order)| order).collect())
    }

    /// Take the job's waiting orders one by one through the lane. Stops when none is left
    /// (then the job is done), when it is cancelled, or at shutdown (it stays running, and
    /// the next start picks it up).
    async fn run_job(
        self: Arc<Self>,
        tenant: String,
        job: String,
        kind: JobKind,
        overrides: Overrides,
    ) {
        let turn = match kind {
            JobKind::Import => Some(
                self.imports
                    .lock()
                    .entry(tenant.clone())
                    .or_default()
                    .clone(),
            ),
            JobKind::Transfer => None,
        };
        let _turn = match &turn {
            Some(turn) => Some(turn.lock().await),
            None => None,
        };
        loop {
            if !self.accepting() {
                return;
            }
            if kind == JobKind::Import && !self.live_orders_done(&tenant).await {
                tokio::time::sleep(LIVE_FIRST).await;
                continue;
            }
            let item = match self.store.next_job_order(&job).await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, job.id = %job, "cannot read the job; retrying");
                    tokio::time::sleep(STORE_RETRY).await;
                    continue;
                }
            };
            let (state, reason) = match self
                .pipeline
                .transfer_now(&tenant, &item.order_id, overrides)
                .await
            {
                Ok(record) if record.step.is_final() => (ItemState::Done, None),
                Ok(record) => {
                    (
                        ItemState::Failed,
                        Some(record.error.unwrap_or_else(|| {
                            format!("stopped at step {}", record.step.as_str())
                        })),
                    )
                }
                Err(PipelineError::Manual(ManualError::NotReceived(_))) => (
                    ItemState::Failed,
                    Some("no such order has been received".to_owned()),
                ),
                Err(PipelineError::Manual(ManualError::Store(error))) => {
                    tracing::warn!(%error, job.id = %job, "the store failed a job's transfer; retrying");
                    tokio::time::sleep(STORE_RETRY).await;
                    continue;
                }
                Err(PipelineError::ShuttingDown) => return,
            };
            while let Err(error) = self
                .store
                .set_job_order(&job, item.position, state, reason.as_deref())
                .await
            {
                tracing::warn!(%error, job.id = %job, "cannot record a job's order; retrying");
                tokio::time::sleep(STORE_RETRY).await;
            }
        }
        if let Err(error) = self.store.finish_job(&job).await {
            // Left running: the next start finds nothing waiting and finishes it.
            tracing::warn!(%error, job.id = %job, "cannot mark the job done");
        }
        tracing::info!(tenant.id = %tenant, job.id = %job, "transfer job through");
    }
}
