//! The two session cookies. Both are HTTP-only (script cannot read them), SameSite=Lax
//! (not sent on cross-site subrequests), and Secure when Convene is served over https.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{DateTime, Utc};

pub const ACCESS_COOKIE: &str = "convene_access";
pub const REFRESH_COOKIE: &str = "convene_refresh";
/// The refresh token is only ever needed by the auth endpoints.
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

fn session_cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    secure: bool,
) -> Cookie<'static> {
    let max_age_seconds = (expires_at - now).num_seconds().max(0);
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_seconds))
        .build()
}

pub fn with_access_cookie(
    jar: CookieJar,
    access_token: String,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    secure: bool,
) -> CookieJar {
    jar.add(session_cookie(
        ACCESS_COOKIE,
        access_token,
        "/",
        expires_at,
        now,
        secure,
    ))
}

pub fn with_refresh_cookie(
    jar: CookieJar,
    refresh_token: String,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    secure: bool,
) -> CookieJar {
    jar.add(session_cookie(
        REFRESH_COOKIE,
        refresh_token,
        REFRESH_COOKIE_PATH,
        expires_at,
        now,
        secure,
    ))
}

/// Expires both cookies in the browser.
pub fn without_session_cookies(jar: CookieJar, secure: bool) -> CookieJar {
    let expired = |name: &'static str, path: &'static str| {
        Cookie::build((name, ""))
            .path(path)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .max_age(cookie::time::Duration::ZERO)
            .build()
    };
    jar.add(expired(ACCESS_COOKIE, "/"))
        .add(expired(REFRESH_COOKIE, REFRESH_COOKIE_PATH))
}
