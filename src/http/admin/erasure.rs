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
    #[serde(default, deserialize_with = "present")]
    customer_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    email: Option<String>,
}

/// A field that may be left out but, when sent, is a string (not null), as documented.
fn present<'de, D: serde::Deserializer<'de>>(field: D) -> Result<Option<String>, D::Error> {
    String::deserialize(field).map(Some)
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
    for (name, value) in [("customer_id", &input.customer_id), ("email", &input.email)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(Problem::bad_request(
                "invalid_erasure",
                format!("{name} must not be blank"),
            ));
        }
    }
    let who = CustomerRef {
        customer_id: input.customer_id,
        email: input.email,
    };
    let erased = state
        .core
        .run(move |core| async move { core.erase(&tenant, who).await })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "erased": erased })))
}
