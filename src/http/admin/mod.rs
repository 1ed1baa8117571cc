//! The admin API (bearer token): tenants, orders, manual transfer of one order or a job of
//! many, corrections, preview, imports, reconciliation, dead letters, erasure.
//! Each handler authenticates (`Admin`), parses, makes one core call and renders.

mod dead_letters;
mod erasure;
mod imports;
mod orders;
mod preview;
mod reconciliations;
mod tenants;
mod transfers;

use actix_web::web;
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::domain::{OrderId, TenantId};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/v1/tenants").route(web::get().to(tenants::list)))
        .service(
            web::resource("/v1/tenants/{tenant_id}")
                .route(web::get().to(tenants::get_one))
                .route(web::put().to(tenants::put)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/pause").route(web::post().to(tenants::pause)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/resume").route(web::post().to(tenants::resume)),
        )
        .service(web::resource("/v1/tenants/{tenant_id}/orders").route(web::get().to(orders::list)))
        .service(
            web::resource("/v1/tenants/{tenant_id}/orders/{order_id}")
                .route(web::get().to(orders::get_one)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/orders/{order_id}/transfer")
                .route(web::post().to(orders::transfer)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/orders/{order_id}/resolve-conflict")
                .route(web::post().to(orders::resolve_conflict)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/imports").route(web::post().to(imports::import)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/preview")
                .route(web::post().to(preview::preview)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/reconciliations")
                .route(web::post().to(reconciliations::reconcile)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/transfers")
                .route(web::post().to(transfers::start)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/transfers/{job_id}")
                .route(web::get().to(transfers::get_one)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/transfers/{job_id}/cancel")
                .route(web::post().to(transfers::cancel)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/dead-letters")
                .route(web::get().to(dead_letters::list)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/dead-letters/{id}/retry")
                .route(web::post().to(dead_letters::retry)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/dead-letters/{id}/resolve")
                .route(web::post().to(dead_letters::resolve)),
        )
        .service(
            web::resource("/v1/tenants/{tenant_id}/erasures").route(web::post().to(erasure::erase)),
        );
}

/// Tenant ids in paths: plain identifiers only, so no path trick reaches the store.
fn tenant_path(tenant_id: &str) -> Result<TenantId, Problem> {
    TenantId::parse(tenant_id).ok_or_else(|| {
        Problem::bad_request(
            "invalid_tenant_id",
            "tenant ids are 1-64 of A-Z a-z 0-9 _ -",
        )
    })
}

fn order_path(order_id: &str) -> Result<OrderId, Problem> {
    OrderId::parse(order_id).ok_or_else(|| {
        Problem::bad_request(
            "invalid_order_id",
            "order ids are 1-100 characters without control characters",
        )
    })
}

/// A JSON body, or `default` when the body is empty.
fn json_body<T: DeserializeOwned>(
    body: &[u8],
    default: Option<T>,
    code: &'static str,
) -> Result<T, Problem> {
    match default {
        Some(default) if body.is_empty() => Ok(default),
        _ => serde_json::from_slice(body)
            .map_err(|e| Problem::bad_request(code, format!("the body is not valid: {e}"))),
    }
}
