//! What `/proc` says about a process: CPU time from `/proc/<pid>/stat`, resident memory from
//! `/proc/<pid>/status`, and the same from a Prometheus `/metrics` page when that is all there
//! is. The parsers are pure and tested on sample text.

use std::time::Duration;

use crate::{Error, Result};

/// CPU time (user + system) a process used so far, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    parse_cpu_ticks(&stat)
        .map(|ticks| Duration::from_secs_f64(ticks as f64 / CLOCK_TICKS_PER_SECOND))
        .ok_or_else(|| Error::Command {
            what: format!("read {path}"),
            detail: "unexpected format".to_owned(),
        })
}

/// Linux reports CPU time in clock ticks of `sysconf(_SC_CLK_TCK)`, which is 100 on every
/// Linux architecture this runs on (the kernel's USER_HZ).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident memory of a process, from `/proc/<pid>/status` (VmRSS).
pub fn resident_bytes(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    parse_vm_rss(&status).ok_or_else(|| Error::Command {
        what: format!("read {path}"),
        detail: "no VmRSS line".to_owned(),
    })
}

pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `process_resident_memory_bytes` from a Prometheus text exposition, if present.
pub fn parse_prometheus_rss(metrics: &str) -> Option<u64> {
    metrics
        .lines()
        .find(|line| line.starts_with("process_resident_memory_bytes "))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse::<f64>().ok())
        .map(|value| value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1000 1000000 500";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn resident_memory_is_read_in_bytes() {
        let status = "Name:\tconvene\nVmPeak:\t  9000 kB\nVmRSS:\t   2048 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(2048 * 1024));
        let metrics = "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1.048576e6\n";
        assert_eq!(parse_prometheus_rss(metrics), Some(1_048_576));
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        assert!(resident_bytes(pid).unwrap() > 0);
        assert!(cpu_time(pid).is_ok());
    }
}
