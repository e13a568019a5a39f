//! The configuration of the `convene` binary: one table of settings, each with its key,
//! environment variable (`CONVENE_` + key in capitals), default and meaning. Values come
//! from the defaults, then an optional TOML file, then the environment, then flags, and are
//! validated before any port is bound. docs/configuration.md lists the same table; a test
//! keeps the two in step.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use convene_gateway::GatewaySettings;
use convene_gateway::auth::tokens::SigningKey;
use convene_store::LockoutPolicy;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: env_name(key),
        reason: reason.into(),
    }
}

pub fn env_name(key: &str) -> String {
    format!("CONVENE_{}", key.to_ascii_uppercase())
}

/// A secret setting: usable as a string, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// Every setting of the binary, already parsed. See [`SETTINGS`] for defaults and meaning.
#[derive(Debug, Clone)]
pub struct Config {
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub database_max_connections: u32,
    pub database_acquire_timeout_seconds: u64,
    pub redis_url: Option<String>,
    pub public_url: Option<String>,
    pub allowed_origins: Vec<String>,
    /// `key_id:base64-secret` entries; never logged.
    pub jwt_keys: Option<Secret>,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub refresh_reuse_grace_seconds: i64,
    pub guest_ttl_seconds: i64,
    pub lockout_threshold: u32,
    pub lockout_base_seconds: i64,
    pub lockout_max_seconds: i64,
    pub auth_rate_limit_per_minute: u32,
    pub api_rate_limit_per_minute: u32,
    pub message_rate_limit_per_minute: u32,
    pub max_body_bytes: usize,
    pub password_hash_concurrency: usize,
    pub trust_forwarded_for: bool,
    pub shutdown_delay_seconds: u64,
    pub shutdown_grace_seconds: u64,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub web_dir: Option<PathBuf>,
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    /// Never logged.
    pub turn_secret: Option<Secret>,
    pub turn_credential_ttl_seconds: i64,
    pub sfu_udp_addr: SocketAddr,
    pub sfu_advertised_addr: Option<SocketAddr>,
    pub sfu_tcp_addr: Option<SocketAddr>,
    pub sfu_max_rooms: usize,
    pub sfu_max_participants: usize,
    pub sfu_control_addr: SocketAddr,
    pub sfu_control_url: Option<String>,
    pub sfu_control_secret: Option<Secret>,
    pub sfu_placement_policy: convene_bus::PlacementPolicy,
    pub sfu_drain_timeout_seconds: u64,
    pub sfu_node_name: Option<String>,
    pub call_ring_timeout_seconds: i64,
}

type Apply = fn(&mut Config, &str) -> Result<(), String>;

/// One documented setting.
pub struct Setting {
    pub key: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
    apply: Apply,
}

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse::<T>()
        .map_err(|error| format!("{value:?}: {error}"))
}

fn optional(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(format!("{other:?} is not a boolean (true/false)")),
    }
}

