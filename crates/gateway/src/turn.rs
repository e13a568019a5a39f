//! ICE servers for browsers: STUN, and TURN with short-lived credentials in the TURN REST
//! scheme that coturn's `use-auth-secret` checks: username `<expiry-unix>:<user-id>`,
//! password `base64(HMAC-SHA1(secret, username))`. The secret never leaves the server.

use std::fmt;
use ts_rs::TS;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Clone)]
pub struct TurnSettings {
    /// `stun:host:port` URLs, given to every client.
    pub stun_urls: Vec<String>,
    /// `turn:host:port?transport=udp`, `turns:host:443?transport=tcp`, …
    pub turn_urls: Vec<String>,
    /// The secret shared with coturn (`static-auth-secret`); TURN is off without it.
    pub secret: Option<Vec<u8>>,
    /// How long handed-out credentials stay valid.
    pub credential_ttl: Duration,
}

impl fmt::Debug for TurnSettings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TurnSettings")
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("credential_ttl", &self.credential_ttl)
            .finish()
    }
}

impl Default for TurnSettings {
    fn default() -> Self {
        Self {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            secret: None,
            credential_ttl: Duration::hours(1),
        }
    }
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, TS)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, TS)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working; ask again before.
    pub expires_at: DateTime<Utc>,
}

/// The TURN REST password for `username`.
pub fn turn_password(secret: &[u8], username: &str) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

impl TurnSettings {
    /// The ICE servers for `user_id`, with TURN credentials valid from `now` for the TTL.
    pub fn ice_servers(&self, user_id: Uuid, now: DateTime<Utc>) -> IceServers {
        let expires_at = now + self.credential_ttl;
        let mut ice_servers = Vec::new();
        if !self.stun_urls.is_empty() {
            ice_servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let Some(secret) = &self.secret
            && !self.turn_urls.is_empty()
        {
            let username = format!("{}:{user_id}", expires_at.timestamp());
            let credential = turn_password(secret, &username);
            ice_servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        IceServers {
            ice_servers,
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_base64_hmac_sha1_of_the_username() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        assert_eq!(
            turn_password(b"Jefe", "what do ya want for nothing?"),
            STANDARD.encode([
                0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
                0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
            ])
        );
    }

    #[test]
    fn credentials_name_the_user_and_expire_after_the_ttl() {
        let settings = TurnSettings {
            stun_urls: vec!["stun:turn.example.com:3478".into()],
            turn_urls: vec!["turn:turn.example.com:3478?transport=udp".into()],
            secret: Some(b"s3cret".to_vec()),
            credential_ttl: Duration::minutes(60),
        };
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let user = Uuid::from_u128(42);
        let servers = settings.ice_servers(user, now);
        assert_eq!(servers.expires_at, now + Duration::hours(1));
        assert_eq!(servers.ice_servers.len(), 2);
        let turn = &servers.ice_servers[1];
        let username = turn.username.clone().unwrap();
        assert_eq!(username, format!("1800003600:{user}"));
        assert_eq!(
            turn.credential.clone().unwrap(),
            turn_password(b"s3cret", &username)
        );
    }

    #[test]
    fn without_a_secret_there_is_no_turn_and_the_secret_is_never_printed() {
        let settings = TurnSettings {
            stun_urls: vec![],
            turn_urls: vec!["turn:x:3478".into()],
            secret: None,
            credential_ttl: Duration::hours(1),
        };
        assert!(
            settings
                .ice_servers(Uuid::nil(), Utc::now())
                .ice_servers
                .is_empty()
        );
        let with_secret = TurnSettings {
            secret: Some(b"hunter2".to_vec()),
            ..settings
        };
        assert!(!format!("{with_secret:?}").contains("hunter2"));
    }
}
