//! Registration, profiles, password changes, user search and blocks.

use axum::http::{Method, StatusCode};
use convene_gateway::GatewaySettings;
use serde_json::json;

use crate::support::{PASSWORD, TestApp};

pub fn settings_for(_case: &str) -> GatewaySettings {
    crate::default_settings()
}

pub async fn registration_rejects_bad_input_and_changes_nothing(app: &TestApp) {
    let cases = [
        (
            json!({"username": "ab", "password": PASSWORD}),
            "invalid_username",
        ),
        (
            json!({"username": "9lives", "password": PASSWORD}),
            "invalid_username",
        ),
        (
            json!({"username": "mallory!", "password": PASSWORD}),
            "invalid_username",
        ),
        (
            json!({"username": "guest_mallory", "password": PASSWORD}),
            "invalid_username",
        ),
        (
            json!({"username": "mallory", "password": "short"}),
            "weak_password",
        ),
        (
            json!({"username": "mallory", "password": "password1234"}),
            "weak_password",
        ),
        (
            json!({"username": "mallory", "password": "mallory12345"}),
            "weak_password",
        ),
        (
            json!({"username": "mallory", "password": "x".repeat(129)}),
            "weak_password",
        ),
        (
            json!({"username": "mallory", "password": PASSWORD, "email": "not-an-email"}),
            "invalid_email",
        ),
        (
            json!({"username": "mallory", "password": PASSWORD, "display_name": "x".repeat(65)}),
            "invalid_display_name",
        ),
        (
            json!({"username": "mallory", "password": PASSWORD, "display_name": ""}),
            "invalid_display_name",
        ),
        (json!({"username": "mallory"}), "invalid_request"),
        (
            json!({"username": "mallory", "password": PASSWORD, "admin": true}),
            "invalid_request",
        ),
        (
            json!({"username": 5, "password": PASSWORD}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let reply = app
            .post("/api/v1/auth/register")
            .json(body.clone())
            .send()
            .await;
        reply.assert_error(StatusCode::UNPROCESSABLE_ENTITY, code);
        assert!(reply.set_cookie("convene_access").is_none(), "{body}");
    }
    // Nothing was created: the name is still free.
    let reply = app
        .post("/api/v1/auth/register")
        .json(json!({"username": "Mallory", "password": PASSWORD, "email": "M@Example.org"}))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["user"]["username"], "mallory");
    assert_eq!(reply.body["user"]["display_name"], "mallory");
    assert_eq!(reply.body["user"]["email"], "M@example.org");
}

pub async fn usernames_are_unique_case_insensitively(app: &TestApp) {
    app.register("niaj").await;
    let again = app
        .post("/api/v1/auth/register")
        .json(json!({"username": "NIAJ", "password": "another-otter-sings-7"}))
        .send()
        .await;
    again.assert_error(StatusCode::CONFLICT, "username_taken");
    // The original password still works: nothing was overwritten.
    assert_eq!(app.login_api("niaj", PASSWORD).await.status, StatusCode::OK);
}

pub async fn profile_updates_validate_before_writing(app: &TestApp) {
    let token = app.user("olivia").await;
    let update = app
        .call(Method::PATCH, "/api/v1/me")
        .bearer(&token)
        .json(json!({"display_name": "Olivia O.", "email": "olivia@example.com", "avatar_url": "https://cdn.example.com/o.png"}))
        .send()
        .await;
    assert_eq!(update.status, StatusCode::OK, "{}", update.body);
    assert_eq!(update.body["display_name"], "Olivia O.");
    assert_eq!(update.body["email"], "olivia@example.com");

    // One bad field: nothing changes, not even the good fields.
    let bad = app
        .call(Method::PATCH, "/api/v1/me")
        .bearer(&token)
        .json(json!({"display_name": "New Name", "email": "broken"}))
        .send()
        .await;
    bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_email");
    let bad = app
        .call(Method::PATCH, "/api/v1/me")
        .bearer(&token)
        .json(json!({"avatar_url": "javascript:alert(1)"}))
        .send()
        .await;
    bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_avatar_url");
    let me = app.get("/api/v1/me").bearer(&token).send().await;
    assert_eq!(me.body["display_name"], "Olivia O.");
    assert_eq!(me.body["email"], "olivia@example.com");

    // null clears an optional field; an absent field stays.
    let cleared = app
        .call(Method::PATCH, "/api/v1/me")
        .bearer(&token)
        .json(json!({"email": null}))
        .send()
        .await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert!(cleared.body["email"].is_null());
    assert_eq!(cleared.body["avatar_url"], "https://cdn.example.com/o.png");

    // Guests may rename themselves, nothing more.
    let guest = app
        .post("/api/v1/auth/guest")
        .json(json!({"display_name": "Guest"}))
        .send()
        .await;
    let guest_token = guest.access_token();
    let renamed = app
        .call(Method::PATCH, "/api/v1/me")
        .bearer(&guest_token)
        .json(json!({"display_name": "Renamed guest"}))
        .send()
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let email = app
        .call(Method::PATCH, "/api/v1/me")
        .bearer(&guest_token)
        .json(json!({"email": "g@example.com"}))
        .send()
        .await;
    email.assert_error(StatusCode::FORBIDDEN, "guest_not_allowed");
}

pub async fn password_change_signs_out_every_other_session(app: &TestApp) {
    app.register("peggy").await;
    let laptop = app.login_api("peggy", PASSWORD).await;
    let phone = app.login_api("peggy", PASSWORD).await;
    let new_password = "quiet-lantern-river-9";

    let wrong_current = app
        .post("/api/v1/me/password")
        .bearer(&laptop.access_token())
        .json(json!({"current_password": "nope-nope-nope-1", "new_password": new_password}))
        .send()
        .await;
    wrong_current.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let weak = app
        .post("/api/v1/me/password")
        .bearer(&laptop.access_token())
        .json(json!({"current_password": PASSWORD, "new_password": "peggy1234567"}))
        .send()
        .await;
    weak.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "weak_password");

    let changed = app
        .post("/api/v1/me/password")
        .bearer(&laptop.access_token())
        .json(json!({"current_password": PASSWORD, "new_password": new_password, "refresh_token_in_body": true}))
        .send()
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    // Every earlier session is gone, including this device's old tokens.
    for session in [&laptop, &phone] {
        let me = app
            .get("/api/v1/me")
            .bearer(&session.access_token())
            .send()
            .await;
        me.assert_error(StatusCode::UNAUTHORIZED, "session_revoked");
    }
    let refresh = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": phone.refresh_token().unwrap()}))
        .send()
        .await;
    refresh.assert_error(StatusCode::UNAUTHORIZED, "session_expired");
    // This device continues with the new session.
    let me = app
        .get("/api/v1/me")
        .bearer(&changed.access_token())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    app.login_api("peggy", PASSWORD)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(
        app.login_api("peggy", new_password).await.status,
        StatusCode::OK
    );
}

