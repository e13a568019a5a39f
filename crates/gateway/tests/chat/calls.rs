//! One-to-one call signalling through the real WebSocket.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestServer, WsClient};

const OFFER: &str = "v=0\r\no=- 46117317 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

async fn call_update(client: &mut WsClient, state: &str) -> Value {
    loop {
        let frame = client.recv_until("call_update").await;
        if frame["call"]["state"] == state {
            return frame;
        }
    }
}

async fn call_log(server: &TestServer, user: &crate::support::TestUser) -> Vec<Value> {
    let (status, body) = server.api(user, "GET", "/api/v1/calls", None).await;
    assert_eq!(status, 200, "{body}");
    body["calls"].as_array().unwrap().clone()
}

async fn logged_event(client: &mut WsClient) -> Value {
    loop {
        let frame = client.recv_until("event").await;
        if frame["event"]["change"]["kind"] == "call_logged" {
            return frame["event"]["change"].clone();
        }
    }
}

pub async fn answering_on_one_tab_stops_the_others_and_signals_flow(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let cursors = [(conversation_id, 0)];
    let mut alice_ws = server.connect(&alice, &cursors).await;
    let mut bob_laptop = server.connect(&bob, &cursors).await;
    let mut bob_phone = server.connect(&bob, &cursors).await;

    alice_ws.send(json!({"type": "call_invite", "request_id": "c1", "conversation_id": conversation_id, "kind": "video"})).await;
    let ringing = call_update(&mut alice_ws, "ringing").await;
    assert_eq!(ringing["request_id"], "c1");
    let call_id = ringing["call"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ringing["call"]["kind"], "video");
    for tab in [&mut bob_laptop, &mut bob_phone] {
        let incoming = call_update(tab, "ringing").await;
        assert_eq!(incoming["call"]["caller_id"], alice.id.to_string());
        assert!(incoming["request_id"].is_null());
    }

    // The caller's offer waits for an answer.
    alice_ws.send(json!({"type": "call_signal", "call_id": call_id, "signal": {"kind": "description", "sdp_type": "offer", "sdp": OFFER}})).await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "call_not_ongoing"
    );

    bob_laptop
        .send(json!({"type": "call_accept", "request_id": "a1", "call_id": call_id}))
        .await;
    let accepted = call_update(&mut bob_laptop, "ongoing").await;
    assert_eq!(accepted["request_id"], "a1");
    let answering = accepted["call"]["answered_by_connection"].clone();
    assert!(answering.is_string());
    let on_phone = call_update(&mut bob_phone, "ongoing").await;
    assert_eq!(
        on_phone["call"]["answered_by_connection"], answering,
        "the phone stops ringing"
    );
    call_update(&mut alice_ws, "ongoing").await;
    // Answering twice (from the phone) is refused.
    bob_phone
        .send(json!({"type": "call_accept", "request_id": "a2", "call_id": call_id}))
        .await;
    assert_eq!(
        bob_phone.recv_until("error").await["error"]["code"],
        "call_not_ringing"
    );

    alice_ws.send(json!({"type": "call_signal", "call_id": call_id, "signal": {"kind": "description", "sdp_type": "offer", "sdp": OFFER}})).await;
    let offer = bob_laptop.recv_until("call_signal").await;
    assert_eq!(offer["from_user_id"], alice.id.to_string());
    assert_eq!(offer["signal"]["sdp"], OFFER);
    bob_laptop.send(json!({"type": "call_signal", "call_id": call_id, "signal": {"kind": "candidate",
        "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdp_mid": "0", "sdp_m_line_index": 0}})).await;
    let candidate = alice_ws.recv_until("call_signal").await;
    assert_eq!(candidate["signal"]["kind"], "candidate");
    bob_laptop.send(json!({"type": "call_signal", "call_id": call_id, "signal": {"kind": "media_state", "audio": false, "video": true, "screen": false}})).await;
    let muted = alice_ws.recv_until("call_signal").await;
    assert_eq!(muted["signal"]["audio"], false);
    // The other tab neither hears the negotiation nor may take part in it.
    bob_phone.send(json!({"type": "call_signal", "call_id": call_id, "signal": {"kind": "media_state", "audio": true, "video": true, "screen": false}})).await;
    assert_eq!(
        bob_phone.recv_until("error").await["error"]["code"],
        "not_the_answering_connection"
    );
    bob_phone.expect_silence(Duration::from_millis(200)).await;

    server.clock.advance(chrono::Duration::seconds(252));
    alice_ws
        .send(json!({"type": "call_hangup", "request_id": "h1", "call_id": call_id}))
        .await;
    let ended = call_update(&mut alice_ws, "ended").await;
    assert_eq!(ended["call"]["duration_seconds"], 252);
    let logged = logged_event(&mut bob_laptop).await;
    assert_eq!(
        (
            logged["outcome"].as_str(),
            logged["call_kind"].as_str(),
            logged["duration_seconds"].as_i64()
        ),
        (Some("ended"), Some("video"), Some(252))
    );
    for user in [&alice, &bob] {
        let log = call_log(server, user).await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["state"], "ended");
    }
    // Signalling for an ended call is refused.
    alice_ws.send(json!({"type": "call_signal", "call_id": call_id, "signal": {"kind": "description", "sdp_type": "offer", "sdp": OFFER}})).await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "call_ended"
    );
}

