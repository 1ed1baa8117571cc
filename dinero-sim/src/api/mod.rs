//! The simulator's HTTP surface: Dinero's API paths (spelled as in its OpenAPI document, so
//! the route template names the operation), the token endpoints and the admin endpoints.

mod admin;
mod auth;
mod contacts;
pub mod gate;
mod listing;
mod reference;
mod vouchers;

use std::sync::Arc;

use axum::body::Bytes;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::OrgRef;
use crate::Sim;

pub fn router(sim: Arc<Sim>) -> Router {
    let api = Router::new()
        .route("/v1/organizations", get(reference::organizations))
        .route("/v1.1/organizations", get(reference::organizations_v1_1))
        .route("/v1/countries", get(reference::countries))
        .route(
            "/v1/{organizationId}/accounts/entry",
            get(reference::entry_accounts),
        )
        .route(
            "/v1/{organizationId}/accounts/deposit",
            get(reference::deposit_accounts),
        )
        .route("/v1/{organizationId}/vatTypes", get(reference::vat_types))
        .route(
            "/v1/{organizationId}/contacts",
            get(contacts::list_v1).post(contacts::create),
        )
        .route("/v2/{organizationId}/contacts", get(contacts::list_v2))
        .route(
            "/v1/{organizationId}/contacts/{guid}",
            get(contacts::get_one),
        )
        .route(
            "/v2/{organizationId}/contacts/{guid}",
            put(contacts::update),
        )
        .route(
            "/v1/{organizationId}/invoices",
            get(vouchers::list_invoices).post(vouchers::create_invoice),
        )
        .route(
            "/v1/{organizationId}/invoices/fetch",
            post(vouchers::fetch_invoice),
        )
        .route(
            "/v1/{organizationId}/invoices/{guid}",
            get(vouchers::get_invoice).delete(vouchers::delete_invoice),
        )
        .route(
            "/v1.2/{organizationId}/invoices/{guid}",
            put(vouchers::update_invoice),
        )
        .route(
            "/v1/{organizationId}/invoices/{guid}/book",
            post(vouchers::book_invoice),
        )
        .route(
            "/v1/{organizationId}/invoices/{guid}/email",
            post(vouchers::email_invoice),
        )
        .route(
            "/v3/{organizationId}/invoices/{guid}/e-invoice",
            post(vouchers::e_invoice),
        )
        .route(
            "/v1/{organizationId}/invoices/{guid}/payments",
            post(vouchers::create_payment),
        )
        .route(
            "/v2/{organizationId}/invoices/{guid}/payments",
            get(vouchers::list_payments),
        )
        .route(
            "/v1/{organizationId}/invoices/{guid}/payments/{paymentGuid}",
            delete(vouchers::delete_payment),
        )
        .route(
            "/v1/{organizationId}/invoices/{guid}/generate-creditnote",
            post(vouchers::generate_credit_note),
        )
        .route(
            "/v1/{organizationId}/sales/creditnotes",
            get(vouchers::list_credit_notes).post(vouchers::create_credit_note),
        )
        .route(
            "/v1/{organizationId}/sales/creditnotes/{guid}",
            get(vouchers::get_credit_note),
        )
        .route(
            "/v1/{organizationId}/sales/creditnotes/{guid}/book",
            post(vouchers::book_credit_note),
        )
        .route(
            "/v1/{organizationId}/sales/creditnotes/{guid}/payments",
            get(vouchers::list_credit_note_payments).post(vouchers::create_credit_note_payment),
        )
        .layer(from_fn_with_state(sim.clone(), gate::gate));

    Router::new()
        .merge(api)
        .route("/dineroapi/oauth/token", post(auth::personal_token))
        .route("/connect/token", post(auth::connect_token))
        .nest("/_sim", admin::router())
        .fallback(not_found)
        .with_state(sim)
}

async fn not_found() -> Response {
    let error = ApiError::new(404, crate::error::code::NOT_FOUND, "No such endpoint");
    crate::error::render(&error, crate::config::ErrorStyle::Camel).into_response()
}

/// Parse a JSON body the way Dinero reports bad ones: a validation error naming the problem.
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    if bytes.is_empty() {
        return Err(ApiError::validation("The request body is missing"));
    }
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::validation(format!("The request body is invalid: {error}")))
}

pub(crate) fn parse_guid(text: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| ApiError::not_found(what))
}

pub(crate) fn org(sim: &Sim, id: i64) -> ApiResult<OrgRef> {
    sim.world
        .org(id)
        .ok_or_else(|| ApiError::not_found("Organization"))
}
