//! The middleware every Dinero API request passes: injected faults, bearer token, Pro
//! subscription, the per-organization rate limit, spec validation, error rendering and the
//! request log. Handlers behind it only implement the resource rules.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{self, code, ApiError, PendingError};
use crate::faults::Injected;
use crate::reqlog::Entry;
use crate::serve::DropConnection;
use crate::state::tokens::Grant;
use crate::Sim;

const MAX_BODY: usize = 6 * 1024 * 1024;

/// Which grant a request was made with, for handlers that list organizations.
#[derive(Clone, Debug)]
pub struct Caller(pub Grant);

pub async fn gate(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let organization = organization_in(&path);
    let is_write = method != Method::GET;

    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = ApiError::new(413, code::VALIDATION, "The request body is too large");
            return error::render(&error, sim.config().error_style);
        }
    };
    let mut entry = Entry {
        seq: 0,
        at_ms: sim.log.elapsed_ms(),
        method: method.to_string(),
        path: path.clone(),
        route: route.clone(),
        query: query.clone(),
        organization,
        status: 0,
        fault: None,
        duration_us: 0,
        body: (is_write && !bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned()),
        traceparent: parts
            .headers
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    };

    let draw = sim.faults.draw(organization, route.as_deref(), is_write);
    if !draw.latency.is_zero() {
        tokio::time::sleep(draw.latency).await;
    }
    let outcome = match draw.before {
        Some(fault) => Err(injected(&sim, fault, &mut entry)),
        None => admit(&sim, &parts.headers, organization, &mut entry)
            .map_err(|refusal| refusal.render(&sim)),
    };
    let mut response = match outcome {
        Err(response) => response,
        Ok(grant) => {
            if let Some(problem) = request_violation(&sim, &method, route.as_deref(), &bytes) {
                error::render(&problem, sim.config().error_style)
            } else {
                let mut request = Request::from_parts(parts, Body::from(bytes));
                request.extensions_mut().insert(Caller(grant));
                let response = next.run(request).await;
                finish(&sim, response, &method, route.as_deref(), query.as_deref()).await
            }
        }
    };

    if draw.drop_after_commit && response.status().is_success() {
        entry.fault = Some("dropped_after_commit");
        response.extensions_mut().insert(DropConnection);
    }
    entry.status = response.status().as_u16();
    entry.duration_us = started.elapsed().as_micros() as u64;
    sim.log.record(entry);
    response
}

fn injected(sim: &Sim, fault: Injected, entry: &mut Entry) -> Response {
    let style = sim.config().error_style;
    match fault {
        Injected::ServerError => {
            entry.fault = Some("server_error");
            error::render(&ApiError::new(500, 0, "An error has occurred."), style)
        }
        Injected::Brownout => {
            entry.fault = Some("brownout");
            let error = ApiError::new(480, 0, "This endpoint is deprecated (brownout)");
            error::render(&error, style)
        }
        Injected::Throttled => {
            entry.fault = Some("throttled");
            let config = sim.config();
            let retry_after = (!config.no_retry_after).then_some(1);
            error::quota_exceeded(config.rate_limit, config.rate_limit_window_ms, retry_after)
        }
    }
}

/// Why a request is not let through.
enum Refusal {
    Error(ApiError),
    /// Over the rate limit, with the `Retry-After` seconds to send (if configured).
    QuotaExceeded(Option<u64>),
}

impl Refusal {
    fn render(self, sim: &Sim) -> Response {
        let config = sim.config();
        match self {
            Refusal::Error(error) => error::render(&error, config.error_style),
            Refusal::QuotaExceeded(retry_after) => {
                error::quota_exceeded(config.rate_limit, config.rate_limit_window_ms, retry_after)
            }
        }
    }
}

/// Token, organization access, Pro and rate limit.
fn admit(
    sim: &Sim,
    headers: &HeaderMap,
    organization: Option<i64>,
    entry: &mut Entry,
) -> Result<Grant, Refusal> {
    let reject = Refusal::Error;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            reject(ApiError::unauthorized(
                "Authorization has been denied for this request.",
            ))
        })?;
    let grant = sim.world.tokens.grant(token.trim()).ok_or_else(|| {
        reject(ApiError::unauthorized(
            "The access token is invalid or has expired.",
        ))
    })?;
    let Some(id) = organization else {
        return Ok(grant);
    };
    if !grant.allows(id) {
        return Err(reject(ApiError::new(
            403,
            code::UNAUTHORIZED,
            format!("You do not have access to organization {id}"),
        )));
    }
    let org = sim
        .world
        .org(id)
        .ok_or_else(|| reject(ApiError::not_found("Organization")))?;
    let mut org = org.lock();
    if !org.is_pro {
        return Err(reject(ApiError::new(
            403,
            sim.config().no_pro_error_code,
            "The organization does not have an active Pro subscription",
        )));
    }
    let config = sim.config();
    if config.rate_limit > 0 {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let window = now_ms / config.rate_limit_window_ms.max(1);
        if org.rate.window != window {
            org.rate.window = window;
            org.rate.count = 0;
        }
        if org.rate.count >= config.rate_limit {
            entry.fault = Some("rate_limited");
            let window_end = (window + 1) * config.rate_limit_window_ms;
            let retry_after = (!config.no_retry_after)
                .then(|| (window_end.saturating_sub(now_ms)).div_ceil(1000).max(1));
            return Err(Refusal::QuotaExceeded(retry_after));
        }
        org.rate.count += 1;
    }
    Ok(grant)
}

fn request_violation(
    sim: &Sim,
    method: &Method,
    route: Option<&str>,
    bytes: &Bytes,
) -> Option<ApiError> {
    let spec = sim.spec.as_ref()?;
    if bytes.is_empty() {
        return None;
    }
    let body: Value = serde_json::from_slice(bytes).ok()?;
    let problems = spec.check_request(method.as_str(), route?, &body);
    (!problems.is_empty()).then(|| {
        ApiError::validation(format!(
            "The request does not match the API: {}",
            problems.join("; ")
        ))
    })
}

/// Render a handler's pending error, and check a success against the response schema.
async fn finish(
    sim: &Sim,
    response: Response,
    method: &Method,
    route: Option<&str>,
    query: Option<&str>,
) -> Response {
    if let Some(PendingError(error)) = response.extensions().get::<PendingError>() {
        return error::render(error, sim.config().error_style);
    }
    let (Some(spec), Some(route)) = (sim.spec.as_ref(), route) else {
        return response;
    };
    if response.status() != StatusCode::OK || !spec.has_operation(method.as_str(), route) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(json) => {
            let projected = query.is_some_and(|q| q.to_ascii_lowercase().contains("fields="))
                || route.ends_with("/organizations");
            for problem in spec.check_response(method.as_str(), route, &json, projected) {
                sim.log.violation(problem);
            }
        }
        Err(_) if bytes.is_empty() => {}
        Err(error) => sim
            .log
            .violation(format!("{method} {route}: body is not JSON: {error}")),
    }
    Response::from_parts(parts, Body::from(bytes)).into_response()
}

/// The organization id in `/v{version}/{organizationId}/...`, if the path has one.
pub fn organization_in(path: &str) -> Option<i64> {
    let mut segments = path.trim_start_matches('/').split('/');
    let version = segments.next()?;
    if !version.starts_with('v') {
        return None;
    }
    segments.next()?.parse().ok()
}
