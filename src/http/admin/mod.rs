//! The admin API (bearer token): tenants, orders, manual transfer, dead letters, erasure.

mod dead_letters;
mod erasure;
mod orders;
mod tenants;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::problem::Problem;
use super::AppState;
use crate::domain::order::is_identifier;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/tenants", get(tenants::list))
        .route(
            "/v1/tenants/{tenant_id}",
            get(tenants::get_one).put(tenants::put),
        )
        .route("/v1/tenants/{tenant_id}/pause", post(tenants::pause))
        .route("/v1/tenants/{tenant_id}/resume", post(tenants::resume))
        .route("/v1/tenants/{tenant_id}/orders", get(orders::list))
        .route(
            "/v1/tenants/{tenant_id}/orders/{order_id}",
            get(orders::get_one),
        )
        .route(
            "/v1/tenants/{tenant_id}/orders/{order_id}/transfer",
            post(orders::transfer),
        )
        .route(
            "/v1/tenants/{tenant_id}/dead-letters",
            get(dead_letters::list),
        )
        .route(
            "/v1/tenants/{tenant_id}/dead-letters/{id}/retry",
            post(dead_letters::retry),
        )
        .route(
            "/v1/tenants/{tenant_id}/dead-letters/{id}/resolve",
            post(dead_letters::resolve),
        )
        .route("/v1/tenants/{tenant_id}/erasures", post(erasure::erase))
        .route_layer(from_fn_with_state(state, authorize))
}

async fn authorize(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, Problem> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            Problem::unauthorized("missing_token", "send Authorization: Bearer <admin token>")
        })?;
    if !state.admin_tokens.accepts(token.trim()) {
        return Err(Problem::unauthorized(
            "invalid_token",
            "the admin token is not valid",
        ));
    }
    Ok(next.run(request).await)
}

/// Tenant ids in paths: plain identifiers only, so no path trick reaches the store.
pub(crate) fn tenant_path(tenant_id: &str) -> Result<(), Problem> {
    if is_identifier(tenant_id) {
        Ok(())
    } else {
        Err(Problem::bad_request(
            "invalid_tenant_id",
            "tenant ids are 1-64 of A-Z a-z 0-9 _ -",
        ))
    }
}

pub(crate) async fn existing_tenant(
    state: &AppState,
    tenant_id: &str,
) -> Result<crate::store::Tenant, Problem> {
    tenant_path(tenant_id)?;
    state
        .store
        .tenant(tenant_id)
        .await?
        .ok_or_else(|| Problem::not_found("unknown_tenant", format!("no tenant '{tenant_id}'")))
}
