//! The operator's configuration: `CONVENE_OPERATOR_*` environment variables plus
//! `CONVENE_REDIS_URL`, read once and validated before anything binds or connects.

use std::net::SocketAddr;
use std::time::Duration;

use convene_bus::registry::NODE_TTL;

/// Every setting, with its default.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `CONVENE_OPERATOR_HTTP_ADDR` (default `0.0.0.0:8080`): `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    /// `CONVENE_OPERATOR_NAMESPACE` (default: `POD_NAMESPACE`, the downward API's): the one
    /// namespace whose SfuPools this operator runs. Required one way or the other.
    pub namespace: String,
    /// `CONVENE_REDIS_URL` (required): the bus the SFU pods and gateways share.
    pub redis_url: String,
    /// `CONVENE_OPERATOR_IDENTITY` (default: `POD_NAME`, else `HOSTNAME`): this replica's
    /// name in the leader Lease and in Events.
    pub identity: String,
    /// `CONVENE_OPERATOR_LEASE_NAME` (default `convene-operator`).
    pub lease_name: String,
    /// `CONVENE_OPERATOR_LEASE_DURATION_SECONDS` (default 15): a Lease not renewed for this
    /// long can be taken over.
    pub lease_duration: Duration,
    /// `CONVENE_OPERATOR_LEASE_RENEW_SECONDS` (default 5): how often the leader renews;
    /// must be less than half the lease duration.
    pub lease_renew_period: Duration,
    /// `CONVENE_OPERATOR_REQUEUE_SECONDS` (default 5): reconcile every pool this often
    /// even without Kubernetes events (the bus load changes without any).
    pub requeue_interval: Duration,
    /// `CONVENE_OPERATOR_HEARTBEAT_GRACE_SECONDS` (default 30, more than the bus's 6 s node
    /// TTL): a ready pod whose node has not heartbeat for this long is replaced.
    pub heartbeat_grace: Duration,
    /// `CONVENE_OPERATOR_SHUTDOWN_SECONDS` (default 10): how long SIGTERM waits for running
    /// reconciles and the HTTP server.
    pub shutdown_timeout: Duration,
    /// `CONVENE_OPERATOR_LOG` (default `info`): a `tracing` filter.
    pub log_filter: String,
    /// `CONVENE_OPERATOR_LOG_FORMAT` (default `json`; or `text`).
    pub log_json: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

