//! The request log and counters that tests read (`GET /_sim/requests`, `GET /_sim/stats`).

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: u64,
    /// Milliseconds since the simulator started.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    /// The route template, e.g. `/v1/{organizationId}/invoices`.
    pub route: Option<String>,
    pub query: Option<String>,
    pub organization: Option<i64>,
    pub status: u16,
    /// `server_error`, `throttled`, `brownout`, `rate_limited` or `dropped_after_commit`.
    pub fault: Option<&'static str>,
    pub duration_us: u64,
    /// The request body of writes (JSON as sent).
    pub body: Option<String>,
    /// The W3C `traceparent` header the caller sent, if any.
    pub traceparent: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub by_route: BTreeMap<String, u64>,
    pub by_status: BTreeMap<u16, u64>,
    pub by_organization: BTreeMap<i64, u64>,
    pub faults: BTreeMap<&'static str, u64>,
    pub tokens_issued: u64,
    /// Responses that did not match the OpenAPI schemas (only with --validate-spec).
    pub spec_violations: Vec<String>,
}

pub struct RequestLog {
    started: Instant,
    capacity: usize,
    inner: Mutex<(VecDeque<Entry>, Stats)>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            started: Instant::now(),
            capacity,
            inner: Mutex::new((VecDeque::new(), Stats::default())),
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn record(&self, mut entry: Entry) {
        let mut inner = self.inner.lock();
        let (log, stats) = &mut *inner;
        stats.requests += 1;
        entry.seq = stats.requests;
        let route = format!(
            "{} {}",
            entry.method,
            entry.route.as_deref().unwrap_or(&entry.path)
        );
        *stats.by_route.entry(route).or_default() += 1;
        *stats.by_status.entry(entry.status).or_default() += 1;
        if let Some(org) = entry.organization {
            *stats.by_organization.entry(org).or_default() += 1;
        }
        if let Some(fault) = entry.fault {
            *stats.faults.entry(fault).or_default() += 1;
        }
        if self.capacity > 0 {
            if log.len() == self.capacity {
                log.pop_front();
            }
            log.push_back(entry);
        }
    }

    pub fn violation(&self, message: String) {
        tracing::error!(%message, "response does not match the OpenAPI document");
        self.inner.lock().1.spec_violations.push(message);
    }

    pub fn entries(&self, since: u64, organization: Option<i64>) -> Vec<Entry> {
        let inner = self.inner.lock();
        inner
            .0
            .iter()
            .filter(|e| e.seq > since && (organization.is_none() || e.organization == organization))
            .cloned()
            .collect()
    }

    pub fn stats(&self) -> Stats {
        self.inner.lock().1.clone()
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.0.clear();
        let requests = inner.1.requests;
        inner.1 = Stats {
            requests,
            ..Stats::default()
        };
    }
}
