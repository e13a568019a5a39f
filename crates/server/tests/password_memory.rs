//! Resident memory of the real `convene serve` across many password hashes: argon2id uses
//! 19 MiB per hash, and allocating that afresh for every hash made glibc keep each one (the
//! gateway grew by ~19.5 MiB per sign-up or login, without bound, found by the load tester).
//! The hashing threads now reuse memory they allocated once, so logins after the first few
//! cost no resident memory. A memory bound, not a timing: the logins run one after another
//! and only `VmRSS` from `/proc/<pid>/status` is compared.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{ConveneProcess, http_client};

const PASSWORD: &str = "violet-otter-sings-42";
const LOGINS: usize = 12;
/// Hashing threads of the server under test, set explicitly so that the bound below holds
/// whatever the machine's core count: each thread may allocate its 19 MiB once, the first
/// time it hashes, which can be during the logins for a thread the registration did not use.
const HASHING_THREADS: &str = "2";
/// One more thread's 19 MiB, plus room for allocator and runtime noise. The code before the
/// fix (a fresh 19 MiB per hash on tokio's blocking pool) grew by 95 MiB here: ~19.5 MiB for
/// each of the first five logins, then flat (3 runs on a debug build, 2-core machine, with 1
/// or 2 hashing threads); after the fix it grows by ~19 MiB, once.
const MAX_GROWTH_KIB: u64 = 60 * 1024;

/// `VmRSS` of process `pid` in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|error| panic!("read /proc/{pid}/status: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status:\n{status}"))
}

#[tokio::test]
async fn repeated_logins_do_not_keep_a_password_hash_worth_of_memory_each() {
    let server = ConveneProcess::start(
        "serve",
        &[
            ("CONVENE_AUTH_RATE_LIMIT_PER_MINUTE", "1000"),
            ("CONVENE_PASSWORD_HASH_CONCURRENCY", HASHING_THREADS),
        ],
    )
    .await;
    let client = http_client();

    let username = "memory_ada";
    let response = client
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({
            "username": username,
            "password": PASSWORD,
            "display_name": "Memory Tester",
        }))
        .send()
        .await
        .expect("POST /api/v1/auth/register");
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "register: {body}");

    let before = resident_kib(server.pid());
    let mut after_each = Vec::with_capacity(LOGINS);
    for _ in 0..LOGINS {
        let response = client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("POST /api/v1/auth/login");
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "login: {body}");
        after_each.push(resident_kib(server.pid()));
    }
    let after = resident_kib(server.pid());
    let growth = after.saturating_sub(before);
    eprintln!(
        "VmRSS {before} KiB after registering, {after} KiB after {LOGINS} logins \
         (+{growth} KiB); after each login: {after_each:?} KiB"
    );
    assert!(
        growth < MAX_GROWTH_KIB,
        "{LOGINS} logins grew the server's resident memory by {} MiB (from {} to {} MiB; \
         after each login: {after_each:?} KiB): argon2 memory is being kept per hash",
        growth / 1024,
        before / 1024,
        after / 1024,
    );
}