pub async fn user_search_finds_members_by_prefix(app: &TestApp) {
    let quentin = app.user("quentin").await;
    app.register("quinn").await;
    app.register("rupert").await;
    app.post("/api/v1/auth/guest")
        .json(json!({"display_name": "Quiet guest"}))
        .send()
        .await;

    let found = app.get("/api/v1/users?q=QU").bearer(&quentin).send().await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let names: Vec<&str> = found.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["quinn"], "members only, not myself, not guests");
    assert!(
        found.body["users"][0].get("email").is_none(),
        "others never see emails"
    );

    let limited = app
        .get("/api/v1/users?q=r&limit=1")
        .bearer(&quentin)
        .send()
        .await;
    assert_eq!(limited.body["users"].as_array().unwrap().len(), 1);
    let wildcard = app.get("/api/v1/users?q=%25").bearer(&quentin).send().await;
    assert_eq!(
        wildcard.body["users"].as_array().unwrap().len(),
        0,
        "% is literal"
    );
    for bad in [
        "/api/v1/users",
        "/api/v1/users?q=",
        "/api/v1/users?q=a&limit=0",
        "/api/v1/users?q=a&limit=51",
    ] {
        let reply = app.get(bad).bearer(&quentin).send().await;
        reply.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    }
    let unauthenticated = app.get("/api/v1/users?q=qu").send().await;
    unauthenticated.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");

    let quinn_id = found.body["users"][0]["id"].as_str().unwrap().to_owned();
    let profile = app
        .get(&format!("/api/v1/users/{quinn_id}"))
        .bearer(&quentin)
        .send()
        .await;
    assert_eq!(profile.body["username"], "quinn");
    let missing = app
        .get("/api/v1/users/00000000-0000-0000-0000-000000000000")
        .bearer(&quentin)
        .send()
        .await;
    missing.assert_error(StatusCode::NOT_FOUND, "user_not_found");
    let malformed = app
        .get("/api/v1/users/not-a-uuid")
        .bearer(&quentin)
        .send()
        .await;
    malformed.assert_error(StatusCode::BAD_REQUEST, "invalid_path");
}

pub async fn blocking_is_idempotent_and_listed(app: &TestApp) {
    let sybil = app.user("sybil").await;
    let trent = app.register("trent").await;
    let trent_id = trent.body["user"]["id"].as_str().unwrap().to_owned();
    let sybil_id = app.get("/api/v1/me").bearer(&sybil).send().await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for _ in 0..2 {
        let block = app
            .call(Method::PUT, &format!("/api/v1/blocks/{trent_id}"))
            .bearer(&sybil)
            .send()
            .await;
        assert_eq!(block.status, StatusCode::NO_CONTENT, "{}", block.body);
    }
    let list = app.get("/api/v1/blocks").bearer(&sybil).send().await;
    assert_eq!(list.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["users"][0]["username"], "trent");
    // Blocking is one-way.
    let trents = app
        .get("/api/v1/blocks")
        .bearer(&trent.access_token())
        .send()
        .await;
    assert_eq!(trents.body["users"].as_array().unwrap().len(), 0);

    let myself = app
        .call(Method::PUT, &format!("/api/v1/blocks/{sybil_id}"))
        .bearer(&sybil)
        .send()
        .await;
    myself.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "cannot_block_self");
    let unknown = app
        .call(
            Method::PUT,
            "/api/v1/blocks/00000000-0000-0000-0000-000000000000",
        )
        .bearer(&sybil)
        .send()
        .await;
    unknown.assert_error(StatusCode::NOT_FOUND, "user_not_found");

    for _ in 0..2 {
        let unblock = app
            .call(Method::DELETE, &format!("/api/v1/blocks/{trent_id}"))
            .bearer(&sybil)
            .send()
            .await;
        assert_eq!(unblock.status, StatusCode::NO_CONTENT);
    }
    let list = app.get("/api/v1/blocks").bearer(&sybil).send().await;
    assert_eq!(list.body["users"].as_array().unwrap().len(), 0);
}
