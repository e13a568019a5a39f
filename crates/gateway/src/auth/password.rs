//! Password policy and argon2id hashing, off the async runtime with bounded concurrency.

use std::sync::{Arc, Mutex, PoisonError, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

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

/// Hashes and verifies with argon2id, m=19 MiB, t=2, p=1 (OWASP), on `concurrency` threads
/// of its own. At most that many run at once: each holds 19 MiB and a core, and an unbounded
/// queue of them is how a login flood takes a pod down.
///
/// Each thread hashes in memory it allocated once. Allocating 19 MiB per hash (what
/// `Argon2::hash_password` does) made glibc keep every one of them: a gateway grew by
/// ~19.5 MiB resident per sign-up or login, measured, sequentially, on 2 threads, until the
/// pod ran out of memory. Now it holds `concurrency` × 19 MiB for good and nothing more.
#[derive(Clone)]
pub struct PasswordService {
    permits: Arc<Semaphore>,
    jobs: mpsc::SyncSender<HashingJob>,
    /// Verified against when the username is unknown, so both cases take as long.
    dummy_hash: Arc<str>,
}

/// Work for a hashing thread, given that thread's argon2 memory.
type HashingJob = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

impl PasswordService {
    pub fn new(concurrency: usize) -> ApiResult<Self> {
        let concurrency = concurrency.max(1);
        let dummy_hash = hash_blocking("dummy password for unknown users", &mut Vec::new())?;
        // Never full: a job is sent only under one of `concurrency` permits.
        let (jobs, queue) = mpsc::sync_channel::<HashingJob>(concurrency);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..concurrency {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("convene-argon2-{index}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match job {
                            Ok(job) => job(&mut memory),
                            // Every `PasswordService` is gone.
                            Err(mpsc::RecvError) => return,
                        }
                    }
                })
                .map_err(|error| {
                    tracing::error!(%error, "starting a password hashing thread failed");
                    ApiError::internal()
                })?;
        }
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            jobs,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Runs `work` on a hashing thread, waiting for a free one.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> ApiResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        let (done, result) = oneshot::channel();
        self.jobs
            .try_send(Box::new(move |memory: &mut Vec<Block>| {
                let _ = done.send(work(memory));
            }))
            .map_err(|_| ApiError::internal())?;
        result.await.map_err(|_| ApiError::internal())
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move |memory| hash_blocking(&password, memory))
            .await?
    }

    /// `stored_hash: None` (unknown user or guest) spends the same time and answers false.
    pub async fn verify(&self, password: String, stored_hash: Option<String>) -> ApiResult<bool> {
        let known = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .run(move |memory| verify_blocking(&password, &hash, memory))
            .await?;
        Ok(known && matches)
    }
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password` with a fresh
/// salt: argon2id v0x13, m=19456 KiB, t=2, p=1, what `Argon2::default()` does.
fn hash_blocking(password: &str, memory: &mut Vec<Block>) -> ApiResult<String> {
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "password hashing failed");
        ApiError::internal()
    };
    let argon2 = Argon2::default();
    let params = argon2.params().clone();
    let mut salt = [0_u8; 16];
    rand::fill(&mut salt);
    let mut output = [0_u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut output,
            blocks(memory, params.block_count()),
        )
        .map_err(|error| failed(&error))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|error| failed(&error))?,
        salt: Some(Salt::new(&salt).map_err(|error| failed(&error))?),
        hash: Some(Output::new(&output).map_err(|error| failed(&error))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored` (whatever argon2 parameters it
/// names), compared in constant time.
fn verify_blocking(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let mut output = vec![0_u8; expected.len()];
    let block_count = params.block_count();
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut output,
        blocks(memory, block_count),
    );
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&output).is_ok_and(|output| output == *expected)
}

/// The first `block_count` blocks of the thread's memory, grown (once) when too small.
fn blocks(memory: &mut Vec<Block>, block_count: usize) -> &mut [Block] {
    if memory.len() < block_count {
        memory.resize(block_count, Block::new());
    }
    &mut memory[..block_count]
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_are_standard_phc_strings_that_verify_both_ways() {
        let mut memory = Vec::new();
        let ours = hash_blocking("correct horse battery", &mut memory).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        assert_ne!(
            ours,
            hash_blocking("correct horse battery", &mut memory).unwrap()
        );
        // The library verifies ours, and we verify the library's (hashes stored before).
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", ours.as_str())
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(verify_blocking(
            "correct horse battery",
            &theirs,
            &mut memory
        ));
        assert!(verify_blocking("correct horse battery", &ours, &mut memory));
        assert!(!verify_blocking("correct horse staple", &ours, &mut memory));
        assert!(!verify_blocking(
            "correct horse battery",
            "not a hash",
            &mut memory
        ));
        // Other parameters (a hash made before a cost change) verify too.
        let cheaper = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery")
        .unwrap()
        .to_string();
        assert!(verify_blocking(
            "correct horse battery",
            &cheaper,
            &mut memory
        ));
        assert_eq!(memory.len(), Params::DEFAULT_M_COST as usize);
    }

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
