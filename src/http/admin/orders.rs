//! Orders: the list (filtered and paged by the store), one order in full, manual transfer.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{json_body, order_path, tenant_path};
use crate::http::auth::Admin;
use crate::http::problem::ApiResult;
use crate::http::HttpState;
use crate::pipeline::Overrides;
use crate::service::OrderQuery;
use crate::store::ConflictResolution;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    /// The cursor: `next_after` of the page before.
    after: Option<i64>,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    500
}

pub async fn list(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let ListQuery {
        status,
        after,
        limit,
    } = query.into_inner();
    let query = OrderQuery {
        status,
        after,
        limit,
    };
    let page = state
        .core
        .run(move |core| async move { core.orders(&tenant, query).await })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_one(
    _: Admin,
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (tenant, order) = path.into_inner();
    let (tenant, order) = (tenant_path(&tenant)?, order_path(&order)?);
    let detail = state
        .core
        .run(move |core| async move { core.order(&tenant, &order).await })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// The shop's "transfer" button: 200 when the order is done, 422 when it failed.
pub async fn transfer(
    _: Admin,
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (tenant, order) = path.into_inner();
    let (tenant, order) = (tenant_path(&tenant)?, order_path(&order)?);
    let overrides: Overrides = json_body(&body, Some(Overrides::default()), "invalid_body")?;
    let (summary, done) = state
        .core
        .run(move |core| async move { core.transfer(&tenant, &order, overrides).await })
        .await?;
    Ok(if done {
        HttpResponse::Ok().json(summary)
    } else {
        HttpResponse::UnprocessableEntity().json(summary)
    })
}

/// How a conflict is resolved.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    resolution: Resolution,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Resolution {
    KeepBooked,
    Rebook,
}

/// Resolve an order's conflict: 200 with what changed and the order's summary (422 when a
/// rebook's transfer failed: the summary says why).
pub async fn resolve_conflict(
    _: Admin,
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (tenant, order) = path.into_inner();
    let (tenant, order) = (tenant_path(&tenant)?, order_path(&order)?);
    let body: ResolveBody = json_body(&body, None, "invalid_body")?;
    let resolution = match body.resolution {
        Resolution::KeepBooked => ConflictResolution::KeepBooked,
        Resolution::Rebook => ConflictResolution::Rebook,
    };
    let (resolved, summary, done) = state
        .core
        .run(move |core| async move { core.resolve_conflict(&tenant, &order, resolution).await })
        .await?;
    let answer = serde_json::json!({"resolved": resolved, "order": summary});
    Ok(if done {
        HttpResponse::Ok().json(answer)
    } else {
        HttpResponse::UnprocessableEntity().json(answer)
    })
}
