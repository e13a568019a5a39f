//! The real `convene` binary on its embedded defaults (SQLite in the data directory, the
//! in-process bus, a generated signing key): operations endpoints, the OpenAPI document,
//! registration and sign-in with cookies and Bearer tokens, graceful shutdown on SIGTERM,
//! persistence across a restart, and refusal of bad configuration before anything starts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, SET_COOKIE};
use serde_json::{Value, json};
use support::{ConveneProcess, cookie_client, http_client, run_to_exit};

const PASSWORD: &str = "violet-otter-sings-42";
/// A graceful shutdown of an idle server takes well under a second.
const SHUTDOWN_WITHIN: Duration = Duration::from_secs(10);
/// Configuration errors are found before the runtime starts.
const CONFIG_ERROR_WITHIN: Duration = Duration::from_secs(10);

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("read the response body");
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{status}: not JSON ({error}): {text}"))
}

/// The `Set-Cookie` header that sets `name`, if any.
fn set_cookie<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
}

/// The attributes of a `Set-Cookie` value after `name=value`, lowercased.
fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|attribute| attribute.trim().to_ascii_lowercase())
        .collect()
}

async fn register(client: &reqwest::Client, server: &ConveneProcess, username: &str) -> Value {
    let response = client
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({
            "username": username,
            "password": PASSWORD,
            "display_name": "Smoke Tester",
        }))
        .send()
        .await
        .expect("POST /api/v1/auth/register");
    let status = response.status();
    let body = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "register: {body}");
    assert_eq!(body["user"]["username"], username, "{body}");
    body
}

async fn login(
    client: &reqwest::Client,
    server: &ConveneProcess,
    username: &str,
) -> reqwest::Response {
    client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .expect("POST /api/v1/auth/login")
}

async fn me_with_bearer(
    client: &reqwest::Client,
    server: &ConveneProcess,
    token: &str,
) -> (StatusCode, Value) {
    let response = client
        .get(server.url("/api/v1/me"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("GET /api/v1/me");
    let status = response.status();
    (status, json_of(response).await)
}

#[tokio::test]
async fn embedded_server_serves_health_metrics_openapi_and_auth_then_stops_on_sigterm() {
    let mut server = ConveneProcess::start("serve", &[]).await;
    let client = http_client();

    // Liveness: exactly {"status":"ok"}.
    let response = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await, json!({ "status": "ok" }));

    // Readiness: SQLite and the in-process bus answer.
    let response = client.get(server.url("/readyz")).send().await.unwrap();
    let status = response.status();
    let body = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["store"], "ok", "{body}");
    assert_eq!(body["checks"]["bus"], "ok", "{body}");

    // Prometheus text, with the request counter (requests were answered above).
    let response = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text")
            || content_type.starts_with("text/plain"),
        "{content_type}"
    );
    let metrics = response.text().await.unwrap();
    assert!(metrics.contains("convene_http_requests_total"), "{metrics}");

    // The OpenAPI document, generated from the routes.
    let response = client
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let openapi = json_of(response).await;
    assert_eq!(openapi["openapi"], "3.1.0");
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "the OpenAPI document lacks {path}"
        );
    }

    // Register, then sign in as a browser would.
    let username = "smoke_ada";
    register(&client, &server, username).await;
    let browser = cookie_client();
    let response = login(&browser, &server, username).await;
    assert_eq!(response.status(), StatusCode::OK);
    let access_cookie = set_cookie(&response, "convene_access")
        .expect("login sets convene_access")
        .to_owned();
    let refresh_cookie = set_cookie(&response, "convene_refresh")
        .expect("login sets convene_refresh")
        .to_owned();
    for cookie in [&access_cookie, &refresh_cookie] {
        let attributes = cookie_attributes(cookie);
        assert!(attributes.iter().any(|a| a == "httponly"), "{cookie}");
        assert!(attributes.iter().any(|a| a == "samesite=lax"), "{cookie}");
        // Plain http on loopback: not Secure, or the browser would never send it back.
        assert!(!attributes.iter().any(|a| a == "secure"), "{cookie}");
    }
    assert!(
        cookie_attributes(&refresh_cookie)
            .iter()
            .any(|a| a == "path=/api/v1/auth"),
        "{refresh_cookie}"
    );
    let session = json_of(response).await;
    assert!(
        session.get("refresh_token").is_none(),
        "browsers get the refresh token only as a cookie: {session}"
    );
    let access_token = session["access_token"]
        .as_str()
        .expect("access_token in the login body")
        .to_owned();

    // The cookie jar alone authenticates.
    let response = browser.get(server.url("/api/v1/me")).send().await.unwrap();
    let status = response.status();
    let me = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], username, "{me}");
    assert_eq!(me["display_name"], "Smoke Tester", "{me}");

    // So does the Bearer token, without cookies.
    let (status, me) = me_with_bearer(&client, &server, &access_token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], username, "{me}");

    // And nothing at all does not.
    let response = client.get(server.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(response).await["error"]["code"], "unauthenticated");

    // Graceful shutdown: exit 0 promptly, although both clients keep idle connections open.
    let started = Instant::now();
    let status = server.terminate(SHUTDOWN_WITHIN).await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}\n{}",
        server.log()
    );
    eprintln!("graceful shutdown took {:?}", started.elapsed());
    assert!(server.log().contains("stopped"), "{}", server.log());
}

