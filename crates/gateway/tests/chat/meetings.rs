//! Meetings' media signalling through the real WebSocket, on an in-process SFU node: who may
//! join, knocking, and hosts' controls. (Media itself is tested with real peers in the sfu
//! crate and with Chromium in web/e2e.)

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestServer, TestUser, WsClient};

async fn create_meeting(
    server: &TestServer,
    host: &TestUser,
    allow_guests: bool,
) -> (Uuid, String) {
    let (status, body) = server
        .api(
            host,
            "POST",
            "/api/v1/conversations/meetings",
            Some(json!({"title": "Standup", "allow_guests": allow_guests})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().parse().unwrap(),
        body["meeting_code"].as_str().unwrap().to_owned(),
    )
}

async fn join_by_code(server: &TestServer, user: &TestUser, code: &str) {
    let (status, body) = server
        .api(user, "POST", &format!("/api/v1/meetings/{code}/join"), None)
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn enter(client: &mut WsClient, conversation_id: Uuid) -> Value {
    client
        .send(json!({"type": "meeting_join", "request_id": "join", "conversation_id": conversation_id}))
        .await;
    let joined = client.recv_until("meeting_joined").await;
    assert_eq!(joined["request_id"], "join");
    joined
}

/// The next roster that satisfies `check`.
async fn roster_where(client: &mut WsClient, check: impl Fn(&Value) -> bool) -> Value {
    loop {
        let roster = client.recv_until("meeting_roster").await;
        if check(&roster) {
            return roster;
        }
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["display_name"].as_str().unwrap().to_owned())
        .collect()
}

async fn error_code(client: &mut WsClient) -> String {
    client.recv_until("error").await["error"]["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn meeting_media_is_for_members_of_meetings_and_groups(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mallory = server.user("mallory").await;
    let direct = server.start_direct(&alice, &bob).await;
    let group = server.create_group(&alice, "Team", &[&bob]).await;
    let mut mallory_ws = server.connect(&mallory, &[]).await;
    let mut alice_ws = server.connect(&alice, &[]).await;

    mallory_ws
        .send(json!({"type": "meeting_join", "request_id": "m", "conversation_id": group}))
        .await;
    let refused = mallory_ws.recv_until("error").await;
    assert_eq!(refused["request_id"], "m");
    assert_eq!(refused["error"]["code"], "not_a_member");

    alice_ws
        .send(json!({"type": "meeting_join", "conversation_id": direct}))
        .await;
    assert_eq!(error_code(&mut alice_ws).await, "not_a_meeting");

    // Signalling before joining, or malformed, is refused and changes nothing.
    alice_ws
        .send(json!({"type": "meeting_publish", "sdp": "v=0\r\n", "sources": []}))
        .await;
    assert_eq!(error_code(&mut alice_ws).await, "not_in_meeting");

    // The group's creator is its admin: a host, let straight in.
    let joined = enter(&mut alice_ws, group).await;
    assert_eq!(joined["admitted"], true);
    assert_eq!(joined["host"], true);
    let roster = roster_where(&mut alice_ws, |_| true).await;
    assert_eq!(names(&roster["participants"]), vec!["alice"]);
    assert_eq!(roster["participants"][0]["host"], true);
    // The in-process node's load is on /metrics.
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("convene_sfu_participants 1"), "{metrics}");

    alice_ws
        .send(json!({"type": "meeting_publish", "sdp": "not sdp", "sources": []}))
        .await;
    assert_eq!(error_code(&mut alice_ws).await, "invalid_sdp");
    // Within the frame limit (32 KiB) but over the SDP limit (30 000 bytes).
    let huge = format!("v=0\r\n{}", "a".repeat(31_000));
    alice_ws
        .send(json!({"type": "meeting_publish", "sdp": huge, "sources": []}))
        .await;
    assert_eq!(error_code(&mut alice_ws).await, "sdp_too_large");
    alice_ws
        .send(json!({"type": "meeting_view", "stream_id": "x", "visible": true, "max_layer": 7}))
        .await;
    assert_eq!(error_code(&mut alice_ws).await, "invalid_view");
    alice_ws
        .send(json!({"type": "meeting_reaction", "emoji": "lol"}))
        .await;
    assert_eq!(error_code(&mut alice_ws).await, "invalid_reaction");

    alice_ws
        .send(json!({"type": "meeting_leave", "request_id": "bye"}))
        .await;
    let left = alice_ws.recv_until("meeting_left").await;
    assert_eq!(left["request_id"], "bye");
    assert_eq!(left["rejoin"], false);
}

pub async fn guests_knock_and_hosts_admit_or_turn_them_away(server: &TestServer) {
    let alice = server.user("alice").await;
    let (meeting, code) = create_meeting(server, &alice, true).await;
    let grace = server.guest("Grace").await;
    let gus = server.guest("Gus").await;
    join_by_code(server, &grace, &code).await;
    join_by_code(server, &gus, &code).await;
    let mut alice_ws = server.connect(&alice, &[]).await;
    let mut grace_ws = server.connect(&grace, &[]).await;
    let mut gus_ws = server.connect(&gus, &[]).await;
    enter(&mut alice_ws, meeting).await;

    let knocking = enter(&mut grace_ws, meeting).await;
    assert_eq!(knocking["admitted"], false);
    assert_eq!(knocking["host"], false);
    let roster = roster_where(&mut alice_ws, |roster| {
        names(&roster["waiting"]) == vec!["Grace"]
    })
    .await;
    let grace_session = roster["waiting"][0]["session_id"].clone();
    // Someone knocking sees nobody, and cannot publish yet.
    let seen = roster_where(&mut grace_ws, |_| true).await;
    assert!(seen["participants"].as_array().unwrap().is_empty());

    alice_ws
        .send(json!({"type": "meeting_host", "request_id": "a", "action": {"kind": "admit", "session_id": grace_session}}))
        .await;
    grace_ws.recv_until("meeting_admitted").await;
    roster_where(&mut alice_ws, |roster| {
        names(&roster["participants"]) == vec!["alice", "Grace"]
            && roster["waiting"].as_array().unwrap().is_empty()
    })
    .await;

    enter(&mut gus_ws, meeting).await;
    let roster = roster_where(&mut alice_ws, |roster| {
        names(&roster["waiting"]) == vec!["Gus"]
    })
    .await;
    let gus_session = roster["waiting"][0]["session_id"].clone();
    alice_ws
        .send(
            json!({"type": "meeting_host", "action": {"kind": "deny", "session_id": gus_session}}),
        )
        .await;
    let turned_away = gus_ws.recv_until("meeting_left").await;
    assert_eq!(turned_away["rejoin"], false);
    assert!(turned_away["reason"].as_str().unwrap().contains("host"));
}

pub async fn hosts_lock_mute_remove_and_end_for_all(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let (meeting, code) = create_meeting(server, &alice, false).await;
    join_by_code(server, &bob, &code).await;
    join_by_code(server, &carol, &code).await;
    let mut alice_ws = server.connect(&alice, &[]).await;
    let mut bob_ws = server.connect(&bob, &[]).await;
    let mut carol_ws = server.connect(&carol, &[]).await;
    enter(&mut alice_ws, meeting).await;
    let bob_joined = enter(&mut bob_ws, meeting).await;
    assert_eq!(
        bob_joined["admitted"], true,
        "members of an unlocked meeting walk in"
    );
    let bob_session = bob_joined["session_id"].clone();

    // A participant who is not a host cannot use host controls.
    bob_ws
        .send(json!({"type": "meeting_host", "request_id": "b", "action": {"kind": "lock", "locked": true}}))
        .await;
    assert_eq!(error_code(&mut bob_ws).await, "host_required");

    alice_ws
        .send(json!({"type": "meeting_host", "request_id": "lock", "action": {"kind": "lock", "locked": true}}))
        .await;
    roster_where(&mut bob_ws, |roster| roster["locked"] == true).await;
    let carol_joined = enter(&mut carol_ws, meeting).await;
    assert_eq!(
        carol_joined["admitted"], false,
        "everyone knocks on a locked meeting"
    );

    alice_ws
        .send(
            json!({"type": "meeting_host", "action": {"kind": "mute", "session_id": bob_session}}),
        )
        .await;
    bob_ws.recv_until("meeting_muted_by_host").await;
    roster_where(&mut alice_ws, |roster| {
        roster["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|participant| {
                participant["display_name"] == "bob" && participant["audio_muted"] == true
            })
    })
    .await;

    alice_ws
        .send(json!({"type": "meeting_host", "action": {"kind": "remove", "session_id": bob_session}}))
        .await;
    let removed = bob_ws.recv_until("meeting_left").await;
    assert_eq!(removed["rejoin"], false);
    roster_where(&mut alice_ws, |roster| {
        names(&roster["participants"]) == vec!["alice"]
    })
    .await;

    alice_ws
        .send(json!({"type": "meeting_host", "action": {"kind": "end_for_all"}}))
        .await;
    for client in [&mut alice_ws, &mut carol_ws] {
        let ended = client.recv_until("meeting_left").await;
        assert_eq!(ended["rejoin"], false);
        assert!(ended["reason"].as_str().unwrap().contains("ended"));
    }
}

pub async fn starting_a_group_meeting_rings_the_other_members(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let group = server.create_group(&alice, "Team", &[&bob]).await;
    let mut alice_ws = server.connect(&alice, &[]).await;
    let mut bob_ws = server.connect(&bob, &[]).await;
    alice_ws
        .send(json!({"type": "meeting_join", "conversation_id": group, "ring": true}))
        .await;
    alice_ws.recv_until("meeting_joined").await;
    alice_ws.recv_until("meeting_roster").await;
    let ringing = bob_ws.recv_until("meeting_ringing").await;
    assert_eq!(ringing["conversation_id"], group.to_string());
    assert_eq!(ringing["from_user_id"], alice.id.to_string());
    assert_eq!(ringing["from_display_name"], "alice");
    // The caller is not rung.
    alice_ws
        .expect_silence(std::time::Duration::from_millis(300))
        .await;
}
