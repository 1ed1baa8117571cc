//! Dead letters: list, retry one now, or resolve one by hand (kept for audit).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::tenant_path;
use crate::http::auth::Admin;
use crate::http::problem::{ApiResult, Problem};
use crate::http::HttpState;

pub async fn list(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let letters = state
        .core
        .run(move |core| async move { core.dead_letters(&tenant).await })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "dead_letters": letters })))
}

pub async fn retry(
    _: Admin,
    state: web::Data<HttpState>,
    path: web::Path<(String, i64)>,
) -> ApiResult<HttpResponse> {
    let (tenant, id) = path.into_inner();
    let tenant = tenant_path(&tenant)?;
    let (letter, transferred) = state
        .core
        .run(move |core| async move { core.retry_dead_letter(&tenant, id).await })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "dead_letter": letter, "transferred": transferred })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    reason: String,
}

pub async fn resolve(
    _: Admin,
    state: web::Data<HttpState>,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (tenant, id) = path.into_inner();
    let tenant = tenant_path(&tenant)?;
    let input: ResolveInput = serde_json::from_slice(&body).map_err(|_| {
        Problem::bad_request(
            "reason_required",
            "send {\"reason\": \"...\"}: why it is resolved by hand",
        )
    })?;
    let letter = state
        .core
        .run(move |core| async move { core.resolve_dead_letter(&tenant, id, &input.reason).await })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "dead_letter": letter })))
}
