//! The standard `process_*` metrics every Prometheus client exports (resident memory, CPU
//! time, open file descriptors, threads, start time), read from `/proc/self` at scrape time.
//! They are what a dashboard or a load test needs to see a pod's cost; on systems without
//! `/proc` they stay at zero.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Linux reports CPU times in clock ticks of 1/100 s (`USER_HZ`) on every architecture it
/// runs on here.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

pub struct ProcessMetrics {
    /// Unprefixed, as the names are a convention shared by every exporter.
    registry: Registry,
    resident_memory_bytes: Gauge,
    virtual_memory_bytes: Gauge,
    cpu_seconds: Counter<f64, AtomicU64>,
    open_fds: Gauge,
    threads: Gauge,
    start_time_seconds: Gauge<f64, AtomicU64>,
}

impl ProcessMetrics {
    pub fn new() -> Self {
        let metrics = Self {
            registry: Registry::default(),
            resident_memory_bytes: Gauge::default(),
            virtual_memory_bytes: Gauge::default(),
            cpu_seconds: Counter::default(),
            open_fds: Gauge::default(),
            threads: Gauge::default(),
            start_time_seconds: Gauge::default(),
        };
        metrics.registered()
    }

    fn registered(mut self) -> Self {
        let registry = &mut self.registry;
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            self.resident_memory_bytes.clone(),
        );
        registry.register(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            self.virtual_memory_bytes.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            self.cpu_seconds.clone(),
        );
        registry.register(
            "process_open_fds",
            "Number of open file descriptors",
            self.open_fds.clone(),
        );
        registry.register(
            "process_threads",
            "Number of OS threads in the process",
            self.threads.clone(),
        );
        registry.register(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            self.start_time_seconds.clone(),
        );
        self
    }

    /// Reads `/proc/self` into the metrics; the registry to encode afterwards.
    pub fn refresh(&self) -> &Registry {
        if let Some(sample) = ProcessSample::read() {
            let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
            self.resident_memory_bytes
                .set(as_i64(sample.resident_memory_bytes));
            self.virtual_memory_bytes
                .set(as_i64(sample.virtual_memory_bytes));
            let cpu_seconds_counted = self.cpu_seconds.get();
            if sample.cpu_seconds > cpu_seconds_counted {
                self.cpu_seconds
                    .inc_by(sample.cpu_seconds - cpu_seconds_counted);
            }
            self.open_fds.set(as_i64(sample.open_fds));
            self.threads.set(as_i64(sample.threads));
            self.start_time_seconds.set(sample.start_time_seconds);
        }
        &self.registry
    }
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ProcessSample {
    resident_memory_bytes: u64,
    virtual_memory_bytes: u64,
    cpu_seconds: f64,
    open_fds: u64,
    threads: u64,
    start_time_seconds: f64,
}

impl ProcessSample {
    fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        Self::parse(&stat, &status, &boot_time, open_fds)
    }

    /// From the text of `/proc/self/stat`, `/proc/self/status` and `/proc/stat`.
    fn parse(stat: &str, status: &str, system_stat: &str, open_fds: u64) -> Option<Self> {
        // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
        let fields: Vec<&str> = stat
            .get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        // `fields[0]` is field 3 (state); field N is `fields[N - 3]`.
        let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
        let ticks = field(14)? + field(15)?;
        let start_ticks = field(22)?;
        let kib = |name: &str| {
            let line = status.lines().find(|line| line.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        };
        let boot_time = system_stat
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(Self {
            resident_memory_bytes: kib("VmRSS:")? * 1024,
            virtual_memory_bytes: kib("VmSize:")? * 1024,
            cpu_seconds: ticks as f64 / CLOCK_TICKS_PER_SECOND,
            open_fds,
            threads: kib("Threads:")?,
            start_time_seconds: boot_time as f64 + start_ticks as f64 / CLOCK_TICKS_PER_SECOND,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse_even_with_a_command_name_holding_parentheses() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    250 130 0 0 20 0 9 0 512345 123456789 5000 18446744073709551615";
        let status = "Name:\tconvene\nVmSize:\t  120560 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n";
        let system_stat = "cpu  1 2 3 4\nbtime 1764950000\nprocesses 7\n";
        let sample = ProcessSample::parse(stat, status, system_stat, 17).unwrap();
        assert_eq!(
            sample,
            ProcessSample {
                resident_memory_bytes: 20480 * 1024,
                virtual_memory_bytes: 120560 * 1024,
                cpu_seconds: 3.8,
                open_fds: 17,
                threads: 9,
                start_time_seconds: 1764950000.0 + 5123.45,
            }
        );
        assert_eq!(
            ProcessSample::parse("garbage", status, system_stat, 0),
            None
        );
    }

    #[test]
    fn this_process_reports_memory_cpu_and_descriptors() {
        let metrics = ProcessMetrics::new();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, metrics.refresh()).unwrap();
        let value = |name: &str| -> f64 {
            let line = text
                .lines()
                .find(|line| line.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1_000_000.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_threads") >= 1.0);
        assert!(value("process_start_time_seconds") > 1_600_000_000.0);
        assert!(
            text.contains("# TYPE process_cpu_seconds counter"),
            "{text}"
        );
    }
}
