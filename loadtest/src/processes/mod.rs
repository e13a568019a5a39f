//! The processes a scenario starts and watches: a throwaway Redis, fresh databases on the
//! machine's Postgres, `convene migrate`/`gateway`/`serve`, and the Node.js baseline. Each is
//! a child of this process, logs into a temporary directory, and is killed when its handle is
//! dropped (also when a scenario fails or is interrupted). CPU time and memory are read from
//! `/proc/<pid>`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::process::{Child, Command};

use crate::{Error, Result};

mod proc_stats;

pub use self::proc_stats::{
    cpu_time, parse_cpu_ticks, parse_prometheus_rss, parse_vm_rss, resident_bytes,
};

/// How long a started server may take to answer.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| Error::Io {
        path: "127.0.0.1:0".to_owned(),
        source,
    })?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|source| Error::Io {
            path: "127.0.0.1:0".to_owned(),
            source,
        })
}

/// One child process, killed (SIGKILL) and reaped when dropped.
pub struct ManagedProcess {
    pub name: String,
    child: Child,
    pid: u32,
    pub log_path: PathBuf,
}

impl ManagedProcess {
    /// Starts `command` with its output in `log_path`.
    pub fn spawn(name: &str, mut command: Command, log_path: PathBuf) -> Result<Self> {
        let log = std::fs::File::create(&log_path).map_err(|source| Error::Io {
            path: log_path.display().to_string(),
            source,
        })?;
        let log_err = log.try_clone().map_err(|source| Error::Io {
            path: log_path.display().to_string(),
            source,
        })?;
        command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true);
        let child = command.spawn().map_err(|source| Error::Spawn {
            program: name.to_owned(),
            source,
        })?;
        let pid = child.id().ok_or_else(|| Error::NotReady {
            what: name.to_owned(),
            detail: "exited at once".to_owned(),
        })?;
        Ok(Self {
            name: name.to_owned(),
            child,
            pid,
            log_path,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its log (for error messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log_path).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// Waits until `url` answers 200, or the process exits, or [`READY_WITHIN`] passes.
pub async fn wait_http_ok(process: &mut ManagedProcess, url: &str) -> Result<()> {
    let http = crate::targets::convene::http_client()?;
    let started = Instant::now();
    loop {
        if !process.is_running() {
            return Err(Error::NotReady {
                what: process.name.clone(),
                detail: format!("it exited; its log ends with:\n{}", process.log_tail()),
            });
        }
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if started.elapsed() > READY_WITHIN {
            return Err(Error::NotReady {
                what: process.name.clone(),
                detail: format!("{url} did not answer 200; log:\n{}", process.log_tail()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_tcp(process: &mut ManagedProcess, port: u16) -> Result<()> {
    let started = Instant::now();
    loop {
        if !process.is_running() {
            return Err(Error::NotReady {
                what: process.name.clone(),
                detail: format!("it exited; its log ends with:\n{}", process.log_tail()),
            });
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if started.elapsed() > READY_WITHIN {
            return Err(Error::NotReady {
                what: process.name.clone(),
                detail: format!("port {port} never opened"),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A temporary directory for logs and data, removed when dropped.
pub fn work_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("convene-loadtest-")
        .tempdir()
        .map_err(|source| Error::Io {
            path: std::env::temp_dir().display().to_string(),
            source,
        })
}

/// `redis-server` on a free loopback port without persistence.
pub struct ThrowawayRedis {
    pub process: ManagedProcess,
    pub port: u16,
    dir: PathBuf,
    restarts: usize,
}

impl ThrowawayRedis {
    pub async fn start(dir: &Path) -> Result<Self> {
        let port = free_port()?;
        let process = Self::spawn(dir, port, 0).await?;
        Ok(Self {
            process,
            port,
            dir: dir.to_path_buf(),
            restarts: 0,
        })
    }

    async fn spawn(dir: &Path, port: u16, restarts: usize) -> Result<ManagedProcess> {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir);
        let mut process = ManagedProcess::spawn(
            "redis-server",
            command,
            dir.join(format!("redis-{restarts}.log")),
        )?;
        wait_tcp(&mut process, port).await?;
        Ok(process)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it and starts a new, empty one on the same port.
    pub async fn restart(&mut self) -> Result<()> {
        self.process.kill().await;
        self.restarts += 1;
        self.process = Self::spawn(&self.dir, self.port, self.restarts).await?;
        Ok(())
    }
}

/// A fresh database `convene_lt_<random>[_suffix]` on the machine's Postgres, dropped (with
/// its connections) when this is dropped.
pub struct FreshDatabase {
    admin_url: String,
    pub name: String,
}

impl FreshDatabase {
    /// `admin_url` is a server URL without a database (`postgres://postgres@127.0.0.1:5432`).
    pub async fn create(admin_url: &str, suffix: &str) -> Result<Self> {
        let name = format!("convene_lt_{:08x}{suffix}", rand::random::<u32>());
        psql(admin_url, &format!("CREATE DATABASE {name}")).await?;
        Ok(Self {
            admin_url: admin_url.trim_end_matches('/').to_owned(),
            name,
        })
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.admin_url, self.name)
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        // Synchronous on purpose: it must also run while a failed scenario unwinds.
        let _ = std::process::Command::new("psql")
            .arg(format!("{}/postgres", self.admin_url))
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

async fn psql(admin_url: &str, sql: &str) -> Result<()> {
    let output = Command::new("psql")
        .arg(format!("{}/postgres", admin_url.trim_end_matches('/')))
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| Error::Spawn {
            program: "psql".to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Command {
            what: format!("psql -c {sql:?}"),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Where the `convene` binary is: `explicit` (`--convene-bin`), else `$CONVENE_BIN`, else
/// next to this executable (`cargo run -p convene-loadtest --release` builds into the same
/// target directory as `cargo build --release -p convene-server`), else
/// `target/release/convene` of the working directory.
pub fn locate_convene(explicit: Option<&Path>) -> Result<PathBuf> {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("convene")));
    let candidates: Vec<PathBuf> = match explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CONVENE_BIN").map(PathBuf::from))
    {
        Some(chosen) => vec![chosen],
        None => sibling
            .into_iter()
            .chain([PathBuf::from("target/release/convene")])
            .collect(),
    };
    candidates
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .ok_or_else(|| Error::NotReady {
            what: "the convene binary".to_owned(),
            detail: format!(
                "none of {} exists: build it (cargo build --release -p convene-server) or pass --convene-bin / set CONVENE_BIN",
                candidates
                    .iter()
                    .map(|candidate| candidate.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Settings every `convene` process the tool starts gets: limits high enough that the load
/// test measures the server, not its abuse protection (which a real deployment keeps).
const UNLIMITED_RATE_SETTINGS: [(&str, &str); 3] = [
    ("CONVENE_AUTH_RATE_LIMIT_PER_MINUTE", "1000000"),
    ("CONVENE_API_RATE_LIMIT_PER_MINUTE", "1000000"),
    ("CONVENE_MESSAGE_RATE_LIMIT_PER_MINUTE", "1000000"),
];

fn convene_command(binary: &Path, subcommand: &str, data_dir: &Path) -> Command {
    let mut command = Command::new(binary);
    // Only what the tool sets applies, not the caller's CONVENE_* environment.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CONVENE_") {
            command.env_remove(&name);
        }
    }
    command
        .arg(subcommand)
        .env("CONVENE_DATA_DIR", data_dir)
        .env("CONVENE_LOG", "warn")
        .env("CONVENE_LOG_FORMAT", "text")
        .envs(UNLIMITED_RATE_SETTINGS);
    command
}

/// A fresh signing key for gateways that must share one (`CONVENE_JWT_KEYS`).
pub fn random_jwt_keys() -> String {
    let secret: [u8; 32] = rand::random();
    format!(
        "lt:{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

/// A `convene` server process and its base URL.
pub struct ConveneServer {
    pub process: ManagedProcess,
    pub base_url: String,
    port: u16,
    binary: PathBuf,
    subcommand: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
    starts: usize,
}

impl ConveneServer {
    /// `convene serve` on embedded defaults (SQLite, in-process bus) in `dir`.
    pub async fn serve(binary: &Path, dir: &Path) -> Result<Self> {
        Self::start(binary, "serve", dir, Vec::new()).await
    }

    /// `convene serve` with more settings (they override the tool's raised rate limits).
    pub async fn serve_with(binary: &Path, dir: &Path, env: &[(&str, &str)]) -> Result<Self> {
        let env = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Self::start(binary, "serve", dir, env).await
    }

    /// `convene gateway` on Postgres and Redis with shared signing keys.
    pub async fn gateway(
        binary: &Path,
        dir: &Path,
        database_url: &str,
        redis_url: &str,
        jwt_keys: &str,
    ) -> Result<Self> {
        let env = vec![
            ("CONVENE_DATABASE_URL".to_owned(), database_url.to_owned()),
            ("CONVENE_REDIS_URL".to_owned(), redis_url.to_owned()),
            ("CONVENE_JWT_KEYS".to_owned(), jwt_keys.to_owned()),
        ];
        Self::start(binary, "gateway", dir, env).await
    }

    async fn start(
        binary: &Path,
        subcommand: &str,
        dir: &Path,
        env: Vec<(String, String)>,
    ) -> Result<Self> {
        let port = free_port()?;
        let data_dir = dir.join(format!("data-{port}"));
        let mut server = Self {
            process: Self::spawn(binary, subcommand, &data_dir, port, &env, dir, 0)?,
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            binary: binary.to_path_buf(),
            subcommand: subcommand.to_owned(),
            dir: dir.to_path_buf(),
            env,
            starts: 1,
        };
        let healthz = format!("{}/readyz", server.base_url);
        wait_http_ok(&mut server.process, &healthz).await?;
        Ok(server)
    }

    fn spawn(
        binary: &Path,
        subcommand: &str,
        data_dir: &Path,
        port: u16,
        env: &[(String, String)],
        dir: &Path,
        starts: usize,
    ) -> Result<ManagedProcess> {
        let mut command = convene_command(binary, subcommand, data_dir);
        command
            .env("CONVENE_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .envs(env.iter().map(|(name, value)| (name, value)));
        ManagedProcess::spawn(
            &format!("convene {subcommand} :{port}"),
            command,
            dir.join(format!("convene-{subcommand}-{port}-{starts}.log")),
        )
    }

    /// SIGKILL (no graceful shutdown: a crashed pod).
    pub async fn kill(&mut self) {
        self.process.kill().await;
    }

    /// Starts it again on the same port and settings.
    pub async fn restart(&mut self) -> Result<()> {
        self.process.kill().await;
        let data_dir = self.dir.join(format!("data-{}", self.port));
        self.process = Self::spawn(
            &self.binary,
            &self.subcommand,
            &data_dir,
            self.port,
            &self.env,
            &self.dir,
            self.starts,
        )?;
        self.starts += 1;
        let healthz = format!("{}/readyz", self.base_url);
        wait_http_ok(&mut self.process, &healthz).await
    }
}

/// `convene migrate` against `database_url`.
pub async fn migrate(binary: &Path, dir: &Path, database_url: &str) -> Result<()> {
    let mut command = convene_command(binary, "migrate", &dir.join("data-migrate"));
    command.env("CONVENE_DATABASE_URL", database_url);
    let output = command
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| Error::Spawn {
            program: "convene migrate".to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Command {
            what: "convene migrate".to_owned(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// `node loadtest/baselines/socketio/server.js` on a free port.
pub struct BaselineServer {
    pub process: ManagedProcess,
    pub base_url: String,
}

impl BaselineServer {
    pub async fn start(
        server_js: &Path,
        dir: &Path,
        database_url: &str,
        redis_url: &str,
        node_id: &str,
    ) -> Result<Self> {
        let port = free_port()?;
        let mut command = Command::new("node");
        command
            .arg(server_js)
            .env("PORT", port.to_string())
            .env("REDIS_URL", redis_url)
            .env("DATABASE_URL", database_url)
            .env("NODE_ID", node_id);
        let mut process = ManagedProcess::spawn(
            &format!("baseline {node_id} :{port}"),
            command,
            dir.join(format!("baseline-{node_id}.log")),
        )?;
        let base_url = format!("http://127.0.0.1:{port}");
        wait_http_ok(&mut process, &format!("{base_url}/healthz")).await?;
        Ok(Self { process, base_url })
    }
}
