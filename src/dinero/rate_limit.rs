//! A request budget per Dinero organization (GCRA, from `governor`): Dinero allows 100
//! requests a minute per organization and penalises clients that keep hitting the limit.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct OrganizationLimiter {
    limiter: Option<DefaultKeyedRateLimiter<i64>>,
    /// Acquisitions since the state of idle organizations was last dropped.
    since_sweep: std::sync::atomic::AtomicU32,
}

/// Every this many acquisitions, organizations whose budget is full again are forgotten.
const SWEEP_EVERY: u32 = 4096;

impl OrganizationLimiter {
    /// `per_minute` = 0 switches limiting off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        OrganizationLimiter {
            limiter,
            since_sweep: Default::default(),
        }
    }

    /// Wait until the organization may make one more request.
    pub async fn acquire(&self, organization: i64) {
        if let Some(limiter) = &self.limiter {
            use std::sync::atomic::Ordering;
            if self.since_sweep.fetch_add(1, Ordering::Relaxed) >= SWEEP_EVERY {
                self.since_sweep.store(0, Ordering::Relaxed);
                limiter.retain_recent();
            }
            limiter.until_key_ready(&organization).await;
        }
    }
}
