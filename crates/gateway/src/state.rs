//! Everything a handler can reach, built once by the binary's wiring.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use convene_bus::Bus;
use convene_store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::password::PasswordService;
use crate::auth::tokens::TokenService;
use crate::chat::hub::Hub;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;
use crate::settings::GatewaySettings;
use crate::{Error, Result};

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub settings: Arc<GatewaySettings>,
    pub tokens: Arc<TokenService>,
    pub passwords: PasswordService,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub rate_limits: Arc<RateLimits>,
    pub hub: Arc<Hub>,
    /// Presence news waiting for the bus to come back.
    pub presence_backlog: Arc<crate::chat::presence::PresenceBacklog>,
    /// Cancelled at shutdown: WebSocket connections close with "going away".
    pub shutdown: CancellationToken,
    /// WebSocket connection tasks, awaited at shutdown (hyper does not track upgraded
    /// connections).
    pub connection_tasks: TaskTracker,
    draining: Arc<AtomicBool>,
    /// Where meetings' media goes: the in-process SFU node (`convene serve`) and the nodes
    /// of the bus's SFU registry.
    pub media: crate::meetings::MediaPlacement,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        settings: GatewaySettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let tokens = TokenService::new(&settings.signing_keys).ok_or(Error::NoSigningKey)?;
        let passwords = PasswordService::new(settings.password_hash_concurrency)
            .map_err(|_| Error::PasswordHashing)?;
        let rate_limits = RateLimits::new(
            settings.auth_requests_per_minute,
            settings.api_requests_per_minute,
            settings.messages_per_minute,
            settings.trust_forwarded_for,
        );
        let hub = Arc::new(Hub::new(bus.clone()));
        Ok(Self {
            store,
            bus,
            settings: Arc::new(settings),
            tokens: Arc::new(tokens),
            passwords,
            clock,
            metrics: Arc::new(Metrics::new()),
            rate_limits: Arc::new(rate_limits),
            hub,
            presence_backlog: Arc::default(),
            shutdown: CancellationToken::new(),
            connection_tasks: TaskTracker::new(),
            draining: Arc::new(AtomicBool::new(false)),
            media: crate::meetings::MediaPlacement::default(),
        })
    }

    /// From now on `/readyz` answers 503 so that load balancers stop sending new clients,
    /// while requests in flight finish.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Starts what runs beside the requests: bus deliveries to local connections, presence
    /// heartbeats and dead-pod sweeps. They stop when `shutdown` is cancelled.
    pub fn spawn_background_tasks(&self, tasks: &TaskTracker) {
        if let Some(signals) = self.bus.take_signals() {
            tasks.spawn(crate::chat::presence::run_bus_signals(
                self.clone(),
                signals,
                self.shutdown.clone(),
            ));
        }
        tasks.spawn(crate::chat::presence::run(
            self.clone(),
            self.shutdown.clone(),
        ));
        tasks.spawn(crate::calls::sweeper::run(
            self.clone(),
            self.shutdown.clone(),
        ));
    }

    /// Closes every WebSocket ("going away", so clients reconnect elsewhere) and waits for
    /// their tasks, at most `deadline`.
    pub async fn close_connections(&self, deadline: std::time::Duration) {
        self.shutdown.cancel();
        self.connection_tasks.close();
        if tokio::time::timeout(deadline, self.connection_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some WebSocket connections did not close in time");
        }
    }

    /// Housekeeping that keeps memory and tables bounded: expired sessions, idle rate-limit
    /// keys. Called periodically by the binary.
    pub async fn run_maintenance(&self) {
        self.rate_limits.forget_idle_keys();
        match self.store.delete_expired_sessions(self.clock.now()).await {
            Ok(0) => {}
            Ok(n_deleted) => tracing::info!(n_deleted, "deleted expired sessions"),
            Err(error) => tracing::warn!(
                error = &error as &dyn std::error::Error,
                "session cleanup failed"
            ),
        }
    }
}
