//! One Dinero call from start to classified end: rate limiter, bearer token, one renewal on
//! 401, waiting out 429s, timeouts, and telling a lost answer (ambiguous) from a request that
//! never left.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use tracing::{field, Instrument};

use crate::telemetry::traces;

use super::auth::{Credentials, TokenCache};
use super::config::DineroConfig;
use super::error::{classify, CallContext, DineroError, TenantStateReason};
use super::rate_limit::OrganizationLimiter;

/// One request as the typed operations describe it.
pub struct Call {
    pub operation: &'static str,
    pub method: Method,
    /// The path template, for traces and metrics (`/v1/{organizationId}/invoices`).
    pub template: &'static str,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    /// The number sent with a book call, to recognise "number already used".
    pub booking_number: Option<i64>,
}

impl Call {
    pub fn new(
        operation: &'static str,
        method: Method,
        template: &'static str,
        path: String,
    ) -> Self {
        Call {
            operation,
            method,
            template,
            path,
            query: Vec::new(),
            body: None,
            booking_number: None,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        self.body = Some(serde_json::to_vec(body).expect("request models serialize"));
        self
    }

    fn is_write(&self) -> bool {
        self.method != Method::GET
    }
}

/// Told of every exchange with Dinero and every wait before one (metrics live outside this
/// module, which knows nothing of them).
pub trait CallObserver: Send + Sync {
    /// One exchange ended: Dinero's status, or `None` when no answer came.
    fn answered(&self, operation: &'static str, status: Option<u16>, elapsed: Duration);
    /// A wait before a call: `retry_after` (Dinero's 429) or `limiter` (our own budget).
    fn waited(&self, cause: &'static str, waited: Duration);
}

pub struct Transport {
    pub http: reqwest::Client,
    pub config: DineroConfig,
    pub tokens: TokenCache,
    limiter: OrganizationLimiter,
    observer: Option<Arc<dyn CallObserver>>,
}

/// The answer of a successful call: status and body text.
pub struct Answer {
    pub body: String,
}

impl Transport {
    pub fn new(
        config: DineroConfig,
        observer: Option<Arc<dyn CallObserver>>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout())
            .timeout(config.request_timeout())
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("dinero-bridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let limiter = OrganizationLimiter::new(config.requests_per_minute, config.burst);
        Ok(Transport {
            http,
            config,
            tokens: TokenCache::new(),
            limiter,
            observer,
        })
    }

    fn observe(&self, operation: &'static str, status: Option<u16>, elapsed: Duration) {
        if let Some(observer) = &self.observer {
            observer.answered(operation, status, elapsed);
        }
    }

    fn observe_wait(&self, cause: &'static str, waited: Duration) {
        if let (Some(observer), false) = (&self.observer, waited.is_zero()) {
            observer.waited(cause, waited);
        }
    }

    pub async fn execute(
        &self,
        organization: i64,
        credentials: &Credentials,
        call: Call,
    ) -> Result<Answer, DineroError> {
        // One client span per call (OpenTelemetry HTTP conventions); its context goes to
        // Dinero as `traceparent`. Never the URL's query or any header: tokens live there.
        let span = tracing::info_span!(
            "dinero.call",
            otel.name = format!("{} {}", call.method, call.template),
            otel.kind = "client",
            dinero.operation = call.operation,
            http.request.method = %call.method,
            url.template = call.template,
            server.address = self.config.api_host(),
            dinero.organization = organization,
            http.response.status_code = field::Empty,
            error.type = field::Empty,
            otel.status_code = field::Empty,
            dinero.throttled_ms = field::Empty,
        );
        self.execute_in_span(organization, credentials, call)
            .instrument(span)
            .await
    }

    async fn execute_in_span(
        &self,
        organization: i64,
        credentials: &Credentials,
        call: Call,
    ) -> Result<Answer, DineroError> {
        let context = CallContext {
            operation: call.operation,
            booking_number: call.booking_number,
        };
        let url = format!("{}{}", self.config.api_url.trim_end_matches('/'), call.path);
        let max_wait = Duration::from_secs(self.config.max_throttle_wait_secs);
        let mut throttled = Duration::ZERO;
        let mut renewed = false;
        loop {
            let queued = Instant::now();
            self.limiter.acquire(organization).await;
            self.observe_wait("limiter", queued.elapsed());
            let token = self
                .tokens
                .token(&self.http, &self.config, organization, credentials)
                .await?;
            let mut request = self
                .http
                .request(call.method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .header(ACCEPT, "application/json")
                .query(&call.query);
            if let Some(body) = &call.body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            if let Some(traceparent) = traces::current_traceparent() {
                request = request.header("traceparent", traceparent);
            }
            let sent = Instant::now();
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    self.observe(call.operation, None, sent.elapsed());
                    failed_span(if error.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    });
                    return Err(send_failure(&call, &error));
                }
            };
            let status = response.status();
            self.observe(call.operation, Some(status.as_u16()), sent.elapsed());
            tracing::Span::current().record("http.response.status_code", status.as_u16());
            if status.is_client_error() || status.is_server_error() {
                failed_span(status.as_str());
            }
            if status == StatusCode::UNAUTHORIZED && !renewed {
                // Often just expired early: renew once, then believe Dinero.
                renewed = true;
                self.tokens.invalidate(organization, &token).await;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(response.headers());
                if throttled + wait > max_wait {
                    return Err(DineroError::Throttled {
                        operation: call.operation,
                        waited: throttled,
                    });
                }
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    "rate limited by Dinero; waiting"
                );
                tokio::time::sleep(wait).await;
                self.observe_wait("retry_after", wait);
                throttled += wait;
                tracing::Span::current()
                    .record("dinero.throttled_ms", throttled.as_millis() as u64);
                continue;
            }
            let body = match response.text().await {
                Ok(body) => body,
                Err(error) if status.is_success() && call.is_write() => {
                    return Err(DineroError::Ambiguous {
                        operation: call.operation,
                        reason: describe(&error),
                    })
                }
                Err(error) => {
                    return Err(DineroError::Unavailable {
                        operation: call.operation,
                        status: Some(status.as_u16()),
                        code: None,
                        message: describe(&error),
                    })
                }
            };
            if status.is_success() {
                return Ok(Answer { body });
            }
            let error = classify(context, status.as_u16(), &body);
            if let DineroError::TenantState {
                reason: TenantStateReason::Unauthorized,
                ..
            } = error
            {
                tracing::warn!("Dinero refused a fresh token");
            }
            return Err(error);
        }
    }
}

