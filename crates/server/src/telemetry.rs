//! Logs (JSON or text, via `tracing`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! OpenTelemetry traces exported over OTLP/gRPC.

use anyhow::Context;
use opentelemetry::trace::TracerProvider;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Keeps the trace pipeline alive; flushes spans on drop.
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {error}");
        }
    }
}

pub fn init(
    log_format: LogFormat,
    log_filter: &str,
    service_name: &'static str,
) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_new(log_filter)
        .with_context(|| format!("CONVENE_LOG: {log_filter:?} is not a valid log filter"))?;
    let tracer_provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.trim())
                .build()
                .context("OTEL_EXPORTER_OTLP_ENDPOINT: building the OTLP exporter failed")?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service_name).build())
                    .build(),
            )
        }
        _ => None,
    };
    let otel_layer = tracer_provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)));
    let (json_layer, text_layer) = match log_format {
        LogFormat::Json => (
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            ),
            None,
        ),
        LogFormat::Text => (None, Some(tracing_subscriber::fmt::layer())),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(json_layer)
        .with(text_layer)
        .with(otel_layer)
        .try_init()
        .context("installing the log subscriber failed")?;
    Ok(Telemetry { tracer_provider })
}
