//! The live progress line: a bar over the scenario's duration with the current rates, drawn
//! by indicatif on a terminal and hidden when stdout is not one (logs, CI, tests).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

/// Counters the scenario tasks bump and the progress line reads.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub sent: AtomicU64,
    pub deliveries: AtomicU64,
    pub errors: AtomicU64,
    pub connected: AtomicU64,
}

impl LiveCounters {
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A progress bar that updates itself from [`LiveCounters`] until dropped.
pub struct LiveProgress {
    bar: ProgressBar,
    stop: CancellationToken,
}

impl LiveProgress {
    /// `length` is in seconds (the phase's duration); the message shows rates per second.
    pub fn start(label: &str, length: Duration, counters: Arc<LiveCounters>) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(length.as_secs().max(1)),
            if std::io::stdout().is_terminal() {
                ProgressDrawTarget::stdout()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos:>3}/{len}s {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_owned());
        let stop = CancellationToken::new();
        let task_bar = bar.clone();
        let task_stop = stop.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut ticker = tokio::time::interval(Duration::from_millis(500));
            let mut last = (0, 0, started);
            loop {
                tokio::select! {
                    _ = task_stop.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let now = tokio::time::Instant::now();
                let sent = LiveCounters::get(&counters.sent);
                let deliveries = LiveCounters::get(&counters.deliveries);
                let seconds = now.duration_since(last.2).as_secs_f64().max(0.001);
                task_bar.set_position(now.duration_since(started).as_secs());
                task_bar.set_message(format!(
                    "conn {} | sent {:.0}/s | delivered {:.0}/s | errors {}",
                    LiveCounters::get(&counters.connected),
                    (sent - last.0) as f64 / seconds,
                    (deliveries - last.1) as f64 / seconds,
                    LiveCounters::get(&counters.errors),
                ));
                last = (sent, deliveries, now);
            }
        });
        Self { bar, stop }
    }
}

impl Drop for LiveProgress {
    fn drop(&mut self) {
        self.stop.cancel();
        self.bar.finish_and_clear();
    }
}
