//! Every way a Dinero call can fail, classified once here (design.md §3), with Dinero's own
//! code and message kept. No token, key or secret ever appears in these messages.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::domain::ErrorClass;

/// Why a tenant cannot be served until someone changes its set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStateReason {
    /// 403 with code 90 (or 48): no active Pro subscription.
    NotPro,
    /// 403 otherwise: the credentials do not reach this organization.
    Forbidden,
    /// 401 again right after a fresh token.
    Unauthorized,
    /// The token endpoint refused the API key or refresh token.
    CredentialsRejected,
    /// The token endpoint refused the integrator's client id or secret.
    ClientRejected,
    /// No credentials configured for the tenant (or no Visma Connect client).
    CredentialsMissing,
}

impl fmt::Display for TenantStateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TenantStateReason::NotPro => "the Dinero organization has no active Pro subscription",
            TenantStateReason::Forbidden => {
                "the credentials have no access to this Dinero organization"
            }
            TenantStateReason::Unauthorized => "Dinero refused a freshly issued access token",
            TenantStateReason::CredentialsRejected => {
                "Dinero refused the tenant's API key or refresh token"
            }
            TenantStateReason::ClientRejected => {
                "Dinero refused the integration's client id or secret"
            }
            TenantStateReason::CredentialsMissing => "no Dinero credentials are configured",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DineroError {
    /// Still rate limited after waiting as long as allowed.
    #[error("{operation}: still rate limited by Dinero after waiting {waited:?}")]
    Throttled {
        operation: &'static str,
        waited: Duration,
    },

    /// 5xx, 480 brownout, a timeout or connection failure before the request went out.
    #[error("{operation}: Dinero is unavailable{}: {message}", status_suffix(*status, *code))]
    Unavailable {
        operation: &'static str,
        status: Option<u16>,
        code: Option<i64>,
        message: String,
    },

    /// The request went out and no answer came back: it may or may not have taken effect.
    #[error("{operation}: the request was sent but the answer was lost ({reason}); look the object up before creating it again")]
    Ambiguous {
        operation: &'static str,
        reason: String,
    },

    /// Booking with a chosen number failed because Dinero already used it.
    #[error("{operation}: invoice number {number} is already used in Dinero ({message})")]
    NumberTaken {
        operation: &'static str,
        number: i64,
        message: String,
    },

    /// The `Timestamp` sent is not the object's current version (code 58).
    #[error("{operation}: the Timestamp sent is outdated; read the object again ({message})")]
    StaleTimestamp {
        operation: &'static str,
        message: String,
    },

    /// The object does not exist (code 40).
    #[error("{operation}: not found in Dinero ({message})")]
    NotFound {
        operation: &'static str,
        message: String,
    },

    /// Dinero rejected the request; retrying the same request cannot help.
    #[error("{operation}: Dinero rejected the request{}: {message}{}", status_suffix(Some(*status), *code), validation_suffix(validation))]
    Rejected {
        operation: &'static str,
        status: u16,
        code: Option<i64>,
        message: String,
        validation: Vec<(String, String)>,
    },

    /// The tenant must be fixed (credentials, subscription) before anything can go on.
    #[error("{operation}: {reason}{}: {message}", status_suffix(*status, *code))]
    TenantState {
        operation: &'static str,
        reason: TenantStateReason,
        status: Option<u16>,
        code: Option<i64>,
        message: String,
    },

    /// A successful answer that does not read as the documented model.
    #[error("{operation}: unexpected answer from Dinero: {reason}")]
    UnexpectedResponse {
        operation: &'static str,
        reason: String,
    },
}

impl DineroError {
    pub fn class(&self) -> ErrorClass {
        match self {
            DineroError::Throttled { .. } => ErrorClass::Throttled,
            DineroError::Unavailable { .. } | DineroError::Ambiguous { .. } => {
                ErrorClass::Transient
            }
            // Re-reading the object gives the current Timestamp; the caller retries with it.
            DineroError::StaleTimestamp { .. } => ErrorClass::Transient,
            DineroError::NumberTaken { .. }
            | DineroError::NotFound { .. }
            | DineroError::Rejected { .. }
            | DineroError::UnexpectedResponse { .. } => ErrorClass::Permanent,
            DineroError::TenantState { .. } => ErrorClass::TenantState,
        }
    }

