//! A request budget per Dinero organization (GCRA, from `governor`): Dinero allows 100
//! requests a minute per organization and penalises clients that keep hitting the limit.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct OrganizationLimiter {
    limiter: Option<DefaultKeyedRateLimiter<i64>>,
}

impl OrganizationLimiter {
    /// `per_minute` = 0 switches limiting off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        OrganizationLimiter { limiter }
    }

    /// Wait until the organization may make one more request.
    pub async fn acquire(&self, organization: i64) {
        if let Some(limiter) = &self.limiter {
            limiter.until_key_ready(&organization).await;
        }
    }
}
