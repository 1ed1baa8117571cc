//! Why one order's transfer stopped, with the class that decides what happens next.

use crate::dinero::DineroError;
use crate::domain::mapping::MappingError;
use crate::domain::ErrorClass;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Dinero(#[from] DineroError),
    #[error("the order cannot be mapped: {0}")]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored event is unreadable: {0}")]
    Payload(String),
    /// Dinero's list does not show the invoice's DKK total (yet): asked again later.
    #[error("Dinero shows no DKK total for invoice {0} yet, which a {1} payment needs")]
    NoDkkFigure(uuid::Uuid, String),
    /// A refund, cancellation or payment of an order the service has no invoice for.
    #[error("order {order} {why}: its {event} has no invoice to apply to")]
    NoInvoice {
        order: String,
        event: &'static str,
        why: String,
    },
}

impl TransferError {
    pub fn class(&self) -> ErrorClass {
        match self {
            TransferError::Dinero(error) => error.class(),
            TransferError::Mapping(_)
            | TransferError::Payload(_)
            | TransferError::NoInvoice { .. } => ErrorClass::Permanent,
            TransferError::Store(error) => error.class(),
            TransferError::NoDkkFigure(..) => ErrorClass::Transient,
        }
    }

    /// Dinero's error code, or ours for mapping failures, for the dead letter.
    pub fn code(&self) -> Option<String> {
        match self {
            TransferError::Dinero(DineroError::NumberTaken { .. }) => Some("number_taken".into()),
            TransferError::Dinero(error) => error.dinero_code().map(|c| c.to_string()),
            TransferError::Mapping(MappingError::TotalsMismatch { .. }) => {
                Some("totals_mismatch".into())
            }
            TransferError::Mapping(MappingError::VatMismatch { .. }) => Some("vat_mismatch".into()),
            TransferError::Mapping(
                MappingError::BeyondInvoice { .. } | MappingError::FullAfterPartial { .. },
            ) => Some("beyond_invoice".into()),
            TransferError::Mapping(_) => Some("unmappable".into()),
            TransferError::NoInvoice { .. } => Some("no_invoice".into()),
            _ => None,
        }
    }
}
