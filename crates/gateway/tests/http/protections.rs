//! Cross-cutting protections and operations endpoints.

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use axum::http::{Method, StatusCode};
use convene_gateway::GatewaySettings;
use serde_json::json;

use crate::support::{ORIGIN, PASSWORD, TestApp};

pub fn settings_for(case: &str) -> GatewaySettings {
    let mut settings = crate::default_settings();
    match case {
        "auth_endpoints_are_rate_limited_per_ip" => {
            settings.auth_requests_per_minute = NonZeroU32::new(3).unwrap();
        }
        "authenticated_endpoints_are_rate_limited_per_user" => {
            settings.api_requests_per_minute = NonZeroU32::new(5).unwrap();
        }
        "malformed_bodies_get_specific_errors" => settings.max_body_bytes = 2048,
        "the_web_ui_is_served_with_a_spa_fallback" => {
            let dir = tempfile::tempdir().unwrap().keep();
            std::fs::write(
                dir.join("index.html"),
                "<!doctype html><title>Convene UI</title>",
            )
            .unwrap();
            std::fs::create_dir(dir.join("assets")).unwrap();
            std::fs::write(dir.join("assets/app-1a2b3c.js"), "console.log('hi')").unwrap();
            settings.web_dir = Some(dir);
        }
        _ => {}
    }
    settings
}

pub async fn malformed_bodies_get_specific_errors(app: &TestApp) {
    let register = "/api/v1/auth/register";
    let reply = app
        .post(register)
        .raw("{\"username\": ", Some("application/json"))
        .send()
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    let reply = app
        .post(register)
        .raw("username=a", Some("application/x-www-form-urlencoded"))
        .send()
        .await;
    reply.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let reply = app.post(register).raw("{}", None).send().await;
    reply.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let huge = json!({"username": "xavier", "password": "p".repeat(4096)});
    let reply = app.post(register).json(huge).send().await;
    reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let reply = app
        .post("/api/v1/auth/refresh")
        .raw("not json", Some("application/json"))
        .send()
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    let reply = app
        .post("/api/v1/auth/refresh")
        .raw(vec![b'x'; 4096], Some("application/json"))
        .send()
        .await;
    reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let reply = app
        .post("/api/v1/auth/logout")
        .json(json!({"everywhere": "yes"}))
        .send()
        .await;
    reply.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    // None of it created an account.
    let token = app.user("yvonne").await;
    let search = app
        .get("/api/v1/users?q=xavier")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(search.body["users"].as_array().unwrap().len(), 0);
}

pub async fn cross_origin_state_changes_are_refused(app: &TestApp) {
    let token = app.user("zoe").await;
    let evil = app
        .post("/api/v1/auth/login")
        .header("origin", "https://evil.example")
        .json(json!({"username": "zoe", "password": PASSWORD}))
        .send()
        .await;
    evil.assert_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    let evil_update = app
        .call(Method::PATCH, "/api/v1/me")
        .header("origin", "null")
        .cookie("convene_access", &token)
        .json(json!({"display_name": "pwned"}))
        .send()
        .await;
    evil_update.assert_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    let me = app.get("/api/v1/me").bearer(&token).send().await;
    assert_eq!(
        me.body["display_name"], "zoe",
        "the refused request changed nothing"
    );

    let ours = app
        .post("/api/v1/auth/login")
        .header("origin", ORIGIN)
        .json(json!({"username": "zoe", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(ours.status, StatusCode::OK);
    // Reads are not state changes.
    let read = app
        .get("/api/v1/me")
        .header("origin", "https://evil.example")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(read.status, StatusCode::OK);
}

pub async fn auth_endpoints_are_rate_limited_per_ip(app: &TestApp) {
    for _ in 0..3 {
        let reply = app.login_api("nobody_at_all", "whatever-password-1").await;
        assert_eq!(reply.error_code(), "invalid_credentials");
    }
    let limited = app.login_api("nobody_at_all", "whatever-password-1").await;
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=21).contains(&retry_after), "{retry_after}");
    // Other endpoints are not behind the per-IP auth limit.
    assert_eq!(app.get("/healthz").send().await.status, StatusCode::OK);
}

pub async fn authenticated_endpoints_are_rate_limited_per_user(app: &TestApp) {
    let first = app.user("amy").await;
    let second = app.user("ben").await;
    for _ in 0..5 {
        assert_eq!(
            app.get("/api/v1/me").bearer(&first).send().await.status,
            StatusCode::OK
        );
    }
    let limited = app.get("/api/v1/me").bearer(&first).send().await;
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(
        app.get("/api/v1/me").bearer(&second).send().await.status,
        StatusCode::OK
    );
}

pub async fn unknown_routes_and_methods_answer_json(app: &TestApp) {
    let missing = app.get("/api/v1/nothing-here").send().await;
    missing.assert_error(StatusCode::NOT_FOUND, "not_found");
    let wrong_method = app.call(Method::DELETE, "/api/v1/auth/login").send().await;
    wrong_method.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

pub async fn security_headers_are_on_every_response(app: &TestApp) {
    for reply in [
        app.get("/healthz").send().await,
        app.get("/api/v1/missing").send().await,
    ] {
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"),
            "{csp}"
        );
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["x-frame-options"], "DENY");
        assert_eq!(reply.headers["referrer-policy"], "no-referrer");
    }
}

