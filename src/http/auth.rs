//! The admin API's bearer token, as an extractor: a handler that takes `Admin` runs only for a
//! caller that presented a configured token (compared in constant time).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::problem::Problem;
use super::HttpState;

/// Proof that the request carried a valid admin token.
pub struct Admin;

/// `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Admin {
    type Error = Problem;
    type Future = Ready<Result<Admin, Problem>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request
            .app_data::<web::Data<HttpState>>()
            .expect("the HTTP state is registered");
        ready(match bearer(request) {
            None => Err(Problem::unauthorized(
                "missing_token",
                "send Authorization: Bearer <admin token>",
            )),
            Some(token) if state.admin_tokens.accepts(token) => Ok(Admin),
            Some(_) => Err(Problem::unauthorized(
                "invalid_token",
                "the admin token is not valid",
            )),
        })
    }
}