pub async fn declined_missed_busy_and_cancelled_calls_are_logged(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let alice_bob = server.start_direct(&alice, &bob).await;
    let carol_bob = server.start_direct(&carol, &bob).await;
    let mut alice_ws = server.connect(&alice, &[(alice_bob, 0)]).await;
    let mut bob_ws = server
        .connect(&bob, &[(alice_bob, 0), (carol_bob, 0)])
        .await;
    let mut carol_ws = server.connect(&carol, &[(carol_bob, 0)]).await;
    let invite = |kind: &str, conversation_id: Uuid| json!({"type": "call_invite", "request_id": "i", "conversation_id": conversation_id, "kind": kind});

    // The test clock stands still unless moved: move it so calls have an order.
    let tick = || server.clock.advance(chrono::Duration::seconds(1));
    // Declined.
    alice_ws.send(invite("voice", alice_bob)).await;
    let call = call_update(&mut bob_ws, "ringing").await["call"]["id"].clone();
    bob_ws
        .send(json!({"type": "call_decline", "request_id": "d", "call_id": call}))
        .await;
    call_update(&mut alice_ws, "declined").await;
    assert_eq!(logged_event(&mut alice_ws).await["outcome"], "declined");

    // Cancelled by the caller while ringing.
    tick();
    alice_ws.send(invite("video", alice_bob)).await;
    let call = call_update(&mut alice_ws, "ringing").await["call"]["id"].clone();
    alice_ws
        .send(json!({"type": "call_hangup", "request_id": "h", "call_id": call}))
        .await;
    call_update(&mut bob_ws, "cancelled").await;

    // Busy: Bob is in a call with Alice when Carol calls.
    tick();
    alice_ws.send(invite("video", alice_bob)).await;
    let call = call_update(&mut bob_ws, "ringing").await["call"]["id"].clone();
    bob_ws
        .send(json!({"type": "call_accept", "request_id": "a", "call_id": call}))
        .await;
    call_update(&mut alice_ws, "ongoing").await;
    tick();
    carol_ws.send(invite("voice", carol_bob)).await;
    let busy = call_update(&mut carol_ws, "busy").await;
    assert!(busy["call"]["ended_at"].is_string());
    assert_eq!(logged_event(&mut carol_ws).await["outcome"], "busy");
    // Alice cannot start a second call while in one.
    alice_ws.send(invite("voice", alice_bob)).await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "already_in_call"
    );
    bob_ws
        .send(json!({"type": "call_hangup", "request_id": "h2", "call_id": call}))
        .await;
    call_update(&mut alice_ws, "ended").await;

    // Missed: nobody answers for 45 s (the sweeper reads the test's clock).
    tick();
    alice_ws.send(invite("video", alice_bob)).await;
    call_update(&mut bob_ws, "ringing").await;
    server.clock.advance(chrono::Duration::seconds(46));
    let missed = call_update(&mut alice_ws, "missed").await;
    assert!(missed["call"]["answered_at"].is_null());
    // Media that never connects ends the call as failed, not as an ordinary short call.
    tick();
    alice_ws.send(invite("voice", alice_bob)).await;
    let call = call_update(&mut bob_ws, "ringing").await["call"]["id"].clone();
    bob_ws
        .send(json!({"type": "call_accept", "request_id": "a3", "call_id": call}))
        .await;
    call_update(&mut alice_ws, "ongoing").await;
    alice_ws
        .send(json!({"type": "call_hangup", "request_id": "f", "call_id": call, "failed": true}))
        .await;
    assert_eq!(call_update(&mut bob_ws, "failed").await["call"]["id"], call);
    let bob_log: Vec<String> = call_log(server, &bob)
        .await
        .iter()
        .map(|call| call["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        bob_log,
        ["failed", "missed", "busy", "ended", "cancelled", "declined"]
    );
    let (_, events) = server
        .api(
            &bob,
            "GET",
            &format!("/api/v1/conversations/{alice_bob}/events?after_seq=0"),
            None,
        )
        .await;
    let outcomes: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["change"]["kind"] == "call_logged")
        .map(|event| event["change"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["declined", "cancelled", "ended", "missed", "failed"],
        "each call is a line in its chat"
    );
}

