//! The core's one error type: each variant knows its failure class, and the adapters render
//! it (problem+json over HTTP, a dead-letter record for Kafka) without looking inside.

use std::collections::BTreeMap;

use crate::dinero::DineroError;
use crate::domain::{ErrorClass, TenantId};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The request itself is wrong; `code` is stable, `violations` name the fields.
    #[error("{message}")]
    BadInput {
        code: &'static str,
        message: String,
        violations: BTreeMap<String, String>,
    },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The request is valid but the state forbids it now (e.g. erasing a waiting order).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: BTreeMap<String, String>,
    },
    /// Dinero refused the tenant's set-up (credentials, Pro, accounts).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// Dinero could not be asked (down, throttled, timed out).
    #[error("Dinero is unavailable: {0}")]
    DineroUnavailable(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The broker, or shutdown: the caller retries later.
    #[error("{0}")]
    Unavailable(String),
}

impl CoreError {
    pub fn bad_input(code: &'static str, message: impl Into<String>) -> Self {
        CoreError::BadInput {
            code,
            message: message.into(),
            violations: BTreeMap::new(),
        }
    }

    pub fn unknown_tenant(tenant: &TenantId) -> Self {
        CoreError::NotFound {
            code: "unknown_tenant",
            message: format!("no tenant '{tenant}'"),
        }
    }

    /// Dinero's answer to a set-up check: refused, or not reachable now.
    pub fn from_dinero(error: &DineroError) -> Self {
        match error.class() {
            ErrorClass::TenantState | ErrorClass::Permanent | ErrorClass::BadInput => {
                CoreError::Refused {
                    code: "dinero_refused",
                    message: error.to_string(),
                }
            }
            ErrorClass::Transient | ErrorClass::Throttled => {
                CoreError::DineroUnavailable(error.to_string())
            }
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            CoreError::BadInput { .. } | CoreError::NotFound { .. } => ErrorClass::BadInput,
            CoreError::Conflict { .. } => ErrorClass::Permanent,
            CoreError::Refused { .. } => ErrorClass::TenantState,
            CoreError::DineroUnavailable(_) | CoreError::Unavailable(_) => ErrorClass::Transient,
            CoreError::Store(error) => error.class(),
        }
    }
}
