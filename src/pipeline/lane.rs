//! One lane per tenant: its events, strictly in order, one at a time. A paused tenant's lane
//! holds its events (they stay `pending` in the inbox) while other lanes go on. Manual
//! transfers go through the lane too, so they never race the automatic ones.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::backoff;
use super::error::TransferError;
use super::transfer::{Context, Overrides};
use super::Shared;
use crate::dinero::OrganizationClient;
use crate::domain::ErrorClass;
use crate::domain::{NewDeadLetter, OrderRecord, Reached, StoredEvent, Tenant};
use crate::store::{Fence, StoreError};
use crate::telemetry::{traces, Metrics};
use tracing::{field, Instrument};

pub enum Command {
    /// New events, a resume, or changed settings: look at the inbox again.
    Wake,
    /// The tenant's partition went to another replica: finish the current step and stop.
    Stop,
    /// Transfer one order now, even while paused.
    Transfer {
        order_id: String,
        overrides: Overrides,
        reply: oneshot::Sender<Result<OrderRecord, ManualError>>,
    },
}

/// Why a manual transfer could not even start.
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error("order {0} has not been received")]
    NotReceived(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

pub struct Lane {
    tenant_id: String,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    /// Its own queue's sender, to know its entry among the running lanes.
    own: mpsc::Sender<Command>,
    lanes: Arc<super::Lanes>,
    stop: watch::Receiver<bool>,
    client: Option<(chrono::DateTime<chrono::Utc>, OrganizationClient)>,
    /// This lane's claim on the tenant, taken when it first transfers.
    fence: Option<Fence>,
    /// Another replica claimed the tenant after us, or its partition was revoked: stop.
    fenced: bool,
    /// When the shop's contact cache last read Dinero's contact list.
    contacts: super::contact_sync::ContactSync,
}

impl Lane {
    pub fn new(
        tenant_id: String,
        shared: Arc<Shared>,
        (commands, own, lanes): (
            mpsc::Receiver<Command>,
            mpsc::Sender<Command>,
            Arc<super::Lanes>,
        ),
        stop: watch::Receiver<bool>,
    ) -> Self {
        Lane {
            tenant_id,
            shared,
            commands,
            own,
            lanes,
            stop,
            client: None,
            fence: None,
            fenced: false,
            contacts: Default::default(),
        }
    }

    fn stopping(&self) -> bool {
        self.fenced || *self.stop.borrow()
    }

    /// The lane's claim, taken once: every later claim by another replica fences it.
    async fn claim(&mut self) -> Result<Fence, StoreError> {
        if let Some(fence) = &self.fence {
            return Ok(fence.clone());
        }
        let fence = self
            .shared
            .store
            .claim_tenant(&self.tenant_id, &self.shared.owner)
            .await?;
        tracing::debug!(tenant = %self.tenant_id, epoch = fence.epoch, "tenant claimed");
        self.fence = Some(fence.clone());
        Ok(fence)
    }

    /// The Dinero client for the tenant, rebuilt when its record changed.
    fn client(&mut self, tenant: &Tenant) -> OrganizationClient {
        if let Some((version, client)) = &self.client {
            if *version == tenant.updated_at {
                return client.clone();
            }
            self.shared.dinero.forget_token(tenant.organization_id);
        }
        let credentials = super::credentials::stored_credentials(self.shared.store.clone(), tenant);
        let client = self
            .shared
            .dinero
            .organization(tenant.organization_id, credentials);
        self.client = Some((tenant.updated_at, client.clone()));
        client
    }

    pub async fn run(mut self) {
        tracing::debug!(tenant = %self.tenant_id, "lane started");
        self.shared.metrics.lanes.inc();
        loop {
            if self.stopping() {
                break;
            }
            while let Ok(command) = self.commands.try_recv() {
                self.handle(command).await;
            }
            match self.next_automatic().await {
                Ok(Some(event)) => {
                    // Boxed: an idle lane holds only its loop's state, not room for a transfer.
                    Box::pin(self.process(event, Overrides::default())).await;
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(tenant = %self.tenant_id, %error, "lane cannot read its inbox; retrying");
                    self.sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            let mut stop = self.stop.clone();
            let idle = self.shared.settings.lane_idle_secs;
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(idle)), if idle > 0 => {
                    if self.retire() {
                        break;
                    }
                }
            }
        }
        self.shared.metrics.lanes.dec();
        tracing::debug!(tenant = %self.tenant_id, "lane stopped");
    }

    /// Idle: leave the running lanes, unless a command came meanwhile. Under their lock, which
    /// every send takes, so nothing can be sent between the check and the close.
    fn retire(&mut self) -> bool {
        let mut lanes = self.lanes.lock();
        if !self.commands.is_empty() {
            return false;
        }
        if lanes
            .get(&self.tenant_id)
            .is_some_and(|sender| sender.same_channel(&self.own))
        {
            lanes.remove(&self.tenant_id);
        }
        self.commands.close();
        tracing::debug!(tenant = %self.tenant_id, "lane idle; ended");
        true
    }

    /// The next event to transfer automatically, if the tenant is live.
    async fn next_automatic(&self) -> Result<Option<StoredEvent>, TransferError> {
        let Some(tenant) = self.shared.store.tenant(&self.tenant_id).await? else {
            return Ok(None);
        };
        if tenant.paused.is_some() || !tenant.settings.auto_transfer {
            return Ok(None);
        }
        Ok(self
            .shared
            .store
            .next_pending_event(&self.tenant_id)
            .await?)
    }

    async fn handle(&mut self, command: Command) {
        if let Command::Stop = command {
            self.fenced = true;
            return;
        }
        let Command::Transfer {
            order_id,
            overrides,
            reply,
        } = command
        else {
            return;
        };
        let shared = self.shared.clone();
        let tenant = self.tenant_id.clone();
        let result = async {
            let store = &shared.store;
            let Some(event) = store.pending_event_for_order(&tenant, &order_id).await? else {
                // Nothing waiting: already transferred (its record answers), or never received.
                return store
                    .order(&tenant, &order_id)
                    .await?
                    .ok_or(ManualError::NotReceived(order_id.clone()));
            };
            Box::pin(self.process(event, overrides)).await;
            store
                .order(&tenant, &order_id)
                .await?
                .ok_or(ManualError::NotReceived(order_id.clone()))
        }
        .await;
        let _ = reply.send(result);
    }

    async fn sleep(&mut self, duration: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = stop.changed() => {}
        }
    }

    /// Transfer one event with retries; on a final failure, dead-letter or pause. Its span
    /// continues the trace the event was accepted in, and holds its Dinero calls.
    async fn process(&mut self, event: StoredEvent, overrides: Overrides) {
        let span = tracing::info_span!(
            "order.transfer",
            otel.name = "transfer order",
            tenant.id = %self.tenant_id,
            order.id = %event.order_id,
            event.seq = event.seq,
            transfer.outcome = field::Empty,
            otel.status_code = field::Empty,
        );
        traces::continue_from(&span, event.traceparent.as_deref());
        self.transfer_with_retries(event, overrides)
            .instrument(span)
            .await
    }

    async fn transfer_with_retries(&mut self, event: StoredEvent, overrides: Overrides) {
        let first_failed_at = chrono::Utc::now();
        let mut attempts: u32 = 0;
        loop {
            let tenant = match self.shared.store.tenant(&self.tenant_id).await {
                Ok(Some(tenant)) => tenant,
                Ok(None) => return,
                Err(error) => {
                    tracing::error!(tenant = %self.tenant_id, %error, "cannot read the tenant");
                    self.sleep(Duration::from_secs(1)).await;
                    if self.stopping() {
                        return;
                    }
                    continue;
                }
            };
            let fence = match self.claim().await {
                Ok(fence) => fence,
                Err(error) => {
                    tracing::error!(tenant = %self.tenant_id, %error, "cannot claim the tenant");
                    self.sleep(Duration::from_secs(1)).await;
                    if self.stopping() {
                        return;
                    }
                    continue;
                }
            };
            let client = self.client(&tenant);
            let contacts_fresh = self
                .contacts
                .fresh(
                    Duration::from_secs(self.shared.settings.contact_sync_secs),
                    self.shared.store.as_ref(),
                    &client,
                    &self.tenant_id,
                )
                .await;
            let context = Context {
                contacts_fresh,
                store: self.shared.store.as_ref(),
                dinero: &client,
                tenant: &tenant,
                time_zone: self.shared.time_zone,
                tolerance: self.shared.settings.totals_tolerance,
                fence: &fence,
                call_timeout: self.shared.call_timeout,
                noted: Default::default(),
            };
            let metrics = self.shared.metrics.clone();
            let error = match context.transfer(&event, overrides).await {
                Ok(record) => {
                    self.finished(&event, &record);
                    outcome(&metrics, "done");
                    let took = chrono::Utc::now() - event.received_at;
                    metrics
                        .order_duration
                        .observe(took.num_milliseconds().max(0) as f64 / 1000.0);
                    return;
                }
                Err(TransferError::Store(StoreError::Superseded(_))) => {
                    tracing::info!(tenant = %self.tenant_id, order = %event.order_id, "a newer version of the order replaced this one; it goes next");
                    outcome(&metrics, "superseded");
                    return;
                }
                Err(TransferError::Store(StoreError::Fenced(_))) => {
                    tracing::info!(tenant = %self.tenant_id, "another replica claimed the tenant; this lane stops");
                    outcome(&metrics, "handed_over");
                    self.fenced = true;
                    return;
                }
                Err(error) => error,
            };
            let class = error.class();
            let attempt_outcome = match class {
                ErrorClass::Throttled => "throttled",
                ErrorClass::Transient if attempts + 1 < self.shared.settings.max_attempts => {
                    "retried"
                }
                ErrorClass::TenantState => "paused",
                _ => "dead_lettered",
            };
            outcome(&metrics, attempt_outcome);
            if class != ErrorClass::Throttled {
                attempts += 1;
            }
            self.record_error(&event, &error, attempts, &fence).await;
            if self.stopping() {
                return;
            }
            match class {
                ErrorClass::Throttled => self.sleep(Duration::from_secs(5)).await,
                ErrorClass::Transient if attempts < self.shared.settings.max_attempts => {
                    let delay = backoff::delay(
                        attempts - 1,
                        self.shared.settings.backoff_initial_ms,
                        self.shared.settings.backoff_max_ms,
                    );
                    tracing::info!(tenant = %self.tenant_id, order = %event.order_id, attempts, ?delay, %error, "transient failure; retrying");
                    self.sleep(delay).await;
                }
                ErrorClass::TenantState => {
                    let reason = format!("Dinero: {error}");
                    tracing::warn!(tenant = %self.tenant_id, %reason, "pausing tenant; its events are held");
                    match self.shared.store.pause(&self.tenant_id, &reason).await {
                        Ok(()) => metrics.pauses.with_label_values(&["tenant_state"]).inc(),
                        Err(e) => {
                            tracing::error!(tenant = %self.tenant_id, error = %e, "could not pause")
                        }
                    }
                    return;
                }
                _ => {
                    self.dead_letter(&event, &error, attempts, &fence, first_failed_at)
                        .await;
                    return;
                }
            }
        }
    }

    /// The transfer's last write completed the event (done, its dead letter replayed).
    fn finished(&self, event: &StoredEvent, record: &OrderRecord) {
        tracing::info!(tenant = %self.tenant_id, order = %event.order_id, number = ?record.invoice_number, "order transferred");
    }

    /// The event's ledger row; a new one when the transfer failed before its first write
    /// (steps reached before a first call are written with that call's mark).
    async fn ledger_row(&self, event: &StoredEvent) -> Result<OrderRecord, StoreError> {
        let store = &self.shared.store;
        Ok(store
            .document(&self.tenant_id, &event.order_id, &event.document)
            .await?
            .unwrap_or_else(|| {
                OrderRecord::for_document(
                    &self.tenant_id,
                    &event.order_id,
                    &event.document,
                    event.seq,
                )
            }))
    }

    async fn record_error(
        &self,
        event: &StoredEvent,
        error: &TransferError,
        attempts: u32,
        fence: &Fence,
    ) {
        let Ok(mut record) = self.ledger_row(event).await else {
            return;
        };
        record.attempts = attempts;
        record.error = Some(error.to_string());
        record.error_class = Some(error.class().as_str().to_owned());
        let _ = self
            .shared
            .store
            .save_order(
                &record,
                &[Reached::now("error", Some(error.to_string()))],
                fence,
            )
            .await;
    }

    async fn dead_letter(
        &self,
        event: &StoredEvent,
        error: &TransferError,
        attempts: u32,
        fence: &Fence,
        first_failed_at: chrono::DateTime<chrono::Utc>,
    ) {
        let message = error.to_string();
        let letter = NewDeadLetter {
            tenant_id: self.tenant_id.clone(),
            event_seq: event.seq,
            order_id: event.order_id.clone(),
            error_class: error.class(),
            error_code: error.code(),
            message: message.clone(),
            attempts,
            first_failed_at,
            traceparent: traces::current_traceparent(),
        };
        let reason = format!(
            "order {} could not be transferred: {message}",
            event.order_id
        );
        tracing::warn!(tenant = %self.tenant_id, order = %event.order_id, %message, "dead-lettered; tenant paused");
        if let Ok(mut record) = self.ledger_row(event).await {
            record.step = crate::domain::Step::Failed;
            let _ = self
                .shared
                .store
                .save_order(
                    &record,
                    &[Reached::now("failed", Some(message.clone()))],
                    fence,
                )
                .await;
        }
        let class = letter.error_class;
        match self
            .shared
            .store
            .dead_letter_and_pause(letter, &reason, fence)
            .await
        {
            Ok(_) => {
                let metrics = &self.shared.metrics;
                metrics
                    .dead_letters
                    .with_label_values(&[class.as_str()])
                    .inc();
                metrics.pauses.with_label_values(&["dead_letter"]).inc();
            }
            // Replaced meanwhile by a newer version of the order, which goes next: the
            // failure of the old one no longer matters.
            Err(StoreError::Superseded(_)) => {
                tracing::info!(tenant = %self.tenant_id, order = %event.order_id, "a newer version replaced the failed one; no dead letter")
            }
            Err(error) => {
                tracing::error!(tenant = %self.tenant_id, %error, "could not write the dead letter; the event stays pending")
            }
        }
    }
}

/// Count a transfer attempt's outcome, and name it on the transfer's span (the last one
/// recorded stands).
fn outcome(metrics: &Metrics, outcome: &'static str) {
    metrics.transfers.with_label_values(&[outcome]).inc();
    let span = tracing::Span::current();
    span.record("transfer.outcome", outcome);
    if matches!(outcome, "dead_lettered" | "paused") {
        span.record("otel.status_code", "ERROR");
    }
}
