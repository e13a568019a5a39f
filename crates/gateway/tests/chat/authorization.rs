//! The authorisation matrix: a user who is not a member gets nothing from any conversation
//! endpoint or frame, and hears none of its events.

use std::time::Duration;

use serde_json::json;

use crate::support::TestServer;

pub async fn non_members_are_refused_everywhere(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mallory = server.user("mallory").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let (_, sent) = server
        .api(
            &alice,
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(json!({"client_id": "a", "body": "private"})),
        )
        .await;
    let message_id = sent["message"]["id"].as_str().unwrap().to_owned();
    let mut mallory_ws = server.connect(&mallory, &[(conversation_id, 0)]).await;

    let c = format!("/api/v1/conversations/{conversation_id}");
    let m = format!("{c}/messages/{message_id}");
    let rest = [
        ("GET", c.clone(), None),
        ("PATCH", c.clone(), Some(json!({"title": "mine"}))),
        ("GET", format!("{c}/messages"), None),
        (
            "POST",
            format!("{c}/messages"),
            Some(json!({"client_id": "x", "body": "let me in"})),
        ),
        ("PATCH", m.clone(), Some(json!({"body": "changed"}))),
        ("DELETE", m.clone(), None),
        ("DELETE", format!("{m}?for_everyone=true"), None),
        (
            "POST",
            format!("{m}/reactions"),
            Some(json!({"emoji": "👍"})),
        ),
        ("PUT", format!("{m}/pin"), None),
        ("DELETE", format!("{m}/pin"), None),
        ("GET", format!("{c}/pins"), None),
        ("GET", format!("{c}/events?after_seq=0"), None),
        ("POST", format!("{c}/read"), Some(json!({"seq": 1}))),
        ("POST", format!("{c}/typing"), None),
        (
            "POST",
            format!("{c}/members"),
            Some(json!({"user_id": mallory.id})),
        ),
        (
            "PATCH",
            format!("{c}/members/{}", alice.id),
            Some(json!({"role": "member"})),
        ),
        ("DELETE", format!("{c}/members/{}", alice.id), None),
        (
            "GET",
            format!("/api/v1/search/messages?q=private&conversation_id={conversation_id}"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/messages/{message_id}/forward"),
            Some(json!({"to_conversation_id": conversation_id, "client_id": "f"})),
        ),
    ];
    for (method, path, body) in rest {
        let (status, reply) = server.api(&mallory, method, &path, body).await;
        assert!(
            status == 403 || status == 404,
            "{method} {path} answered {status}: {reply}"
        );
        assert!(
            !reply.to_string().contains("private"),
            "{method} {path} leaked content"
        );
    }
    let (_, found) = server
        .api(&mallory, "GET", "/api/v1/search/messages?q=private", None)
        .await;
    assert_eq!(found["messages"].as_array().unwrap().len(), 0);
    let (_, presence) = server
        .api(
            &mallory,
            "GET",
            &format!("/api/v1/presence?user_ids={}", alice.id),
            None,
        )
        .await;
    assert_eq!(
        presence["presence"].as_array().unwrap().len(),
        0,
        "presence is for contacts only"
    );

    let frames = [
        json!({"type": "send_message", "request_id": "1", "conversation_id": conversation_id, "client_id": "x", "body": "hi"}),
        json!({"type": "edit_message", "request_id": "2", "conversation_id": conversation_id, "message_id": message_id, "body": "x"}),
        json!({"type": "delete_message", "request_id": "3", "conversation_id": conversation_id, "message_id": message_id, "for_everyone": true}),
        json!({"type": "react", "request_id": "4", "conversation_id": conversation_id, "message_id": message_id, "emoji": "👍"}),
        json!({"type": "pin_message", "request_id": "5", "conversation_id": conversation_id, "message_id": message_id, "pinned": true}),
        json!({"type": "mark_read", "request_id": "6", "conversation_id": conversation_id, "seq": 1}),
        json!({"type": "fetch_events", "request_id": "7", "conversation_id": conversation_id, "after_seq": 0}),
        json!({"type": "forward_message", "request_id": "8", "message_id": message_id, "to_conversation_id": conversation_id, "client_id": "f"}),
    ];
    for frame in frames {
        let request_id = frame["request_id"].clone();
        mallory_ws.send(frame.clone()).await;
        let reply = mallory_ws.recv().await;
        assert_eq!(reply["type"], "error", "{frame} → {reply}");
        assert_eq!(reply["request_id"], request_id);
        assert!(!reply.to_string().contains("private"));
    }
    mallory_ws
        .send(json!({"type": "typing", "conversation_id": conversation_id}))
        .await;
    mallory_ws
        .send(json!({"type": "mark_delivered", "conversation_id": conversation_id, "seq": 1}))
        .await;
    // Mallory hears nothing of the conversation while it goes on.
    let mut alice_ws = server.connect(&alice, &[(conversation_id, 1)]).await;
    alice_ws
        .send_message(conversation_id, "b", "still private")
        .await;
    alice_ws
        .send(json!({"type": "typing", "conversation_id": conversation_id}))
        .await;
    let frame = tokio::time::timeout(Duration::from_millis(500), mallory_ws.recv()).await;
    if let Ok(frame) = frame {
        assert!(frame["type"] == "error", "mallory received {frame}");
        assert!(!frame.to_string().contains("private"));
    }
    let (_, history) = server
        .api(
            &alice,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            None,
        )
        .await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        2,
        "nothing mallory sent was stored"
    );
}
