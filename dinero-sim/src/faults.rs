//! Fault injection: latency, 5xx, 429 storms, 480 brownouts and ambiguous failures, set at
//! start by flags and at run time through `PUT /_sim/faults`.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

use crate::config::FaultConfig;

/// What the gate does to one request before it reaches the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    ServerError,
    Throttled,
    Brownout,
}

/// Faults drawn for one request.
#[derive(Debug, Default)]
pub struct Draw {
    pub latency: Duration,
    pub before: Option<Injected>,
    /// Commit the write, then drop the connection instead of answering.
    pub drop_after_commit: bool,
}

pub struct Faults {
    state: Mutex<(FaultConfig, Option<Instant>)>,
}

impl Faults {
    pub fn new(initial: FaultConfig) -> Self {
        Faults {
            state: Mutex::new((initial, None)),
        }
    }

    /// Replace the faults; with `for_ms` they reset to none after that long.
    pub fn set(&self, config: FaultConfig) {
        let until = config
            .for_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        *self.state.lock() = (config, until);
    }

    pub fn current(&self) -> FaultConfig {
        let mut state = self.state.lock();
        if state.1.is_some_and(|until| Instant::now() >= until) {
            *state = (FaultConfig::default(), None);
        }
        state.0.clone()
    }

    pub fn draw(&self, org: Option<i64>, route: Option<&str>, is_write: bool) -> Draw {
        let config = self.current();
        if config.only_organization.is_some() && config.only_organization != org {
            return Draw::default();
        }
        if config.only_route.is_some() && config.only_route.as_deref() != route {
            return Draw::default();
        }
        let mut rng = rand::rng();
        let mut roll = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
        let before = if roll(config.brownout_rate) {
            Some(Injected::Brownout)
        } else if roll(config.error_rate) {
            Some(Injected::ServerError)
        } else if roll(config.throttle_rate) {
            Some(Injected::Throttled)
        } else {
            None
        };
        let drop_after_commit = is_write && before.is_none() && roll(config.ambiguous_rate);
        let jitter = if config.latency_jitter_ms > 0 {
            rand::rng().random_range(0..=config.latency_jitter_ms)
        } else {
            0
        };
        Draw {
            latency: Duration::from_millis(config.latency_ms + jitter),
            before,
            drop_after_commit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_one_always_fires_and_zero_never() {
        let faults = Faults::new(FaultConfig {
            error_rate: 1.0,
            ..Default::default()
        });
        assert_eq!(
            faults.draw(None, None, false).before,
            Some(Injected::ServerError)
        );
        faults.set(FaultConfig::default());
        assert!((0..100).all(|_| faults.draw(None, None, true).before.is_none()));
    }

    #[test]
    fn ambiguous_failures_only_hit_writes() {
        let faults = Faults::new(FaultConfig {
            ambiguous_rate: 1.0,
            ..Default::default()
        });
        assert!(!faults.draw(None, None, false).drop_after_commit);
        assert!(faults.draw(None, None, true).drop_after_commit);
    }

    #[test]
    fn faults_scoped_to_one_organization_spare_the_others() {
        let faults = Faults::new(FaultConfig {
            throttle_rate: 1.0,
            only_organization: Some(7),
            ..Default::default()
        });
        assert_eq!(
            faults.draw(Some(7), None, false).before,
            Some(Injected::Throttled)
        );
        assert_eq!(faults.draw(Some(8), None, false).before, None);
    }

    #[test]
    fn faults_scoped_to_one_route_spare_the_others() {
        let faults = Faults::new(FaultConfig {
            ambiguous_rate: 1.0,
            only_route: Some("/v1/{organizationId}/invoices".into()),
            ..Default::default()
        });
        assert!(
            faults
                .draw(None, Some("/v1/{organizationId}/invoices"), true)
                .drop_after_commit
        );
        assert!(
            !faults
                .draw(None, Some("/v1/{organizationId}/contacts"), true)
                .drop_after_commit
        );
    }

    #[test]
    fn a_storm_with_for_ms_ends_by_itself() {
        let faults = Faults::new(FaultConfig::default());
        faults.set(FaultConfig {
            throttle_rate: 1.0,
            for_ms: Some(0),
            ..Default::default()
        });
        assert_eq!(faults.draw(None, None, false).before, None);
    }
}
