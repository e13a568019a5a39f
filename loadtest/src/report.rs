//! Human summaries (plain tables on stdout) and the JSON report file.

use std::path::Path;

use serde::Serialize;

use crate::metrics::LatencySummary;
use crate::scenarios::api::ApiReport;
use crate::scenarios::chaos::ChaosReport;
use crate::scenarios::chat::ChatReport;
use crate::scenarios::compare::CompareReport;
use crate::scenarios::connections::ConnectionsReport;
use crate::{Error, Result};

/// Writes `report` as pretty JSON to `path`.
pub fn write_json<T: Serialize>(path: &Path, report: &T) -> Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json + "\n").map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// `p50 1.2 | p90 … | p99 … | p99.9 … | max … ms (n)`.
pub fn latency_line(summary: &LatencySummary) -> String {
    format!(
        "p50 {:.2} | p90 {:.2} | p99 {:.2} | p99.9 {:.2} | max {:.2} ms (n = {})",
        summary.p50_ms,
        summary.p90_ms,
        summary.p99_ms,
        summary.p999_ms,
        summary.max_ms,
        summary.count
    )
}

pub fn chat_summary(report: &ChatReport) -> String {
    let errors = if report.errors.is_empty() {
        "none".to_owned()
    } else {
        report
            .errors
            .iter()
            .map(|(code, count)| format!("{code} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = [
        (
            "target",
            format!("{} {}", report.target, report.base_urls.join(",")),
        ),
        (
            "load",
            format!(
                "{} users, {} conversations, {} msg/s for {} s",
                report.users, report.conversations, report.rate_per_second, report.duration_seconds
            ),
        ),
        (
            "messages",
            format!(
                "sent {} | acked {} ({} as duplicates) | unacked {}",
                report.sent, report.acked, report.acked_as_duplicate, report.unacked
            ),
        ),
        (
            "deliveries",
            format!(
                "{} of {} expected | {:.1}/s over {:.1} s",
                report.deliveries,
                report.expected_deliveries,
                report.deliveries_per_second,
                report.measured_seconds
            ),
        ),
        ("delivery latency", latency_line(&report.delivery_latency)),
        ("ack latency", latency_line(&report.ack_latency)),
        ("send lag", latency_line(&report.send_lag)),
        ("connect latency", latency_line(&report.connect_latency)),
        (
            "final gaps",
            format!(
                "{} (in history, never received even by asking)",
                report.gaps
            ),
        ),
        (
            "live gaps",
            format!(
                "{} (not pushed live, fetched from history) | resyncs {} | reconnects {}",
                report.live_stream_gaps, report.resyncs, report.reconnects
            ),
        ),
        (
            "duplicates",
            format!(
                "{} seqs twice | {} messages under a new seq | {} client ids twice in history",
                report.duplicates, report.duplicate_messages, report.client_ids_stored_twice
            ),
        ),
        ("errors", errors),
    ];
    table(&rows)
}

/// Two aligned columns.
pub fn table(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(name, value)| format!("{name:>width$}  {value}\n"))
        .collect()
}

fn bytes(value: Option<u64>) -> String {
    value.map_or_else(
        || "n/a".to_owned(),
        |bytes| format!("{:.1} MiB", bytes as f64 / 1048576.0),
    )
}

fn per_connection(value: Option<f64>) -> String {
    value.map_or_else(
        || "n/a (no memory source)".to_owned(),
        |bytes| format!("{:.1} KiB", bytes / 1024.0),
    )
}

fn counts(errors: &std::collections::BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    errors
        .iter()
        .map(|(code, count)| format!("{code} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn connections_summary(report: &ConnectionsReport) -> String {
    table(&[
        (
            "target",
            format!("{} {}", report.target, report.base_urls.join(",")),
        ),
        (
            "connections",
            format!(
                "{} opened of {} | {} still open after the hold",
                report.opened, report.requested, report.still_open
            ),
        ),
        ("connect latency", latency_line(&report.connect_latency)),
        (
            "memory source",
            report
                .memory_source
                .clone()
                .unwrap_or_else(|| "none".to_owned()),
        ),
        (
            "resident",
            format!(
                "{} before, {} after",
                bytes(report.resident_before_bytes),
                bytes(report.resident_after_bytes)
            ),
        ),
        (
            "per connection",
            per_connection(report.memory_per_connection_bytes),
        ),
        ("errors", counts(&report.errors)),
    ])
}

pub fn api_summary(report: &ApiReport) -> String {
    table(&[
        ("target", report.base_urls.join(",")),
        (
            "load",
            format!(
                "{} req/s asked for {} s, {:.1} req/s done, {} skipped (too many in flight)",
                report.rate_per_second,
                report.duration_seconds,
                report.achieved_per_second,
                report.skipped
            ),
        ),
        ("login latency", latency_line(&report.login.latency)),
        ("login answers", counts(&report.login.statuses)),
        ("history latency", latency_line(&report.history.latency)),
        ("history answers", counts(&report.history.statuses)),
    ])
}

pub fn chaos_summary(report: &ChaosReport) -> String {
    let mut text = chat_summary(&report.chat);
    for disruption in &report.disruptions {
        text.push_str(&format!(
            "{:>16}  {:>5.1} s  {}\n",
            "disruption", disruption.at_seconds, disruption.what
        ));
    }
    text.push_str(&format!(
        "{:>16}  {}\n",
        "verdict",
        if report.consistent {
            "zero final gaps, zero duplicates, every message acknowledged"
        } else {
            "INCONSISTENT: final gaps, duplicates or unacknowledged messages (see above)"
        }
    ));
    text.push_str(&format!(
        "{:>16}  {} live-stream gaps repaired from history, {} errors{}\n",
        "live stream",
        report.chat.live_stream_gaps,
        report.chat.error_count(),
        if report.live_stream_gapless {
            ""
        } else {
            " (resume should replay from the cursor: expected 0)"
        }
    ));
    text
}

fn ratio_text(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}x")
    } else {
        "n/a".to_owned()
    }
}

pub fn compare_summary(report: &CompareReport) -> String {
    let convene = &report.convene;
    let baseline = &report.baseline;
    let row = |name: &str, convene_value: String, baseline_value: String, ratio: String| {
        format!("{name:<32} {convene_value:>14} {baseline_value:>14} {ratio:>10}\n")
    };
    let mut text = String::new();
    text.push_str(&format!(
        "compare: {} users, {} conversations, {} msg/s for {} s; {} idle connections; {} CPUs; run took {:.0} s\n",
        convene.chat.users,
        convene.chat.conversations,
        convene.chat.rate_per_second,
        convene.chat.duration_seconds,
        convene.connections.requested,
        report.machine.cpus,
        report.run_seconds
    ));
    text.push_str(&row(
        "",
        "Convene".to_owned(),
        "baseline".to_owned(),
        "ratio".to_owned(),
    ));
    text.push_str(&row(
        "deliveries/s",
        format!("{:.0}", convene.chat.deliveries_per_second),
        format!("{:.0}", baseline.chat.deliveries_per_second),
        ratio_text(convene.chat.deliveries_per_second / baseline.chat.deliveries_per_second),
    ));
    text.push_str(&row(
        "server CPU s (2 processes)",
        format!("{:.1}", convene.chat_server_cpu_seconds),
        format!("{:.1}", baseline.chat_server_cpu_seconds),
        ratio_text(convene.chat_server_cpu_seconds / baseline.chat_server_cpu_seconds),
    ));
    text.push_str(&row(
        "deliveries per CPU second",
        format!("{:.0}", convene.deliveries_per_core_second),
        format!("{:.0}", baseline.deliveries_per_core_second),
        ratio_text(report.ratios.deliveries_per_core),
    ));
    text.push_str(&row(
        "delivery p50 ms",
        format!("{:.2}", convene.chat.delivery_latency.p50_ms),
        format!("{:.2}", baseline.chat.delivery_latency.p50_ms),
        ratio_text(report.ratios.p50_latency),
    ));
    text.push_str(&row(
        "delivery p99 ms",
        format!("{:.2}", convene.chat.delivery_latency.p99_ms),
        format!("{:.2}", baseline.chat.delivery_latency.p99_ms),
        ratio_text(report.ratios.p99_latency),
    ));
    text.push_str(&row(
        "memory per idle connection",
        per_connection(convene.connections.memory_per_connection_bytes),
        per_connection(baseline.connections.memory_per_connection_bytes),
        report
            .ratios
            .memory_per_connection
            .map_or_else(|| "n/a".to_owned(), ratio_text),
    ));
    text.push_str(&row(
        "connect p50 ms",
        format!("{:.2}", convene.connections.connect_latency.p50_ms),
        format!("{:.2}", baseline.connections.connect_latency.p50_ms),
        ratio_text(
            convene.connections.connect_latency.p50_ms
                / baseline.connections.connect_latency.p50_ms,
        ),
    ));
    text.push_str(&row(
        "gaps / duplicates",
        format!("{} / {}", convene.chat.gaps, convene.chat.all_duplicates()),
        format!(
            "{} / {}",
            baseline.chat.gaps,
            baseline.chat.all_duplicates()
        ),
        String::new(),
    ));
    text.push_str(&row(
        "errors",
        (convene.chat.error_count() + convene.connections.errors.values().sum::<u64>()).to_string(),
        (baseline.chat.error_count() + baseline.connections.errors.values().sum::<u64>())
            .to_string(),
        String::new(),
    ));
    text.push_str("The baseline does no authentication, membership checks, receipts or presence; both stacks share one Redis and one Postgres server.\n");
    text
}
