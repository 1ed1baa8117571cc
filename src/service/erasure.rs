//! GDPR erasure of one customer's personal data from what the service keeps.

use serde::Serialize;

use super::{Core, CoreError, CoreResult};
use crate::domain::erasure::CustomerRef;
use crate::domain::TenantId;
use crate::store::Erasure;

/// What an erasure changed.
#[derive(Debug, Serialize)]
pub struct Erased {
    pub events: u64,
    pub outbox_records: u64,
    pub contacts: u64,
}

impl Core {
    /// Erase the customer's name, address, e-mail, phone and ids from the tenant's stored
    /// events and dead-letter records, and forget their cached Dinero contact. Ledger rows,
    /// order numbers and amounts stay. Refused (nothing changed) while an order of the
    /// customer is still waiting or dead-lettered: Dinero has not received it yet.
    pub async fn erase(&self, id: &TenantId, who: CustomerRef) -> CoreResult<Erased> {
        self.existing(id).await?;
        if who.is_empty() {
            return Err(CoreError::bad_input(
                "invalid_erasure",
                "name the customer by customer_id, email or both",
            ));
        }
        match self.store.erase_customer(id.as_str(), &who).await? {
            Erasure::Held { orders } => Err(CoreError::Conflict {
                code: "orders_not_transferred",
                message: "orders of this customer are still waiting or dead-lettered; transfer or resolve them, then erase".into(),
                details: orders
                    .into_iter()
                    .map(|order| (order, "not yet transferred".to_owned()))
                    .collect(),
            }),
            Erasure::Erased {
                events,
                outbox_records,
                contacts,
            } => {
                tracing::info!(tenant = %id, events, outbox_records, contacts, "customer data erased");
                Ok(Erased {
                    events,
                    outbox_records,
                    contacts,
                })
            }
        }
    }
}
