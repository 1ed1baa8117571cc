//! One server span per request, named and attributed as the OpenTelemetry HTTP conventions
//! say, continuing the caller's W3C `traceparent`. Probes and scrapes get none: they would be
//! most of the spans and say nothing.

use std::future::Future;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use tracing::{field, Instrument};

use crate::telemetry::traces;

const UNTRACED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

pub fn trace_request<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let route = request.match_pattern();
    let span = if route.as_deref().is_some_and(|r| UNTRACED.contains(&r)) {
        tracing::Span::none()
    } else {
        let method = request.method().as_str();
        // The template, never the raw path, names the span: ids would make one name per shop.
        let name = match &route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        };
        let span = tracing::info_span!(
            "http.server",
            otel.name = %name,
            otel.kind = "server",
            http.request.method = %method,
            http.route = route.as_deref(),
            url.path = %request.path(),
            url.scheme = %request.connection_info().scheme(),
            user_agent.original = header("user-agent"),
            http.response.status_code = field::Empty,
            error.type = field::Empty,
            otel.status_code = field::Empty,
        );
        traces::continue_from(&span, header("traceparent"));
        span
    };
    let answer = span.in_scope(|| service.call(request));
    async move {
        let response = answer.instrument(span.clone()).await?;
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        // Only the server's own failures mark the span an error; a 4xx is the caller's.
        if status.is_server_error() {
            span.record("error.type", status.as_str());
            span.record("otel.status_code", "ERROR");
        }
        Ok(response)
    }
}
