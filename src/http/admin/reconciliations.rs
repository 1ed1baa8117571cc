//! Reconciliation of a shop's ledger with Dinero for a date range, on request.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::{json_body, tenant_path};
use crate::http::auth::Admin;
use crate::http::problem::ApiResult;
use crate::http::HttpState;
use crate::service::Trigger;

/// Voucher dates, in the service's time zone; `to` defaults to `from` (one day).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeBody {
    from: NaiveDate,
    to: Option<NaiveDate>,
}

/// 200 with the report: what was compared and what differs.
pub async fn reconcile(
    _: Admin,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_path(&tenant)?;
    let range: RangeBody = json_body(&body, None, "invalid_body")?;
    let (from, to) = (range.from, range.to.unwrap_or(range.from));
    let report = state
        .core
        .run(move |core| async move { core.reconcile(&tenant, from, to, Trigger::Request).await })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
