//! Sessions: cookies and bearer tokens, refresh rotation and reuse detection, lockout,
//! guests, token verification, logout.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use convene_gateway::GatewaySettings;
use convene_gateway::auth::tokens::{AccessClaims, SigningKey, TokenService};
use serde_json::json;

use crate::support::{PASSWORD, TestApp};

pub fn settings_for(_case: &str) -> GatewaySettings {
    crate::default_settings()
}

pub async fn full_session_lifecycle_with_cookies(app: &TestApp) {
    let registered = app.register("alice").await;
    assert_eq!(registered.body["user"]["username"], "alice");
    assert_eq!(registered.body["user"]["kind"], "member");
    assert!(
        registered.refresh_token().is_none(),
        "browsers never see the refresh token"
    );
    let access_cookie = registered.set_cookie("convene_access").unwrap();
    let refresh_cookie = registered.set_cookie("convene_refresh").unwrap();
    for cookie in [&access_cookie, &refresh_cookie] {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
    }
    assert!(
        refresh_cookie.contains("Path=/api/v1/auth"),
        "{refresh_cookie}"
    );

    // Log in again: a second session, with cookies.
    let login = app
        .post("/api/v1/auth/login")
        .json(json!({"username": "ALICE", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let access = login.cookie_value("convene_access").unwrap();
    let refresh = login.cookie_value("convene_refresh").unwrap();

    // The access token works as a cookie and as a bearer token.
    let me = app
        .get("/api/v1/me")
        .cookie("convene_access", &access)
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "alice");
    let me = app
        .get("/api/v1/me")
        .bearer(&login.access_token())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let me = app.get("/api/v1/me").send().await;
    me.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");

    // Refresh: both cookies are replaced.
    app.advance(Duration::minutes(10));
    let refreshed = app
        .post("/api/v1/auth/refresh")
        .cookie("convene_refresh", &refresh)
        .send()
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let new_access = refreshed.cookie_value("convene_access").unwrap();
    let new_refresh = refreshed.cookie_value("convene_refresh").unwrap();
    assert_ne!(new_access, access);
    assert_ne!(new_refresh, refresh);
    let me = app
        .get("/api/v1/me")
        .cookie("convene_access", &new_access)
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // Log out: cookies cleared, the session is over for both tokens.
    let logout = app
        .post("/api/v1/auth/logout")
        .cookie("convene_refresh", &new_refresh)
        .send()
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert!(
        logout
            .set_cookie("convene_access")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(
        logout
            .set_cookie("convene_refresh")
            .unwrap()
            .contains("Max-Age=0")
    );
    let me = app
        .get("/api/v1/me")
        .cookie("convene_access", &new_access)
        .send()
        .await;
    me.assert_error(StatusCode::UNAUTHORIZED, "session_revoked");
    let refresh_again = app
        .post("/api/v1/auth/refresh")
        .cookie("convene_refresh", &new_refresh)
        .send()
        .await;
    refresh_again.assert_error(StatusCode::UNAUTHORIZED, "session_expired");

    // The first session (from registration) is untouched.
    let me = app
        .get("/api/v1/me")
        .bearer(&registered.access_token())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

pub async fn api_clients_get_refresh_tokens_in_the_body(app: &TestApp) {
    app.register("bob").await;
    let login = app.login_api("bob", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.set_cookie("convene_refresh").is_none());
    let first = login.refresh_token().unwrap();
    let refreshed = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": first}))
        .send()
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let second = refreshed.refresh_token().unwrap();
    assert_ne!(first, second);
    assert!(refreshed.set_cookie("convene_refresh").is_none());
    let me = app
        .get("/api/v1/me")
        .bearer(&refreshed.access_token())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // An unknown token is refused without touching anything.
    let unknown = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": "not-a-token"}))
        .send()
        .await;
    unknown.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    let no_token = app.post("/api/v1/auth/refresh").send().await;
    no_token.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    let still = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": second}))
        .send()
        .await;
    assert_eq!(still.status, StatusCode::OK);
}

pub async fn refresh_token_reuse_revokes_the_whole_family(app: &TestApp) {
    app.register("carol").await;
    let login = app.login_api("carol", PASSWORD).await;
    let stolen = login.refresh_token().unwrap();
    let rotated = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": stolen}))
        .send()
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let current = rotated.refresh_token().unwrap();
    let current_access = rotated.access_token();

    // Later, the old token is replayed (by a thief, or by the victim after the thief).
    app.advance(Duration::seconds(11));
    let replay = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": stolen}))
        .send()
        .await;
    replay.assert_error(StatusCode::UNAUTHORIZED, "refresh_token_reused");
    assert!(
        replay
            .set_cookie("convene_refresh")
            .unwrap()
            .contains("Max-Age=0")
    );

    // Every token of the family is now dead: the current refresh token and its access token.
    let next = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": current}))
        .send()
        .await;
    next.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    let me = app.get("/api/v1/me").bearer(&current_access).send().await;
    me.assert_error(StatusCode::UNAUTHORIZED, "session_revoked");

    // Other logins of the same account are separate families and keep working.
    let other = app.login_api("carol", PASSWORD).await;
    assert_eq!(other.status, StatusCode::OK);
    let metrics = app.get("/metrics").send().await;
    assert!(
        metrics
            .text
            .contains(r#"convene_auth_events_total{event="refresh_token_reused"} 1"#),
        "{}",
        metrics.text
    );
}

pub async fn concurrent_refresh_within_grace_is_not_reuse(app: &TestApp) {
    app.register("dave").await;
    let login = app.login_api("dave", PASSWORD).await;
    let original = login.refresh_token().unwrap();
    let first = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": original}))
        .send()
        .await;
    assert_eq!(first.status, StatusCode::OK);
    // A second tab refreshes with the same token a moment later.
    app.advance(Duration::seconds(2));
    let second = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": original}))
        .send()
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert!(
        second.refresh_token().is_none(),
        "no second successor token"
    );
    let me = app
        .get("/api/v1/me")
        .bearer(&second.access_token())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // The first tab's successor token still works.
    let next = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": first.refresh_token().unwrap()}))
        .send()
        .await;
    assert_eq!(next.status, StatusCode::OK);
}

pub async fn unknown_user_and_wrong_password_look_the_same(app: &TestApp) {
    app.register("erin").await;
    let wrong_password = app.login_api("erin", "not-the-password-1").await;
    let unknown_user = app.login_api("nobody_here", "not-the-password-1").await;
    wrong_password.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    unknown_user.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(wrong_password.body, unknown_user.body);
    let too_long = app.login_api(&"x".repeat(200), "whatever-password").await;
    assert_eq!(too_long.body, unknown_user.body);
}

pub async fn failed_logins_lock_the_account_then_unlock_after_the_period(app: &TestApp) {
    app.register("frank").await;
    for attempt in 1..=4 {
        let reply = app.login_api("frank", "wrong-password-123").await;
        assert_eq!(
            reply.error_code(),
            "invalid_credentials",
            "attempt {attempt}"
        );
    }
    let fifth = app.login_api("frank", "wrong-password-123").await;
    fifth.assert_error(StatusCode::TOO_MANY_REQUESTS, "account_locked");
    assert_eq!(fifth.headers["retry-after"], "60");
    assert!(
        fifth.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 more minute")
    );

    // While locked, even the right password is refused, and nothing is extended.
    app.advance(Duration::seconds(30));
    let locked = app.login_api("frank", PASSWORD).await;
    locked.assert_error(StatusCode::TOO_MANY_REQUESTS, "account_locked");
    assert_eq!(locked.headers["retry-after"], "30");

    // After the period the right password works and resets the count.
    app.advance(Duration::seconds(31));
    let unlocked = app.login_api("frank", PASSWORD).await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.body);
    for _ in 1..=4 {
        let reply = app.login_api("frank", "wrong-password-123").await;
        assert_eq!(reply.error_code(), "invalid_credentials");
    }
}

pub async fn lock_period_grows_with_further_failures(app: &TestApp) {
    app.register("grace").await;
    for _ in 1..=5 {
        app.login_api("grace", "wrong-password-123").await;
    }
    app.advance(Duration::seconds(61));
    // One more failure after the first lock: locked again, for twice as long.
    let sixth = app.login_api("grace", "wrong-password-123").await;
    sixth.assert_error(StatusCode::TOO_MANY_REQUESTS, "account_locked");
    assert_eq!(sixth.headers["retry-after"], "120");
    app.advance(Duration::seconds(121));
    let seventh = app.login_api("grace", "wrong-password-123").await;
    assert_eq!(seventh.headers["retry-after"], "240");
}

pub async fn guest_sessions_expire(app: &TestApp) {
    let guest = app
        .post("/api/v1/auth/guest")
        .json(json!({"display_name": "  Visitor  ", "refresh_token_in_body": true}))
        .send()
        .await;
    assert_eq!(guest.status, StatusCode::CREATED, "{}", guest.body);
    assert_eq!(guest.body["user"]["kind"], "guest");
    assert_eq!(guest.body["user"]["display_name"], "Visitor");
    assert!(
        guest.body["user"]["username"]
            .as_str()
            .unwrap()
            .starts_with("guest_")
    );
    let expires_at = guest.body["user"]["guest_expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        guest.body["session_expires_at"].as_str().unwrap(),
        expires_at,
        "the session ends with the guest"
    );

    let me = app
        .get("/api/v1/me")
        .bearer(&guest.access_token())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // Guests have no password to change, and are not found by search.
    let change = app
        .post("/api/v1/me/password")
        .bearer(&guest.access_token())
        .json(json!({"current_password": "x", "new_password": "violet-otter-sings-43"}))
        .send()
        .await;
    change.assert_error(StatusCode::FORBIDDEN, "guest_not_allowed");
    let member = app.user("henry").await;
    let search = app
        .get("/api/v1/users?q=guest")
        .bearer(&member)
        .send()
        .await;
    assert_eq!(search.body["users"].as_array().unwrap().len(), 0);

    // Refreshing works within the day…
    app.advance(Duration::hours(23));
    let refreshed = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": guest.refresh_token().unwrap()}))
        .send()
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(
        refreshed.body["session_expires_at"].as_str().unwrap(),
        expires_at
    );
    // …and the access token never outlives the guest.
    let access_expires = refreshed.body["access_token_expires_at"].as_str().unwrap();
    assert!(
        access_expires <= expires_at.as_str(),
        "{access_expires} > {expires_at}"
    );

    // After 24 h the guest is gone.
    app.advance(Duration::hours(1) + Duration::seconds(1));
    let me = app
        .get("/api/v1/me")
        .bearer(&refreshed.access_token())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
    let again = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": refreshed.refresh_token().unwrap()}))
        .send()
        .await;
    again.assert_error(StatusCode::UNAUTHORIZED, "session_expired");

    let bad = app
        .post("/api/v1/auth/guest")
        .json(json!({"display_name": "   "}))
        .send()
        .await;
    bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_display_name");
}

pub async fn expired_tampered_and_foreign_tokens_are_refused(app: &TestApp) {
    let token = app.user("ivan").await;
    let parts: Vec<&str> = token.split('.').collect();
    let claims: AccessClaims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"test"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let forged_claims = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&AccessClaims {
            exp: claims.exp + 86_400,
            ..claims.clone()
        })
        .unwrap(),
    );
    let tampered = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
    let foreign_key = TokenService::new(&[SigningKey::new("test", vec![9u8; 32])]).unwrap();
    let wrong_key = foreign_key.mint_access_token(&claims).unwrap();
    for (what, bad) in [
        ("alg none", alg_none),
        ("tampered", tampered),
        ("wrong key", wrong_key),
        ("garbage", "abc.def".to_owned()),
    ] {
        let reply = app.get("/api/v1/me").bearer(&bad).send().await;
        assert_eq!(reply.error_code(), "invalid_token", "{what}");
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
    }
    let reply = app
        .get("/api/v1/me")
        .header("authorization", "Basic abc")
        .send()
        .await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");

    app.advance(Duration::minutes(15) + Duration::seconds(1));
    let expired = app.get("/api/v1/me").bearer(&token).send().await;
    expired.assert_error(StatusCode::UNAUTHORIZED, "token_expired");
}

pub async fn logout_everywhere_revokes_every_session(app: &TestApp) {
    app.register("judy").await;
    let laptop = app.login_api("judy", PASSWORD).await;
    let phone = app.login_api("judy", PASSWORD).await;
    let without_token = app
        .post("/api/v1/auth/logout")
        .json(json!({"everywhere": true}))
        .send()
        .await;
    without_token.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");

    let logout = app
        .post("/api/v1/auth/logout")
        .bearer(&laptop.access_token())
        .json(json!({"everywhere": true}))
        .send()
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    for session in [&laptop, &phone] {
        let me = app
            .get("/api/v1/me")
            .bearer(&session.access_token())
            .send()
            .await;
        me.assert_error(StatusCode::UNAUTHORIZED, "session_revoked");
        let refresh = app
            .post("/api/v1/auth/refresh")
            .json(json!({"refresh_token": session.refresh_token().unwrap()}))
            .send()
            .await;
        refresh.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    }
    // Signing in again works.
    assert_eq!(app.login_api("judy", PASSWORD).await.status, StatusCode::OK);
}

pub async fn logout_is_idempotent_and_clears_cookies(app: &TestApp) {
    let nobody = app.post("/api/v1/auth/logout").send().await;
    assert_eq!(nobody.status, StatusCode::NO_CONTENT);
    assert!(
        nobody
            .set_cookie("convene_access")
            .unwrap()
            .contains("Max-Age=0")
    );
    app.register("kim").await;
    let session = app.login_api("kim", PASSWORD).await;
    let refresh_token = session.refresh_token().unwrap();
    for _ in 0..2 {
        let logout = app
            .post("/api/v1/auth/logout")
            .json(json!({"refresh_token": refresh_token}))
            .send()
            .await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT);
    }
    let me = app
        .get("/api/v1/me")
        .bearer(&session.access_token())
        .send()
        .await;
    me.assert_error(StatusCode::UNAUTHORIZED, "session_revoked");
}
