//! Tenants: create or replace, read, list, pause, resume.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

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

pub async fn list(_: Admin, state: web::Data<HttpState>) -> ApiResult<HttpResponse> {
    let views = state
        .core
        .run(|core| async move { core.tenants().await })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "tenants": views })))
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