/// A request that failed without an answer. Connection failures happen before anything is
/// sent; anything later may have reached Dinero, so a write is ambiguous.
fn send_failure(call: &Call, error: &reqwest::Error) -> DineroError {
    if error.is_connect() || !call.is_write() {
        return DineroError::Unavailable {
            operation: call.operation,
            status: None,
            code: None,
            message: describe(error),
        };
    }
    DineroError::Ambiguous {
        operation: call.operation,
        reason: describe(error),
    }
}

/// A reqwest error in words, without its URL (which needs no secret, but stays short).
pub fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "answer cut off"
    } else {
        "connection failed"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// `Retry-After` in seconds when Dinero sends it; otherwise the start of the next minute,
/// when Dinero's per-minute window resets.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let header = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match header {
        Some(seconds) => Duration::from_secs(seconds.clamp(1, 120)),
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let into_minute = now.as_millis() as u64 % 60_000;
            Duration::from_millis(60_000 - into_minute + 250)
        }
    }
}

/// Mark the current call's span failed: `error.type` is the status code or what broke.
fn failed_span(error_type: &str) {
    let span = tracing::Span::current();
    span.record("error.type", error_type);
    span.record("otel.status_code", "ERROR");
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_seconds_are_honoured_and_bounded() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Duration::from_secs(7));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0"));
        assert_eq!(retry_after(&headers), Duration::from_secs(1));
    }

    #[test]
    fn without_retry_after_the_wait_ends_just_after_the_next_minute_starts() {
        let wait = retry_after(&HeaderMap::new());
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(60_250),
            "{wait:?}"
        );
    }
}
