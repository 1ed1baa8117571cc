//! Tenants: create or replace, read, list, pause, resume.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{json_body, tenant_path};
use crate::http::auth::Admin;
use crate::http::problem::ApiResult;
use crate::http::HttpState;
use crate::service::TenantInput;

pub async fn put(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let input: TenantInput = json_body(&body, None, "invalid_body")?;
    let (view, created) = state
        .core
        .run(move |core| async move { core.put_tenant(&tenant, input).await })
        .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

pub async fn get_one(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let view = state
        .core
        .run(move |core| async move { core.tenant(&tenant).await })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The cursor: `next_after` of the page before.
    after: Option<String>,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

pub async fn list(
    _: Admin,
    state: web::Data<HttpState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let ListQuery { after, limit } = query.into_inner();
    let page = state
        .core
        .run(move |core| async move { core.tenants(after, limit).await })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PauseInput {
    reason: Option<String>,
}

pub async fn pause(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let input: PauseInput = json_body(&body, Some(PauseInput::default()), "invalid_body")?;
    let view = state
        .core
        .run(move |core| async move { core.pause(&tenant, input.reason).await })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn resume(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let view = state
        .core
        .run(move |core| async move { core.resume(&tenant).await })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
