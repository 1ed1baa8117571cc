//! Preview of an order event: what the transfer would make of it, nothing made.

use actix_web::{web, HttpResponse};

use super::tenant_path;
use crate::http::auth::Admin;
use crate::http::problem::{ApiResult, Problem};
use crate::http::HttpState;
use crate::service::checks;

/// The body is an order event as the webhook takes it; 200 with the invoice it would become.
pub async fn preview(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let checked = checks::check(&body).map_err(|error| {
        Problem::bad_request(error.code(), error.to_string()).with_errors(error.violations())
    })?;
    if checked.event.tenant() != tenant.as_str() {
        return Err(Problem::bad_request(
            "tenant_mismatch",
            "the event's tenantid is not the tenant of this URL",
        ));
    }
    let preview = state
        .core
        .run(move |core| async move { core.preview(&tenant, checked).await })
        .await?;
    Ok(HttpResponse::Ok().json(preview))
}
