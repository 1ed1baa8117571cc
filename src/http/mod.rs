//! The HTTP adapter on actix-web: the webhook, the admin API, health and the OpenAPI document.
//! Handlers authenticate, parse, make one core call and render; every error is problem+json.

mod admin;
mod auth;
mod health;
mod openapi;
pub mod problem;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App, HttpServer};

use problem::Problem;

use crate::config::{AdminTokens, HttpSettings};
use crate::service::Core;

/// What the handlers share.
pub struct HttpState {
    pub core: Arc<Core>,
    pub admin_tokens: AdminTokens,
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
        .service(web::resource("/readyz").route(web::get().to(health::readyz)));
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
