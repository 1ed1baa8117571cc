//! The storm guard: when most recent records are refused across all tenants, the fault is
//! more likely a bad deploy than bad data, so consuming stops instead of dead-lettering all.

use std::collections::VecDeque;

pub struct StormGuard {
    window: usize,
    max_refused: f64,
    outcomes: VecDeque<bool>,
}

impl StormGuard {
    pub fn new(window: usize, max_refused: f64) -> Self {
        StormGuard {
            window: window.max(1),
            max_refused,
            outcomes: VecDeque::new(),
        }
    }

    /// Record one outcome; true when the storm threshold is crossed (over a full window).
    pub fn record(&mut self, refused: bool) -> bool {
        if self.outcomes.len() == self.window {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(refused);
        let refused = self.outcomes.iter().filter(|r| **r).count();
        self.outcomes.len() == self.window && refused as f64 / self.window as f64 > self.max_refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_only_on_a_full_window_over_the_ratio() {
        let mut guard = StormGuard::new(4, 0.5);
        assert!(
            !guard.record(true) && !guard.record(true) && !guard.record(true),
            "not a full window yet"
        );
        assert!(guard.record(true));
        let mut guard = StormGuard::new(4, 0.5);
        for refused in [true, false, true, false, true, false] {
            assert!(!guard.record(refused), "half refused is not a storm");
        }
    }
}