    /// Whether the write may have taken effect although no answer arrived.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, DineroError::Ambiguous { .. })
    }

    /// Dinero's own error code, when it sent one.
    pub fn dinero_code(&self) -> Option<i64> {
        match self {
            DineroError::Unavailable { code, .. }
            | DineroError::Rejected { code, .. }
            | DineroError::TenantState { code, .. } => *code,
            DineroError::StaleTimestamp { .. } => Some(58),
            DineroError::NotFound { .. } => Some(40),
            _ => None,
        }
    }
}

fn status_suffix(status: Option<u16>, code: Option<i64>) -> String {
    match (status, code) {
        (Some(status), Some(code)) => format!(" (HTTP {status}, code {code})"),
        (Some(status), None) => format!(" (HTTP {status})"),
        (None, Some(code)) => format!(" (code {code})"),
        (None, None) => String::new(),
    }
}

fn validation_suffix(validation: &[(String, String)]) -> String {
    if validation.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = validation
        .iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect();
    format!(" [{}]", parts.join("; "))
}

/// What an error body says, read defensively: keys in any case, `code` or `errorCode`,
/// validation errors as an object or a list, or a plain-text body.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ErrorBody {
    pub code: Option<i64>,
    pub message: String,
    pub validation: Vec<(String, String)>,
}

const MAX_MESSAGE: usize = 500;

impl ErrorBody {
    pub fn parse(body: &str) -> Self {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) else {
            return ErrorBody {
                message: truncate(body.trim()),
                ..Default::default()
            };
        };
        // The first of `names` present wins, whatever the spelling of the key.
        let get = |names: &[&str]| {
            names.iter().find_map(|name| {
                map.iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value)
            })
        };
        let code = get(&["code", "errorCode", "errorcode"]).and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
        let message = get(&["message", "errorMessage", "error_description", "error"])
            .and_then(Value::as_str)
            .map(truncate)
            .unwrap_or_else(|| truncate(body.trim()));
        let validation = match get(&["validationErrors"]) {
            Some(Value::Object(fields)) => fields
                .iter()
                .map(|(field, message)| (field.clone(), text_of(message)))
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| (String::new(), text_of(item)))
                .collect(),
            _ => match get(&["languageSpecificMessages"]) {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        let field = item.get("property").or_else(|| item.get("Property"));
                        let message = item.get("message").or_else(|| item.get("Message"));
                        (
                            field.map(text_of).unwrap_or_default(),
                            message.map(text_of).unwrap_or_default(),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            },
        };
        ErrorBody {
            code,
            message,
            validation,
        }
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => truncate(s),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => truncate(&other.to_string()),
    }
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_MESSAGE).collect();
    format!("{cut}…")
}

/// What the caller was doing, which decides how an ambiguous status reads.
#[derive(Debug, Clone, Copy)]
pub struct CallContext {
    pub operation: &'static str,
    /// The number sent with a book call, if any.
    pub booking_number: Option<i64>,
}

/// Classify a non-success answer (401 and 429 are handled before this, by the transport).
pub fn classify(context: CallContext, status: u16, body: &str) -> DineroError {
    let ErrorBody {
        code,
        message,
        validation,
    } = ErrorBody::parse(body);
    let operation = context.operation;
    if code == Some(58) || status == 409 {
        return DineroError::StaleTimestamp { operation, message };
    }
    match status {
        403 if matches!(code, Some(90) | Some(48)) => DineroError::TenantState {
            operation,
            reason: TenantStateReason::NotPro,
            status: Some(status),
            code,
            message,
        },
        403 => DineroError::TenantState {
            operation,
            reason: TenantStateReason::Forbidden,
            status: Some(status),
            code,
            message,
        },
        401 => DineroError::TenantState {
            operation,
            reason: TenantStateReason::Unauthorized,
            status: Some(status),
            code,
            message,
        },
        404 => DineroError::NotFound { operation, message },
        400 | 422 if is_number_taken(context, &message, &validation) => DineroError::NumberTaken {
            operation,
            number: context.booking_number.unwrap_or_default(),
            message,
        },
        408 | 480 | 500..=599 => DineroError::Unavailable {
            operation,
            status: Some(status),
            code,
            message,
        },
        _ => DineroError::Rejected {
            operation,
            status,
            code,
            message,
            validation,
        },
    }
}

