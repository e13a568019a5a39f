//! Chat through the real WebSocket and REST API, on SQLite and on Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorization;
mod calls;
mod meetings;
mod messaging;
mod realtime;
mod support;

use convene_gateway::GatewaySettings;
use convene_store::testing;

macro_rules! chat_suite {
    ($backend:ident: $($module:ident::$case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let server = crate::support::TestServer::start(
                        crate::testing::$backend().await,
                        crate::settings_for(stringify!($case)),
                    )
                    .await;
                    crate::$module::$case(&server).await;
                    server.stop().await;
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($module:ident::$case:ident),* $(,)?) => {
        chat_suite!(sqlite: $($module::$case),*);
        chat_suite!(postgres: $($module::$case),*);
    };
}

every_backend!(
    realtime::websocket_needs_a_session_and_an_allowed_origin,
    realtime::tickets_open_the_websocket_once,
    realtime::messages_reach_members_after_they_are_stored,
    realtime::retries_with_the_same_client_id_are_not_duplicated,
    realtime::resume_replays_missed_events_once_and_in_order,
    realtime::new_conversations_are_announced_on_resume_and_live,
    realtime::typing_receipts_and_presence_reach_co_members,
    realtime::invalid_frames_get_errors_and_change_nothing,
    realtime::signing_out_closes_open_websockets,
    messaging::edits_deletes_reactions_and_pins_are_events,
    messaging::replies_forwards_and_mentions,
    messaging::history_pages_and_search,
    messaging::group_roles_and_membership,
    messaging::meetings_are_joined_by_code,
    messaging::blocked_users_cannot_message,
    messaging::message_rate_limit_per_user,
    messaging::conversation_list_counts_unread_and_mentions,
    authorization::non_members_are_refused_everywhere,
    calls::answering_on_one_tab_stops_the_others_and_signals_flow,
    calls::declined_missed_busy_and_cancelled_calls_are_logged,
    calls::call_requests_are_checked,
    calls::adding_a_third_person_moves_the_call_to_a_group_meeting,
    meetings::meeting_media_is_for_members_of_meetings_and_groups,
    meetings::guests_knock_and_hosts_admit_or_turn_them_away,
    meetings::hosts_lock_mute_remove_and_end_for_all,
    meetings::starting_a_group_meeting_rings_the_other_members,
);

pub fn settings_for(case: &str) -> GatewaySettings {
    let mut settings = GatewaySettings::for_tests();
    if case == "message_rate_limit_per_user" {
        settings.messages_per_minute = std::num::NonZeroU32::new(3).unwrap();
    }
    settings
}
