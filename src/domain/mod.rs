//! The pure core: the order event, money arithmetic, the mapping of an order to Dinero
//! documents, deterministic identities and the failure classes. No I/O, no framework types.

pub mod countries;
pub mod dead_letter;
pub mod dinero_totals;
pub mod erasure;
mod failure;
pub mod identity;
pub mod ids;
pub mod inbox;
pub mod ledger;
pub mod mapping;
pub mod money_events;
pub mod order;
pub mod reconciliation;
pub mod tenant;
pub mod transfer_job;

pub use dead_letter::{DeadLetter, DeadLetterStatus, NewDeadLetter, OutboxRecord};
pub use failure::ErrorClass;
pub use ids::{EventId, OrderId, TenantId};
pub use inbox::{Accepted, EventSource, EventStatus, NewEvent, StoredEvent};
pub use ledger::{
    DineroRefs, HistoryEntry, OrderRecord, OrderSummary, Reached, Step, CREATE_INVOICE,
};
pub use mapping::SendInvoice;
pub use tenant::{DineroCredentials, Pause, Tenant, TenantCounts, TenantSecrets, TenantSettings};

/// A stored word (a status, a step) that the model does not know: the data is unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {0}")]
pub struct UnknownValue(pub String);

#[cfg(test)]
mod mapping_tests;
