//! Exponential backoff with full jitter: spreads retries of many tenants after an outage.

use std::time::Duration;

use rand::Rng;

pub fn delay(attempt: u32, initial_ms: u64, max_ms: u64) -> Duration {
    let exponential = initial_ms
        .saturating_mul(1u64 << attempt.min(20))
        .min(max_ms);
    let jittered = rand::rng().random_range(exponential / 2..=exponential.max(1));
    Duration::from_millis(jittered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        for attempt in 0..30 {
            let d = delay(attempt, 100, 5_000).as_millis() as u64;
            let ceiling = (100u64 << attempt.min(20)).min(5_000);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d}");
        }
    }
}
