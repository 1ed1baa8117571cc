//! Without Kafka, the platform hears when a shop stops through its notification URL: each
//! outbox record (an order dead-lettered, a tenant paused or resumed) is POSTed as a
//! CloudEvent signed like the webhooks the platform sends us (Standard Webhooks), in order
//! per tenant, retried with backoff until a 2xx, then marked published (and later pruned by
//! retention). A tenant's own `notification_url` takes precedence over the deployment's; a
//! record nobody is to hear of is marked published at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::config::NotificationSettings;
use crate::domain::OutboxRecord;
use crate::pipeline::backoff;
use crate::store::{DeadLetterStore, TenantStore};

pub struct Notifier {
    /// The records to deliver.
    pub outbox: Arc<dyn DeadLetterStore>,
    /// Tenants, for their own URL.
    pub tenants: Arc<dyn TenantStore>,
    pub settings: NotificationSettings,
    pub http: reqwest::Client,
}

/// The CloudEvents type of an outbox record.
fn event_type(kind: &str) -> &'static str {
    match kind {
        "dead_letter" => "dinero_bridge.order.dead_lettered",
        "paused" => "dinero_bridge.tenant.paused",
        "resumed" => "dinero_bridge.tenant.resumed",
        _ => "dinero_bridge.record",
    }
}

/// The record as a CloudEvent: its facts (the dead-letter headers) and its value.
pub fn cloud_event(record: &OutboxRecord) -> Value {
    let value = serde_json::from_str::<Value>(&record.value)
        .unwrap_or_else(|_| Value::String(record.value.clone()));
    let subject = record
        .headers
        .get("order-id")
        .cloned()
        .unwrap_or_else(|| record.tenant_id.clone());
    let mut event = json!({
        "specversion": "1.0",
        "id": format!("outbox-{}", record.id),
        "source": "/dinero-bridge",
        "type": event_type(&record.kind),
        "subject": subject,
        "time": record.created_at,
        "tenantid": record.tenant_id,
        "datacontenttype": "application/json",
        "data": {"facts": record.headers, "record": value},
    });
    // The CloudEvents distributed-tracing extension: the failed transfer's trace.
    if let Some(traceparent) = record.headers.get("traceparent") {
        event["traceparent"] = json!(traceparent);
    }
    event
}

/// Why a record was not delivered this time.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("{0}")]
    Unreachable(String),
    #[error("the receiver answered {0}")]
    Refused(u16),
}

impl Notifier {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // Per tenant: failed attempts so far and when to try again.
        let mut retry: BTreeMap<String, (u32, Instant)> = BTreeMap::new();
        loop {
            let progressed = self.pass(&mut retry).await;
            if !progressed {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(self.settings.poll_interval_ms)) => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
            }
            if *stop.borrow() {
                break;
            }
        }
    }

    /// One pass over the unpublished records, oldest first. A tenant whose record failed is
    /// skipped until its backoff ends, so its later records wait (order) and other tenants'
    /// go on. True when anything was delivered.
    async fn pass(&self, retry: &mut BTreeMap<String, (u32, Instant)>) -> bool {
        let records = match self.outbox.unpublished(100).await {
            Ok(records) => records,
            Err(error) => {
                tracing::error!(%error, "cannot read the outbox");
                return false;
            }
        };
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        // Each tenant's receiver, read once a pass however many of its records wait.
        let mut urls: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut progressed = false;
        for record in records {
            let tenant = record.tenant_id.clone();
            if blocked.contains(&tenant)
                || retry
                    .get(&tenant)
                    .is_some_and(|(_, at)| *at > Instant::now())
            {
                blocked.insert(tenant);
                continue;
            }
            let url = match urls.get(&tenant) {
                Some(url) => url.clone(),
                None => match self.url_for(&tenant).await {
                    Ok(url) => {
                        urls.insert(tenant.clone(), url.clone());
                        url
                    }
                    Err(error) => {
                        tracing::warn!(%tenant, %error, "cannot read the tenant's receiver");
                        blocked.insert(tenant);
                        continue;
                    }
                },
            };
            match self.deliver(&record, url.as_deref()).await {
                Ok(()) => {
                    retry.remove(&tenant);
                    if let Err(error) = self.outbox.mark_published(record.id).await {
                        // Delivered twice at worst: the event's id lets the receiver dedupe.
                        tracing::error!(%error, "delivered but not marked");
                        blocked.insert(tenant);
                        continue;
                    }
                    progressed = true;
                }
                Err(error) => {
                    let attempts = retry.get(&tenant).map(|(n, _)| n + 1).unwrap_or(1);
                    let delay = backoff::delay(
                        attempts - 1,
                        self.settings.backoff_initial_ms,
                        self.settings.backoff_max_ms,
                    );
                    tracing::warn!(%tenant, record = record.id, attempts, ?delay, %error,
                        "notification not delivered; retrying");
                    retry.insert(tenant.clone(), (attempts, Instant::now() + delay));
                    blocked.insert(tenant);
                }
            }
        }
        progressed
    }

    /// The tenant's own URL, else the deployment's; `None`: nobody is to hear of it.
    async fn url_for(&self, tenant: &str) -> Result<Option<String>, SendError> {
        let own = self
            .tenants
            .tenant(tenant)
            .await
            .map_err(|e| SendError::Unreachable(e.to_string()))?
            .and_then(|t| t.settings.notification_url);
        Ok(own.or_else(|| Some(self.settings.url.clone()).filter(|u| !u.is_empty())))
    }

    /// Deliver to `url`; with none, nobody is to hear of it and it counts as delivered.
    async fn deliver(&self, record: &OutboxRecord, url: Option<&str>) -> Result<(), SendError> {
        let Some(url) = url else {
            return Ok(());
        };
        let body = serde_json::to_vec(&cloud_event(record)).expect("JSON serializes");
        let id = format!("outbox-{}", record.id);
        let timestamp = chrono::Utc::now().timestamp();
        let signature = standardwebhooks::Webhook::new(&self.settings.secret)
            .and_then(|webhook| webhook.sign(&id, timestamp, &body))
            .map_err(|e| SendError::Unreachable(format!("cannot sign: {e}")))?;
        let response = self
            .http
            .post(url)
            .header("content-type", "application/cloudevents+json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .timeout(Duration::from_millis(self.settings.timeout_ms))
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Unreachable(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SendError::Refused(response.status().as_u16()))
        }
    }
}
