//! A Redis server of a test's own (see /work/shared/TESTING.md, "Postgres and Redis"): its
//! keys are isolated from every other test, and the test may kill and restart it without
//! disturbing anyone. No persistence: a restart starts empty, as a crashed cache would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{free_port, read_lossy, wait_with_timeout};

/// How long a started Redis may take to answer PING (it usually needs ~50 ms).
const READY_WITHIN: Duration = Duration::from_secs(10);

/// `redis-server` on 127.0.0.1 and a free port, a child of the test. Dropping it kills it.
pub struct ThrowawayRedis {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
    log_path: PathBuf,
    starts: usize,
}

impl ThrowawayRedis {
    /// Starts a new server on a free port and waits until it answers PING.
    pub fn start_new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("convene-redis-")
            .tempdir()
            .expect("create a temporary directory");
        let log_path = dir.path().join("redis.log");
        let mut redis = ThrowawayRedis {
            dir,
            port: free_port(),
            child: None,
            log_path,
            starts: 0,
        };
        redis.start();
        redis
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the server (again) on the same port, empty, and waits until it answers PING.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "this Redis is already running");
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--logfile", ""])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("start redis-server ({error}): install the `redis-server` package")
            });
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "redis-server exited with {status} while starting\n{}",
                    self.log_section()
                );
            }
            if ping(self.port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on 127.0.0.1:{} within {READY_WITHIN:?}\n{}",
                self.port,
                self.log_section()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL, as a crash would) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if wait_with_timeout(&mut child, Duration::from_secs(10)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    fn log_section(&self) -> String {
        format!(
            "--- log of the throwaway redis ({}, {} start(s))\n{}\n--- end of log",
            self.log_path.display(),
            self.starts,
            self.log()
        )
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.log_section());
        }
    }
}

/// True when something on 127.0.0.1:`port` answers an inline PING with `+PONG`.
pub fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}
