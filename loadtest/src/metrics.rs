//! Latency recording: one HDR histogram for the whole run and one per second of the run (for
//! the latency-over-time plot), plus the percentile summary that goes into reports.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency the histograms hold (anything slower is clamped to it), in microseconds.
const HIGHEST_TRACKABLE_MICROS: u64 = 120_000_000;

/// Percentiles of one latency distribution, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Latency at one second of the run (for plots).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyAtSecond {
    pub second: u64,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// One point of a percentile curve: `percentile` of samples were at most `latency_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    pub percentile: f64,
    pub latency_ms: f64,
}

#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    total: Histogram<u64>,
    per_second: Vec<Histogram<u64>>,
}

fn new_histogram() -> Histogram<u64> {
    // 3 significant digits between 1 µs and two minutes: the bounds are constants that
    // `new_with_bounds` accepts, so this cannot fail.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_MICROS, 3).expect("valid histogram bounds")
}

fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    pub fn new() -> Self {
        Self {
            total: new_histogram(),
            per_second: Vec::new(),
        }
    }

    /// Records one latency observed `since_start` into the run.
    pub fn record(&mut self, latency: Duration, since_start: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, HIGHEST_TRACKABLE_MICROS);
        self.total.saturating_record(micros);
        let second = usize::try_from(since_start.as_secs()).unwrap_or(usize::MAX);
        // A run is bounded (bounds::MAX_DURATION plus draining), so this stays small.
        let second = second.min(3_600);
        while self.per_second.len() <= second {
            self.per_second.push(new_histogram());
        }
        self.per_second[second].saturating_record(micros);
    }

    pub fn merge(&mut self, other: &LatencyRecorder) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.total.add(&other.total);
        while self.per_second.len() < other.per_second.len() {
            self.per_second.push(new_histogram());
        }
        for (mine, theirs) in self.per_second.iter_mut().zip(&other.per_second) {
            let _ = mine.add(theirs);
        }
    }

    pub fn count(&self) -> u64 {
        self.total.len()
    }

    pub fn summary(&self) -> LatencySummary {
        summarize(&self.total)
    }

    pub fn over_time(&self) -> Vec<LatencyAtSecond> {
        self.per_second
            .iter()
            .enumerate()
            .filter(|(_, histogram)| !histogram.is_empty())
            .map(|(second, histogram)| LatencyAtSecond {
                second: second as u64,
                count: histogram.len(),
                p50_ms: micros_to_ms(histogram.value_at_quantile(0.5)),
                p99_ms: micros_to_ms(histogram.value_at_quantile(0.99)),
            })
            .collect()
    }

    /// The percentile curve at fixed points from p0 to p99.99.
    pub fn percentile_curve(&self) -> Vec<PercentilePoint> {
        if self.total.is_empty() {
            return Vec::new();
        }
        const PERCENTILES: [f64; 14] = [
            0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
        ];
        PERCENTILES
            .iter()
            .map(|&percentile| PercentilePoint {
                percentile,
                latency_ms: micros_to_ms(self.total.value_at_percentile(percentile)),
            })
            .collect()
    }
}

fn summarize(histogram: &Histogram<u64>) -> LatencySummary {
    if histogram.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: histogram.len(),
        p50_ms: micros_to_ms(histogram.value_at_quantile(0.5)),
        p90_ms: micros_to_ms(histogram.value_at_quantile(0.9)),
        p99_ms: micros_to_ms(histogram.value_at_quantile(0.99)),
        p999_ms: micros_to_ms(histogram.value_at_quantile(0.999)),
        max_ms: micros_to_ms(histogram.max()),
        mean_ms: histogram.mean() / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut recorder = LatencyRecorder::new();
        for millis in 1..=100 {
            recorder.record(
                Duration::from_millis(millis),
                Duration::from_secs(millis / 50),
            );
        }
        let summary = recorder.summary();
        assert_eq!(summary.count, 100);
        assert!((summary.p50_ms - 50.0).abs() < 0.1, "{summary:?}");
        assert!((summary.p99_ms - 99.0).abs() < 0.1, "{summary:?}");
        assert!((summary.max_ms - 100.0).abs() < 0.1, "{summary:?}");
        let over_time = recorder.over_time();
        assert_eq!(over_time.len(), 3);
        assert_eq!(over_time.iter().map(|s| s.count).sum::<u64>(), 100);
    }

    #[test]
    fn merging_adds_both_runs() {
        let mut left = LatencyRecorder::new();
        let mut right = LatencyRecorder::new();
        left.record(Duration::from_millis(1), Duration::ZERO);
        right.record(Duration::from_millis(3), Duration::from_secs(2));
        left.merge(&right);
        assert_eq!(left.count(), 2);
        assert_eq!(left.over_time().len(), 2);
    }
}
