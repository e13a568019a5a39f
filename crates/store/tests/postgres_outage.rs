//! A Postgres that is down when the store is built, comes up later and restarts: the store
//! answers `Unavailable` while it is down and recovers by itself, without being rebuilt.
//!
//! Runs a throwaway server (initdb + postgres as the `postgres` user, as TESTING.md
//! describes), because the shared one must not be stopped. Binaries come from
//! `CONVENE_TEST_PG_BIN` (default `/usr/lib/postgresql/15/bin`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use convene_store::{Error, PostgresStore, Store};
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_survives_postgres_down_at_start_and_restarting() -> anyhow::Result<()> {
    let port = free_port()?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let store = PostgresStore::connect(&url, 2, Duration::from_millis(300)).await?;

    let ping = store.ping().await;
    assert!(matches!(ping, Err(Error::Unavailable(_))), "{ping:?}");
    let migrated = store.migrate().await;
    assert!(
        matches!(migrated, Err(Error::Unavailable(_))),
        "{migrated:?}"
    );

    let cluster = Cluster::init()?;
    let server = cluster.start(port)?;
    wait_until_available(&store).await?;
    store.migrate().await?;
    let created = store.create_user(member()).await?;

    server.stop()?;
    let ping = store.ping().await;
    assert!(matches!(ping, Err(Error::Unavailable(_))), "{ping:?}");

    let server = cluster.start(port)?;
    wait_until_available(&store).await?;
    assert_eq!(store.user_by_username("alice").await?, Some(created));
    server.stop()?;
    Ok(())
}

/// Polls the same store until the pool has reconnected on its own.
async fn wait_until_available(store: &PostgresStore) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.ping().await {
            Ok(()) => return Ok(()),
            Err(Error::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => bail!("store did not recover: {error:?}"),
        }
    }
}

fn member() -> convene_store::NewUser {
    convene_store::NewUser {
        id: uuid::Uuid::new_v4(),
        username: "alice".to_owned(),
        display_name: "Alice".to_owned(),
        email: None,
        password_hash: None,
        kind: convene_store::UserKind::Member,
        guest_expires_at: None,
        now: chrono::Utc::now(),
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A data directory owned by the `postgres` user (initdb refuses to run as root).
struct Cluster {
    dir: TempDir,
    bin: PathBuf,
}

impl Cluster {
    fn init() -> anyhow::Result<Self> {
        let bin = PathBuf::from(
            std::env::var("CONVENE_TEST_PG_BIN")
                .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".to_owned()),
        );
        let dir = tempfile::tempdir()?;
        if running_as_root() {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()?;
            ensure!(status.success(), "chown of the data directory failed");
        }
        let cluster = Cluster { dir, bin };
        let status = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", "postgres", "--auth=trust", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .context("run initdb")?;
        ensure!(status.success(), "initdb failed");
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&self, port: u16) -> anyhow::Result<Server> {
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-p", &port.to_string(), "-k"])
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start postgres")?;
        Ok(Server { child: Some(child) })
    }

    /// The server binary under `setpriv` when we are root, so the PID we hold is the
    /// postmaster itself (`su`/`runuser` would swallow our signals).
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if running_as_root() {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=postgres", "--regid=postgres", "--clear-groups"])
                .arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// A running postmaster; stopped (fast shutdown) on `stop` or drop.
struct Server {
    child: Option<Child>,
}

impl Server {
    fn stop(mut self) -> anyhow::Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SIGINT is Postgres's "fast shutdown": backends end, the postmaster exits cleanly.
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()?;
        child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

fn running_as_root() -> bool {
    Path::new("/proc/self")
        .metadata()
        .map(|metadata| std::os::unix::fs::MetadataExt::uid(&metadata) == 0)
        .unwrap_or(false)
}
