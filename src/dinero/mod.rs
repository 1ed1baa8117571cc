//! The Dinero REST client: authentication (personal integration and Visma Connect), a rate
//! limiter per organization, typed operations and error classification. Dinero's wire
//! format stays inside this module (`wire`); callers see the types of `types`.

mod auth;
mod client;
mod config;
mod error;
mod filter;
mod rate_limit;
mod transport;
mod types;
mod wire;

pub use auth::{Credentials, HeldRefreshToken, RefreshTokens};
pub use client::{every_page, DineroClient, OrganizationClient, MAX_PAGE};
pub use config::DineroConfig;
pub use error::{DineroError, TenantStateReason};
pub use transport::CallObserver;
pub use types::*;
