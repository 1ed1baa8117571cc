//! The HTTP surface: webhook intake, the admin API, health, and the OpenAPI document.

pub mod admin;
pub mod problem;
pub mod webhook;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::config::{AdminTokens, Settings};
use crate::dinero::DineroClient;
use crate::pipeline::Pipeline;
use crate::store::Store;

pub struct AppState {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub dinero: DineroClient,
    pub pipeline: Arc<Pipeline>,
    pub admin_tokens: AdminTokens,
    /// False once shutdown began: intake stops, /readyz says so.
    pub accepting: std::sync::atomic::AtomicBool,
    /// Kafka mode: webhooks go through the input topic.
    pub kafka: Option<KafkaState>,
}

pub struct KafkaState {
    pub producer: crate::ingest::kafka::EventProducer,
    pub health: Arc<crate::ingest::kafka::ConsumerHealth>,
}

/// The OpenAPI document of the admin API and the webhook.
pub const OPENAPI: &str = include_str!("../../openapi/dinero-bridge.openapi.json");

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/webhooks/{tenant_id}", post(webhook::receive))
        .merge(admin::router(state.clone()))
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(state)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "alive"}))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let accepting = state.accepting.load(std::sync::atomic::Ordering::SeqCst);
    let store = state.store.ping().await.is_ok();
    // Kafka mode: the broker answered the last poll and the storm guard has not tripped.
    let kafka = state.kafka.as_ref().map(|k| k.health.ready());
    let ready = accepting && store && kafka.unwrap_or(true);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let partitions = state.kafka.as_ref().map(|k| k.health.partitions());
    let body = json!({"ready": ready, "store": store, "accepting": accepting, "kafka": kafka,
                      "partitions": partitions});
    (status, Json(body)).into_response()
}

async fn not_found() -> problem::Problem {
    problem::Problem::not_found("no_route", "no such endpoint")
}
