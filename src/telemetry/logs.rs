//! The process's one `tracing` subscriber: log lines (text, or JSON with each line's
//! OpenTelemetry trace and span ids) and, when traces are on, the span exporter.

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::traces;
use crate::config::LogFormat;

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Install the subscriber for the whole process (the binary does; tests install their own).
/// `RUST_LOG` wins over `level`; the filter holds for spans too, so the libraries' debug
/// spans are never exported.
pub fn init_logging(format: LogFormat, level: &str, traces: Option<&SdkTracerProvider>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::registry()
        .with(log_lines(format, std::io::stdout))
        .with(traces.map(traces::layer))
        .with(filter)
        .init();
}

/// Log lines in `format` to `writer`. JSON lines name their trace and span (when one is
/// recorded) so a log collector can link them to the trace.
pub fn log_lines<W>(format: LogFormat, writer: W) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(writer).boxed(),
        LogFormat::Json => json_subscriber::layer()
            .with_writer(writer)
            .with_current_span(true)
            .with_span_list(false)
            .with_opentelemetry_ids(true)
            .boxed(),
    }
}
