//! What SREs see of the service: Prometheus metrics (per application, no tenant label:
//! per-shop questions are the admin API's).

mod metrics;
mod refresh;

pub use metrics::Metrics;
pub use refresh::GaugeRefresher;