pub async fn health_readiness_and_metrics(app: &TestApp) {
    let health = app.get("/healthz").send().await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, json!({"status": "ok"}));
    let ready = app.get("/readyz").send().await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "checks": {"store": "ok", "bus": "ok"}})
    );

    app.register("cleo").await;
    let metrics = app.get("/metrics").send().await;
    assert_eq!(metrics.status, StatusCode::OK);
    for expected in [
        r#"convene_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1"#,
        r#"convene_http_request_duration_seconds_count{method="GET",route="/readyz"} 1"#,
        r#"convene_auth_events_total{event="registered"} 1"#,
        "convene_db_pool_max_connections ",
        "convene_db_pool_connections ",
    ] {
        assert!(
            metrics.text.contains(expected),
            "missing {expected} in\n{}",
            metrics.text
        );
    }
    // Raw paths never become labels.
    app.get("/api/v1/users/0b7d4c7e-0000-0000-0000-000000000000")
        .send()
        .await;
    let metrics = app.get("/metrics").send().await;
    assert!(!metrics.text.contains("0b7d4c7e"));
    assert!(metrics.text.contains(r#"route="/api/v1/users/{user_id}""#));

    app.state.start_draining();
    let draining = app.get("/readyz").send().await;
    assert_eq!(draining.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(draining.body["status"], "draining");
    assert_eq!(app.get("/healthz").send().await.status, StatusCode::OK);
}

pub async fn openapi_documents_every_route(app: &TestApp) {
    let document = app.get("/api/openapi.json").send().await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.body["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in document.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let served: BTreeSet<String> = [
        "POST /api/v1/auth/register",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/guest",
        "POST /api/v1/auth/refresh",
        "POST /api/v1/auth/logout",
        "GET /api/v1/me",
        "PATCH /api/v1/me",
        "POST /api/v1/me/password",
        "GET /api/v1/users",
        "GET /api/v1/users/{user_id}",
        "GET /api/v1/blocks",
        "PUT /api/v1/blocks/{user_id}",
        "DELETE /api/v1/blocks/{user_id}",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /api/openapi.json",
        "GET /api/v1/conversations",
        "POST /api/v1/conversations/direct",
        "POST /api/v1/conversations/groups",
        "POST /api/v1/conversations/meetings",
        "POST /api/v1/meetings/{code}/join",
        "GET /api/v1/conversations/{conversation_id}",
        "PATCH /api/v1/conversations/{conversation_id}",
        "POST /api/v1/conversations/{conversation_id}/members",
        "PATCH /api/v1/conversations/{conversation_id}/members/{user_id}",
        "DELETE /api/v1/conversations/{conversation_id}/members/{user_id}",
        "GET /api/v1/conversations/{conversation_id}/messages",
        "POST /api/v1/conversations/{conversation_id}/messages",
        "PATCH /api/v1/conversations/{conversation_id}/messages/{message_id}",
        "DELETE /api/v1/conversations/{conversation_id}/messages/{message_id}",
        "POST /api/v1/conversations/{conversation_id}/messages/{message_id}/reactions",
        "PUT /api/v1/conversations/{conversation_id}/messages/{message_id}/pin",
        "DELETE /api/v1/conversations/{conversation_id}/messages/{message_id}/pin",
        "GET /api/v1/conversations/{conversation_id}/pins",
        "GET /api/v1/conversations/{conversation_id}/events",
        "POST /api/v1/conversations/{conversation_id}/read",
        "POST /api/v1/conversations/{conversation_id}/typing",
        "POST /api/v1/messages/{message_id}/forward",
        "GET /api/v1/search/messages",
        "GET /api/v1/ws",
        "POST /api/v1/ws/ticket",
        "GET /api/v1/presence",
        "GET /api/v1/calls/ice-servers",
        "GET /api/v1/calls",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(documented, served);
    // Every documented route answers something other than the 404/405 fallbacks.
    for route in &served {
        let (method, path) = route.split_once(' ').unwrap();
        let nil = "00000000-0000-0000-0000-000000000000";
        let path = path
            .replace("{user_id}", nil)
            .replace("{conversation_id}", nil)
            .replace("{message_id}", nil)
            .replace("{code}", "abc-defg-hij");
        let reply = app.call(method.parse().unwrap(), &path).send().await;
        assert!(
            !matches!(reply.error_code(), "not_found" | "method_not_allowed"),
            "{route} is documented but not served: {}",
            reply.body
        );
    }
    let schemas = document.body["components"]["schemas"].as_object().unwrap();
    for schema in [
        "ErrorBody",
        "SessionResponse",
        "RegisterRequest",
        "MeView",
        "UserView",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
}

pub async fn the_web_ui_is_served_with_a_spa_fallback(app: &TestApp) {
    let index = app.get("/").send().await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index.text.contains("Convene UI"));
    assert_eq!(index.headers["cache-control"], "no-cache");
    // A client-side route reloads into the app.
    let route = app
        .get("/c/0196a3c2-0000-7000-8000-000000000001")
        .send()
        .await;
    assert_eq!(route.status, StatusCode::OK);
    assert!(route.text.contains("Convene UI"));
    let asset = app.get("/assets/app-1a2b3c.js").send().await;
    assert_eq!(asset.status, StatusCode::OK);
    assert_eq!(
        asset.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(asset.headers.contains_key("content-security-policy"));
    // The API keeps its JSON 404.
    app.get("/api/v1/nothing")
        .send()
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let escape = app.get("/../Cargo.toml").send().await;
    assert!(!escape.text.contains("[package]"), "no path traversal");
}

pub async fn without_a_built_ui_the_root_says_how_to_build_it(app: &TestApp) {
    let root = app.get("/").send().await;
    assert_eq!(root.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(root.text.contains("script/run"));
    app.get("/api/v1/nothing")
        .send()
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}
