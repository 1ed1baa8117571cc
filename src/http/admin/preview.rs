//! Preview of an order event: what the transfer would make of it, nothing made.

use actix_web::{web, HttpResponse};

use super::tenant_path;
use crate::http::auth::Admin;
use crate::http::problem::ApiResult;
use crate::http::webhook::parse_event;
use crate::http::HttpState;

/// The body is an order event as the webhook takes it; 200 with the invoice it would become.
pub async fn preview(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let checked = parse_event(&body, &tenant)?;
    let preview = state
        .core
        .run(move |core| async move { core.preview(&tenant, checked).await })
        .await?;
    Ok(HttpResponse::Ok().json(preview))
}