/// The one list of settings. Defaults are applied from here, so they cannot disagree with
/// the documentation generated from it.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "http_addr",
        default: "127.0.0.1:8080",
        doc: "Address the HTTP server (API, WebSocket, web UI) listens on.",
        apply: |c, v| {
            c.http_addr = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "data_dir",
        default: "./data",
        doc: "Directory for the embedded SQLite database and the generated signing key.",
        apply: |c, v| {
            c.data_dir = PathBuf::from(v.trim());
            Ok(())
        },
    },
    Setting {
        key: "database_url",
        default: "",
        doc: "`sqlite://PATH` or `postgres://…`. Empty: SQLite at `DATA_DIR/convene.db`. `convene gateway` requires Postgres.",
        apply: |c, v| {
            c.database_url = optional(v);
            Ok(())
        },
    },
    Setting {
        key: "database_max_connections",
        default: "10",
        doc: "Connection-pool size per process.",
        apply: |c, v| {
            c.database_max_connections = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "database_acquire_timeout_seconds",
        default: "3",
        doc: "How long a request waits for a database connection before failing with 503 `store_unavailable`.",
        apply: |c, v| {
            c.database_acquire_timeout_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "redis_url",
        default: "",
        doc: "`redis://host:port[/db]`. Empty: the in-process bus (one process only). `convene gateway` requires it.",
        apply: |c, v| {
            c.redis_url = optional(v);
            Ok(())
        },
    },
    Setting {
        key: "public_url",
        default: "",
        doc: "The URL users open, e.g. `https://meet.example.com`. Its origin is allowed for state-changing requests; https makes cookies `Secure`. Empty: `http://` + the listen address (and `localhost` for loopback).",
        apply: |c, v| {
            c.public_url = optional(v);
            Ok(())
        },
    },
    Setting {
        key: "allowed_origins",
        default: "",
        doc: "More origins allowed to call the API from a browser, comma-separated (`https://a.example,https://b.example`).",
        apply: |c, v| {
            c.allowed_origins = v.split(',').filter_map(optional).collect();
            Ok(())
        },
    },
    Setting {
        key: "jwt_keys",
        default: "",
        doc: "Access-token signing keys, comma-separated `key_id:base64-secret` (secret ≥ 32 bytes); the first signs, all verify, so keys rotate by prepending. Empty (`serve` only): a key is generated once into `DATA_DIR/jwt-signing-key`. Required for `convene gateway` (all pods share it).",
        apply: |c, v| {
            c.jwt_keys = optional(v).map(Secret);
            Ok(())
        },
    },
    Setting {
        key: "access_token_ttl_seconds",
        default: "900",
        doc: "Lifetime of an access token (15 min).",
        apply: |c, v| {
            c.access_token_ttl_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "refresh_token_ttl_seconds",
        default: "604800",
        doc: "A session ends after this long without a refresh (7 days); each refresh extends it.",
        apply: |c, v| {
            c.refresh_token_ttl_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "refresh_reuse_grace_seconds",
        default: "10",
        doc: "A used refresh token presented again within this window counts as a concurrent refresh (two tabs), not theft.",
        apply: |c, v| {
            c.refresh_reuse_grace_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "guest_ttl_seconds",
        default: "86400",
        doc: "Lifetime of a guest account (24 h).",
        apply: |c, v| {
            c.guest_ttl_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "lockout_threshold",
        default: "5",
        doc: "Consecutive failed logins that lock an account. 0 disables lockout.",
        apply: |c, v| {
            c.lockout_threshold = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "lockout_base_seconds",
        default: "60",
        doc: "First lock period; each further failure doubles it.",
        apply: |c, v| {
            c.lockout_base_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "lockout_max_seconds",
        default: "3600",
        doc: "Longest lock period.",
        apply: |c, v| {
            c.lockout_max_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "auth_rate_limit_per_minute",
        default: "30",
        doc: "Requests per minute per client IP on `/api/v1/auth/*` (per pod).",
        apply: |c, v| {
            c.auth_rate_limit_per_minute = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "api_rate_limit_per_minute",
        default: "600",
        doc: "Requests per minute per user on authenticated endpoints and WebSocket frames (per pod).",
        apply: |c, v| {
            c.api_rate_limit_per_minute = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "message_rate_limit_per_minute",
        default: "100",
        doc: "Messages per minute per user, WebSocket and REST together (per pod).",
        apply: |c, v| {
            c.message_rate_limit_per_minute = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "max_body_bytes",
        default: "65536",
        doc: "Largest accepted request body.",
        apply: |c, v| {
            c.max_body_bytes = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "password_hash_concurrency",
        default: "0",
        doc: "Password hashes computed at once, each on a thread of its own that keeps its 19 MiB of argon2 memory once used. 0: the number of CPU cores.",
        apply: |c, v| {
            c.password_hash_concurrency = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "trust_forwarded_for",
        default: "false",
        doc: "Behind an ingress: take the client IP (for rate limits) from the last `X-Forwarded-For` hop.",
        apply: |c, v| {
            c.trust_forwarded_for = parse_bool(v)?;
            Ok(())
        },
    },
    Setting {
        key: "shutdown_delay_seconds",
        default: "0",
        doc: "On SIGTERM, answer `/readyz` 503 for this long before closing the listener, so load balancers stop routing first (5 on Kubernetes).",
        apply: |c, v| {
            c.shutdown_delay_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "shutdown_grace_seconds",
        default: "20",
        doc: "Then wait at most this long for requests in flight.",
        apply: |c, v| {
            c.shutdown_grace_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "web_dir",
        default: "",
        doc: "Directory of the built web UI (`index.html`, `assets/`), served at `/`. Empty: `web/dist` of the source tree the binary was built from (what `script/run` builds).",
        apply: |c, v| {
            c.web_dir = optional(v).map(PathBuf::from);
            Ok(())
        },
    },
    Setting {
        key: "call_ring_timeout_seconds",
        default: "45",
        doc: "A call nobody answers ends as missed after this long.",
        apply: |c, v| {
            c.call_ring_timeout_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "stun_urls",
        default: "",
        doc: "STUN servers for browsers, comma-separated (`stun:turn.example.com:3478`).",
        apply: |c, v| {
            c.stun_urls = v.split(',').filter_map(optional).collect();
            Ok(())
        },
    },
    Setting {
        key: "turn_urls",
        default: "",
        doc: "TURN servers for browsers, comma-separated (`turn:turn.example.com:3478?transport=udp,turns:turn.example.com:443?transport=tcp`). Needs `CONVENE_TURN_SECRET`.",
        apply: |c, v| {
            c.turn_urls = v.split(',').filter_map(optional).collect();
            Ok(())
        },
    },
    Setting {
        key: "turn_secret",
        default: "",
        doc: "The secret shared with coturn (`static-auth-secret`, at least 16 characters): browsers get short-lived TURN credentials derived from it (TURN REST scheme).",
        apply: |c, v| {
            c.turn_secret = optional(v).map(Secret);
            Ok(())
        },
    },
    Setting {
        key: "turn_credential_ttl_seconds",
        default: "3600",
        doc: "How long handed-out TURN credentials stay valid.",
        apply: |c, v| {
            c.turn_credential_ttl_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_udp_addr",
        default: "127.0.0.1:0",
        doc: "The SFU's one UDP socket for all meeting media (`serve` and `sfu`). Port 0 picks a free port, fine on one machine; give a fixed port (and `CONVENE_SFU_ADVERTISED_ADDR`) when browsers are elsewhere.",
        apply: |c, v| {
            c.sfu_udp_addr = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_advertised_addr",
        default: "",
        doc: "The `ip:port` browsers send meeting media to (the SFU's only ICE candidate). Empty = the bound address; required when `CONVENE_SFU_UDP_ADDR` is a wildcard such as `0.0.0.0:7882`.",
        apply: |c, v| {
            c.sfu_advertised_addr = optional(v).map(|v| parse(&v)).transpose()?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_tcp_addr",
        default: "",
        doc: "Optional ICE over TCP for meeting media on one port (`0.0.0.0:7882`), for browsers behind firewalls that block UDP; advertised with the IP of `CONVENE_SFU_ADVERTISED_ADDR`. Empty = UDP only.",
        apply: |c, v| {
            c.sfu_tcp_addr = optional(v).map(|v| parse(&v)).transpose()?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_max_rooms",
        default: "200",
        doc: "Meetings one SFU node hosts at most; joining a new meeting beyond it answers `meeting_full`.",
        apply: |c, v| {
            c.sfu_max_rooms = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_max_participants",
        default: "1000",
        doc: "Participants (tabs in a meeting) one SFU node hosts at most.",
        apply: |c, v| {
            c.sfu_max_participants = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_control_addr",
        default: "127.0.0.1:8090",
        doc: "`convene sfu`: where the node serves its internal control API (gateways only), `/healthz`, `/readyz` and `/metrics`.",
        apply: |c, v| {
            c.sfu_control_addr = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_control_url",
        default: "",
        doc: "`convene sfu`: the URL gateways reach the control API at, published in the SFU registry (`http://10.1.2.3:8090`). Empty = `http://` + `CONVENE_SFU_CONTROL_ADDR`.",
        apply: |c, v| {
            c.sfu_control_url = optional(v);
            Ok(())
        },
    },
    Setting {
        key: "sfu_control_secret",
        default: "",
        doc: "The secret gateways present to SFU nodes' control API (at least 16 characters; the same on every gateway and node). Required by `convene sfu`.",
        apply: |c, v| {
            c.sfu_control_secret = optional(v).map(Secret);
            Ok(())
        },
    },
    Setting {
        key: "sfu_placement_policy",
        default: "distributed",
        doc: "How gateways place a new meeting on SFU nodes: `distributed` (the least loaded node, so a failure hits few meetings) or `packed` (fill nodes in turn, so empty ones can be scaled away). On Kubernetes the operator publishes the `SfuPool`'s `spec.placement` in the registry, and that wins.",
        apply: |c, v| {
            c.sfu_placement_policy = match v.trim() {
                "distributed" => convene_bus::PlacementPolicy::Distributed,
                "packed" => convene_bus::PlacementPolicy::Packed,
                other => return Err(format!("{other:?} is not `distributed` or `packed`")),
            };
            Ok(())
        },
    },
    Setting {
        key: "sfu_drain_timeout_seconds",
        default: "3600",
        doc: "`convene sfu`: after SIGTERM the node takes no new meetings and waits this long for its meetings to end before it stops.",
        apply: |c, v| {
            c.sfu_drain_timeout_seconds = parse(v)?;
            Ok(())
        },
    },
    Setting {
        key: "sfu_node_name",
        default: "",
        doc: "`convene sfu`: the node's name in the SFU registry; the operator sets it to the pod's name, finds the node's load by it and asks the node to drain through it (`convene.dev/drain`). Empty for a node started by hand.",
        apply: |c, v| {
            c.sfu_node_name = optional(v);
            Ok(())
        },
    },
    Setting {
        key: "log_format",
        default: "json",
        doc: "`json` (one object per line) or `text`.",
        apply: |c, v| {
            c.log_format = match v.trim() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                other => return Err(format!("{other:?} is neither `json` nor `text`")),
            };
            Ok(())
        },
    },
    Setting {
        key: "log",
        default: "info,sqlx=warn",
        doc: "Log filter in `tracing` syntax (`info`, `convene_gateway=debug`, …).",
        apply: |c, v| {
            c.log_filter = v.trim().to_owned();
            Ok(())
        },
    },
];

impl Config {
    /// The defaults of [`SETTINGS`].
    pub fn defaults() -> Self {
        let mut config = Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 0,
            database_acquire_timeout_seconds: 0,
            redis_url: None,
            public_url: None,
            allowed_origins: Vec::new(),
            jwt_keys: None,
            access_token_ttl_seconds: 0,
            refresh_token_ttl_seconds: 0,
            refresh_reuse_grace_seconds: 0,
            guest_ttl_seconds: 0,
            lockout_threshold: 0,
            lockout_base_seconds: 0,
            lockout_max_seconds: 0,
            auth_rate_limit_per_minute: 0,
            api_rate_limit_per_minute: 0,
            message_rate_limit_per_minute: 0,
            max_body_bytes: 0,
            password_hash_concurrency: 0,
            trust_forwarded_for: false,
            shutdown_delay_seconds: 0,
            shutdown_grace_seconds: 0,
            log_format: LogFormat::Json,
            log_filter: String::new(),
            web_dir: None,
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_credential_ttl_seconds: 0,
            sfu_udp_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            sfu_advertised_addr: None,
            sfu_tcp_addr: None,
            sfu_max_rooms: 0,
            sfu_max_participants: 0,
            sfu_control_addr: SocketAddr::from(([127, 0, 0, 1], 8090)),
            sfu_control_url: None,
            sfu_control_secret: None,
            sfu_placement_policy: convene_bus::PlacementPolicy::Distributed,
            sfu_drain_timeout_seconds: 0,
            sfu_node_name: None,
            call_ring_timeout_seconds: 0,
        };
        for setting in SETTINGS {
            // The defaults are constants of this file; a test parses every one.
            if let Err(reason) = (setting.apply)(&mut config, setting.default) {
                unreachable!("default of {} does not parse: {reason}", setting.key);
            }
        }
        config
    }

    /// Defaults, then the TOML file (if any), then `CONVENE_*` variables from `env`, then
    /// `overrides` (flags, as key → value).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &BTreeMap<&'static str, String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self::defaults();
        if let Some(path) = file {
            config.apply_file(path)?;
        }
        let env: BTreeMap<String, String> = env.into_iter().collect();
        for setting in SETTINGS {
            if let Some(value) = env.get(&env_name(setting.key)) {
                (setting.apply)(&mut config, value)
                    .map_err(|reason| invalid(setting.key, reason))?;
            }
        }
        for (key, value) in overrides {
            let setting = setting(key).ok_or_else(|| invalid(key, "unknown setting"))?;
            (setting.apply)(&mut config, value).map_err(|reason| invalid(key, reason))?;
        }
        Ok(config)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|error| file_error(error.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|error: toml::de::Error| file_error(error.to_string()))?;
        for (key, value) in table {
            let setting =
                setting(&key).ok_or_else(|| file_error(format!("unknown setting `{key}`")))?;
            let value = match value {
                toml::Value::String(text) => text,
                toml::Value::Array(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| item.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            (setting.apply)(self, &value)
                .map_err(|reason| file_error(format!("`{key}`: {reason}")))?;
        }
        Ok(())
    }

    /// Checks that hold for every role.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if let Some(url) = &self.redis_url {
            convene_bus::RedisBus::check_url(url)
                .map_err(|_| invalid("redis_url", "not a valid redis:// URL"))?;
        }
        if let Some(url) = &self.public_url {
            origin_of(url).ok_or_else(|| {
                invalid(
                    "public_url",
                    "must be http(s)://host[:port] with nothing after",
                )
            })?;
        }
        for origin in &self.allowed_origins {
            if origin_of(origin).as_deref() != Some(origin.as_str()) {
                return Err(invalid(
                    "allowed_origins",
                    format!("{origin:?} is not an origin (scheme://host[:port])"),
                ));
            }
        }
        if let Some(keys) = &self.jwt_keys {
            parse_signing_keys(keys.expose())?;
        }
        if self.sfu_advertised_addr.is_none() && self.sfu_udp_addr.ip().is_unspecified() {
            return Err(invalid(
                "sfu_advertised_addr",
                "must be set when CONVENE_SFU_UDP_ADDR is a wildcard address: browsers need a real address to send media to",
            ));
        }
        if let Some(addr) = self.sfu_advertised_addr
            && (addr.ip().is_unspecified() || addr.port() == 0)
        {
            return Err(invalid("sfu_advertised_addr", "must be a concrete ip:port"));
        }
        if let Some(secret) = &self.sfu_control_secret
            && secret.expose().len() < 16
        {
            return Err(invalid(
                "sfu_control_secret",
                "must be at least 16 characters",
            ));
        }
        if self.sfu_max_rooms == 0 || self.sfu_max_participants == 0 {
            return Err(invalid("sfu_max_rooms", "SFU limits must be at least 1"));
        }
        let positive = [
            ("access_token_ttl_seconds", self.access_token_ttl_seconds),
            ("refresh_token_ttl_seconds", self.refresh_token_ttl_seconds),
            ("guest_ttl_seconds", self.guest_ttl_seconds),
            ("lockout_base_seconds", self.lockout_base_seconds),
            ("lockout_max_seconds", self.lockout_max_seconds),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        if self.refresh_reuse_grace_seconds < 0 {
            return Err(invalid(
                "refresh_reuse_grace_seconds",
                "must not be negative",
            ));
        }
        if self.access_token_ttl_seconds >= self.refresh_token_ttl_seconds {
            return Err(invalid(
                "access_token_ttl_seconds",
                "must be shorter than the refresh-token lifetime",
            ));
        }
        if self.lockout_max_seconds < self.lockout_base_seconds {
            return Err(invalid(
                "lockout_max_seconds",
                "must be at least lockout_base_seconds",
            ));
        }
        for (key, value) in [
            (
                "auth_rate_limit_per_minute",
                self.auth_rate_limit_per_minute,
            ),
            ("api_rate_limit_per_minute", self.api_rate_limit_per_minute),
            (
                "message_rate_limit_per_minute",
                self.message_rate_limit_per_minute,
            ),
            ("database_max_connections", self.database_max_connections),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        if !self.turn_urls.is_empty() {
            match &self.turn_secret {
                None => {
                    return Err(invalid(
                        "turn_secret",
                        "required when CONVENE_TURN_URLS is set",
                    ));
                }
                Some(secret) if secret.expose().len() < 16 => {
                    return Err(invalid("turn_secret", "must be at least 16 characters"));
                }
                Some(_) => {}
            }
        }
        for url in self.turn_urls.iter().chain(&self.stun_urls) {
            if !(url.starts_with("turn:")
                || url.starts_with("turns:")
                || url.starts_with("stun:")
                || url.starts_with("stuns:"))
            {
                return Err(invalid(
                    "turn_urls",
                    format!("{url:?} is not a stun:, turn: or turns: URL"),
                ));
            }
        }
        if self.call_ring_timeout_seconds <= 0 {
            return Err(invalid(
                "call_ring_timeout_seconds",
                "must be greater than 0",
            ));
        }
        if self.turn_credential_ttl_seconds <= 0 {
            return Err(invalid(
                "turn_credential_ttl_seconds",
                "must be greater than 0",
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(invalid("max_body_bytes", "must be at least 1024"));
        }
        if self.database_acquire_timeout_seconds == 0 {
            return Err(invalid(
                "database_acquire_timeout_seconds",
                "must be greater than 0",
            ));
        }
        Ok(())
    }

    /// The production role runs several pods: they must share Postgres, Redis and keys.
    pub fn validate_for_gateway(&self) -> Result<(), ConfigError> {
        match &self.database_url {
            Some(url) if url.starts_with("postgres") => {}
            Some(_) => {
                return Err(invalid(
                    "database_url",
                    "`convene gateway` needs Postgres (pods share it); SQLite is for `convene serve`",
                ));
            }
            None => {
                return Err(invalid(
                    "database_url",
                    "`convene gateway` needs a postgres:// URL; use `convene serve` for embedded SQLite",
                ));
            }
        }
        if self.redis_url.is_none() {
            return Err(invalid(
                "redis_url",
                "`convene gateway` needs Redis so pods share presence and events; use `convene serve` for one process",
            ));
        }
        if self.jwt_keys.is_none() {
            return Err(invalid(
                "jwt_keys",
                "`convene gateway` needs signing keys shared by every pod (key_id:base64-secret)",
            ));
        }
        Ok(())
    }

    /// What `convene sfu` needs beyond [`Config::validate`].
    pub fn validate_for_sfu(&self) -> Result<(), ConfigError> {
        if self.redis_url.is_none() {
            return Err(invalid(
                "redis_url",
                "`convene sfu` registers in the SFU registry in Redis, where gateways find it",
            ));
        }
        if self.sfu_control_secret.is_none() {
            return Err(invalid(
                "sfu_control_secret",
                "`convene sfu` needs the secret gateways present to its control API",
            ));
        }
        Ok(())
    }

    /// The control API's URL as published in the registry.
    pub fn sfu_control_url(&self) -> String {
        self.sfu_control_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.sfu_control_addr))
    }

    /// The origins a browser may call from: the public URL's (or the listen address's),
    /// plus `allowed_origins`.
    pub fn browser_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = Vec::new();
        let mut allow = |origin: String| {
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        };
        match self.public_url.as_deref().and_then(origin_of) {
            Some(origin) => allow(origin),
            None => {
                allow(format!("http://{}", self.http_addr));
                if self.http_addr.ip().is_loopback() {
                    // People type either name for the same local server.
                    allow(format!("http://localhost:{}", self.http_addr.port()));
                }
            }
        }
        for origin in &self.allowed_origins {
            allow(origin.clone());
        }
        origins
    }

    pub fn sfu_config(&self) -> convene_sfu::SfuConfig {
        convene_sfu::SfuConfig {
            udp_bind_addr: self.sfu_udp_addr,
            advertised_addr: self.sfu_advertised_addr,
            tcp_bind_addr: self.sfu_tcp_addr,
            max_rooms: self.sfu_max_rooms,
            max_participants: self.sfu_max_participants,
        }
    }

    pub fn gateway_settings(&self, signing_keys: Vec<SigningKey>) -> GatewaySettings {
        let cookie_secure = self
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"));
        let non_zero = |value: u32| NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN);
        GatewaySettings {
            allowed_origins: self.browser_origins(),
            cookie_secure,
            signing_keys,
            access_token_ttl: chrono::Duration::seconds(self.access_token_ttl_seconds),
            refresh_token_ttl: chrono::Duration::seconds(self.refresh_token_ttl_seconds),
            refresh_reuse_grace: chrono::Duration::seconds(self.refresh_reuse_grace_seconds),
            guest_ttl: chrono::Duration::seconds(self.guest_ttl_seconds),
            lockout: LockoutPolicy {
                threshold: self.lockout_threshold,
                base: chrono::Duration::seconds(self.lockout_base_seconds),
                max: chrono::Duration::seconds(self.lockout_max_seconds),
            },
            auth_requests_per_minute: non_zero(self.auth_rate_limit_per_minute),
            api_requests_per_minute: non_zero(self.api_rate_limit_per_minute),
            messages_per_minute: non_zero(self.message_rate_limit_per_minute),
            max_body_bytes: self.max_body_bytes,
            password_hash_concurrency: match self.password_hash_concurrency {
                0 => std::thread::available_parallelism().map_or(2, usize::from),
                n => n,
            },
            trust_forwarded_for: self.trust_forwarded_for,
            // An open socket notices a logout or password change within this long.
            websocket_session_check_interval: std::time::Duration::from_secs(15),
            call_policy: convene_calls::CallPolicy {
                ring_timeout: chrono::Duration::seconds(self.call_ring_timeout_seconds),
            },
            turn: convene_gateway::turn::TurnSettings {
                stun_urls: self.stun_urls.clone(),
                turn_urls: self.turn_urls.clone(),
                secret: self
                    .turn_secret
                    .as_ref()
                    .map(|secret| secret.expose().as_bytes().to_vec()),
                credential_ttl: chrono::Duration::seconds(self.turn_credential_ttl_seconds),
            },
            web_dir: Some(
                self.web_dir
                    .clone()
                    .unwrap_or_else(convene_gateway::web::default_web_dir),
            ),
        }
    }
}

pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

/// `scheme://host[:port]` of an http(s) URL that has nothing after the authority (a single
/// trailing slash is tolerated).
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme == "http" || scheme == "https") || rest.is_empty() {
        return None;
    }
    if rest.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    Some(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

/// Parses `key_id:base64-secret[,…]`.
pub fn parse_signing_keys(value: &str) -> Result<Vec<SigningKey>, ConfigError> {
    let mut keys = Vec::new();
    for entry in value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (key_id, secret) = entry
            .split_once(':')
            .ok_or_else(|| invalid("jwt_keys", "each entry is key_id:base64-secret"))?;
        if key_id.is_empty()
            || !key_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "jwt_keys",
                "a key id is letters, digits, '-' and '_'",
            ));
        }
        let secret = STANDARD.decode(secret.trim()).map_err(|_| {
            invalid(
                "jwt_keys",
                format!("the secret of key {key_id:?} is not base64"),
            )
        })?;
        if secret.len() < SigningKey::MIN_SECRET_BYTES {
            return Err(invalid(
                "jwt_keys",
                format!(
                    "the secret of key {key_id:?} has {} bytes; at least {} are required",
                    secret.len(),
                    SigningKey::MIN_SECRET_BYTES
                ),
            ));
        }
        if keys.iter().any(|key: &SigningKey| key.key_id == key_id) {
            return Err(invalid(
                "jwt_keys",
                format!("key id {key_id:?} appears twice"),
            ));
        }
        keys.push(SigningKey::new(key_id, secret));
    }
    if keys.is_empty() {
        return Err(invalid("jwt_keys", "no key given"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let config = Config::load(None, env, &BTreeMap::new())?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn every_default_parses_and_validates() {
        let config = load(&[]).unwrap();
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.access_token_ttl_seconds, 900);
        assert_eq!(config.lockout_threshold, 5);
        assert!(config.database_url.is_none() && config.redis_url.is_none());
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("convene.toml");
        std::fs::write(&file, "http_addr = \"127.0.0.1:9000\"\nlockout_threshold = 7\nallowed_origins = [\"https://a.example\"]\n").unwrap();
        let env = [("CONVENE_LOCKOUT_THRESHOLD".to_owned(), "9".to_owned())];
        let flags = BTreeMap::from([("http_addr", "127.0.0.1:9100".to_owned())]);
        let config = Config::load(Some(&file), env, &flags).unwrap();
        assert_eq!(config.http_addr.port(), 9100);
        assert_eq!(config.lockout_threshold, 9);
        assert_eq!(config.allowed_origins, vec!["https://a.example"]);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let error = load(&[("CONVENE_HTTP_ADDR", "nowhere")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("CONVENE_HTTP_ADDR:"), "{error}");
        let error = load(&[("CONVENE_JWT_KEYS", "k1:c2hvcnQ=")])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("CONVENE_JWT_KEYS:") && error.contains("at least 32"),
            "{error}"
        );
        let error = load(&[("CONVENE_DATABASE_URL", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("CONVENE_DATABASE_URL:"), "{error}");
        let error = load(&[("CONVENE_PUBLIC_URL", "https://x.example/app")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("CONVENE_PUBLIC_URL:"), "{error}");
        let error = load(&[("CONVENE_ACCESS_TOKEN_TTL_SECONDS", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("CONVENE_ACCESS_TOKEN_TTL_SECONDS:"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("convene.toml");
        std::fs::write(&file, "htp_addr = \"127.0.0.1:9000\"\n").unwrap();
        let error = Config::load(Some(&file), [], &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown setting `htp_addr`"), "{error}");
    }

    #[test]
    fn gateway_role_requires_postgres_redis_and_keys() {
        let config = load(&[]).unwrap();
        assert!(
            config
                .validate_for_gateway()
                .unwrap_err()
                .to_string()
                .starts_with("CONVENE_DATABASE_URL")
        );
        let config = load(&[("CONVENE_DATABASE_URL", "sqlite://x.db")]).unwrap();
        assert!(
            config
                .validate_for_gateway()
                .unwrap_err()
                .to_string()
                .contains("SQLite")
        );
        let config = load(&[("CONVENE_DATABASE_URL", "postgres://h/db")]).unwrap();
        assert!(
            config
                .validate_for_gateway()
                .unwrap_err()
                .to_string()
                .starts_with("CONVENE_REDIS_URL")
        );
        let key = STANDARD.encode([1u8; 32]);
        let config = load(&[
            ("CONVENE_DATABASE_URL", "postgres://h/db"),
            ("CONVENE_REDIS_URL", "redis://127.0.0.1:6379"),
            ("CONVENE_JWT_KEYS", &format!("k1:{key}")),
        ])
        .unwrap();
        assert!(config.validate_for_gateway().is_ok());
    }

    #[test]
    fn origins_default_to_the_listen_address() {
        let config = load(&[]).unwrap();
        assert_eq!(
            config.browser_origins(),
            vec!["http://127.0.0.1:8080", "http://localhost:8080"]
        );
        let config = load(&[
            ("CONVENE_PUBLIC_URL", "https://Meet.Example.com/"),
            ("CONVENE_ALLOWED_ORIGINS", "https://b.example"),
        ])
        .unwrap();
        assert_eq!(
            config.browser_origins(),
            vec!["https://meet.example.com", "https://b.example"]
        );
        assert!(config.gateway_settings(vec![]).cookie_secure);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let key = STANDARD.encode([7u8; 32]);
        let config = load(&[
            ("CONVENE_JWT_KEYS", &format!("k1:{key}")),
            ("CONVENE_TURN_URLS", "turn:127.0.0.1:3478"),
            ("CONVENE_TURN_SECRET", "correct-horse-battery"),
        ])
        .unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains(&key) && !shown.contains("correct-horse-battery"),
            "{shown}"
        );
    }

    #[test]
    fn turn_urls_need_a_long_enough_secret() {
        let error = load(&[("CONVENE_TURN_URLS", "turn:127.0.0.1:3478")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("CONVENE_TURN_SECRET:"), "{error}");
        let error = load(&[
            ("CONVENE_TURN_URLS", "turn:x:3478"),
            ("CONVENE_TURN_SECRET", "short"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("16"), "{error}");
        let error = load(&[
            ("CONVENE_TURN_URLS", "http://x"),
            ("CONVENE_TURN_SECRET", "long-enough-secret!"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("CONVENE_TURN_URLS:"), "{error}");
    }

    #[test]
    fn signing_keys_rotate_in_order() {
        let a = STANDARD.encode([1u8; 32]);
        let b = STANDARD.encode([2u8; 48]);
        let keys = parse_signing_keys(&format!("new:{b}, old:{a}")).unwrap();
        assert_eq!(
            keys.iter()
                .map(|key| key.key_id.as_str())
                .collect::<Vec<_>>(),
            ["new", "old"]
        );
        assert!(parse_signing_keys(&format!("k:{a},k:{b}")).is_err());
    }

    #[test]
    fn the_configuration_doc_lists_every_setting_with_its_default() {
        let doc = include_str!("../../../docs/configuration.md");
        for setting in SETTINGS {
            let row_start = format!("| `{}` |", env_name(setting.key));
            let row = doc
                .lines()
                .find(|line| line.starts_with(&row_start))
                .unwrap_or_else(|| {
                    panic!(
                        "docs/configuration.md has no row for {}",
                        env_name(setting.key)
                    )
                });
            assert!(
                row.contains(&format!("`{}`", setting.default))
                    || (setting.default.is_empty() && row.contains("(empty)")),
                "docs/configuration.md: the default of {} should be `{}`: {row}",
                env_name(setting.key),
                setting.default
            );
        }
    }
}
