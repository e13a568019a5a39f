//! `convene`: every role of the Convene server in one binary.
//!
//! - `convene` / `convene serve`: everything in one process on embedded defaults (SQLite in
//!   the data directory, in-process bus). Migrates the database itself.
//! - `convene gateway`: the production role for Kubernetes; Postgres, Redis and shared keys
//!   are required, and migrations are applied beforehand by `convene migrate`.
//! - `convene migrate`: applies the database migrations and exits.
//! - `convene settings`: prints the documented list of settings (docs/configuration.md).

mod config;
mod sfu_role;
mod telemetry;
mod wiring;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, SETTINGS, env_name};

#[derive(Debug, Parser)]
#[command(name = "convene", version, about = "Convene: meetings and chat")]
struct Cli {
    /// A TOML file of settings (keys as in docs/configuration.md, lowercase).
    #[arg(long, env = "CONVENE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Overrides CONVENE_HTTP_ADDR.
    #[arg(long, global = true)]
    http_addr: Option<String>,
    /// Overrides CONVENE_DATA_DIR.
    #[arg(long, global = true)]
    data_dir: Option<String>,
    /// Overrides CONVENE_DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Overrides CONVENE_REDIS_URL.
    #[arg(long, global = true)]
    redis_url: Option<String>,
    /// Any setting, as key=value (repeatable): `--set lockout_threshold=10`.
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    set: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Command {
    /// Everything in one process on embedded defaults (the default).
    Serve,
    /// The stateless gateway of a multi-pod deployment (Postgres + Redis required).
    Gateway,
    /// A media node (SFU) of a multi-pod deployment: registers in Redis, serves meetings'
    /// media on one UDP socket and the gateways' control API.
    Sfu,
    /// Apply database migrations and exit.
    Migrate,
    /// Print every setting with its environment variable and default, as Markdown.
    Settings,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Settings = command {
        print!("{}", settings_markdown());
        return ExitCode::SUCCESS;
    }
    let config = match load_config(&cli, command) {
        Ok(config) => config,
        Err(error) => {
            // Before logging is set up: a plain line on stderr, and a distinct exit code.
            eprintln!("convene: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("convene: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let _telemetry = telemetry::init(config.log_format, &config.log_filter, "convene")?;
        match command {
            Command::Serve => wiring::serve(config, wiring::Role::Serve).await,
            Command::Gateway => wiring::serve(config, wiring::Role::Gateway).await,
            Command::Sfu => sfu_role::run(config).await,
            Command::Migrate => wiring::migrate(config).await,
            Command::Settings => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "convene stopped with an error"
            );
            eprintln!("convene: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli, command: Command) -> Result<Config, config::ConfigError> {
    let mut overrides: BTreeMap<&'static str, String> = BTreeMap::new();
    let flags = [
        ("http_addr", &cli.http_addr),
        ("data_dir", &cli.data_dir),
        ("database_url", &cli.database_url),
        ("redis_url", &cli.redis_url),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            overrides.insert(key, value.clone());
        }
    }
    for assignment in &cli.set {
        let (key, value) = assignment
            .split_once('=')
            .unwrap_or((assignment.as_str(), ""));
        let setting = config::setting(key.trim()).ok_or_else(|| config::ConfigError::Invalid {
            setting: format!("--set {key}"),
            reason: "unknown setting".into(),
        })?;
        overrides.insert(setting.key, value.to_owned());
    }
    let config = Config::load(cli.config.as_deref(), std::env::vars(), &overrides)?;
    config.validate()?;
    if let Command::Gateway = command {
        config.validate_for_gateway()?;
    }
    if let Command::Sfu = command {
        config.validate_for_sfu()?;
    }
    Ok(config)
}

fn settings_markdown() -> String {
    let mut text = String::from("| Variable | Default | Meaning |\n|---|---|---|\n");
    for setting in SETTINGS {
        let default = if setting.default.is_empty() {
            "(empty)".to_owned()
        } else {
            format!("`{}`", setting.default)
        };
        text.push_str(&format!(
            "| `{}` | {default} | {} |\n",
            env_name(setting.key),
            setting.doc
        ));
    }
    text
}
