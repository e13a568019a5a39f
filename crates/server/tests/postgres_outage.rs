//! `convene gateway` on a real Postgres that goes away and comes back: the process stays
//! alive, `/healthz` keeps answering (so the orchestrator does not restart it), `/readyz`
//! and store-backed requests answer 503 `store_unavailable` with Retry-After, and
//! everything recovers by itself once Postgres is back, without restarting the gateway.
//!
//! Needs root and the `postgresql` package (a throwaway server is started, because the
//! shared one must not be stopped), and the machine's Redis on 127.0.0.1:6379.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use serde_json::{Value, json};
use support::{ConveneProcess, ThrowawayPostgres, http_client, run_to_exit};

const PASSWORD: &str = "violet-otter-sings-42";
const REDIS_URL: &str = "redis://127.0.0.1:6379";

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("read the response body");
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{status}: not JSON ({error}): {text}"))
}

async fn login(
    client: &reqwest::Client,
    gateway: &ConveneProcess,
    username: &str,
) -> reqwest::Response {
    client
        .post(gateway.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .expect("POST /api/v1/auth/login")
}

async fn me(
    client: &reqwest::Client,
    gateway: &ConveneProcess,
    token: &str,
) -> (StatusCode, Value) {
    let response = client
        .get(gateway.url("/api/v1/me"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("GET /api/v1/me");
    (response.status(), json_of(response).await)
}

async fn readyz(client: &reqwest::Client, gateway: &ConveneProcess) -> (StatusCode, Value) {
    let response = client
        .get(gateway.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    (response.status(), json_of(response).await)
}

/// A 503 `store_unavailable` error with a Retry-After of at least one second.
async fn assert_store_unavailable(response: reqwest::Response, what: &str) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = json_of(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{what}: {body}");
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
    let retry_after = retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After header"));
    let seconds: u64 = retry_after.parse().unwrap_or_else(|_| {
        panic!("{what}: Retry-After {retry_after:?} is not a number of seconds")
    });
    assert!(seconds >= 1, "{what}: Retry-After {seconds}");
}

#[tokio::test]
async fn store_outage_answers_503_and_recovers_when_postgres_returns() {
    let test_started = Instant::now();
    let mut postgres = ThrowawayPostgres::start_new();
    let database_url = postgres.url();
    eprintln!(
        "throwaway postgres ready after {:?}",
        test_started.elapsed()
    );

    // Migrations are a separate step for the gateway role.
    let migrated = run_to_exit(
        &["migrate"],
        &[("CONVENE_DATABASE_URL", &database_url)],
        Duration::from_secs(60),
    );
    assert_eq!(
        migrated.status.code(),
        Some(0),
        "convene migrate: {}\n--- stdout\n{}\n--- stderr\n{}",
        migrated.status,
        migrated.stdout,
        migrated.stderr
    );

    let jwt_keys = format!("k1:{}", STANDARD.encode(rand_bytes()));
    let mut gateway = ConveneProcess::start(
        "gateway",
        &[
            ("CONVENE_DATABASE_URL", &database_url),
            ("CONVENE_REDIS_URL", REDIS_URL),
            ("CONVENE_JWT_KEYS", &jwt_keys),
            ("CONVENE_DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await;
    let client = http_client();

    let (status, body) = readyz(&client, &gateway).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready", "{body}");

    let username = "outage_cleo";
    let response = client
        .post(gateway.url("/api/v1/auth/register"))
        .json(&json!({ "username": username, "password": PASSWORD, "display_name": "Cleo" }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let session = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "register: {session}");
    let token_before = session["access_token"].as_str().unwrap().to_owned();

    // Postgres goes away.
    postgres.stop();

    let response = client.get(gateway.url("/healthz")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a store outage must not fail liveness"
    );

    let asked = Instant::now();
    let (status, body) = readyz(&client, &gateway).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready", "{body}");
    assert_ne!(body["checks"]["store"], "ok", "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "/readyz took {:?}",
        asked.elapsed()
    );

    let asked = Instant::now();
    let response = login(&client, &gateway, username).await;
    assert_store_unavailable(response, "login during the outage").await;
    // Bounded by CONVENE_DATABASE_ACQUIRE_TIMEOUT_SECONDS=1, not by a TCP timeout.
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "login took {:?}",
        asked.elapsed()
    );

    // A valid session is not signed out by the outage: 503, not 401.
    let response = client
        .get(gateway.url("/api/v1/me"))
        .header(AUTHORIZATION, format!("Bearer {token_before}"))
        .send()
        .await
        .unwrap();
    assert_store_unavailable(response, "GET /api/v1/me during the outage").await;

    assert!(
        gateway.try_wait().is_none(),
        "the gateway exited during the outage\n{}",
        gateway.log()
    );

    // Postgres comes back on the same port and data: the gateway recovers on its own.
    postgres.start();
    let back = Instant::now();
    let deadline = back + Duration::from_secs(20);
    let recovered_after = loop {
        let (status, body) = readyz(&client, &gateway).await;
        if status == StatusCode::OK {
            assert_eq!(body["status"], "ready", "{body}");
            break back.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still answers {status} {body} 20 s after Postgres came back\n{}",
            gateway.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("/readyz ready again {recovered_after:?} after Postgres accepted connections");

    let response = login(&client, &gateway, username).await;
    let status = response.status();
    let session = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "login after the outage: {session}");
    let token_after = session["access_token"].as_str().unwrap().to_owned();
    let (status, body) = me(&client, &gateway, &token_after).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], username, "{body}");
    // The session from before the outage is intact too.
    let (status, body) = me(&client, &gateway, &token_before).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let status = gateway.terminate(Duration::from_secs(15)).await;
    assert_eq!(
        status.code(),
        Some(0),
        "gateway exit status {status}\n{}",
        gateway.log()
    );
    postgres.stop();
    eprintln!("whole test took {:?}", test_started.elapsed());
}

/// A fresh 32-byte signing secret.
fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes
}
