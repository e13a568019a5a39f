//! The SFU node's own counters, from the Prometheus text on the target's `/metrics`
//! (`convene serve` exposes its in-process node there; a gateway without one does not), and
//! the machine's load average, printed with every run because the machines are shared.

/// Counters of one scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeCounters {
    pub forwarded_packets: u64,
    /// Only a `convene sfu` node's own `/metrics` has it; a gateway's does not.
    pub received_packets: Option<u64>,
}

/// The node's counters, or `None` when the text has none (no media node in that process).
pub fn parse(metrics: &str) -> Option<NodeCounters> {
    let value = |name: &str| {
        metrics
            .lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let (metric, value) = line.split_once(' ')?;
                (metric == name).then_some(value)
            })
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map(|value| value as u64)
    };
    Some(NodeCounters {
        forwarded_packets: value("convene_sfu_forwarded_packets_total")?,
        received_packets: value("convene_sfu_received_packets_total"),
    })
}

/// Scrapes `<base_url>/metrics`; `None` when unreachable or without the node's counters.
pub async fn scrape(http: &reqwest::Client, base_url: &str) -> Option<NodeCounters> {
    let response = http.get(format!("{base_url}/metrics")).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    parse(&response.text().await.ok()?)
}

/// The 1-, 5- and 15-minute load averages of a `/proc/loadavg` line.
pub fn parse_load_average(loadavg: &str) -> Option<[f64; 3]> {
    let mut fields = loadavg
        .split_whitespace()
        .map(|field| field.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// This machine's load averages; `None` where `/proc` has none.
pub fn load_average() -> Option<[f64; 3]> {
    parse_load_average(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_counters_are_read_from_prometheus_text() {
        let text = "# HELP convene_sfu_forwarded_packets_total RTP packets sent to subscribers.\n\
                    # TYPE convene_sfu_forwarded_packets_total counter\n\
                    convene_sfu_forwarded_packets_total 1234\n\
                    convene_sfu_received_packets_total 5.6e3\n\
                    convene_sfu_rooms 2\n";
        assert_eq!(
            parse(text),
            Some(NodeCounters {
                forwarded_packets: 1234,
                received_packets: Some(5600),
            })
        );
        // What `convene serve`'s gateway exposes for its in-process node.
        let gateway = "# TYPE convene_sfu_forwarded_packets counter\n\
                       convene_sfu_forwarded_packets_total 7\n# EOF\n";
        assert_eq!(
            parse(gateway),
            Some(NodeCounters {
                forwarded_packets: 7,
                received_packets: None,
            })
        );
    }

    #[test]
    fn a_process_without_a_node_has_no_counters() {
        assert_eq!(parse("convene_ws_connections 3\n"), None);
    }

    #[test]
    fn the_load_average_is_read_from_proc() {
        assert_eq!(
            parse_load_average("0.52 1.10 2.05 3/456 7890\n"),
            Some([0.52, 1.10, 2.05])
        );
        assert_eq!(parse_load_average("garbage"), None);
    }
}
