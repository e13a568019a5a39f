//! The one place that picks implementations: which store, which bus, which keys. Then it
//! serves until SIGTERM/SIGINT and shuts down gracefully.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use convene_bus::{Bus, InProcessBus, RedisBus};
use convene_gateway::AppState;
use convene_gateway::auth::tokens::SigningKey;
use convene_gateway::clock::SystemClock;
use convene_store::{PostgresStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, parse_signing_keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Serve,
    Gateway,
}

const SIGNING_KEY_FILE: &str = "jwt-signing-key";
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// The concrete store, kept so that shutdown can close its pool.
enum OpenedStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl OpenedStore {
    fn as_store(&self) -> Arc<dyn Store> {
        match self {
            OpenedStore::Sqlite(store) => Arc::new(store.clone()),
            OpenedStore::Postgres(store) => Arc::new(store.clone()),
        }
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            OpenedStore::Sqlite(store) => store.migrate().await,
            OpenedStore::Postgres(store) => store.migrate().await,
        }
        .context("applying database migrations failed")
    }

    async fn close(&self) {
        match self {
            OpenedStore::Sqlite(store) => store.close().await,
            OpenedStore::Postgres(store) => store.close().await,
        }
    }
}

fn sqlite_path(config: &Config) -> PathBuf {
    match config.database_url.as_deref() {
        Some(url) => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            PathBuf::from(path.split('?').next().unwrap_or(path))
        }
        None => config.data_dir.join("convene.db"),
    }
}

async fn open_store(config: &Config) -> anyhow::Result<OpenedStore> {
    match config.database_url.as_deref() {
        Some(url) if url.starts_with("postgres") => {
            let store = PostgresStore::connect(
                url,
                config.database_max_connections,
                Duration::from_secs(config.database_acquire_timeout_seconds),
            )
            .await
            .context("CONVENE_DATABASE_URL: cannot use this Postgres URL")?;
            Ok(OpenedStore::Postgres(store))
        }
        _ => {
            let path = sqlite_path(config);
            if let Some(parent) = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating the data directory {}", parent.display()))?;
            }
            let store = SqliteStore::connect(&path)
                .await
                .with_context(|| format!("opening the SQLite database {}", path.display()))?;
            Ok(OpenedStore::Sqlite(store))
        }
    }
}

pub(crate) fn open_bus(config: &Config) -> anyhow::Result<Arc<dyn Bus>> {
    Ok(match &config.redis_url {
        Some(url) => Arc::new(RedisBus::connect(url).context("CONVENE_REDIS_URL")?),
        None => Arc::new(InProcessBus::new()),
    })
}

/// Configured keys, or for `serve` a key generated once into the data directory so that
/// sessions survive restarts.
fn signing_keys(config: &Config, role: Role) -> anyhow::Result<Vec<SigningKey>> {
    if let Some(keys) = &config.jwt_keys {
        return Ok(parse_signing_keys(keys.expose())?);
    }
    if role == Role::Gateway {
        bail!("CONVENE_JWT_KEYS is required for `convene gateway`");
    }
    let path = config.data_dir.join(SIGNING_KEY_FILE);
    if !path.exists() {
        write_new_signing_key(&path)?;
        tracing::info!(path = %path.display(), "generated an access-token signing key");
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the signing key {}", path.display()))?;
    parse_signing_keys(text.trim())
        .with_context(|| format!("the signing key file {}", path.display()))
}

fn write_new_signing_key(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the data directory {}", parent.display()))?;
    }
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let mut key_id = [0u8; 4];
    rand::fill(&mut key_id);
    let key_id: String = key_id.iter().map(|byte| format!("{byte:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the signing key {}", path.display()))?;
    writeln!(file, "local-{key_id}:{}", STANDARD.encode(secret))
        .with_context(|| format!("writing the signing key {}", path.display()))?;
    Ok(())
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    store.migrate().await?;
    tracing::info!("migrations applied");
    store.close().await;
    Ok(())
}

pub async fn serve(config: Config, role: Role) -> anyhow::Result<()> {
    let keys = signing_keys(&config, role)?;
    let store = open_store(&config).await?;
    if role == Role::Serve {
        store.migrate().await?;
    }
    let bus = open_bus(&config)?;
    let settings = config.gateway_settings(keys);
    let mut state = AppState::new(
        store.as_store(),
        bus.clone(),
        settings,
        Arc::new(SystemClock),
    )
    .context("building the gateway")?;
    state.media.policy = config.sfu_placement_policy;
    state.media.control_secret = config
        .sfu_control_secret
        .as_ref()
        .map(|secret| secret.expose().to_owned());
    if role == Role::Serve {
        // The embedded default hosts meetings' media in this process.
        let sfu = convene_sfu::SfuNode::start(config.sfu_config(), state.shutdown.clone())
            .await
            .context("CONVENE_SFU_UDP_ADDR: starting the in-process SFU")?;
        tracing::info!(media_addr = %sfu.media_addr(), "meetings' media on the in-process SFU");
        state.media.local = Some(sfu);
    }
    let router = convene_gateway::router(state.clone());
    if !convene_gateway::web::WebUi::new(state.settings.web_dir.clone()).is_built() {
        tracing::warn!(
            web_dir = ?state.settings.web_dir,
            "the web UI is not built (run script/run or script/build-web); serving the API only"
        );
    }

    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("CONVENE_HTTP_ADDR: cannot listen on {}", config.http_addr))?;
    let local_addr = listener
        .local_addr()
        .context("reading the listen address")?;
    tracing::info!(
        addr = %local_addr,
        role = ?role,
        store = if matches!(store, OpenedStore::Sqlite(_)) { "sqlite" } else { "postgres" },
        bus = bus.kind(),
        version = env!("CARGO_PKG_VERSION"),
        "convene listening on http://{local_addr}"
    );

    let tasks = TaskTracker::new();
    tasks.spawn(maintenance(state.clone(), state.shutdown.clone()));
    state.spawn_background_tasks(&tasks);

    let stop_accepting = CancellationToken::new();
    let server = tokio::spawn({
        let stop_accepting = stop_accepting.clone();
        async move {
            // Without TCP_NODELAY a small WebSocket frame written right after another waits
            // for the client's delayed ACK (~40 ms, measured on meeting joins).
            let listener = listener.tap_io(|tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "setting TCP_NODELAY failed");
                }
            });
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stop_accepting.cancelled_owned())
            .await
        }
    });

    wait_for_signal().await;
    tracing::info!("shutting down: draining");
    state.start_draining();
    tokio::time::sleep(Duration::from_secs(config.shutdown_delay_seconds)).await;
    stop_accepting.cancel();
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    // WebSockets are upgraded connections the HTTP server no longer tracks: close them
    // ("going away", clients reconnect to another pod) and wait for their tasks.
    state.close_connections(grace).await;
    match tokio::time::timeout(grace, server).await {
        Ok(Ok(Ok(()))) => tracing::info!("all requests finished"),
        Ok(Ok(Err(error))) => tracing::error!(%error, "the HTTP server failed"),
        Ok(Err(error)) => tracing::error!(%error, "the HTTP server task failed"),
        Err(_) => tracing::warn!(
            grace_seconds = grace.as_secs(),
            "requests still running after the grace period were cut"
        ),
    }
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tasks.wait()).await;
    bus.close().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn maintenance(state: AppState, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(MAINTENANCE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => state.run_maintenance().await,
        }
    }
}

pub(crate) async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
