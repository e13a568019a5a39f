//! Human summaries (plain tables on stdout) and the JSON report file.

use std::path::Path;

use serde::Serialize;

use crate::metrics::LatencySummary;
use crate::scenarios::chat::ChatReport;
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
        ("connect latency", latency_line(&report.connect_latency)),
        (
            "order",
            format!(
                "gaps {} | duplicates {} | repaired by fetch {} | reconnects {}",
                report.gaps, report.duplicates, report.repaired_by_fetch, report.reconnects
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
