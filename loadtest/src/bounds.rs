//! Hard limits and the loopback rule: a load tester pointed at the wrong host is an attack,
//! so every count is capped and remote targets need `--allow-remote`.

use std::net::IpAddr;
use std::time::Duration;

use crate::{Error, Result};

/// Most simulated users (WebSockets) one chat-like scenario opens.
pub const MAX_USERS: u64 = 5_000;
/// Most idle connections the `connections` scenario holds.
pub const MAX_CONNECTIONS: u64 = 20_000;
/// Most conversations one scenario creates.
pub const MAX_CONVERSATIONS: u64 = 1_000;
/// Highest aggregate send (or request) rate, per second.
pub const MAX_RATE_PER_SECOND: u64 = 5_000;
/// Longest measured phase of a scenario.
pub const MAX_DURATION: Duration = Duration::from_secs(600);

/// Fails when `value` is above `cap` or below `minimum`.
pub fn check_range(setting: &'static str, value: u64, minimum: u64, cap: u64) -> Result<()> {
    if value < minimum {
        return Err(Error::BelowMinimum { setting, minimum });
    }
    if value > cap {
        return Err(Error::AboveCap {
            setting,
            value,
            cap,
        });
    }
    Ok(())
}

pub fn check_duration(setting: &'static str, duration: Duration) -> Result<()> {
    check_range(setting, duration.as_secs(), 0, MAX_DURATION.as_secs())
}

/// Whether `host` (from a URL) names this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a base URL whose host is not loopback, unless `allow_remote`.
pub fn check_loopback(url: &str, allow_remote: bool) -> Result<()> {
    if allow_remote {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(url).map_err(|error| Error::InvalidTarget {
        spec: url.to_owned(),
        reason: error.to_string(),
    })?;
    match parsed.host_str() {
        Some(host) if is_loopback_host(host) => Ok(()),
        _ => Err(Error::RemoteTargetRefused {
            target: url.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_accepted_and_others_refused() {
        assert!(check_loopback("http://127.0.0.1:8080", false).is_ok());
        assert!(check_loopback("http://127.3.2.1:8080", false).is_ok());
        assert!(check_loopback("http://localhost:8080", false).is_ok());
        assert!(check_loopback("http://[::1]:8080", false).is_ok());
        assert!(matches!(
            check_loopback("http://10.0.0.1:8080", false),
            Err(Error::RemoteTargetRefused { .. })
        ));
        assert!(matches!(
            check_loopback("https://chat.example.com", false),
            Err(Error::RemoteTargetRefused { .. })
        ));
        assert!(check_loopback("https://chat.example.com", true).is_ok());
    }

    #[test]
    fn counts_above_the_cap_are_refused() {
        assert!(check_range("--users", 10, 1, MAX_USERS).is_ok());
        assert!(matches!(
            check_range("--users", MAX_USERS + 1, 1, MAX_USERS),
            Err(Error::AboveCap { .. })
        ));
        assert!(matches!(
            check_range("--users", 0, 1, MAX_USERS),
            Err(Error::BelowMinimum { .. })
        ));
    }
}
