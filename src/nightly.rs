//! The nightly reconciliation: at `reconciliation.daily_at` every shop's ledger is compared
//! with Dinero for the day before. Every replica waits for the time; the first to record the
//! day in the store makes the run, so each day is reconciled once.

use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;

use crate::service::Core;
use crate::store::UpkeepStore;

const RUN: &str = "reconciliation";

pub struct Nightly {
    pub core: Arc<Core>,
    pub store: Arc<dyn UpkeepStore>,
    pub at: NaiveTime,
    pub time_zone: Tz,
    /// This replica, as the store records who made a day's run.
    pub owner: String,
}

impl Nightly {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            let next = next_run(Utc::now(), self.at, self.time_zone);
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            let day = next.with_timezone(&self.time_zone).date_naive() - Days::new(1);
            self.reconcile(day).await;
        }
    }

    async fn reconcile(&self, day: NaiveDate) {
        match self.store.claim_run(RUN, day, &self.owner).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(%day, "another replica makes this day's reconciliation");
                return;
            }
            // Not run rather than run twice; the next night goes on.
            Err(error) => {
                tracing::warn!(%day, %error, "cannot claim the nightly reconciliation");
                return;
            }
        }
        match self.core.reconcile_everyone(day).await {
            Ok((shops, with_findings)) => {
                tracing::info!(%day, shops, with_findings, "nightly reconciliation done")
            }
            Err(error) => tracing::warn!(%day, %error, "nightly reconciliation stopped"),
        }
    }
}

/// The first `at` in `time_zone` after `now`. A time a daylight-saving change skips runs at
/// the first moment after it; one it repeats, at the first of the two.
pub fn next_run(now: DateTime<Utc>, at: NaiveTime, time_zone: Tz) -> DateTime<Utc> {
    let local_today = now.with_timezone(&time_zone).date_naive();
    for day in [
        local_today,
        local_today + Days::new(1),
        local_today + Days::new(2),
    ] {
        let wanted = day.and_time(at);
        let moment = time_zone
            .from_local_datetime(&wanted)
            .earliest()
            // Skipped by a change to summer time: an hour later exists.
            .or_else(|| {
                time_zone
                    .from_local_datetime(&(wanted + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc));
        if let Some(moment) = moment.filter(|m| *m > now) {
            return moment;
        }
    }
    now + chrono::Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Copenhagen;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_next_run_is_today_or_tomorrow_in_the_shops_time_zone() {
        let three = NaiveTime::from_hms_opt(3, 0, 0).unwrap();
        // 01:00 UTC is 02:00 in Copenhagen in winter: 03:00 is an hour away.
        assert_eq!(
            next_run(utc("2026-11-30T01:00:00Z"), three, Copenhagen),
            utc("2026-11-30T02:00:00Z")
        );
        // Just past it: tomorrow.
        assert_eq!(
            next_run(utc("2026-11-30T02:00:01Z"), three, Copenhagen),
            utc("2026-12-01T02:00:00Z")
        );
        // Summer time: UTC+2.
        assert_eq!(
            next_run(utc("2026-07-01T12:00:00Z"), three, Copenhagen),
            utc("2026-07-02T01:00:00Z")
        );
        // 02:30 does not exist on 29 March 2026 in Copenhagen: it runs at 03:30 summer time.
        let half_past_two = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            next_run(utc("2026-03-29T00:00:00Z"), half_past_two, Copenhagen),
            utc("2026-03-29T01:30:00Z")
        );
    }
}
