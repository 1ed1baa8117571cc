//! dinero-bridge: turns completed webshop orders into booked invoices in Dinero.
//!
//! Layers point inward: `domain` is pure; adapters such as `dinero` (the REST client) depend
//! on it, never the other way round.

pub mod dinero;
pub mod domain;
