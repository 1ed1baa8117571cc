//! GDPR erasure of one customer's personal data (see `Core::erase`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::tenant_path;
use crate::domain::erasure::CustomerRef;
use crate::http::auth::Admin;
use crate::http::problem::{ApiResult, Problem};
use crate::http::HttpState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureInput {
    customer_id: Option<String>,
    email: Option<String>,
}

pub async fn erase(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let input: ErasureInput = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(
            "invalid_erasure",
            format!("send {{\"customer_id\": ...}} and/or {{\"email\": ...}}: {e}"),
        )
    })?;
    let who = CustomerRef {
        customer_id: input.customer_id.filter(|s| !s.trim().is_empty()),
        email: input.email.filter(|s| !s.trim().is_empty()),
    };
    let erased = state
        .core
        .run(move |core| async move { core.erase(&tenant, who).await })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "erased": erased })))
}
