//! Transfers of selected orders: start a job, read its progress, cancel it.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{json_body, order_path, tenant_path};
use crate::http::auth::Admin;
use crate::http::problem::{ApiResult, Problem};
use crate::http::HttpState;
use crate::pipeline::Overrides;
use crate::service::Selection;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// These orders, in this order.
    order_ids: Option<Vec<String>>,
    /// Or the orders this filter finds.
    filter: Option<FilterBody>,
    /// The same per-call changes a single transfer takes.
    #[serde(default)]
    overrides: Overrides,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    status: Option<String>,
    /// Received at or after.
    from: Option<DateTime<Utc>>,
    /// Received before.
    to: Option<DateTime<Utc>>,
}

/// 202 with the job (its orders all waiting) and where to follow it.
pub async fn start(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let body: StartBody = json_body(&body, None, "invalid_body")?;
    let selection = match (body.order_ids, body.filter) {
        (Some(ids), None) => Selection::Orders(
            ids.iter()
                .map(|id| order_path(id))
                .collect::<Result<_, _>>()?,
        ),
        (None, Some(FilterBody { status, from, to })) => Selection::Filter { status, from, to },
        _ => {
            return Err(Problem::bad_request(
                "invalid_body",
                "give either order_ids or filter",
            ))
        }
    };
    let overrides = body.overrides;
    let job = state
        .core
        .run(move |core| async move { core.start_transfer(&tenant, selection, overrides).await })
        .await?;
    let location = format!("/v1/tenants/{}/transfers/{}", job.tenant_id, job.id);
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", location))
        .json(job))
}

/// Job ids are uuids: anything else names no job.
fn job_path(job: &str) -> Result<String, Problem> {
    uuid::Uuid::parse_str(job)
        .map(|id| id.to_string())
        .map_err(|_| Problem::bad_request("invalid_job_id", "job ids are uuids"))
}

pub async fn get_one(
    _: Admin,
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (tenant, job) = path.into_inner();
    let (tenant, job) = (tenant_path(&tenant)?, job_path(&job)?);
    let job = state
        .core
        .run(move |core| async move { core.transfer_job(&tenant, &job).await })
        .await?;
    Ok(HttpResponse::Ok().json(job))
}

/// 200 with the job cancelled; 409 when it was not running.
pub async fn cancel(
    _: Admin,
    state: web::Data<HttpState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (tenant, job) = path.into_inner();
    let (tenant, job) = (tenant_path(&tenant)?, job_path(&job)?);
    let job = state
        .core
        .run(move |core| async move { core.cancel_transfer(&tenant, &job).await })
        .await?;
    Ok(HttpResponse::Ok().json(job))
}
