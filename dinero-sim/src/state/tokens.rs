//! Integrator clients and the tokens the simulator issues: personal-integration access tokens
//! (one organization each) and Visma Connect tokens (a user's organizations, rotating refresh
//! tokens).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use parking_lot::Mutex;
use rand::RngCore;

/// What an access token lets its bearer reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Personal integration: the organization of the API key.
    Organization(i64),
    /// Visma Connect: the organizations of the user who consented.
    User(Vec<i64>),
}

impl Grant {
    pub fn allows(&self, org: i64) -> bool {
        match self {
            Grant::Organization(id) => *id == org,
            Grant::User(orgs) => orgs.contains(&org),
        }
    }

    pub fn organizations(&self) -> Vec<i64> {
        match self {
            Grant::Organization(id) => vec![*id],
            Grant::User(orgs) => orgs.clone(),
        }
    }
}

struct AccessToken {
    grant: Grant,
    expires_at: Instant,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<String, String>,
    connect_clients: HashMap<String, String>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, Vec<i64>>,
    codes: HashMap<String, Vec<i64>>,
    issued: u64,
}

pub struct Tokens {
    lifetime: Duration,
    inner: Mutex<Inner>,
}

/// A successful token answer.
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
}

pub enum TokenError {
    InvalidClient,
    InvalidGrant(&'static str),
}

impl Tokens {
    pub fn new(lifetime_secs: u64) -> Self {
        Tokens {
            lifetime: Duration::from_secs(lifetime_secs),
            inner: Mutex::default(),
        }
    }

    pub fn add_client(&self, id: String, secret: String) {
        self.inner.lock().clients.insert(id, secret);
    }

    pub fn add_connect_client(&self, id: String, secret: String) {
        self.inner.lock().connect_clients.insert(id, secret);
    }

    pub fn add_refresh_token(&self, token: String, orgs: Vec<i64>) {
        self.inner.lock().refresh.insert(token, orgs);
    }

    /// Mint an authorization code, as Visma Connect does after the user consents.
    pub fn mint_code(&self, orgs: Vec<i64>) -> String {
        let code = random_token();
        self.inner.lock().codes.insert(code.clone(), orgs);
        code
    }

    pub fn check_client(&self, id: &str, secret: &str, connect: bool) -> Result<(), TokenError> {
        let inner = self.inner.lock();
        let clients = if connect {
            &inner.connect_clients
        } else {
            &inner.clients
        };
        match clients.get(id) {
            Some(expected) if expected == secret => Ok(()),
            _ => Err(TokenError::InvalidClient),
        }
    }

    pub fn issue_personal(&self, org: i64) -> Issued {
        self.issue(Grant::Organization(org), false)
    }

    pub fn exchange_code(&self, code: &str) -> Result<Issued, TokenError> {
        let orgs = self
            .inner
            .lock()
            .codes
            .remove(code)
            .ok_or(TokenError::InvalidGrant(
                "unknown or used authorization code",
            ))?;
        Ok(self.issue(Grant::User(orgs), true))
    }

    /// Refresh tokens rotate: the presented one stops working once the new one is issued.
    pub fn refresh(&self, token: &str) -> Result<Issued, TokenError> {
        let orgs = self
            .inner
            .lock()
            .refresh
            .remove(token)
            .ok_or(TokenError::InvalidGrant(
                "unknown, used or revoked refresh token",
            ))?;
        Ok(self.issue(Grant::User(orgs), true))
    }

    fn issue(&self, grant: Grant, with_refresh: bool) -> Issued {
        let access_token = random_token();
        let refresh_token = with_refresh.then(random_token);
        let mut inner = self.inner.lock();
        if let (Some(refresh), Grant::User(orgs)) = (&refresh_token, &grant) {
            inner.refresh.insert(refresh.clone(), orgs.clone());
        }
        let now = Instant::now();
        // Expired tokens are forgotten as new ones are issued, so the map stays small.
        if inner.issued.is_multiple_of(256) {
            inner.access.retain(|_, token| token.expires_at > now);
        }
        inner.issued += 1;
        inner.access.insert(
            access_token.clone(),
            AccessToken {
                grant,
                expires_at: now + self.lifetime,
            },
        );
        Issued {
            access_token,
            expires_in: self.lifetime.as_secs(),
            refresh_token,
        }
    }

    /// The grant of a live access token; `None` for unknown or expired ones.
    pub fn grant(&self, access_token: &str) -> Option<Grant> {
        let inner = self.inner.lock();
        let token = inner.access.get(access_token)?;
        (token.expires_at > Instant::now()).then(|| token.grant.clone())
    }

    /// Expire every issued access token now (admin: simulate expiry without waiting).
    pub fn expire_all(&self) -> usize {
        let mut inner = self.inner.lock();
        let count = inner.access.len();
        inner.access.clear();
        count
    }

    pub fn issued(&self) -> u64 {
        self.inner.lock().issued
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
