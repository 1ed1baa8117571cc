//! Errors in Dinero's shapes: a JSON body with code, message and validation errors, or the
//! plain-text body of a 429.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::config::ErrorStyle;

/// Dinero's documented error codes (ERR, SPEC).
pub mod code {
    pub const NOT_FOUND: i64 = 40;
    pub const UNAUTHORIZED: i64 = 41;
    pub const VALIDATION: i64 = 42;
    pub const LIMIT_EXCEEDED: i64 = 43;
    pub const TIMESTAMP_OUTDATED: i64 = 58;
}

/// An error answer of the API. The body is rendered in the configured [`ErrorStyle`] by the
/// middleware, which is why the style is not known here.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub validation_errors: BTreeMap<String, String>,
}

impl ApiError {
    pub fn new(status: u16, code: i64, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
            validation_errors: BTreeMap::new(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, code::VALIDATION, message)
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut error = Self::validation(format!("Validation failed: {message}"));
        error.validation_errors.insert(field.to_owned(), message);
        error
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, code::NOT_FOUND, format!("{what} was not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, code::UNAUTHORIZED, message)
    }

    /// The JSON body in the given style.
    pub fn body(&self, style: ErrorStyle) -> Value {
        let (code_key, message_key, validation_key, language_key) = match style {
            ErrorStyle::Camel => (
                "code",
                "message",
                "validationErrors",
                "languageSpecificMessages",
            ),
            ErrorStyle::Pascal => (
                "ErrorCode",
                "Message",
                "ValidationErrors",
                "LanguageSpecificMessages",
            ),
        };
        let mut body = Map::new();
        body.insert(code_key.into(), json!(self.code));
        body.insert(message_key.into(), json!(self.message));
        if !self.validation_errors.is_empty() {
            body.insert(validation_key.into(), json!(self.validation_errors));
            let per_language: Vec<Value> = self
                .validation_errors
                .iter()
                .map(|(property, message)| json!({"property": property, "message": message}))
                .collect();
            body.insert(language_key.into(), Value::Array(per_language));
        }
        Value::Object(body)
    }
}

/// Handlers return `ApiError` and the middleware renders it; this marker carries it there.
#[derive(Clone, Debug)]
pub struct PendingError(pub ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(PendingError(self));
        response
    }
}

/// Render a pending error with the style in force.
pub fn render(error: &ApiError, style: ErrorStyle) -> Response {
    let mut response = (error.status, axum::Json(error.body(style))).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The 429 answer: plain text as in BP ("API calls quota exceeded! ..."), optionally with a
/// `Retry-After` in whole seconds.
pub fn quota_exceeded(limit: u32, window_ms: u64, retry_after_secs: Option<u64>) -> Response {
    let period = if window_ms.is_multiple_of(60_000) {
        format!("{}m", window_ms / 60_000)
    } else {
        format!("{}ms", window_ms)
    };
    let body = format!("API calls quota exceeded! maximum admitted {limit} per {period}.");
    let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
    if let Some(seconds) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

pub type ApiResult<T> = Result<T, ApiError>;
