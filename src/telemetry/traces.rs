//! OpenTelemetry traces: the OTLP exporter (off unless an endpoint is configured) and the W3C
//! trace context that carries one order's trace from the webhook or Kafka record through the
//! inbox to the lane's transfer, its Dinero calls and its dead letter.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::TraceSettings;

const TRACEPARENT: &str = "traceparent";

/// Why traces could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TraceSetupError {
    #[error(
        "{0} is '{1}', but this build exports OTLP over gRPC only: set it to 'grpc' or unset it"
    )]
    Protocol(&'static str, String),
    #[error("the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// Where spans go, as the settings and the standard `OTEL_*` variables say together.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceExport {
    /// The collector named in the settings; `None` when an `OTEL_EXPORTER_OTLP_*ENDPOINT`
    /// variable names it (the exporter reads those itself).
    pub endpoint: Option<String>,
    pub service_name: Option<String>,
    pub sample_ratio: f64,
}

impl TraceExport {
    /// `None` when traces are off: no endpoint anywhere, or `OTEL_SDK_DISABLED=true`.
    pub fn resolve(
        settings: &TraceSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<TraceExport>, TraceSetupError> {
        let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
        {
            return Ok(None);
        }
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = set(name) {
                if protocol != "grpc" {
                    return Err(TraceSetupError::Protocol(name, protocol));
                }
                break;
            }
        }
        let from_env = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
            || set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        let endpoint = match (from_env, settings.otlp_endpoint.as_str()) {
            (true, _) => None,
            (false, "") => return Ok(None),
            (false, configured) => Some(configured.to_owned()),
        };
        Ok(Some(TraceExport {
            endpoint,
            // The SDK's resource reads OTEL_SERVICE_NAME itself.
            service_name: set("OTEL_SERVICE_NAME")
                .is_none()
                .then(|| settings.service_name.clone()),
            sample_ratio: settings.sample_ratio,
        }))
    }

    /// A provider exporting in batches on its own thread; shut it down to flush. Call it on a
    /// Tokio runtime: the gRPC channel's worker runs there.
    pub fn provider(&self) -> Result<SdkTracerProvider, TraceSetupError> {
        let mut exporter = SpanExporter::builder().with_tonic();
        if let Some(endpoint) = &self.endpoint {
            exporter = exporter.with_endpoint(endpoint);
        }
        let mut resource = Resource::builder()
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
        if let Some(name) = &self.service_name {
            resource = resource.with_service_name(name.clone());
        }
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter.build()?)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                self.sample_ratio,
            ))))
            .with_resource(resource.build())
            .build())
    }
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("dinero-bridge"))
}

/// The current span's W3C `traceparent`, or `fallback` when no span is being recorded
/// (traces off): a caller's trace context is still passed on, unchanged.
pub fn traceparent_or(fallback: Option<&str>) -> Option<String> {
    traceparent_of(&tracing::Span::current()).or_else(|| fallback.map(str::to_owned))
}

/// The current span's W3C `traceparent`, when it is being recorded.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Make `span` the child of the remote span a `traceparent` names. A missing or unreadable
/// value leaves it where it is: a malformed header must not cost the order.
pub fn continue_from(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        // Fails only for a span that is not recorded (traces off): nothing to join then.
        let _ = span.set_parent(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(endpoint: &str) -> TraceSettings {
        TraceSettings {
            otlp_endpoint: endpoint.into(),
            service_name: "dinero-bridge".into(),
            sample_ratio: 1.0,
        }
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn off_without_an_endpoint_anywhere() {
        assert_eq!(TraceExport::resolve(&settings(""), env(&[])).unwrap(), None);
    }

    #[test]
    fn the_standard_variables_turn_traces_on_and_win_over_the_file() {
        let export = TraceExport::resolve(
            &settings("http://from-file:4317"),
            env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_SERVICE_NAME", "bridge-eu"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(export.endpoint, None, "the exporter reads the variable");
        assert_eq!(export.service_name, None, "the resource reads the variable");
        let export = TraceExport::resolve(&settings("http://from-file:4317"), env(&[]))
            .unwrap()
            .unwrap();
        assert_eq!(export.endpoint.as_deref(), Some("http://from-file:4317"));
        assert_eq!(export.service_name.as_deref(), Some("dinero-bridge"));
    }

    #[test]
    fn disabled_sdk_or_exporter_none_means_off() {
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), off];
            assert_eq!(
                TraceExport::resolve(&settings(""), env(&vars)).unwrap(),
                None
            );
        }
    }

    #[test]
    fn an_http_protocol_is_refused_with_what_to_do() {
        let error = TraceExport::resolve(
            &settings("http://c:4318"),
            env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("set it to 'grpc'"), "{error}");
    }

    #[test]
    fn without_a_recorded_span_the_callers_context_passes_unchanged() {
        let given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_eq!(traceparent_or(Some(given)).as_deref(), Some(given));
        assert_eq!(current_traceparent(), None);
    }
}