/// Dinero documents that booking with a used number fails, not the wording: a rejected book
/// call that sent a number and mentions a number is read as the number being taken.
fn is_number_taken(context: CallContext, message: &str, validation: &[(String, String)]) -> bool {
    if context.booking_number.is_none() {
        return false;
    }
    let mentions = |text: &str| {
        let text = text.to_lowercase();
        text.contains("number") || text.contains("nummer")
    };
    mentions(message)
        || validation
            .iter()
            .any(|(field, text)| mentions(field) || mentions(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK: CallContext = CallContext {
        operation: "book invoice",
        booking_number: None,
    };

    #[test]
    fn error_bodies_are_read_in_any_spelling() {
        let camel = ErrorBody::parse(
            r#"{"code":42,"message":"Bad","validationErrors":{"Name":"is required"}}"#,
        );
        assert_eq!(camel.code, Some(42));
        assert_eq!(camel.message, "Bad");
        assert_eq!(
            camel.validation,
            vec![("Name".into(), "is required".into())]
        );
        let pascal = ErrorBody::parse(r#"{"ErrorCode":"58","Message":"Old"}"#);
        assert_eq!((pascal.code, pascal.message.as_str()), (Some(58), "Old"));
        let oauth =
            ErrorBody::parse(r#"{"error":"invalid_grant","error_description":"unknown API key"}"#);
        assert_eq!(oauth.message, "unknown API key");
        let text = ErrorBody::parse("API calls quota exceeded! maximum admitted 100 per 1m.");
        assert_eq!(text.code, None);
        assert!(text.message.starts_with("API calls quota"));
    }

    #[test]
    fn statuses_map_to_their_classes() {
        let class = |status, body: &str| classify(BOOK, status, body).class();
        assert_eq!(class(500, "oops"), ErrorClass::Transient);
        assert_eq!(class(480, ""), ErrorClass::Transient);
        assert_eq!(
            class(400, r#"{"code":42,"message":"x"}"#),
            ErrorClass::Permanent
        );
        assert_eq!(
            class(403, r#"{"code":90,"message":"x"}"#),
            ErrorClass::TenantState
        );
        assert_eq!(
            class(403, r#"{"code":41,"message":"x"}"#),
            ErrorClass::TenantState
        );
        assert!(matches!(
            classify(BOOK, 400, r#"{"code":58}"#),
            DineroError::StaleTimestamp { .. }
        ));
        assert!(matches!(
            classify(BOOK, 409, ""),
            DineroError::StaleTimestamp { .. }
        ));
    }

    #[test]
    fn a_rejected_booking_with_a_number_is_number_taken() {
        let context = CallContext {
            operation: "book invoice",
            booking_number: Some(1234),
        };
        let error = classify(
            context,
            400,
            r#"{"code":42,"message":"The voucher number 1234 is already in use"}"#,
        );
        assert!(matches!(
            error,
            DineroError::NumberTaken { number: 1234, .. }
        ));
        assert!(error.to_string().contains("1234"));
        // Without a number sent, the same answer is an ordinary rejection.
        assert!(matches!(
            classify(
                BOOK,
                400,
                r#"{"message":"The voucher number 1 is already in use"}"#
            ),
            DineroError::Rejected { .. }
        ));
    }

    #[test]
    fn long_bodies_are_truncated() {
        let body = "x".repeat(5000);
        assert!(ErrorBody::parse(&body).message.chars().count() <= MAX_MESSAGE + 1);
    }
}
