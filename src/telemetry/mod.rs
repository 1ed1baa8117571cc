//! What SREs see of the service: Prometheus metrics (per application, no tenant label:
//! per-shop questions are the admin API's), OpenTelemetry traces and the log lines.

mod logs;
mod metrics;
mod refresh;
pub mod traces;

pub use logs::{init_logging, log_lines};
pub use metrics::Metrics;
pub use refresh::GaugeRefresher;
