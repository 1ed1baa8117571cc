//! The commands' client of a running service's admin API (`import`, `reconcile`): the admin
//! token, problem+json refusals, and calls retried while the service is unreachable or
//! unavailable (every call the commands make may be repeated: the service answers a repeat
//! as it answered the first).

use std::time::Duration;

use serde_json::Value;

/// Attempts at a call the service could not answer.
const ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    #[error("the service refused it ({status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("the service cannot be reached: {0}")]
    Unreachable(String),
}

/// What a call sends.
pub enum Body<'a> {
    Empty,
    Json(&'a Value),
    /// JSON lines (`application/x-ndjson`).
    Lines(&'a str),
}

/// The service at `url`, as its admin.
pub struct AdminApi<'a> {
    http: reqwest::Client,
    url: &'a str,
    token: &'a str,
}

impl<'a> AdminApi<'a> {
    pub fn new(url: &'a str, token: &'a str) -> Self {
        AdminApi {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/'),
            token,
        }
    }

    /// One call to `path` (from `/v1`), retried while the service is unreachable or answers
    /// 5xx; its JSON answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Body<'_>,
    ) -> Result<Value, AdminApiError> {
        let url = format!("{}{path}", self.url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.token);
            let request = match &body {
                Body::Empty => request,
                Body::Json(json) => request.json(json),
                Body::Lines(lines) => request
                    .header("content-type", "application/x-ndjson")
                    .body(lines.to_string()),
            };
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    return response
                        .json()
                        .await
                        .map_err(|e| AdminApiError::Unreachable(e.to_string()));
                }
                Ok(response) if response.status().is_server_error() => {
                    AdminApiError::Unreachable(format!("{}", response.status()))
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let problem: Value = response.json().await.unwrap_or(Value::Null);
                    let detail = problem["detail"].as_str().unwrap_or("no detail").to_owned();
                    return Err(AdminApiError::Refused { status, detail });
                }
                Err(error) => AdminApiError::Unreachable(error.without_url().to_string()),
            };
            if attempt >= ATTEMPTS {
                return Err(failure);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