#[tokio::test]
async fn embedded_server_keeps_accounts_sessions_and_signing_key_across_a_restart() {
    let data = tempfile::Builder::new()
        .prefix("convene-data-")
        .tempdir()
        .unwrap();
    let client = http_client();
    let username = "restart_bea";

    let mut first = ConveneProcess::start_in(data.path(), "serve", &[]).await;
    let session = register(&client, &first, username).await;
    let access_token = session["access_token"].as_str().unwrap().to_owned();
    let status = first.terminate(SHUTDOWN_WITHIN).await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}\n{}",
        first.log()
    );
    drop(first);

    assert!(
        data.path().join("convene.db").is_file(),
        "no SQLite database in the data directory"
    );
    let key_path = data.path().join("jwt-signing-key");
    let key = std::fs::read_to_string(&key_path).expect("the generated signing key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_path).unwrap().permissions(),
    );
    assert_eq!(
        mode & 0o077,
        0,
        "the signing key is readable by others: {mode:o}"
    );

    let second = ConveneProcess::start_in(data.path(), "serve", &[]).await;
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        key,
        "the signing key was replaced on restart"
    );

    // The account is still there…
    let response = login(&client, &second, username).await;
    let status = response.status();
    let body = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "login after restart: {body}");
    let new_token = body["access_token"].as_str().unwrap().to_owned();
    let (status, me) = me_with_bearer(&client, &second, &new_token).await;
    assert_eq!(status, StatusCode::OK, "{me}");

    // …and a token issued before the restart still verifies: same key, same session.
    let (status, me) = me_with_bearer(&client, &second, &access_token).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "token from before the restart: {me}"
    );
    assert_eq!(me["username"], username, "{me}");
}

/// Asserts a run that failed on its configuration: exit code 2, nothing started.
fn assert_refused_config(finished: &support::Finished, needle: &str) {
    assert_eq!(
        finished.status.code(),
        Some(2),
        "expected exit code 2, got {}\n--- stdout\n{}\n--- stderr\n{}",
        finished.status,
        finished.stdout,
        finished.stderr
    );
    assert!(
        finished.stderr.contains(needle),
        "stderr does not mention {needle:?}:\n{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("invalid configuration"),
        "stderr does not say the configuration is invalid:\n{}",
        finished.stderr
    );
    let output = format!("{}{}", finished.stdout, finished.stderr);
    assert!(
        !output.contains("listening"),
        "the process got as far as listening:\n{output}"
    );
}

#[test]
fn invalid_listen_address_exits_with_code_2_naming_the_setting() {
    let started = Instant::now();
    let finished = run_to_exit(
        &["serve"],
        &[("CONVENE_HTTP_ADDR", "nonsense")],
        CONFIG_ERROR_WITHIN,
    );
    assert_refused_config(&finished, "CONVENE_HTTP_ADDR");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn gateway_without_postgres_exits_with_code_2_before_binding() {
    let port = support::free_port();
    let data = tempfile::Builder::new()
        .prefix("convene-data-")
        .tempdir()
        .unwrap();
    let data_dir = data.path().join("never-created");
    let finished = run_to_exit(
        &["gateway"],
        &[
            ("CONVENE_HTTP_ADDR", &format!("127.0.0.1:{port}")),
            ("CONVENE_DATA_DIR", data_dir.to_str().unwrap()),
        ],
        CONFIG_ERROR_WITHIN,
    );
    assert_refused_config(&finished, "CONVENE_DATABASE_URL");
    assert!(finished.stderr.contains("postgres"), "{}", finished.stderr);
    assert!(
        !data_dir.exists(),
        "the refused gateway created its data directory"
    );
    // The port was never taken.
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is still free");
}

#[test]
fn gateway_refuses_sqlite_and_points_to_serve() {
    let finished = run_to_exit(
        &["gateway"],
        &[
            ("CONVENE_DATABASE_URL", "sqlite://x.db"),
            (
                "CONVENE_HTTP_ADDR",
                &format!("127.0.0.1:{}", support::free_port()),
            ),
        ],
        CONFIG_ERROR_WITHIN,
    );
    assert_refused_config(&finished, "CONVENE_DATABASE_URL");
    assert!(
        finished.stderr.contains("SQLite is for `convene serve`"),
        "stderr does not say SQLite is for serve:\n{}",
        finished.stderr
    );
}
