//! Password policy and argon2id hashing, off the async runtime with bounded concurrency.

use std::sync::Arc;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Argon2 cost does not grow with length, but a cap keeps request bodies honest.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Rejects short, very long and easily guessed passwords (common passwords, keyboard walks,
/// the user's own name): zxcvbn must rate it at least "somewhat guessable" (score 2 of 4).
pub fn check_password_strength(password: &str, user_inputs: &[&str]) -> ApiResult<()> {
    let n_chars = password.chars().count();
    if n_chars < MIN_PASSWORD_CHARS {
        return Err(ApiError::unprocessable(
            "weak_password",
            format!("The password must be at least {MIN_PASSWORD_CHARS} characters long."),
        ));
    }
    if n_chars > MAX_PASSWORD_CHARS {
        return Err(ApiError::unprocessable(
            "weak_password",
            format!("The password must be at most {MAX_PASSWORD_CHARS} characters long."),
        ));
    }
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    if (entropy.score() as u8) < 2 {
        let hint = entropy
            .feedback()
            .and_then(|feedback| feedback.warning())
            .map(|warning| format!(" {}.", warning.to_string().trim_end_matches('.')))
            .unwrap_or_default();
        return Err(ApiError::unprocessable(
            "weak_password",
            format!("That password is too easy to guess.{hint} Try a few unrelated words."),
        ));
    }
    Ok(())
}

/// Hashes and verifies with argon2id, m=19 MiB, t=2, p=1 (OWASP), on blocking threads.
/// At most `concurrency` run at once: each holds 19 MiB and a core, and an unbounded queue of
/// them is how a login flood takes a pod down.
#[derive(Clone)]
pub struct PasswordService {
    permits: Arc<Semaphore>,
    /// Verified against when the username is unknown, so both cases take as long.
    dummy_hash: Arc<str>,
}

impl PasswordService {
    pub fn new(concurrency: usize) -> ApiResult<Self> {
        let dummy_hash = hash_blocking("dummy password for unknown users")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|_| ApiError::internal())?
    }

    /// `stored_hash: None` (unknown user or guest) spends the same time and answers false.
    pub async fn verify(&self, password: String, stored_hash: Option<String>) -> ApiResult<bool> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        let known = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .map_err(|_| ApiError::internal())?;
        Ok(known && matches)
    }
}

fn hash_blocking(password: &str) -> ApiResult<String> {
    // `Argon2::default()` is argon2id v0x13, m=19456 KiB, t=2, p=1.
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| {
            tracing::error!(%error, "password hashing failed");
            ApiError::internal()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_personal_passwords_are_weak() {
        for weak in [
            "short",
            "password123",
            "qwertyuiop",
            "1234567890",
            "aaaaaaaaaaaa",
        ] {
            let error = check_password_strength(weak, &[]).unwrap_err();
            assert_eq!(error.code, "weak_password", "{weak}");
        }
        let error = check_password_strength("aliceliddell1", &["aliceliddell"]).unwrap_err();
        assert_eq!(error.code, "weak_password");
        let error = check_password_strength("password1234", &[]).unwrap_err();
        assert!(!error.message.contains(".."), "{}", error.message);
        assert!(check_password_strength(&"x".repeat(129), &[]).is_err());
    }

    #[test]
    fn passphrases_are_strong() {
        assert!(check_password_strength("correct horse battery staple", &[]).is_ok());
        assert!(check_password_strength("violet-otter-sings-42", &["alice"]).is_ok());
    }

    #[tokio::test]
    async fn hash_verifies_and_uses_owasp_parameters() {
        let passwords = PasswordService::new(1).unwrap();
        let hash = passwords
            .hash("violet-otter-sings-42".into())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify("violet-otter-sings-42".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("violet-otter-sings-43".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
    }
}
