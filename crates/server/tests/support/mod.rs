//! Shared helpers of the `convene` binary's integration tests: free ports, the real binary
//! as a child process, a throwaway PostgreSQL server, a fresh database on the machine's
//! server ([`database`]), a throwaway Redis ([`redis`]) (see /work/shared/TESTING.md,
//! "Postgres and Redis"), and a WebSocket client of the chat protocol ([`ws`]).
//!
//! Every process started here is a child of the test and is stopped on every path: by the
//! test, or by `Drop` when an assertion fails. On a failing test the captured logs are
//! printed to help debugging.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod database;
pub mod redis;
pub mod ws;

#[allow(unused_imports)]
pub use database::TestDatabase;
#[allow(unused_imports)]
pub use redis::ThrowawayRedis;

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary under test, built by Cargo for this test run.
pub const CONVENE: &str = env!("CARGO_BIN_EXE_convene");

/// How long a started process may take to answer `/healthz`.
const HEALTHY_WITHIN: Duration = Duration::from_secs(20);

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// An HTTP client for the tests: no proxy from the environment, bounded requests.
pub fn http_client() -> reqwest::Client {
    client_builder().build().expect("build the HTTP client")
}

/// Like [`http_client`], but keeping cookies as a browser would.
pub fn cookie_client() -> reqwest::Client {
    client_builder()
        .cookie_store(true)
        .build()
        .expect("build the HTTP client")
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
}

/// A `Command` for the binary, without any `CONVENE_*` variable inherited from the
/// environment the tests run in, so that only what a test sets applies.
fn convene_command() -> Command {
    let mut command = Command::new(CONVENE);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CONVENE_") {
            command.env_remove(&name);
        }
    }
    command.env("CONVENE_LOG_FORMAT", "json");
    command
}

/// Unique names for the log files of processes that share a directory.
fn next_log_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|error| format!("(cannot read {}: {error})", path.display()))
}

/// Polls `child` until it exits or `timeout` passes.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child process") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// What a run of the binary that was expected to end by itself produced.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `convene <args>` with `env` (a fresh temporary `CONVENE_DATA_DIR` unless `env` sets
/// one) and waits at most `timeout` for it to exit; a process still running then is killed
/// and the test fails.
pub fn run_to_exit(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Finished {
    let dir = tempfile::Builder::new()
        .prefix("convene-run-")
        .tempdir()
        .expect("create a temporary directory");
    let stdout_path = dir.path().join("stdout.log");
    let stderr_path = dir.path().join("stderr.log");
    let mut command = convene_command();
    command
        .args(args)
        .env("CONVENE_DATA_DIR", dir.path().join("data"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create stdout.log"))
        .stderr(File::create(&stderr_path).expect("create stderr.log"));
    let mut child = command.spawn().expect("start the convene binary");
    let status = wait_with_timeout(&mut child, timeout);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "`convene {}` still ran after {timeout:?}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            read_lossy(&stdout_path),
            read_lossy(&stderr_path)
        );
    };
    Finished {
        status,
        stdout: read_lossy(&stdout_path),
        stderr: read_lossy(&stderr_path),
    }
}

/// The `convene` binary running as a server (`serve` or `gateway`), with its output in a
/// log file. Dropping it kills the process (SIGKILL) and reaps it.
pub struct ConveneProcess {
    child: Option<Child>,
    /// Holds the log file, and the data directory unless one was given.
    work_dir: TempDir,
    data_dir: PathBuf,
    log_path: PathBuf,
    addr: SocketAddr,
    subcommand: String,
}

impl ConveneProcess {
    /// Starts `convene <subcommand>` on a free port with its own temporary data directory,
    /// and waits until `/healthz` answers.
    pub async fn start(subcommand: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with_data_dir(subcommand, None, env).await
    }

    /// Same, on a given data directory (to restart on the data of an earlier process).
    pub async fn start_in(data_dir: &Path, subcommand: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with_data_dir(subcommand, Some(data_dir), env).await
    }

    async fn start_with_data_dir(
        subcommand: &str,
        data_dir: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Self {
        let work_dir = tempfile::Builder::new()
            .prefix("convene-test-")
            .tempdir()
            .expect("create a temporary directory");
        let data_dir = data_dir.map_or_else(|| work_dir.path().join("data"), Path::to_path_buf);
        let log_path = work_dir
            .path()
            .join(format!("convene-{subcommand}-{}.log", next_log_number()));
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = File::create(&log_path).expect("create the log file");
        let mut command = convene_command();
        command
            .arg(subcommand)
            // A media node serves its HTTP (control API and health) on its own setting.
            .env(
                if subcommand == "sfu" {
                    "CONVENE_SFU_CONTROL_ADDR"
                } else {
                    "CONVENE_HTTP_ADDR"
                },
                addr.to_string(),
            )
            .env("CONVENE_DATA_DIR", &data_dir)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log);
        let child = command.spawn().expect("start the convene binary");
        let mut process = ConveneProcess {
            child: Some(child),
            work_dir,
            data_dir,
            log_path,
            addr,
            subcommand: subcommand.to_owned(),
        };
        process.wait_until_healthy().await;
        process
    }

    async fn wait_until_healthy(&mut self) {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("build the HTTP client");
        let url = self.url("/healthz");
        let deadline = Instant::now() + HEALTHY_WITHIN;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("poll convene") {
                panic!(
                    "`convene {}` exited with {status} before answering /healthz\n{}",
                    self.subcommand,
                    self.log_section()
                );
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`convene {}` did not answer {url} within {HEALTHY_WITHIN:?}\n{}",
                self.subcommand,
                self.log_section()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the process was already stopped")
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("the process was already stopped")
            .id()
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    fn log_section(&self) -> String {
        format!(
            "--- log of `convene {}` ({})\n{}\n--- end of log",
            self.subcommand,
            self.log_path.display(),
            self.log()
        )
    }

    /// `None` while it runs, its exit status once it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child_mut().try_wait().expect("poll convene")
    }

    /// Kills the process with SIGKILL (a crash: no shutdown code runs) and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the process was already stopped");
        send_signal(child.id(), "KILL");
        child.wait().expect("reap convene")
    }

    /// Sends SIGTERM and returns at once (to watch what the process does meanwhile).
    pub fn signal_terminate(&self) {
        send_signal(
            self.child
                .as_ref()
                .expect("the process was already stopped")
                .id(),
            "TERM",
        );
    }

    /// Sends SIGTERM and waits at most `timeout` for the process to exit; fails the test
    /// (with the log) if it does not.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.pid();
        send_signal(pid, "TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("poll convene") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "`convene {}` did not exit within {timeout:?} of SIGTERM\n{}",
                self.subcommand,
                self.log_section()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for ConveneProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_section());
        }
    }
}

