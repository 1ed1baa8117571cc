//! Admin endpoints under `/_sim` (no auth): seed scenarios, set faults, read the request log,
//! counters and state, mint Visma Connect authorization codes, expire tokens.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::FaultConfig;
use crate::error::ApiError;
use crate::reqlog::{Entry, Stats};
use crate::scenario::Scenario;
use crate::Sim;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/scenario", post(seed))
        .route("/faults", put(set_faults).get(get_faults))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/stats", get(stats))
        .route("/organizations/{id}", get(organization))
        .route("/connect/codes", post(mint_code))
        .route("/tokens/expire", post(expire_tokens))
}

fn bad_request(error: ApiError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"message": error.message})),
    )
        .into_response()
}

async fn seed(State(sim): State<Arc<Sim>>, Json(scenario): Json<Scenario>) -> Response {
    match sim.world.seed(scenario) {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"organizations": sim.world.org_ids()})),
        )
            .into_response(),
        Err(error) => bad_request(error),
    }
}

async fn set_faults(State(sim): State<Arc<Sim>>, Json(faults): Json<FaultConfig>) -> Response {
    let rates = [
        faults.error_rate,
        faults.ambiguous_rate,
        faults.throttle_rate,
        faults.brownout_rate,
    ];
    if rates.iter().any(|rate| !(0.0..=1.0).contains(rate)) {
        return bad_request(ApiError::validation("rates must be between 0 and 1"));
    }
    sim.faults.set(faults);
    Json(sim.faults.current()).into_response()
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Json<FaultConfig> {
    Json(sim.faults.current())
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    since: u64,
    organization: Option<i64>,
}

async fn requests(State(sim): State<Arc<Sim>>, Query(query): Query<LogQuery>) -> Json<Vec<Entry>> {
    Json(sim.log.entries(query.since, query.organization))
}

async fn clear_requests(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.log.clear();
    StatusCode::NO_CONTENT
}

async fn stats(State(sim): State<Arc<Sim>>) -> Json<Stats> {
    let mut stats = sim.log.stats();
    stats.tokens_issued = sim.world.tokens.issued();
    Json(stats)
}

/// Everything an end-to-end test checks: invoices with number, status, reference and totals.
async fn organization(State(sim): State<Arc<Sim>>, Path(id): Path<i64>) -> Response {
    let Some(org) = sim.world.org(id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "no such organization"})),
        )
            .into_response();
    };
    let org = org.lock();
    let today = sim.world.behaviour.today();
    let vouchers = |kind| -> Vec<Value> {
        org.vouchers(kind)
            .values()
            .map(|v| org.voucher_json(v, today))
            .collect()
    };
    let contacts: Vec<Value> = org.contacts.values().map(|c| org.contact_json(c)).collect();
    Json(json!({
        "id": org.id,
        "name": org.name,
        "is_pro": org.is_pro,
        "contacts": contacts,
        "invoices": vouchers(crate::state::org::VoucherKind::Invoice),
        "credit_notes": vouchers(crate::state::org::VoucherKind::CreditNote),
        "used_invoice_numbers": org.used_invoice_numbers,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct CodeRequest {
    organizations: Vec<i64>,
}

/// What Visma Connect hands the redirect URI after the user consents.
async fn mint_code(State(sim): State<Arc<Sim>>, Json(request): Json<CodeRequest>) -> Json<Value> {
    Json(json!({"code": sim.world.tokens.mint_code(request.organizations)}))
}

async fn expire_tokens(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"expired": sim.world.tokens.expire_all()}))
}
