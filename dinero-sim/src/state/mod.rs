//! The simulated world: organizations, integrator clients, issued tokens, and the behaviour
//! knobs every rule consults.

pub mod filter;
pub mod org;
pub mod reference;
pub mod tokens;
pub mod totals;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use parking_lot::{Mutex, RwLock};

use crate::config::SimConfig;
use crate::error::{ApiError, ApiResult};
use crate::scenario::{OrganizationSeed, Scenario};
use org::Org;
use tokens::Tokens;

/// Rules that depend on configuration, the clock and the global version counter.
pub struct Behaviour {
    pub config: SimConfig,
    timestamps: AtomicU64,
}

impl Behaviour {
    pub fn new(config: SimConfig) -> Self {
        // Start where Dinero's documented example sits, so values look alike.
        Behaviour {
            config,
            timestamps: AtomicU64::new(0x0000_0000_020A_5EA8),
        }
    }

    /// A fresh version string in Dinero's shape ("00000000020A5EA8").
    pub fn next_timestamp(&self) -> String {
        format!(
            "{:016X}",
            self.timestamps.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

pub type OrgRef = Arc<Mutex<Org>>;

pub struct World {
    pub behaviour: Behaviour,
    orgs: RwLock<HashMap<i64, OrgRef>>,
    pub tokens: Tokens,
}

impl World {
    pub fn new(config: SimConfig, scenario: Scenario) -> ApiResult<Self> {
        let world = World {
            tokens: Tokens::new(config.token_lifetime_secs),
            behaviour: Behaviour::new(config),
            orgs: RwLock::new(HashMap::new()),
        };
        world.seed(scenario)?;
        Ok(world)
    }

    /// Add clients, users and organizations; an organization with a known id is replaced.
    pub fn seed(&self, scenario: Scenario) -> ApiResult<()> {
        for client in scenario.clients {
            self.tokens
                .add_client(client.client_id, client.client_secret);
        }
        for client in scenario.connect_clients {
            self.tokens
                .add_connect_client(client.client_id, client.client_secret);
        }
        for user in scenario.connect_users {
            self.tokens
                .add_refresh_token(user.refresh_token, user.organizations);
        }
        for seed in scenario.organizations {
            self.add_organization(seed)?;
        }
        Ok(())
    }

    pub fn add_organization(&self, seed: OrganizationSeed) -> ApiResult<()> {
        let id = seed.id;
        if id <= 0 || id > i64::from(i32::MAX) {
            return Err(ApiError::validation(format!(
                "organization id {id} is not a positive int32"
            )));
        }
        let org = Org::from_seed(seed, &self.behaviour)?;
        self.orgs.write().insert(id, Arc::new(Mutex::new(org)));
        Ok(())
    }

    pub fn org(&self, id: i64) -> Option<OrgRef> {
        self.orgs.read().get(&id).cloned()
    }

    pub fn org_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.orgs.read().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The organization whose API key this is (personal-integration grant).
    pub fn org_by_api_key(&self, api_key: &str) -> Option<i64> {
        self.orgs
            .read()
            .iter()
            .find(|(_, org)| org.lock().api_keys.iter().any(|k| k == api_key))
            .map(|(id, _)| *id)
    }
}
