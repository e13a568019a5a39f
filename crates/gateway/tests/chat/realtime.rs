//! The WebSocket: authentication, delivery, idempotency, resume, ephemeral events, errors.

use std::time::Duration;

use serde_json::json;

use crate::support::{ORIGIN, TestServer};

pub async fn websocket_needs_a_session_and_an_allowed_origin(server: &TestServer) {
    let alice = server.user("alice").await;
    assert_eq!(server.connect_url("/api/v1/ws").await.err(), Some(401));
    let mut forged = alice.clone();
    forged.token.push('x');
    assert_eq!(server.connect_raw(&forged, None).await.err(), Some(401));
    assert_eq!(
        server
            .connect_raw(&alice, Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    let mut client = server
        .connect_raw(&alice, Some(ORIGIN))
        .await
        .expect("allowed origin connects");
    let ready = client.recv().await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["user_id"], alice.id.to_string());
    client
        .send(json!({"type": "ping", "request_id": "p1"}))
        .await;
    assert_eq!(
        client.recv().await,
        json!({"type": "pong", "request_id": "p1"})
    );
}

pub async fn tickets_open_the_websocket_once(server: &TestServer) {
    let alice = server.user("alice").await;
    let (status, body) = server.api(&alice, "POST", "/api/v1/ws/ticket", None).await;
    assert_eq!(status, 201, "{body}");
    let ticket = body["ticket"].as_str().unwrap();
    let path = format!("/api/v1/ws?ticket={ticket}");
    let mut client = server.connect_url(&path).await.expect("ticket connects");
    assert_eq!(client.recv().await["type"], "ready");
    assert_eq!(
        server.connect_url(&path).await.err(),
        Some(401),
        "a ticket works once"
    );
    assert_eq!(
        server.connect_url("/api/v1/ws?ticket=made-up").await.err(),
        Some(401)
    );

    let (_, body) = server.api(&alice, "POST", "/api/v1/ws/ticket", None).await;
    server.clock.advance(chrono::Duration::seconds(31));
    let expired = format!("/api/v1/ws?ticket={}", body["ticket"].as_str().unwrap());
    assert_eq!(
        server.connect_url(&expired).await.err(),
        Some(401),
        "tickets expire after 30 s"
    );
}

pub async fn messages_reach_members_after_they_are_stored(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut alice_ws = server.connect(&alice, &[]).await;
    let mut bob_ws = server.connect(&bob, &[]).await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    for client in [&mut alice_ws, &mut bob_ws] {
        let added = client.recv_until("conversation_added").await;
        assert_eq!(
            added["conversation"]["conversation"]["id"],
            conversation_id.to_string()
        );
        assert_eq!(added["conversation"]["conversation"]["kind"], "direct");
    }

    let sent = alice_ws
        .send_message(conversation_id, "c-1", "Hello Bob")
        .await;
    assert_eq!(sent["type"], "message_sent", "{sent}");
    assert_eq!(sent["duplicate"], false);
    let seq = sent["message"]["seq"].as_i64().unwrap();
    // The acknowledged message is in the store: REST history has it.
    let (_, history) = server
        .api(
            &bob,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            None,
        )
        .await;
    assert_eq!(history["messages"][0]["body"], "Hello Bob");

    let event = bob_ws.recv_until("event").await;
    assert_eq!(event["event"]["seq"], seq);
    assert_eq!(event["event"]["change"]["kind"], "message_created");
    assert_eq!(event["event"]["change"]["message"]["body"], "Hello Bob");
    assert_eq!(
        event["event"]["change"]["message"]["sender_id"],
        alice.id.to_string()
    );
    // The sender's other tabs hear of it too.
    let echo = alice_ws.recv_until("event").await;
    assert_eq!(echo["event"]["seq"], seq);

    // The REST mirror sends too, and the socket delivers it.
    let (status, body) = server
        .api(
            &bob,
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(json!({"client_id": "r-1", "body": "Hi Alice"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let event = alice_ws.recv_until("event").await;
    assert_eq!(event["event"]["change"]["message"]["body"], "Hi Alice");
    assert_eq!(event["event"]["seq"], seq + 1);
}

pub async fn retries_with_the_same_client_id_are_not_duplicated(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let mut alice_ws = server.connect(&alice, &[(conversation_id, 0)]).await;
    let mut bob_ws = server.connect(&bob, &[(conversation_id, 0)]).await;
    let first = alice_ws
        .send_message(conversation_id, "same-id", "once")
        .await;
    let retry = alice_ws
        .send_message(conversation_id, "same-id", "once")
        .await;
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["message"]["id"], first["message"]["id"]);
    assert_eq!(retry["message"]["seq"], first["message"]["seq"]);
    let event = bob_ws.recv_until("event").await;
    assert_eq!(event["event"]["seq"], first["message"]["seq"]);
    bob_ws.expect_silence(Duration::from_millis(300)).await;
    let (_, history) = server
        .api(
            &alice,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            None,
        )
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    // The REST mirror honours the same ids: 200 and the original.
    let (status, body) = server
        .api(
            &alice,
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(json!({"client_id": "same-id", "body": "once"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["duplicate"], true);
}

pub async fn resume_replays_missed_events_once_and_in_order(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let mut alice_ws = server.connect(&alice, &[(conversation_id, 0)]).await;
    let first = alice_ws
        .send_message(conversation_id, "m-0", "before")
        .await;
    let seen = first["message"]["seq"].as_i64().unwrap();
    // Bob is offline while five more arrive.
    for i in 1..=5 {
        alice_ws
            .send_message(conversation_id, &format!("m-{i}"), &format!("missed {i}"))
            .await;
    }
    let mut bob_ws = server.connect_raw(&bob, None).await.unwrap();
    bob_ws.recv_until("ready").await;
    bob_ws.send(json!({"type": "resume", "cursors": [{"conversation_id": conversation_id, "seq": seen}]})).await;
    let mut replayed = Vec::new();
    loop {
        let frame = bob_ws.recv().await;
        match frame["type"].as_str().unwrap() {
            "event" => replayed.push(
                frame["event"]["change"]["message"]["body"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            "resumed" => break,
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    assert_eq!(
        replayed,
        (1..=5).map(|i| format!("missed {i}")).collect::<Vec<_>>()
    );
    // Live again: the next one arrives once.
    let live = alice_ws.send_message(conversation_id, "m-6", "live").await;
    let event = bob_ws.recv_until("event").await;
    assert_eq!(event["event"]["seq"], live["message"]["seq"]);
    bob_ws.expect_silence(Duration::from_millis(300)).await;

    // Fetching a gap on request.
    bob_ws.send(json!({"type": "fetch_events", "request_id": "gap", "conversation_id": conversation_id, "after_seq": seen + 2})).await;
    let events = bob_ws.recv_until("events").await;
    let seqs: Vec<i64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, ((seen + 3)..=(seen + 6)).collect::<Vec<_>>());
    assert_eq!(events["complete"], true);
}

pub async fn new_conversations_are_announced_on_resume_and_live(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    // Created while Bob is offline: his resume (knowing nothing) announces it.
    let group = server.create_group(&alice, "Weekend", &[&bob]).await;
    let mut bob_ws = server.connect_raw(&bob, None).await.unwrap();
    bob_ws.recv_until("ready").await;
    bob_ws.send(json!({"type": "resume", "cursors": []})).await;
    let added = bob_ws.recv_until("conversation_added").await;
    assert_eq!(added["conversation"]["conversation"]["title"], "Weekend");
    assert_eq!(added["conversation"]["role"], "member");
    bob_ws.recv_until("resumed").await;
    // Added while online: announced live, then its events flow.
    let mut carol_ws = server.connect(&carol, &[]).await;
    let (status, _) = server
        .api(
            &alice,
            "POST",
            &format!("/api/v1/conversations/{group}/members"),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert_eq!(status, 200);
    let added = carol_ws.recv_until("conversation_added").await;
    assert_eq!(
        added["conversation"]["conversation"]["id"],
        group.to_string()
    );
    let joined = bob_ws.recv_until("event").await;
    assert_eq!(joined["event"]["change"]["kind"], "member_joined");
    assert_eq!(joined["event"]["change"]["user_id"], carol.id.to_string());
    let mut alice_ws = server.connect(&alice, &[]).await;
    alice_ws.send_message(group, "g-1", "welcome carol").await;
    let event = carol_ws.recv_until("event").await;
    assert_eq!(event["event"]["change"]["message"]["body"], "welcome carol");
}

pub async fn typing_receipts_and_presence_reach_co_members(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let mut alice_ws = server.connect(&alice, &[(conversation_id, 0)]).await;

    // Bob comes online: Alice (a contact) is told.
    let mut bob_ws = server.connect(&bob, &[(conversation_id, 0)]).await;
    let presence = alice_ws.recv_until("presence").await;
    assert_eq!(presence["user_id"], bob.id.to_string());
    assert_eq!(presence["online"], true);
    let (_, body) = server
        .api(
            &alice,
            "GET",
            &format!("/api/v1/presence?user_ids={}", bob.id),
            None,
        )
        .await;
    assert_eq!(body["presence"][0]["online"], true);

    bob_ws
        .send(json!({"type": "typing", "conversation_id": conversation_id}))
        .await;
    let typing = alice_ws.recv_until("typing").await;
    assert_eq!(typing["user_id"], bob.id.to_string());
    assert!(typing["expires_in_ms"].as_u64().unwrap() > 0);

    let sent = alice_ws
        .send_message(conversation_id, "c-1", "did you read this?")
        .await;
    let seq = sent["message"]["seq"].as_i64().unwrap();
    bob_ws.recv_until("event").await;
    bob_ws
        .send(json!({"type": "mark_delivered", "conversation_id": conversation_id, "seq": seq}))
        .await;
    let delivered = alice_ws.recv_until("receipt").await;
    assert_eq!(delivered["user_id"], bob.id.to_string());
    assert_eq!(delivered["delivered_seq"], seq);
    bob_ws.send(json!({"type": "mark_read", "request_id": "r", "conversation_id": conversation_id, "seq": seq})).await;
    let read = alice_ws.recv_until("receipt").await;
    assert_eq!(read["read_seq"], seq);
    // Receipts never go backwards.
    bob_ws.send(json!({"type": "mark_read", "request_id": "r2", "conversation_id": conversation_id, "seq": 0})).await;
    bob_ws.recv_until("ok").await;
    let (_, detail) = server
        .api(
            &alice,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}"),
            None,
        )
        .await;
    let bob_member = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == bob.id.to_string())
        .unwrap()
        .clone();
    assert_eq!(bob_member["read_seq"], seq);

    // Bob leaves: Alice sees him offline with a last-seen time.
    drop(bob_ws);
    let presence = alice_ws.recv_until("presence").await;
    assert_eq!(presence["online"], false);
    assert!(presence["last_seen_at"].is_string());
}

pub async fn invalid_frames_get_errors_and_change_nothing(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let mut alice_ws = server.connect(&alice, &[(conversation_id, 0)]).await;
    let mut bob_ws = server.connect(&bob, &[(conversation_id, 0)]).await;

    alice_ws.send_text("this is not json").await;
    let error = alice_ws.recv_until("error").await;
    assert_eq!(error["error"]["code"], "invalid_frame");
    alice_ws
        .send(json!({"type": "launch", "request_id": "x1"}))
        .await;
    let error = alice_ws.recv_until("error").await;
    assert_eq!(
        (
            error["request_id"].as_str(),
            error["error"]["code"].as_str()
        ),
        (Some("x1"), Some("invalid_frame"))
    );
    let cases = [("", "empty_message"), ("   ", "empty_message")];
    for (body, code) in cases {
        let reply = alice_ws.send_message(conversation_id, "bad", body).await;
        assert_eq!(reply["error"]["code"], code);
    }
    let reply = alice_ws
        .send_message(conversation_id, "long", &"x".repeat(4097))
        .await;
    assert_eq!(reply["error"]["code"], "message_too_long");
    let reply = alice_ws
        .send_message(conversation_id, &"c".repeat(65), "hi")
        .await;
    assert_eq!(reply["error"]["code"], "invalid_client_id");
    let reply = alice_ws
        .send_message(uuid::Uuid::now_v7(), "nowhere", "hi")
        .await;
    assert_eq!(reply["error"]["code"], "conversation_not_found");
    alice_ws
        .send(
            json!({"type": "react", "request_id": "r", "conversation_id": conversation_id,
                         "message_id": uuid::Uuid::now_v7(), "emoji": "nope"}),
        )
        .await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "invalid_emoji"
    );
    alice_ws.send(json!({"type": "mark_read", "request_id": "m", "conversation_id": conversation_id, "seq": -1})).await;
    assert_eq!(
        alice_ws.recv_until("error").await["error"]["code"],
        "invalid_seq"
    );
    // A frame far above the size limit closes the connection (the limit protects memory).
    // Nothing above was stored or broadcast.
    bob_ws.expect_silence(Duration::from_millis(300)).await;
    let (_, history) = server
        .api(
            &alice,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            None,
        )
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 0);
}

pub async fn signing_out_closes_open_websockets(server: &TestServer) {
    let alice = server.user("alice").await;
    let mut client = server.connect(&alice, &[]).await;
    let (status, _) = server
        .api(
            &alice,
            "POST",
            "/api/v1/auth/logout",
            Some(json!({"everywhere": true})),
        )
        .await;
    assert_eq!(status, 204);
    // The socket re-checks its session every second in tests (15 s in production).
    let error = client.recv_until("error").await;
    assert_eq!(error["error"]["code"], "session_revoked");
}