/// The PostgreSQL server binaries of the newest version under `/usr/lib/postgresql/`.
fn postgres_bin_dir() -> PathBuf {
    fn missing(root: &Path) -> ! {
        panic!(
            "PostgreSQL server binaries (initdb, postgres, pg_isready) not found under \
             {}/<version>/bin: install the `postgresql` package (apt-get install -y postgresql)",
            root.display()
        )
    }
    let root = Path::new("/usr/lib/postgresql");
    let Ok(entries) = std::fs::read_dir(root) else {
        missing(root)
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            ["initdb", "postgres", "pg_isready"]
                .iter()
                .all(|program| bin.join(program).is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map_or_else(|| missing(root), |(_, bin)| bin)
}

fn running_as_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(
        &Path::new("/proc/self").metadata().expect("stat /proc/self"),
    ) == 0
}

/// A PostgreSQL server of its own for one test (so that the test may stop and restart it),
/// run as the `postgres` user through `setpriv` so that the PID held is the postmaster's.
/// Listens on 127.0.0.1 only, trust authentication, `fsync=off`. Dropping it stops it.
pub struct ThrowawayPostgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    child: Option<Child>,
    log_path: PathBuf,
}

impl ThrowawayPostgres {
    /// `initdb` into a fresh temporary directory, then starts the server and waits until it
    /// accepts connections. Fails (does not skip) without root or the `postgresql` package.
    pub fn start_new() -> Self {
        let bin = postgres_bin_dir();
        assert!(
            running_as_root(),
            "ThrowawayPostgres runs initdb and postgres as the `postgres` user through setpriv, \
             which needs root; run the tests as root"
        );
        assert!(
            Command::new("id")
                .args(["-u", "postgres"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success()),
            "there is no `postgres` user: install the `postgresql` package"
        );
        let dir = tempfile::Builder::new()
            .prefix("convene-pg-")
            .tempdir_in(std::env::temp_dir())
            .expect("create a temporary directory");
        std::fs::create_dir(dir.path().join("sock")).expect("create the socket directory");
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("run chown");
        assert!(
            status.success(),
            "chown -R postgres {} failed",
            dir.path().display()
        );
        let log_path = dir.path().join("postgres.log");
        let initdb_log = dir.path().join("initdb.log");
        let log = File::create(&initdb_log).expect("create initdb.log");
        let status = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--no-locale",
                "-E",
                "UTF8",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .status()
            .expect("run initdb through setpriv");
        assert!(
            status.success(),
            "initdb failed with {status}:\n{}",
            read_lossy(&initdb_log)
        );
        let mut postgres = ThrowawayPostgres {
            bin,
            dir,
            port: free_port(),
            child: None,
            log_path,
        };
        postgres.start();
        postgres
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the server on the same data directory and port, and waits until it accepts
    /// connections (at most 20 s).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "this Postgres is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open postgres.log");
        let child = as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path().join("sock"))
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .spawn()
            .expect("start postgres through setpriv");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "postgres exited with {status} while starting\n{}",
                    self.log_section()
                );
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-t",
                    "1",
                ])
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections on 127.0.0.1:{} within 20 s\n{}",
                self.port,
                self.log_section()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast shutdown: SIGINT to the postmaster) and waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        send_signal(child.id(), "INT");
        if wait_with_timeout(&mut child, Duration::from_secs(20)).is_none() {
            // Immediate shutdown, then the hard way.
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            if wait_with_timeout(&mut child, Duration::from_secs(5)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!(
                "postgres did not stop within 20 s of SIGINT\n{}",
                self.log_section()
            );
        }
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    fn log_section(&self) -> String {
        format!(
            "--- log of the throwaway postgres ({})\n{}\n--- end of log",
            self.log_path.display(),
            self.log()
        )
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            if wait_with_timeout(&mut child, Duration::from_secs(10)).is_none() {
                let _ = Command::new("kill")
                    .args(["-QUIT", &child.id().to_string()])
                    .status();
                if wait_with_timeout(&mut child, Duration::from_secs(5)).is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_section());
        }
    }
}

/// `program` run as the `postgres` user, keeping our PID relation to it (no `su`).
fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=postgres", "--regid=postgres", "--clear-groups"])
        .arg(program);
    command
}
