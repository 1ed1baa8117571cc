//! The pure core: the order event, money arithmetic, the mapping of an order to Dinero
//! documents, deterministic identities and the failure classes. No I/O, no framework types.

pub mod countries;
pub mod dinero_totals;
pub mod erasure;
mod failure;
pub mod identity;
pub mod ids;
pub mod mapping;
pub mod order;

pub use failure::ErrorClass;
pub use ids::{OrderId, TenantId};

#[cfg(test)]
mod mapping_tests;
