//! Intake: a checked event into the inbox, or (Kafka mode, from the webhook) onto the input
//! topic, whose consumer brings it back here. The one place that decides between the two.

use super::{Core, CoreError, CoreResult};
use crate::domain::{Accepted, EventSource};
use crate::ingest::intake::{self, Checked};

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
                if let Some(producer) = &self.producer {
                    let (partition, offset) = producer
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
        let accepted = intake::accept(self.store.as_ref(), checked, source).await?;
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
