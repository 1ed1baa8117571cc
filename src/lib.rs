//! dinero-bridge: turns completed webshop orders into booked invoices in Dinero.
//!
//! Layers point inward: `domain` is pure; `service` is the core the adapters call (`http` for
//! the webhook and admin API, `ingest::kafka` for the consumer); `pipeline` drives the tenant
//! lanes through `dinero` and `store`. Nothing inward imports an adapter's framework.

pub mod admin_client;
pub mod app;
pub mod config;
pub mod dinero;
pub mod domain;
pub mod http;
pub mod import_command;
pub mod ingest;
pub mod nightly;
pub mod notifications;
pub mod pipeline;
pub mod reconcile_command;
pub mod retention;
pub mod service;
pub mod store;
pub mod telemetry;
