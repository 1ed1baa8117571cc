//! Intake: a checked event into the inbox, or (Kafka mode, from the webhook) onto the input
//! topic, whose consumer brings it back here. The one place that decides between the two.

use sha2::{Digest, Sha256};

use super::checks::Checked;
use super::{Core, CoreError, CoreResult};
use crate::domain::{Accepted, EventSource, NewEvent};
use crate::store::{InboxStore, StoreResult};

/// The input topic as intake sees it (Kafka mode): the Kafka producer is one.
#[async_trait::async_trait]
pub trait InputTopic: Send + Sync {
    /// The event onto the topic, keyed by tenant; its partition and offset once the broker
    /// acknowledged it.
    async fn send_event(
        &self,
        tenant: &str,
        body: &[u8],
        traceparent: Option<&str>,
    ) -> Result<(i32, i64), String>;
}

/// Where an event came from.
pub enum Origin<'a> {
    /// A verified webhook: its body as received, and its W3C trace context.
    Webhook {
        body: &'a [u8],
        traceparent: Option<&'a str>,
    },
    /// A record of the input topic.
    Kafka(EventSource),
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
    /// The intake metric's result: accepted, duplicate or conflict.
    pub fn result(&self) -> &'static str {
        match self {
            Receipt::Inbox(Accepted::New { .. }) | Receipt::Topic { .. } => "accepted",
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
        if !self.accepting() {
            return Err(CoreError::Unavailable("shutting down; retry later".into()));
        }
        let tenant = &checked.event.tenantid;
        let source = match origin {
            Origin::Webhook { body, traceparent } => {
                if let Some(topic) = &self.input_topic {
                    let (partition, offset) = topic
                        .send_event(tenant, body, traceparent)
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
            Origin::Kafka(source) => {
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
        };
        let accepted = accept(self.store.as_ref(), checked, source).await?;
        match &accepted {
            Accepted::New { .. } => self.pipeline.wake(tenant),
            Accepted::Conflict { seq, first_seq } => {
                tracing::warn!(tenant = %tenant, order = %checked.event.data.order_id, seq, first_seq,
                    "the same order arrived with different content; the first is kept, this one recorded as a conflict");
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
) -> StoreResult<Accepted> {
    let data = serde_json::to_vec(&checked.json["data"]).expect("JSON serializes");
    let content_hash: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    store
        .accept_event(NewEvent {
            tenant_id: checked.event.tenantid.clone(),
            event_id: checked.event.id.clone(),
            order_id: checked.event.data.order_id.clone(),
            payload: checked.json.to_string(),
            content_hash,
            source,
        })
        .await
}
