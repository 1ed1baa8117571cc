//! HTTP errors as RFC 9457 problem+json, each with a stable `code`: the core's errors, the
//! adapter's own refusals, and whatever actix answers by itself (405, 413, a bad path or
//! query), which `render_framework_error` turns into the same shape.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::service::CoreError;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            kind: format!("https://github.com/dinero-bridge/problems#{code}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            code,
            errors: BTreeMap::new(),
        }
    }

    pub fn with_errors(mut self, errors: BTreeMap<String, String>) -> Self {
        self.errors = errors;
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, "Not found", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "Unauthorized", detail)
    }

    /// A status actix answered by itself, in the same shape as every other error.
    fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("no_route", "no such endpoint"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this endpoint does not take that method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("body_too_large", "the body exceeds http.max_body_bytes")
            }
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request came too slowly"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
                ("headers_too_large", "the request headers are too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "send application/json")
            }
            status if status.is_server_error() => ("internal", "the service failed to answer"),
            _ => ("bad_request", "the request is not valid"),
        };
        let title = status.canonical_reason().unwrap_or("Error");
        Self::new(status, code, title, detail)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        HttpResponse::build(self.status_code())
            .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
            .body(serde_json::to_string(self).expect("a problem serializes"))
    }
}

impl From<CoreError> for Problem {
    fn from(error: CoreError) -> Self {
        let detail = error.to_string();
        match error {
            CoreError::BadInput {
                code, violations, ..
            } => Problem::bad_request(code, detail).with_errors(violations),
            CoreError::NotFound { code, .. } => Problem::not_found(code, detail),
            CoreError::Conflict { code, details, .. } => {
                Problem::new(StatusCode::CONFLICT, code, "Conflict", detail).with_errors(details)
            }
            CoreError::Refused { code, .. } => {
                let title = match code {
                    "unknown_accounts" => "The account mapping names accounts Dinero does not have",
                    _ => "Dinero refused the tenant's set-up",
                };
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, title, detail)
            }
            CoreError::DineroUnavailable(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "dinero_unavailable",
                "Dinero is unavailable",
                detail,
            ),
            CoreError::Store(error) => {
                tracing::error!(%error, "store error");
                Problem::unavailable("the store cannot take the request now; retry later")
            }
            CoreError::Unavailable(_) => Problem::unavailable(detail),
        }
    }
}

pub type ApiResult<T> = Result<T, Problem>;

/// Every error answer is problem+json: one that is not JSON already (actix's own 404, 405,
/// 413, 408, in plain text or empty) is rewritten with its status kept. A JSON answer with
/// an error status (`/readyz`'s 503) is meant as it is.
pub fn render_framework_error<B>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CONTENT_TYPE) || v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let (request, original) = response.into_parts();
    let mut rendered = Problem::for_status(status).error_response();
    // Keep what the status needs said (e.g. 405's `Allow`).
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, rendered).map_into_right_body::<B>(),
    ))
}
