//! Access tokens (short-lived HS256 JWTs) and refresh tokens (random, stored hashed).

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// An HMAC key for access tokens, named so that keys can rotate: tokens carry the key id in
/// their header, new tokens are signed with the first key, and older keys keep verifying
/// until they are removed from the configuration.
#[derive(Clone)]
pub struct SigningKey {
    pub key_id: String,
    secret: Vec<u8>,
}

impl SigningKey {
    /// At least 32 bytes of secret are required by the configuration's validation.
    pub fn new(key_id: impl Into<String>, secret: Vec<u8>) -> Self {
        Self {
            key_id: key_id.into(),
            secret,
        }
    }

    pub const MIN_SECRET_BYTES: usize = 32;
}

impl fmt::Debug for SigningKey {
    // The secret never reaches a log line.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session (refresh-token family) this token was minted for.
    pub sid: Uuid,
    /// The user's token version when minted; a bump revokes every older token.
    pub ver: i64,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed, tampered with, or signed with an unknown key")]
    Invalid,
    #[error("token has expired")]
    Expired,
}

pub struct TokenService {
    signing_key_id: String,
    encoding_key: EncodingKey,
    decoding_keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl TokenService {
    /// `keys` must not be empty (the configuration guarantees it).
    pub fn new(keys: &[SigningKey]) -> Option<Self> {
        let first = keys.first()?;
        let decoding_keys = keys
            .iter()
            .map(|key| (key.key_id.clone(), DecodingKey::from_secret(&key.secret)))
            .collect();
        // Only HS256 is accepted: `alg: none` and algorithm confusion fail here.
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the injected clock below, not the system clock.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Some(Self {
            signing_key_id: first.key_id.clone(),
            encoding_key: EncodingKey::from_secret(&first.secret),
            decoding_keys,
            validation,
        })
    }

    pub fn mint_access_token(
        &self,
        claims: &AccessClaims,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
    }

    pub fn verify_access_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let key_id = header.kid.ok_or(TokenError::Invalid)?;
        let key = self.decoding_keys.get(&key_id).ok_or(TokenError::Invalid)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

/// A fresh refresh token: 256 random bits, URL-safe. Only its hash is stored.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: Uuid::nil(),
            sid: Uuid::nil(),
            ver: 0,
            iat: 0,
            exp,
        }
    }

    fn service(key_id: &str, byte: u8) -> TokenService {
        TokenService::new(&[SigningKey::new(key_id, vec![byte; 32])]).unwrap()
    }

    #[test]
    fn minted_token_verifies_until_expiry() {
        let tokens = service("a", 1);
        let now = Utc::now();
        let token = tokens
            .mint_access_token(&claims(now.timestamp() + 60))
            .unwrap();
        assert!(tokens.verify_access_token(&token, now).is_ok());
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(
            tokens.verify_access_token(&token, later),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn token_signed_with_another_key_is_invalid() {
        let now = Utc::now();
        let token = service("a", 1)
            .mint_access_token(&claims(now.timestamp() + 60))
            .unwrap();
        assert_eq!(
            service("a", 2).verify_access_token(&token, now),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            service("b", 1).verify_access_token(&token, now),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn rotated_keys_keep_verifying_old_tokens() {
        let now = Utc::now();
        let old = service("old", 1)
            .mint_access_token(&claims(now.timestamp() + 60))
            .unwrap();
        let rotated = TokenService::new(&[
            SigningKey::new("new", vec![2; 32]),
            SigningKey::new("old", vec![1; 32]),
        ])
        .unwrap();
        assert!(rotated.verify_access_token(&old, now).is_ok());
        let fresh = rotated
            .mint_access_token(&claims(now.timestamp() + 60))
            .unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
            Some("new")
        );
    }

    #[test]
    fn alg_none_and_tampered_tokens_are_invalid() {
        let tokens = service("a", 1);
        let now = Utc::now();
        let token = tokens
            .mint_access_token(&claims(now.timestamp() + 60))
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"a"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            tokens.verify_access_token(&unsigned, now),
            Err(TokenError::Invalid)
        );

        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&AccessClaims {
                ver: 99,
                ..claims(now.timestamp() + 60)
            })
            .unwrap(),
        );
        let tampered = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            tokens.verify_access_token(&tampered, now),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            tokens.verify_access_token("garbage", now),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn refresh_tokens_are_random_and_hash_stably() {
        let first = new_refresh_token();
        let second = new_refresh_token();
        assert_ne!(first, second);
        assert_eq!(first.len(), 43);
        assert_eq!(hash_refresh_token(&first), hash_refresh_token(&first));
        assert_ne!(hash_refresh_token(&first), hash_refresh_token(&second));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let key = SigningKey::new("kid-1", vec![0xAB; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("kid-1"));
        assert!(!shown.contains("171"));
    }
}
