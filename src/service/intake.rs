//! Intake: a checked event into the inbox, or (Kafka mode, from the webhook) onto the input
//! topic, whose consumer brings it back here. The one place that decides between the two.

use sha2::{Digest, Sha256};

use super::checks::Checked;
use super::{Core, CoreError, CoreResult};
use crate::domain::{Accepted, EventSource, NewEvent};
use crate::store::{InboxStore, StoreResult};
use crate::telemetry::traces;
use tracing::Instrument;

/// The input topic as intake sees it (Kafka mode): the Kafka producer is one.
#[async_trait::async_trait]
pub trait InputTopic: Send + Sync {
    /// The event onto the topic, keyed by tenant; its partition and offset once the broker
    /// acknowledged it. `traceparent` is the caller's, passed on when no span is recorded.
    async fn send_event(
        &self,
        tenant: &str,
        body: &[u8],
        traceparent: Option<&str>,
    ) -> Result<(i32, i64), String>;
}

/// Where an event came from, with the W3C trace context its transport carried.
pub enum Origin<'a> {
    /// A verified webhook: its body as received, and its `traceparent` header.
    Webhook {
        body: &'a [u8],
        traceparent: Option<&'a str>,
    },
    /// A record of the input topic, and its `traceparent` header.
    Kafka {
        source: EventSource,
        traceparent: Option<&'a str>,
    },
    /// A line of a history import: into the inbox directly (also in Kafka mode), marked
    /// imported, for its import job to transfer.
    Import,
}

impl Origin<'_> {
    fn traceparent(&self) -> Option<&str> {
        match self {
            Origin::Webhook { traceparent, .. } | Origin::Kafka { traceparent, .. } => *traceparent,
            Origin::Import => None,
        }
    }
}

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Written to the inbox (or recognised there as a duplicate or conflict).
    Inbox(Accepted),
    /// On the input topic; the consumer writes the inbox.
    Topic { partition: i32, offset: i64 },
}

impl Receipt {
    /// The intake metric's result: accepted, replaced, duplicate or conflict.
    pub fn result(&self) -> &'static str {
        match self {
            Receipt::Inbox(Accepted::New { .. }) | Receipt::Topic { .. } => "accepted",
            Receipt::Inbox(Accepted::Replaced { .. }) => "replaced",
            Receipt::Inbox(Accepted::DuplicateEvent { .. } | Accepted::DuplicateOrder { .. }) => {
                "duplicate"
            }
            Receipt::Inbox(Accepted::Conflict { .. }) => "conflict",
        }
    }
}

impl Core {
    /// Take a checked event. Nothing is acknowledged before it is durable: in the inbox, or
    /// acknowledged by the broker.
    pub async fn submit(&self, checked: &Checked, origin: Origin<'_>) -> CoreResult<Receipt> {
        let event = &checked.event;
        let span = tracing::info_span!(
            "order.accept",
            otel.name = "accept order",
            tenant.id = %event.tenant(),
            order.id = %event.order_id(),
            event.id = %event.id(),
        );
        // The transport's trace context wins (the request or record span already continues
        // it); without one, the event's own (the CloudEvents distributed-tracing extension)
        // continues the trace in which the platform made the event.
        let caller = origin.traceparent().or(event.traceparent());
        if origin.traceparent().is_none() {
            traces::continue_from(&span, caller);
        }
        let caller = caller.map(str::to_owned);
        self.submit_in_span(checked, origin, caller.as_deref())
            .instrument(span)
            .await
    }

    async fn submit_in_span(
        &self,
        checked: &Checked,
        origin: Origin<'_>,
        caller: Option<&str>,
    ) -> CoreResult<Receipt> {
        if !self.accepting() {
            return Err(CoreError::Unavailable("shutting down; retry later".into()));
        }
        let tenant = checked.event.tenant();
        let imported = matches!(origin, Origin::Import);
        let source = match origin {
            Origin::Webhook { body, .. } => {
                if let Some(topic) = &self.input_topic {
                    let (partition, offset) = topic
                        .send_event(tenant, body, caller)
                        .await
                        .map_err(|error| {
                            CoreError::Unavailable(format!(
                                "the broker did not take the event: {error}"
                            ))
                        })?;
                    return Ok(Receipt::Topic { partition, offset });
                }
                None
            }
            Origin::Kafka { source, .. } => {
                // The webhook checked its tenant when it verified the signature; a record
                // names its own, which must exist.
                if self.store.tenant(tenant).await?.is_none() {
                    return Err(CoreError::NotFound {
                        code: "unknown_tenant",
                        message: format!("unknown tenant '{tenant}'"),
                    });
                }
                Some(source)
            }
            Origin::Import => None,
        };
        let traceparent = traces::traceparent_or(caller);
        let accepted = accept(self.store.as_ref(), checked, source, traceparent, imported).await?;
        match &accepted {
            Accepted::New { .. } => self.pipeline.wake(tenant),
            Accepted::Replaced { seq, replaced_seq } => {
                tracing::info!(tenant = %tenant, order = %checked.event.order_id(), seq, replaced_seq,
                    "a newer version of a waiting order replaced it");
                self.pipeline.wake(tenant);
            }
            Accepted::Conflict { seq, first_seq } => {
                tracing::warn!(tenant = %tenant, order = %checked.event.order_id(), seq, first_seq,
                    "an order already invoiced arrived with different content: kept as a conflict to resolve");
            }
            Accepted::DuplicateEvent { .. } | Accepted::DuplicateOrder { .. } => {}
        }
        Ok(Receipt::Inbox(accepted))
    }
}

/// Into the inbox; the payload is the event as received (structured JSON).
async fn accept(
    store: &dyn InboxStore,
    checked: &Checked,
    source: Option<EventSource>,
    traceparent: Option<String>,
    imported: bool,
) -> StoreResult<Accepted> {
    let data = serde_json::to_vec(&checked.json["data"]).expect("JSON serializes");
    let content_hash: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    store
        .accept_event(NewEvent {
            tenant_id: checked.event.tenant().to_owned(),
            event_id: checked.event.id().to_owned(),
            order_id: checked.event.order_id().to_owned(),
            document: checked.event.document(),
            payload: checked.json.to_string(),
            content_hash,
            source,
            traceparent,
            imported,
        })
        .await
}
