//! What the gateway needs to know, already parsed and validated by the binary's config.
//! No serde: the config file format belongs to the binary, not to this crate.

use std::num::NonZeroU32;

use chrono::Duration;
use convene_store::LockoutPolicy;

use crate::auth::tokens::SigningKey;

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Origins (`scheme://host[:port]`) allowed to make state-changing requests and, later,
    /// to open the WebSocket. Requests carrying another `Origin` get 403.
    pub allowed_origins: Vec<String>,
    /// Mark cookies `Secure` (the public URL is https).
    pub cookie_secure: bool,
    /// HMAC keys for access tokens; the first one signs, all of them verify.
    pub signing_keys: Vec<SigningKey>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// A refresh token presented again within this window is a concurrent refresh (two
    /// tabs), not a replay.
    pub refresh_reuse_grace: Duration,
    pub guest_ttl: Duration,
    pub lockout: LockoutPolicy,
    /// Per client IP, on `/api/v1/auth/*`.
    pub auth_requests_per_minute: NonZeroU32,
    /// Per user, on every authenticated endpoint and WebSocket frame.
    pub api_requests_per_minute: NonZeroU32,
    /// Per user, messages sent (WebSocket and REST together).
    pub messages_per_minute: NonZeroU32,
    pub max_body_bytes: usize,
    /// Argon2 hashes at once (each takes 19 MiB and a core for ~50 ms).
    pub password_hash_concurrency: usize,
    /// Take the client IP from the last `X-Forwarded-For` hop (behind an ingress).
    pub trust_forwarded_for: bool,
    /// The built web UI (`index.html` and `assets/`); `None` serves a page that says how to
    /// build it.
    pub web_dir: Option<std::path::PathBuf>,
    /// How often an open WebSocket re-checks its session (closing it once signed out).
    pub websocket_session_check_interval: std::time::Duration,
    /// Call timing (ring timeout).
    pub call_policy: convene_calls::CallPolicy,
    /// STUN/TURN servers handed to browsers for calls.
    pub turn: crate::turn::TurnSettings,
}

impl GatewaySettings {
    /// Settings for tests: real defaults, one fixed key, loopback origins.
    pub fn for_tests() -> Self {
        Self {
            allowed_origins: vec![
                "http://127.0.0.1:8080".into(),
                "http://localhost:8080".into(),
            ],
            cookie_secure: false,
            signing_keys: vec![SigningKey::new("test", vec![7u8; 32])],
            access_token_ttl: Duration::minutes(15),
            refresh_token_ttl: Duration::days(7),
            refresh_reuse_grace: Duration::seconds(10),
            guest_ttl: Duration::hours(24),
            lockout: LockoutPolicy {
                threshold: 5,
                base: Duration::minutes(1),
                max: Duration::hours(1),
            },
            auth_requests_per_minute: NonZeroU32::new(1_000).unwrap_or(NonZeroU32::MIN),
            api_requests_per_minute: NonZeroU32::new(10_000).unwrap_or(NonZeroU32::MIN),
            messages_per_minute: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            max_body_bytes: 64 * 1024,
            password_hash_concurrency: 2,
            trust_forwarded_for: false,
            web_dir: None,
            turn: crate::turn::TurnSettings::default(),
            call_policy: convene_calls::CallPolicy::default(),
            websocket_session_check_interval: std::time::Duration::from_secs(1),
        }
    }
}
