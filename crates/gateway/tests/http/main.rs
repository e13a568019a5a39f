//! HTTP-level tests through the real router and a real store, run once on SQLite and once on
//! Postgres (a fresh database per test; `CONVENE_TEST_POSTGRES_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account;
mod auth;
mod protections;
mod support;

use convene_gateway::GatewaySettings;
use convene_store::testing;

/// Each case is an `async fn(&TestApp)` (or `(&TestApp, ...)` via its own settings fn) and
/// becomes one test per backend.
macro_rules! http_suite {
    ($backend:ident: $($module:ident::$case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let app = crate::support::TestApp::start(
                        crate::testing::$backend().await,
                        crate::$module::settings_for(stringify!($case)),
                    )
                    .await;
                    crate::$module::$case(&app).await;
                    app.cleanup().await;
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($module:ident::$case:ident),* $(,)?) => {
        http_suite!(sqlite: $($module::$case),*);
        http_suite!(postgres: $($module::$case),*);
    };
}

every_backend!(
    auth::full_session_lifecycle_with_cookies,
    auth::api_clients_get_refresh_tokens_in_the_body,
    auth::refresh_token_reuse_revokes_the_whole_family,
    auth::concurrent_refresh_within_grace_is_not_reuse,
    auth::unknown_user_and_wrong_password_look_the_same,
    auth::failed_logins_lock_the_account_then_unlock_after_the_period,
    auth::lock_period_grows_with_further_failures,
    auth::guest_sessions_expire,
    auth::expired_tampered_and_foreign_tokens_are_refused,
    auth::logout_everywhere_revokes_every_session,
    auth::logout_is_idempotent_and_clears_cookies,
    account::registration_rejects_bad_input_and_changes_nothing,
    account::usernames_are_unique_case_insensitively,
    account::profile_updates_validate_before_writing,
    account::password_change_signs_out_every_other_session,
    account::user_search_finds_members_by_prefix,
    account::blocking_is_idempotent_and_listed,
    protections::malformed_bodies_get_specific_errors,
    protections::cross_origin_state_changes_are_refused,
    protections::auth_endpoints_are_rate_limited_per_ip,
    protections::authenticated_endpoints_are_rate_limited_per_user,
    protections::unknown_routes_and_methods_answer_json,
    protections::security_headers_are_on_every_response,
    protections::health_readiness_and_metrics,
    protections::openapi_documents_every_route,
    protections::the_web_ui_is_served_with_a_spa_fallback,
    protections::without_a_built_ui_the_root_says_how_to_build_it,
);

/// Settings used unless a module says otherwise.
pub fn default_settings() -> GatewaySettings {
    GatewaySettings::for_tests()
}