pub async fn call_requests_are_checked(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mallory = server.user("mallory").await;
    let direct = server.start_direct(&alice, &bob).await;
    let group = server.create_group(&alice, "Team", &[&bob]).await;
    let mut alice_ws = server.connect(&alice, &[]).await;
    let mut mallory_ws = server.connect(&mallory, &[]).await;

    alice_ws.send(json!({"type": "call_invite", "request_id": "g", "conversation_id": group, "kind": "video"})).await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "not_a_direct_chat"
    );
    mallory_ws.send(json!({"type": "call_invite", "request_id": "m", "conversation_id": direct, "kind": "video"})).await;
    assert_eq!(
        mallory_ws.recv_until("error").await["error"]["code"],
        "not_a_member"
    );
    alice_ws.send(json!({"type": "call_invite", "request_id": "k", "conversation_id": direct, "kind": "hologram"})).await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "invalid_frame"
    );

    alice_ws.send(json!({"type": "call_invite", "request_id": "c", "conversation_id": direct, "kind": "voice"})).await;
    let call_id = call_update(&mut alice_ws, "ringing").await["call"]["id"].clone();
    // Someone else's call: as if it did not exist.
    for frame in [
        json!({"type": "call_accept", "request_id": "x", "call_id": call_id}),
        json!({"type": "call_hangup", "request_id": "y", "call_id": call_id}),
        json!({"type": "call_signal", "call_id": call_id, "signal": {"kind": "description", "sdp_type": "offer", "sdp": OFFER}}),
    ] {
        mallory_ws.send(frame).await;
        assert_eq!(
            mallory_ws.recv_until("error").await["error"]["code"],
            "call_not_found"
        );
    }
    alice_ws
        .send(json!({"type": "call_accept", "request_id": "self", "call_id": call_id}))
        .await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "not_callee"
    );
    let mut bob_ws = server.connect(&bob, &[]).await;
    bob_ws
        .send(json!({"type": "call_accept", "request_id": "a", "call_id": call_id}))
        .await;
    call_update(&mut bob_ws, "ongoing").await;
    for bad in [
        json!({"kind": "description", "sdp_type": "offer", "sdp": "<script>"}),
        json!({"kind": "description", "sdp_type": "bogus", "sdp": OFFER}),
        json!({"kind": "candidate", "candidate": "not a candidate", "sdp_mid": null, "sdp_m_line_index": null}),
        json!({"kind": "description", "sdp_type": "offer", "sdp": format!("v=0{}", "a".repeat(30_000))}),
    ] {
        alice_ws
            .send(json!({"type": "call_signal", "call_id": call_id, "signal": bad}))
            .await;
        let error = alice_ws.recv_until("error").await;
        assert!(
            ["invalid_signal", "frame_too_large"]
                .contains(&error["error"]["code"].as_str().unwrap()),
            "{error}"
        );
    }
    bob_ws.expect_silence(Duration::from_millis(200)).await;

    // The answering tab closes: the call fails and is logged.
    drop(bob_ws);
    let failed = call_update(&mut alice_ws, "failed").await;
    assert!(failed["call"]["ended_at"].is_string());
    alice_ws
        .send(json!({"type": "call_accept", "request_id": "late", "call_id": call_id}))
        .await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "call_ended"
    );

    // A blocked user cannot call.
    server
        .api(&bob, "PUT", &format!("/api/v1/blocks/{}", alice.id), None)
        .await;
    alice_ws.send(json!({"type": "call_invite", "request_id": "b", "conversation_id": direct, "kind": "voice"})).await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "blocked"
    );
}

