//! Liveness, readiness and the OpenAPI document.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::problem::ApiResult;
use super::HttpState;
use crate::telemetry::Metrics;

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(super::openapi::SERVED.as_str())
}

/// The Prometheus text format.
pub async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    render(&state.metrics)
}

/// The same, on the metrics listener of its own.
pub async fn metrics_only(metrics: web::Data<Metrics>) -> HttpResponse {
    render(&metrics)
}

fn render(metrics: &Metrics) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(metrics.render())
}

/// Alive: the process answers. Nothing else is asked, so it cannot fail on a slow store.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "alive"}))
}

pub async fn readyz(state: web::Data<HttpState>) -> ApiResult<HttpResponse> {
    let readiness = state
        .core
        .run(|core| async move { Ok(core.readiness().await) })
        .await?;
    let mut response = if readiness.ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    Ok(response.json(readiness))
}
