//! History import: JSON lines of past order events into the inbox, and the job that
//! transfers them (`dinero-bridge import` sends a file here in parts).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::tenant_path;
use crate::http::auth::Admin;
use crate::http::problem::ApiResult;
use crate::http::HttpState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The number of the body's first line in the file it comes from (for the report).
    #[serde(default = "first")]
    first_line: usize,
}

fn first() -> usize {
    1
}

/// 202 with what was taken and the job transferring it; 200 when nothing new was taken.
pub async fn import(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let first_line = query.first_line;
    let report = state
        .core
        .run(move |core| async move { core.import(&tenant, &body, first_line).await })
        .await?;
    Ok(if report.job.is_some() {
        HttpResponse::Accepted().json(report)
    } else {
        HttpResponse::Ok().json(report)
    })
}