pub async fn adding_a_third_person_moves_the_call_to_a_group_meeting(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let cursors = [(conversation_id, 0)];
    let mut alice_ws = server.connect(&alice, &cursors).await;
    let mut bob_ws = server.connect(&bob, &cursors).await;
    let mut carol_ws = server.connect(&carol, &[]).await;

    alice_ws.send(json!({"type": "call_invite", "request_id": "c", "conversation_id": conversation_id, "kind": "video"})).await;
    let call_id = call_update(&mut alice_ws, "ringing").await["call"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not before it is answered.
    alice_ws.send(json!({"type": "call_add_participant", "request_id": "early", "call_id": call_id, "user_id": carol.id})).await;
    let early = alice_ws.recv_until("error").await;
    assert_eq!(early["error"]["code"], "call_not_ongoing");
    bob_ws
        .send(json!({"type": "call_accept", "call_id": call_id}))
        .await;
    call_update(&mut alice_ws, "ongoing").await;

    // Someone outside the call cannot add people to it; nobody is added twice.
    carol_ws
        .send(json!({"type": "call_add_participant", "call_id": call_id, "user_id": carol.id}))
        .await;
    assert_eq!(
        carol_ws.recv_until("error").await["error"]["code"],
        "call_not_found"
    );
    alice_ws
        .send(json!({"type": "call_add_participant", "call_id": call_id, "user_id": bob.id}))
        .await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "already_in_call"
    );

    alice_ws.send(json!({"type": "call_add_participant", "request_id": "add", "call_id": call_id, "user_id": carol.id})).await;
    let mut group_id = None;
    for client in [&mut alice_ws, &mut bob_ws] {
        let moved = client.recv_until("call_moved").await;
        assert_eq!(moved["call_id"], call_id.as_str());
        let conversation = moved["conversation_id"].as_str().unwrap().to_owned();
        group_id.get_or_insert(conversation.clone());
        assert_eq!(Some(conversation), group_id);
        // The peer-to-peer call ends as an ordinary answered call.
        let ended = call_update(client, "ended").await;
        assert!(ended["call"]["duration_seconds"].is_number());
    }
    let group_id = group_id.unwrap();
    let ringing = carol_ws.recv_until("meeting_ringing").await;
    assert_eq!(ringing["conversation_id"], group_id.as_str());
    assert_eq!(ringing["from_user_id"], alice.id.to_string());

    let (status, members) = server
        .api(
            &carol,
            "GET",
            &format!("/api/v1/conversations/{group_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{members}");
    assert_eq!(members["members"].as_array().unwrap().len(), 3, "{members}");

    // The two continue in the group's meeting.
    for client in [&mut alice_ws, &mut bob_ws] {
        client
            .send(json!({"type": "meeting_join", "request_id": "j", "conversation_id": group_id}))
            .await;
        assert_eq!(client.recv_until("meeting_joined").await["admitted"], true);
    }
}
