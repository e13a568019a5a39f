//! `convene-operator [run]` runs the SfuPool operator; `convene-operator crd` prints the CRD.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use convene_bus::{Bus, RedisBus};
use convene_operator::config::Config;
use convene_operator::decisions::Settings;
use convene_operator::leader::{LeaderElector, LeaderSettings};
use convene_operator::metrics::Metrics;
use convene_operator::{Context, SfuPool, run_controller};
use kube::api::ListParams;
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const USAGE: &str = "usage: convene-operator [run | crd]\n  run  reconcile SfuPools (the default; configured by CONVENE_OPERATOR_* and CONVENE_REDIS_URL)\n  crd  print the SfuPool CustomResourceDefinition as YAML";

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    match command.as_deref() {
        None | Some("run") => {}
        Some("crd") => {
            return match convene_operator::crd::crd_yaml() {
                Ok(yaml) => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("convene-operator: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("convene-operator: unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    // Validated before anything binds or connects: a bad setting is a clear exit 2.
    let config = match Config::from_lookup(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("convene-operator: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = init_tracing(&config) {
        eprintln!("convene-operator: {error:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("convene-operator: starting the runtime failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(Outcome::ShutDown) => ExitCode::SUCCESS,
        Ok(Outcome::LostLeadership) => {
            // Restarting is the simplest way back to a clean follower.
            tracing::warn!("lost leadership; exiting so the pod restarts as a follower");
            ExitCode::FAILURE
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "convene-operator failed");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .context("CONVENE_OPERATOR_LOG is not a valid tracing filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let result = if config.log_json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|error| anyhow::anyhow!("installing the log subscriber failed: {error}"))
}

enum Outcome {
    ShutDown,
    LostLeadership,
}

#[derive(Clone)]
struct HttpState {
    bus: Arc<dyn Bus>,
    metrics: Arc<Metrics>,
}

async fn run(config: Config) -> anyhow::Result<Outcome> {
    let bus: Arc<dyn Bus> =
        Arc::new(RedisBus::connect(&config.redis_url).context("CONVENE_REDIS_URL is invalid")?);
    let client = Client::try_default()
        .await
        .context("no Kubernetes configuration (in-cluster service account or kubeconfig)")?;
    let metrics = Arc::new(Metrics::new());

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding {}", config.http_addr))?;
    tasks.spawn(serve_http(
        listener,
        HttpState {
            bus: bus.clone(),
            metrics: metrics.clone(),
        },
        shutdown.clone(),
    ));
    tracing::info!(addr = %config.http_addr, namespace = %config.namespace, identity = %config.identity, "convene-operator started");

    // The CRD must be installed; say so plainly rather than let the watcher retry forever.
    let pools = Api::<SfuPool>::namespaced(client.clone(), &config.namespace);
    if let Err(error) = pools.list(&ListParams::default().limit(1)).await {
        tracing::error!(%error, "cannot list SfuPools: is the CRD installed (crds/sfupool.yaml) and the RBAC granted?");
    }

    let mut context = Context::new(
        client.clone(),
        bus,
        metrics.clone(),
        config.identity.clone(),
    );
    context.settings = Settings {
        heartbeat_grace: chrono::TimeDelta::from_std(config.heartbeat_grace)
            .unwrap_or(chrono::TimeDelta::seconds(30)),
    };
    context.requeue_interval = config.requeue_interval;
    let context = Arc::new(context);
    let elector = LeaderElector::new(
        client,
        &config.namespace,
        LeaderSettings {
            lease_name: config.lease_name.clone(),
            identity: config.identity.clone(),
            lease_duration: config.lease_duration,
            renew_period: config.lease_renew_period,
        },
        context.leading.clone(),
        metrics,
    );

    let signalled = CancellationToken::new();
    tokio::spawn({
        let signalled = signalled.clone();
        async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            signalled.cancel();
        }
    });

    let controller_stop = CancellationToken::new();
    let namespace = config.namespace.clone();
    elector
        .run(signalled.clone(), || {
            let context = context.clone();
            let controller_stop = controller_stop.clone();
            tasks.spawn(async move { run_controller(context, &namespace, controller_stop).await });
        })
        .await;
    let outcome = if signalled.is_cancelled() {
        Outcome::ShutDown
    } else {
        Outcome::LostLeadership
    };
    context.leading.store(false, Ordering::SeqCst);
    controller_stop.cancel();
    shutdown.cancel();
    tasks.close();
    if tokio::time::timeout(config.shutdown_timeout, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_seconds = config.shutdown_timeout.as_secs(),
            "shutdown deadline passed with reconciles still running"
        );
    }
    if matches!(outcome, Outcome::ShutDown) {
        elector.release().await;
    }
    Ok(outcome)
}

async fn wait_for_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

async fn serve_http(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        // Liveness never touches Kubernetes or Redis: an outage there must not restart us.
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(error) = served {
        tracing::error!(%error, "the HTTP server failed");
    }
}

async fn ready(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    match tokio::time::timeout(Duration::from_secs(2), state.bus.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable"),
    }
}

async fn metrics(State(state): State<HttpState>) -> ([(&'static str, &'static str); 1], String) {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}
