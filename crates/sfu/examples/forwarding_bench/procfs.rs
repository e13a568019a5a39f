//! CPU time of one OS thread, a Tokio runtime confined to one (so that the forwarder's own
//! cost can be told apart from the participants' in the same process), and UDP drop counters.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// A current-thread Tokio runtime on its own OS thread: everything spawned on `handle` runs
/// there and nowhere else, so that thread's CPU time is the cost of what was spawned.
pub struct DedicatedRuntime {
    pub handle: tokio::runtime::Handle,
    thread_id: u32,
    shutdown: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DedicatedRuntime {
    pub fn start(name: &str) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        let (started_tx, started) = std::sync::mpsc::channel();
        let stop = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = match runtime
                    .context("building a runtime")
                    .and_then(|runtime| Ok((current_thread_id()?, runtime)))
                {
                    Ok((thread_id, runtime)) => {
                        let _ = started_tx.send(Ok((runtime.handle().clone(), thread_id)));
                        runtime
                    }
                    Err(error) => {
                        let _ = started_tx.send(Err(error));
                        return;
                    }
                };
                runtime.block_on(stop.cancelled());
            })
            .context("spawning a runtime thread")?;
        let (handle, thread_id) = started.recv().context("the runtime thread died")??;
        Ok(Self {
            handle,
            thread_id,
            shutdown,
            thread: Some(thread),
        })
    }

    /// CPU time the thread has used so far.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        thread_cpu_time(self.thread_id)
    }

    pub fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for DedicatedRuntime {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The calling thread's id, from the `/proc/thread-self` link (`<pid>/task/<tid>`).
fn current_thread_id() -> anyhow::Result<u32> {
    let link = std::fs::read_link("/proc/thread-self").context("reading /proc/thread-self")?;
    link.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .context("parsing /proc/thread-self")
}

/// Nanoseconds on CPU, the first field of `/proc/self/task/<tid>/schedstat`: precise, unlike
/// the clock-tick counts in `stat`, and readable without `libc` (the workspace forbids
/// `unsafe`).
fn thread_cpu_time(thread_id: u32) -> anyhow::Result<Duration> {
    schedstat_time(&format!("/proc/self/task/{thread_id}/schedstat"))
}

/// CPU time of the whole process: every thread's.
pub fn process_cpu_time() -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").context("listing /proc/self/task")? {
        let path = task?.path().join("schedstat");
        // A thread may end between the listing and the read.
        if let Ok(time) = schedstat_time(&path.to_string_lossy()) {
            total += time;
        }
    }
    Ok(total)
}

fn schedstat_time(path: &str) -> anyhow::Result<Duration> {
    let schedstat = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let nanos: u64 = schedstat
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .with_context(|| format!("parsing {path}"))?;
    Ok(Duration::from_nanos(nanos))
}

/// Datagrams the kernel dropped because a UDP socket's receive buffer was full, for the whole
/// machine (`RcvbufErrors` in `/proc/net/snmp`): where loss on loopback happens.
pub fn udp_receive_buffer_errors() -> anyhow::Result<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").context("reading /proc/net/snmp")?;
    let mut udp = snmp.lines().filter(|line| line.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        anyhow::bail!("no Udp lines in /proc/net/snmp");
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .context("no RcvbufErrors in /proc/net/snmp")
}

/// Drops counted on the IPv4 UDP socket bound to this local port (the last column of
/// `/proc/net/udp`).
pub fn udp_socket_drops(port: u16) -> anyhow::Result<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").context("reading /proc/net/udp")?;
    let port = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .find(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(&port))
        })
        .and_then(|line| line.split_whitespace().last()?.parse().ok())
        .context("the socket is not in /proc/net/udp")
}
