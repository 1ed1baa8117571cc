//! The HTTP adapter on actix-web: the webhook, the admin API, health and the OpenAPI document.
//! Handlers authenticate, parse, make one core call and render; every error is problem+json.

mod admin;
mod auth;
mod health;
mod openapi;
pub mod problem;
mod server_span;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use std::future::Future;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App, HttpServer};

use problem::Problem;

use crate::config::{AdminTokens, HttpSettings};
use crate::service::Core;
use crate::telemetry::Metrics;

/// What the handlers share.
pub struct HttpState {
    pub core: Arc<Core>,
    pub admin_tokens: AdminTokens,
    pub metrics: Arc<Metrics>,
}

/// A client has this long to send a request's head; a stalled one is answered 408 and
/// dropped, so it can neither hold a worker nor delay shutdown for longer.
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection may take to flush.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// On stop: in-flight requests get this long before their workers are dropped. The work a
/// request started goes on regardless: core calls run on the application's runtime.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/v1/webhooks/{tenant_id}").route(web::post().to(webhook::receive)))
        .configure(admin::routes)
        .service(web::resource("/v1/openapi.json").route(web::get().to(health::openapi)))
        .service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::readyz)))
        .service(web::resource("/metrics").route(web::get().to(health::metrics)));
}

/// Counts every request by its route template (never the raw path: ids would make a series
/// per tenant), method and status, and times it.
fn count_request<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let started = std::time::Instant::now();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let metrics = request
        .app_data::<web::Data<HttpState>>()
        .map(|state| state.metrics.clone());
    let answer = service.call(request);
    async move {
        let response = answer.await?;
        if let Some(metrics) = metrics {
            let status = response.status().as_u16().to_string();
            metrics
                .http_requests
                .with_label_values(&[&route, &method, &status])
                .inc();
            metrics
                .http_duration
                .with_label_values(&[&route])
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(response)
    }
}

/// `/metrics` alone on a listener of its own (`metrics.listen`), e.g. a port only the
/// cluster's Prometheus reaches.
pub fn metrics_server(
    listener: std::net::TcpListener,
    metrics: Arc<Metrics>,
) -> std::io::Result<actix_web::dev::Server> {
    let metrics = web::Data::from(metrics);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .service(web::resource("/metrics").route(web::get().to(health::metrics_only)))
    })
    .workers(1)
    .disable_signals()
    .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

/// The server on an already bound listener; it stops when its handle says so (the
/// application owns the signals).
pub fn server(
    listener: std::net::TcpListener,
    state: HttpState,
    settings: &HttpSettings,
) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(state);
    let max_body = settings.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(max_body))
            .app_data(web::PathConfig::default().error_handler(|error, _| {
                Problem::bad_request("invalid_path", error.to_string()).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|error, _| {
                Problem::bad_request("invalid_query", error.to_string()).into()
            }))
            .wrap(ErrorHandlers::new().default_handler(problem::render_framework_error))
            .wrap_fn(count_request)
            .wrap_fn(server_span::trace_request)
            .configure(routes)
    })
    .disable_signals()
    .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
    .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs());
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok(server.listen(listener)?.run())
}