fn invalid(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads the configuration through `lookup` (`std::env::var` in the binary).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let seconds = |setting: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(setting) {
                None => Ok(Duration::from_secs(default)),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|seconds| *seconds > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        invalid(
                            setting,
                            format!("{value:?} is not a positive number of seconds"),
                        )
                    }),
            }
        };

        let http_addr = match get("CONVENE_OPERATOR_HTTP_ADDR") {
            None => SocketAddr::from(([0, 0, 0, 0], 8080)),
            Some(value) => value.trim().parse().map_err(|_| {
                invalid(
                    "CONVENE_OPERATOR_HTTP_ADDR",
                    format!("{value:?} is not an ip:port address"),
                )
            })?,
        };
        let namespace = get("CONVENE_OPERATOR_NAMESPACE")
            .or_else(|| get("POD_NAMESPACE"))
            .ok_or_else(|| {
                invalid(
                    "CONVENE_OPERATOR_NAMESPACE",
                    "not set, and neither is POD_NAMESPACE (the downward API's metadata.namespace)",
                )
            })?;
        let redis_url = get("CONVENE_REDIS_URL")
            .ok_or_else(|| invalid("CONVENE_REDIS_URL", "required: the Redis the SFU pods use"))?;
        if !(redis_url.starts_with("redis://")
            || redis_url.starts_with("rediss://")
            || redis_url.starts_with("redis-sentinel://"))
        {
            return Err(invalid(
                "CONVENE_REDIS_URL",
                "must start with redis://, rediss:// or redis-sentinel://",
            ));
        }
        let identity = get("CONVENE_OPERATOR_IDENTITY")
            .or_else(|| get("POD_NAME"))
            .or_else(|| get("HOSTNAME"))
            .unwrap_or_else(|| format!("convene-operator-{}", uuid::Uuid::new_v4()));
        let lease_duration = seconds("CONVENE_OPERATOR_LEASE_DURATION_SECONDS", 15)?;
        let lease_renew_period = seconds("CONVENE_OPERATOR_LEASE_RENEW_SECONDS", 5)?;
        if lease_renew_period * 2 > lease_duration {
            return Err(invalid(
                "CONVENE_OPERATOR_LEASE_RENEW_SECONDS",
                "must be at most half of CONVENE_OPERATOR_LEASE_DURATION_SECONDS, so a leader renews twice before its lease can expire",
            ));
        }
        let heartbeat_grace = seconds("CONVENE_OPERATOR_HEARTBEAT_GRACE_SECONDS", 30)?;
        let node_ttl = NODE_TTL.to_std().unwrap_or(Duration::from_secs(6));
        if heartbeat_grace <= node_ttl {
            return Err(invalid(
                "CONVENE_OPERATOR_HEARTBEAT_GRACE_SECONDS",
                format!(
                    "must exceed the bus's node TTL ({} s), or a Redis blip replaces healthy pods",
                    node_ttl.as_secs()
                ),
            ));
        }
        let log_json = match get("CONVENE_OPERATOR_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("json") => true,
            Some("text") => false,
            Some(other) => {
                return Err(invalid(
                    "CONVENE_OPERATOR_LOG_FORMAT",
                    format!("{other:?} is neither json nor text"),
                ));
            }
        };
        Ok(Self {
            http_addr,
            namespace,
            redis_url,
            identity,
            lease_name: get("CONVENE_OPERATOR_LEASE_NAME")
                .unwrap_or_else(|| "convene-operator".to_owned()),
            lease_duration,
            lease_renew_period,
            requeue_interval: seconds("CONVENE_OPERATOR_REQUEUE_SECONDS", 5)?,
            heartbeat_grace,
            shutdown_timeout: seconds("CONVENE_OPERATOR_SHUTDOWN_SECONDS", 10)?,
            log_filter: get("CONVENE_OPERATOR_LOG").unwrap_or_else(|| "info".to_owned()),
            log_json,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_need_only_a_namespace_and_redis() {
        let config = config(&[
            ("POD_NAMESPACE", "convene"),
            ("POD_NAME", "convene-operator-7d9f"),
            ("CONVENE_REDIS_URL", "redis://redis:6379"),
        ])
        .unwrap();
        assert_eq!(config.namespace, "convene");
        assert_eq!(config.identity, "convene-operator-7d9f");
        assert_eq!(config.http_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.lease_duration, Duration::from_secs(15));
        assert_eq!(config.lease_renew_period, Duration::from_secs(5));
        assert_eq!(config.requeue_interval, Duration::from_secs(5));
        assert!(config.log_json);
    }

    #[test]
    fn the_explicit_namespace_wins_over_the_pods() {
        let config = config(&[
            ("POD_NAMESPACE", "convene"),
            ("CONVENE_OPERATOR_NAMESPACE", "media"),
            ("CONVENE_REDIS_URL", "redis://redis:6379"),
        ])
        .unwrap();
        assert_eq!(config.namespace, "media");
    }

    #[test]
    fn missing_or_bad_settings_are_named() {
        let setting = |vars: &[(&str, &str)]| config(vars).unwrap_err().setting;
        assert_eq!(
            setting(&[("CONVENE_REDIS_URL", "redis://r")]),
            "CONVENE_OPERATOR_NAMESPACE"
        );
        assert_eq!(setting(&[("POD_NAMESPACE", "c")]), "CONVENE_REDIS_URL");
        assert_eq!(
            setting(&[("POD_NAMESPACE", "c"), ("CONVENE_REDIS_URL", "http://r")]),
            "CONVENE_REDIS_URL"
        );
        let base = [("POD_NAMESPACE", "c"), ("CONVENE_REDIS_URL", "redis://r")];
        let with = |extra: (&'static str, &'static str)| {
            let mut vars = base.to_vec();
            vars.push(extra);
            setting(&vars)
        };
        assert_eq!(
            with(("CONVENE_OPERATOR_HTTP_ADDR", "8080")),
            "CONVENE_OPERATOR_HTTP_ADDR"
        );
        assert_eq!(
            with(("CONVENE_OPERATOR_LEASE_RENEW_SECONDS", "10")),
            "CONVENE_OPERATOR_LEASE_RENEW_SECONDS"
        );
        assert_eq!(
            with(("CONVENE_OPERATOR_HEARTBEAT_GRACE_SECONDS", "5")),
            "CONVENE_OPERATOR_HEARTBEAT_GRACE_SECONDS"
        );
        assert_eq!(
            with(("CONVENE_OPERATOR_REQUEUE_SECONDS", "0")),
            "CONVENE_OPERATOR_REQUEUE_SECONDS"
        );
        assert_eq!(
            with(("CONVENE_OPERATOR_LOG_FORMAT", "xml")),
            "CONVENE_OPERATOR_LOG_FORMAT"
        );
    }
}
