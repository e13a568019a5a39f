//! `api`: logins and history reads at a target rate, open-loop (a request is started on
//! schedule whether or not earlier ones finished, so a slow server shows up as latency, not
//! as a lower request rate). Convene only: the baseline has no REST API.
//!
//! Convene limits `/auth/*` per client IP (`CONVENE_AUTH_RATE_LIMIT_PER_MINUTE`, 30 by
//! default): against a server this tool did not start, 429s are reported as such.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

use super::setup;
use crate::metrics::{LatencyRecorder, LatencySummary};
use crate::progress::{LiveCounters, LiveProgress};
use crate::targets::convene::ConveneTarget;
use crate::targets::{Target, UserAccount};
use crate::{Result, bounds};

/// Requests in flight at most; beyond it a scheduled request is counted as skipped.
const MAX_IN_FLIGHT: usize = 512;
/// Messages put in the conversation so that history reads return something.
const SEEDED_MESSAGES: usize = 50;
const HISTORY_PAGE: u32 = 50;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub users: usize,
    pub rate_per_second: f64,
    pub duration: Duration,
    /// Share of requests that are logins (the rest are history reads), 0–100.
    pub login_percent: u8,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            users: 5,
            rate_per_second: 20.0,
            duration: Duration::from_secs(10),
            login_percent: 20,
        }
    }
}

impl ApiConfig {
    pub fn validate(&self) -> Result<()> {
        bounds::check_range("--users", self.users as u64, 1, bounds::MAX_USERS)?;
        bounds::check_range(
            "--rate",
            self.rate_per_second.ceil() as u64,
            1,
            bounds::MAX_RATE_PER_SECOND,
        )?;
        bounds::check_duration("--duration", self.duration)?;
        bounds::check_range("--login-percent", u64::from(self.login_percent), 0, 100)
    }
}

/// Latency and answers of one kind of request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestKindReport {
    pub requests: u64,
    pub latency: LatencySummary,
    /// Answers by HTTP status (`"200"`, `"429"`, …), and `"transport"` for no answer.
    pub statuses: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiReport {
    pub base_urls: Vec<String>,
    pub rate_per_second: f64,
    pub duration_seconds: f64,
    pub achieved_per_second: f64,
    pub login: RequestKindReport,
    pub history: RequestKindReport,
    /// Scheduled requests not started because too many were in flight.
    pub skipped: u64,
}

impl ApiReport {
    /// Answers that are not 2xx (429s included), and requests without an answer.
    pub fn error_count(&self) -> u64 {
        [&self.login, &self.history]
            .iter()
            .flat_map(|kind| kind.statuses.iter())
            .filter(|(status, _)| !status.starts_with('2'))
            .map(|(_, count)| count)
            .sum()
    }
}

#[derive(Default)]
struct KindTally {
    latency: LatencyRecorder,
    statuses: BTreeMap<String, u64>,
}

impl KindTally {
    fn report(&self) -> RequestKindReport {
        RequestKindReport {
            requests: self.statuses.values().sum(),
            latency: self.latency.summary(),
            statuses: self.statuses.clone(),
        }
    }
}

pub async fn run(
    target: Arc<ConveneTarget>,
    config: &ApiConfig,
    counters: Arc<LiveCounters>,
) -> Result<ApiReport> {
    config.validate()?;
    let run_id = setup::run_id();
    let population = setup::populate(target.as_ref(), &run_id, config.users.max(2), 1).await?;
    let conversation_id = population.conversations[0].conversation_id.clone();
    for index in 0..SEEDED_MESSAGES {
        let user = &population.users[index % population.users.len()];
        target
            .send_over_rest(user, &conversation_id, &format!("history message {index}"))
            .await?;
    }
    let users: Arc<Vec<UserAccount>> = Arc::new(population.users);
    let logins = Arc::new(Mutex::new(KindTally::default()));
    let histories = Arc::new(Mutex::new(KindTally::default()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut skipped = 0;
    let progress = LiveProgress::start("api", config.duration, counters.clone());
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / config.rate_per_second);
    let mut next = started;
    let mut index = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    while next < started + config.duration {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        index += 1;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let is_login = (index * 37 % 100) < usize::from(config.login_percent);
        let target = target.clone();
        let users = users.clone();
        let tally = if is_login {
            logins.clone()
        } else {
            histories.clone()
        };
        let conversation_id = conversation_id.clone();
        let counters = counters.clone();
        tasks.spawn(async move {
            let user = &users[index % users.len()];
            let request_started = Instant::now();
            let answer = if is_login {
                target
                    .login_once(
                        index,
                        &user.username,
                        user.password.as_deref().unwrap_or_default(),
                    )
                    .await
            } else {
                target
                    .history_page_once(index, user, &conversation_id, HISTORY_PAGE)
                    .await
            };
            let latency = request_started.elapsed();
            LiveCounters::add(&counters.sent, 1);
            let status = match answer {
                Ok(answer) => answer.status.to_string(),
                Err(_) => "transport".to_owned(),
            };
            if status.starts_with('2') {
                LiveCounters::add(&counters.deliveries, 1);
            } else {
                LiveCounters::add(&counters.errors, 1);
            }
            let mut tally = tally.lock().await;
            tally
                .latency
                .record(latency, request_started.duration_since(started));
            *tally.statuses.entry(status).or_default() += 1;
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    drop(progress);
    let elapsed = started.elapsed().as_secs_f64();
    let login = logins.lock().await.report();
    let history = histories.lock().await.report();
    Ok(ApiReport {
        base_urls: target.base_urls().to_vec(),
        rate_per_second: config.rate_per_second,
        duration_seconds: config.duration.as_secs_f64(),
        achieved_per_second: (login.requests + history.requests) as f64 / elapsed,
        login,
        history,
        skipped,
    })
}
