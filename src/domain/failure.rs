//! The failure classes of design.md §3: each boundary classifies its errors once, and the
//! pipeline acts on the class alone.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Rate limited: wait and try again; never counts as a failure.
    Throttled,
    /// Worth retrying with backoff (5xx, 480, timeouts, lost connections).
    Transient,
    /// Retrying cannot fix it: dead letter at once.
    Permanent,
    /// The tenant's set-up is wrong (credentials, Pro): pause the tenant, hold the event.
    TenantState,
    /// The input itself is invalid: reject at the door.
    BadInput,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::TenantState => "tenant_state",
            ErrorClass::BadInput => "bad_input",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
