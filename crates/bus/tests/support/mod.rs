//! Fixtures for the Redis tests: buses isolated by a random key prefix on the machine's
//! Redis, a throwaway `redis-server` for fault tests, and waiting for signals.

pub mod presence;
pub mod registry;

use std::{
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use convene_bus::{Bus, BusSignal, RedisBus, RedisBusOptions};
use fred::prelude::{Builder, ClientLike, Config, LuaInterface};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The machine's Redis (`CONVENE_TEST_REDIS_URL`, default 127.0.0.1:6379).
pub fn redis_url() -> String {
    std::env::var("CONVENE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Keys and channels no other test sees.
pub fn random_prefix() -> String {
    format!("convene-test:{}:", Uuid::new_v4())
}

pub fn options(prefix: &str) -> RedisBusOptions {
    RedisBusOptions {
        key_prefix: prefix.to_owned(),
        ..RedisBusOptions::default()
    }
}

/// A bus whose command connection answers.
pub async fn connected_bus(url: &str, options: RedisBusOptions) -> anyhow::Result<RedisBus> {
    let bus = RedisBus::connect_with(url, options)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match bus.ping().await {
            Ok(()) => return Ok(bus),
            Err(error) if Instant::now() > deadline => bail!("redis never answered: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Deletes every key under `prefix` (tests leave the shared Redis as they found it).
pub async fn delete_keys(url: &str, prefix: &str) -> anyhow::Result<()> {
    let client = Builder::from_config(Config::from_url(url)?).build()?;
    client.init().await?;
    let script = "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end";
    let () = client
        .eval(script, Vec::<String>::new(), vec![format!("{prefix}*")])
        .await?;
    client.quit().await?;
    Ok(())
}

/// The next `Delivery`, skipping `Resync`s.
pub async fn next_delivery(
    signals: &mut mpsc::Receiver<BusSignal>,
    within: Duration,
) -> anyhow::Result<(Uuid, String)> {
    tokio::time::timeout(within, async {
        loop {
            match signals.recv().await {
                Some(BusSignal::Delivery { user_id, payload }) => {
                    return Ok((user_id, payload.to_string()));
                }
                Some(BusSignal::Resync) => {}
                None => bail!("the signals ended"),
            }
        }
    })
    .await
    .context("no delivery in time")?
}

/// Waits for a `Resync`, failing on any `Delivery` before it.
pub async fn next_resync(
    signals: &mut mpsc::Receiver<BusSignal>,
    within: Duration,
) -> anyhow::Result<()> {
    match tokio::time::timeout(within, signals.recv()).await {
        Ok(Some(BusSignal::Resync)) => Ok(()),
        Ok(other) => bail!("expected a resync, got {other:?}"),
        Err(_) => bail!("no resync in time"),
    }
}

/// Drops whatever is waiting.
pub fn drain(signals: &mut mpsc::Receiver<BusSignal>) {
    while signals.try_recv().is_ok() {}
}

/// A port nothing listens on (right now).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `redis-server` child of the test process, killed on drop.
pub struct ThrowawayRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl ThrowawayRedis {
    pub fn start() -> anyhow::Result<Self> {
        let mut redis = Self {
            port: free_port()?,
            dir: tempfile::tempdir()?,
            child: None,
        };
        redis.spawn()?;
        Ok(redis)
    }

    /// A port and directory for a server that [`ThrowawayRedis::restart`] starts later.
    pub fn not_started() -> anyhow::Result<Self> {
        Ok(Self {
            port: free_port()?,
            dir: tempfile::tempdir()?,
            child: None,
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (if any) and starts a new, empty one on the same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not listen on {}", self.port);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
