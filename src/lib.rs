//! dinero-bridge: turns completed webshop orders into booked invoices in Dinero.
//!
//! Layers point inward: `domain` is pure; adapters (`dinero`, `store`, `http`) and the
//! `pipeline` that drives them depend on it, never the other way round.

pub mod app;
pub mod config;
pub mod dinero;
pub mod domain;
pub mod http;
pub mod ingest;
pub mod pipeline;
pub mod retention;
pub mod store;
