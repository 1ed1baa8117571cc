//! Token endpoints: the personal-integration password grant (authz.dinero.dk) and Visma
//! Connect's authorization_code and refresh_token grants. Errors follow RFC 6749 §5.2.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use crate::state::tokens::{Issued, TokenError};
use crate::Sim;

type FormData = HashMap<String, String>;

pub async fn personal_token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let Some((client_id, client_secret)) = basic_credentials(&headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Basic client credentials required",
        );
    };
    if sim
        .world
        .tokens
        .check_client(&client_id, &client_secret, false)
        .is_err()
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("grant_type") != "password" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use grant_type=password",
        );
    }
    let scopes: Vec<&str> = field("scope").split_whitespace().collect();
    if !(scopes.contains(&"read") && scopes.contains(&"write")) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope must be 'read write'",
        );
    }
    let (username, password) = (field("username"), field("password"));
    if username.is_empty() || username != password {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "username and password must both be the organization's API key",
        );
    }
    match sim.world.org_by_api_key(username) {
        Some(org) => token_response(sim.world.tokens.issue_personal(org)),
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown API key"),
    }
}

pub async fn connect_token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let (client_id, client_secret) =
        basic_credentials(&headers).unwrap_or_else(|| (field("client_id"), field("client_secret")));
    if sim
        .world
        .tokens
        .check_client(&client_id, &client_secret, true)
        .is_err()
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let result = match field("grant_type").as_str() {
        "authorization_code" => {
            if field("redirect_uri").is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "redirect_uri is required",
                );
            }
            sim.world.tokens.exchange_code(&field("code"))
        }
        "refresh_token" => sim.world.tokens.refresh(&field("refresh_token")),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "use authorization_code or refresh_token",
            )
        }
    };
    match result {
        Ok(issued) => token_response(issued),
        Err(TokenError::InvalidGrant(why)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why)
        }
        Err(TokenError::InvalidClient) => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client")
        }
    }
}

fn token_response(issued: Issued) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = json!(refresh);
        body["scope"] = json!("dineropublicapi:read dineropublicapi:write offline_access");
    }
    Json(body).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}
