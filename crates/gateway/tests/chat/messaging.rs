//! Message features and conversation management, through REST and the socket.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestServer, TestUser};

async fn send(
    server: &TestServer,
    user: &TestUser,
    conversation_id: Uuid,
    client_id: &str,
    body: &str,
) -> Value {
    let (status, reply) = server
        .api(
            user,
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(json!({"client_id": client_id, "body": body})),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    reply["message"].clone()
}

async fn history(
    server: &TestServer,
    user: &TestUser,
    conversation_id: Uuid,
    query: &str,
) -> Vec<Value> {
    let (status, body) = server
        .api(
            user,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}/messages{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().unwrap().clone()
}

pub async fn edits_deletes_reactions_and_pins_are_events(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    let mut bob_ws = server.connect(&bob, &[(conversation_id, 0)]).await;
    let message = send(server, &alice, conversation_id, "c1", "helo").await;
    let message_id = message["id"].as_str().unwrap();
    bob_ws.recv_until("event").await;
    let base = format!("/api/v1/conversations/{conversation_id}/messages/{message_id}");

    let (status, _) = server
        .api(&alice, "PATCH", &base, Some(json!({"body": "hello"})))
        .await;
    assert_eq!(status, 200);
    let edited = bob_ws.recv_until("event").await;
    assert_eq!(edited["event"]["change"]["kind"], "message_edited");
    assert_eq!(edited["event"]["change"]["body"], "hello");
    let (status, body) = server
        .api(&bob, "PATCH", &base, Some(json!({"body": "hacked"})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_message_sender"))
    );

    for _ in 0..2 {
        let (status, _) = server
            .api(
                &bob,
                "POST",
                &format!("{base}/reactions"),
                Some(json!({"emoji": "👍"})),
            )
            .await;
        assert_eq!(status, 200);
    }
    let added = bob_ws.recv_until("event").await;
    assert_eq!(
        (
            added["event"]["change"]["kind"].as_str(),
            added["event"]["change"]["added"].as_bool()
        ),
        (Some("reaction_changed"), Some(true))
    );
    let removed = bob_ws.recv_until("event").await;
    assert_eq!(removed["event"]["change"]["added"], false);
    server
        .api(
            &alice,
            "POST",
            &format!("{base}/reactions"),
            Some(json!({"emoji": "❤️"})),
        )
        .await;
    let (status, body) = server
        .api(
            &alice,
            "POST",
            &format!("{base}/reactions"),
            Some(json!({"emoji": "<script>"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_emoji"))
    );
    let shown = &history(server, &bob, conversation_id, "").await[0];
    assert_eq!(shown["body"], "hello");
    assert!(shown["edited_at"].is_string());
    assert_eq!(
        shown["reactions"],
        json!([{"emoji": "❤️", "count": 1, "user_ids": [alice.id]}])
    );

    let (status, _) = server.api(&bob, "PUT", &format!("{base}/pin"), None).await;
    assert_eq!(status, 200, "anyone pins in a direct chat");
    assert_eq!(
        bob_ws.recv_until("event").await["event"]["change"]["kind"],
        "reaction_changed"
    );
    assert_eq!(
        bob_ws.recv_until("event").await["event"]["change"]["kind"],
        "message_pinned"
    );
    let (_, pins) = server
        .api(
            &alice,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}/pins"),
            None,
        )
        .await;
    assert_eq!(pins["messages"][0]["id"], message_id);

    // Delete for me: gone for Bob only.
    let (status, _) = server.api(&bob, "DELETE", &base, None).await;
    assert_eq!(status, 200);
    assert!(history(server, &bob, conversation_id, "").await.is_empty());
    assert_eq!(history(server, &alice, conversation_id, "").await.len(), 1);
    // Delete for everyone: only the sender in a direct chat.
    let (status, body) = server
        .api(&bob, "DELETE", &format!("{base}?for_everyone=true"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_message_sender"))
    );
    let (status, _) = server
        .api(&alice, "DELETE", &format!("{base}?for_everyone=true"), None)
        .await;
    assert_eq!(status, 200);
    let deleted = bob_ws.recv_until("event").await;
    assert_eq!(deleted["event"]["change"]["kind"], "message_deleted");
    let shown = &history(server, &alice, conversation_id, "").await[0];
    assert_eq!(shown["body"], "");
    assert!(shown["deleted_at"].is_string());
    let (status, body) = server
        .api(&alice, "PATCH", &base, Some(json!({"body": "undo"})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("message_deleted"))
    );
}

pub async fn replies_forwards_and_mentions(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let group = server.create_group(&alice, "Team", &[&bob, &carol]).await;
    let direct = server.start_direct(&alice, &bob).await;
    let question = send(server, &bob, group, "q", "Lunch at noon?").await;
    let (status, reply) = server
        .api(&alice, "POST", &format!("/api/v1/conversations/{group}/messages"),
             Some(json!({"client_id": "a", "body": "Yes @Carol, and @nobody_here", "reply_to": question["id"]})))
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["message"]["reply_to"], question["id"]);
    assert_eq!(reply["message"]["mentions"], json!([carol.id]));
    let (status, body) = server
        .api(
            &alice,
            "POST",
            &format!("/api/v1/conversations/{direct}/messages"),
            Some(json!({"client_id": "b", "body": "x", "reply_to": question["id"]})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("message_not_found")),
        "a reply stays in its conversation"
    );

    let (status, forwarded) = server
        .api(
            &alice,
            "POST",
            &format!(
                "/api/v1/messages/{}/forward",
                question["id"].as_str().unwrap()
            ),
            Some(json!({"to_conversation_id": direct, "client_id": "f"})),
        )
        .await;
    assert_eq!(status, 201, "{forwarded}");
    assert_eq!(forwarded["message"]["body"], "Lunch at noon?");
    assert_eq!(forwarded["message"]["forwarded_from"], question["id"]);
    // Carol cannot forward into a conversation she is not in.
    let (status, _) = server
        .api(
            &carol,
            "POST",
            &format!(
                "/api/v1/messages/{}/forward",
                question["id"].as_str().unwrap()
            ),
            Some(json!({"to_conversation_id": direct, "client_id": "f"})),
        )
        .await;
    assert_eq!(status, 403);
}

pub async fn history_pages_and_search(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    for i in 1..=7 {
        send(
            server,
            &alice,
            conversation_id,
            &format!("c{i}"),
            &format!("message number {i}"),
        )
        .await;
    }
    send(
        server,
        &bob,
        conversation_id,
        "b",
        "Quarterly Report attached",
    )
    .await;
    let newest = history(server, &bob, conversation_id, "?limit=3").await;
    assert_eq!(
        newest
            .iter()
            .map(|m| m["body"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "Quarterly Report attached",
            "message number 7",
            "message number 6"
        ]
    );
    let before = newest[2]["seq"].as_i64().unwrap();
    let older = history(
        server,
        &bob,
        conversation_id,
        &format!("?limit=3&before_seq={before}"),
    )
    .await;
    assert_eq!(older[0]["body"], "message number 5");
    let (status, _) = server
        .api(
            &bob,
            "GET",
            &format!("/api/v1/conversations/{conversation_id}/messages?limit=0"),
            None,
        )
        .await;
    assert_eq!(status, 400);

    for query in ["quarterly", "REPORT", "quart"] {
        let (status, found) = server
            .api(
                &alice,
                "GET",
                &format!("/api/v1/search/messages?q={query}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["messages"].as_array().unwrap().len(), 1, "{query}");
    }
    let (_, found) = server
        .api(&alice, "GET", "/api/v1/search/messages?q=number%204", None)
        .await;
    assert_eq!(found["messages"][0]["body"], "message number 4");
    let carol = server.user("carol").await;
    let (_, found) = server
        .api(&carol, "GET", "/api/v1/search/messages?q=quarterly", None)
        .await;
    assert_eq!(
        found["messages"].as_array().unwrap().len(),
        0,
        "non-members find nothing"
    );
    let (status, _) = server
        .api(
            &carol,
            "GET",
            &format!("/api/v1/search/messages?q=report&conversation_id={conversation_id}"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .api(&alice, "GET", "/api/v1/search/messages?q=%20", None)
        .await;
    assert_eq!(status, 400);
    let (status, found) = server
        .api(&alice, "GET", "/api/v1/search/messages?q=%22%27%29(*", None)
        .await;
    assert_eq!(status, 200, "punctuation is harmless: {found}");
}

pub async fn group_roles_and_membership(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let dave = server.user("dave").await;
    let group = server.create_group(&alice, "Climbing", &[&bob]).await;
    let members = |path: &str| format!("/api/v1/conversations/{group}/members{path}");

    let (status, body) = server
        .api(
            &bob,
            "POST",
            &members(""),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("admin_required"))
    );
    let (status, _) = server
        .api(
            &alice,
            "POST",
            &members(""),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, again) = server
        .api(
            &alice,
            "POST",
            &members(""),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert!(again["seq"].is_null(), "adding twice changes nothing");
    let (status, _) = server
        .api(
            &bob,
            "PATCH",
            &format!("/api/v1/conversations/{group}"),
            Some(json!({"title": "Bouldering"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .api(
            &alice,
            "PATCH",
            &format!("/api/v1/conversations/{group}"),
            Some(json!({"title": "Bouldering"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .api(
            &alice,
            "PATCH",
            &members(&format!("/{}", bob.id)),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .api(&bob, "DELETE", &members(&format!("/{}", carol.id)), None)
        .await;
    assert_eq!(status, 200, "the new admin removes a member");
    let (status, _) = server
        .api(
            &carol,
            "GET",
            &format!("/api/v1/conversations/{group}"),
            None,
        )
        .await;
    assert_eq!(status, 403, "a removed member sees nothing");
    let (status, _) = server
        .api(&dave, "DELETE", &members(&format!("/{}", bob.id)), None)
        .await;
    assert_eq!(status, 403);

    // Admins leave; the last admin leaving hands over to the longest-standing member.
    let (status, _) = server
        .api(&bob, "DELETE", &members(&format!("/{}", bob.id)), None)
        .await;
    assert_eq!(status, 200);
    server
        .api(
            &alice,
            "POST",
            &members(""),
            Some(json!({"user_id": dave.id})),
        )
        .await;
    let (status, _) = server
        .api(&alice, "DELETE", &members(&format!("/{}", alice.id)), None)
        .await;
    assert_eq!(status, 200);
    let (_, detail) = server
        .api(
            &dave,
            "GET",
            &format!("/api/v1/conversations/{group}"),
            None,
        )
        .await;
    assert_eq!(detail["conversation"]["title"], "Bouldering");
    let remaining = detail["members"].as_array().unwrap();
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0]["user_id"], dave.id.to_string());
    assert_eq!(remaining[0]["role"], "admin", "the last admin handed over");

    let direct = server.start_direct(&alice, &bob).await;
    let (status, body) = server
        .api(
            &alice,
            "DELETE",
            &format!("/api/v1/conversations/{direct}/members/{}", alice.id),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("not_a_group"))
    );
    assert_eq!(
        server.start_direct(&bob, &alice).await,
        direct,
        "one direct chat per pair"
    );
    let (status, body) = server
        .api(
            &alice,
            "POST",
            "/api/v1/conversations/groups",
            Some(json!({"title": " ", "member_ids": []})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_title"))
    );
    let (status, _) = server
        .api(
            &alice,
            "POST",
            "/api/v1/conversations/groups",
            Some(json!({"title": "Ghosts", "member_ids": [Uuid::now_v7()]})),
        )
        .await;
    assert_eq!(status, 404);
}

pub async fn meetings_are_joined_by_code(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (status, meeting) = server
        .api(
            &alice,
            "POST",
            "/api/v1/conversations/meetings",
            Some(json!({"title": "Standup"})),
        )
        .await;
    assert_eq!(status, 201, "{meeting}");
    let code = meeting["meeting_code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 12 && code.chars().filter(|c| *c == '-').count() == 2,
        "{code}"
    );
    let (status, joined) = server
        .api(
            &bob,
            "POST",
            &format!("/api/v1/meetings/{}/join", code.to_uppercase()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["id"], meeting["id"]);
    let (status, _) = server
        .api(&bob, "POST", &format!("/api/v1/meetings/{code}/join"), None)
        .await;
    assert_eq!(status, 200, "joining twice is fine");
    let guest = server.guest("Visitor").await;
    let (status, body) = server
        .api(
            &guest,
            "POST",
            &format!("/api/v1/meetings/{code}/join"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("guests_not_allowed"))
    );
    let (status, _) = server
        .api(&bob, "POST", "/api/v1/meetings/zzz-zzzz-zzz/join", None)
        .await;
    assert_eq!(status, 404);

    let (_, open) = server
        .api(
            &alice,
            "POST",
            "/api/v1/conversations/meetings",
            Some(json!({"allow_guests": true})),
        )
        .await;
    let open_code = open["meeting_code"].as_str().unwrap();
    let (status, _) = server
        .api(
            &guest,
            "POST",
            &format!("/api/v1/meetings/{open_code}/join"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let meeting_id: Uuid = open["id"].as_str().unwrap().parse().unwrap();
    send(server, &guest, meeting_id, "g", "hello from a guest").await;
    let (status, _) = server
        .api(
            &guest,
            "POST",
            "/api/v1/conversations/direct",
            Some(json!({"user_id": alice.id})),
        )
        .await;
    assert_eq!(status, 403, "guests only meet in meetings");
    let (status, body) = server
        .api(
            &alice,
            "POST",
            "/api/v1/conversations/groups",
            Some(json!({"title": "With a guest", "member_ids": [guest.id]})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("guest_not_allowed")),
        "nor are they put in groups"
    );
}

pub async fn blocked_users_cannot_message(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    send(server, &bob, conversation_id, "1", "hi").await;
    let (status, _) = server
        .api(&alice, "PUT", &format!("/api/v1/blocks/{}", bob.id), None)
        .await;
    assert_eq!(status, 204);
    for (who, client_id) in [(&bob, "2"), (&alice, "3")] {
        let (status, body) = server
            .api(
                who,
                "POST",
                &format!("/api/v1/conversations/{conversation_id}/messages"),
                Some(json!({"client_id": client_id, "body": "still there?"})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("blocked"))
        );
    }
    // Nor can they edit, react or type their way around it.
    let old_message = history(server, &bob, conversation_id, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/api/v1/conversations/{conversation_id}/messages/{old_message}");
    let (status, body) = server
        .api(&bob, "PATCH", &base, Some(json!({"body": "sneaky"})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("blocked"))
    );
    let (status, body) = server
        .api(
            &bob,
            "POST",
            &format!("{base}/reactions"),
            Some(json!({"emoji": "👍"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("blocked"))
    );
    let (status, _) = server
        .api(
            &bob,
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/typing"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let carol = server.user("carol").await;
    let (status, _) = server
        .api(&alice, "PUT", &format!("/api/v1/blocks/{}", carol.id), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = server
        .api(
            &carol,
            "POST",
            "/api/v1/conversations/direct",
            Some(json!({"user_id": alice.id})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("blocked"))
    );
    server
        .api(
            &alice,
            "DELETE",
            &format!("/api/v1/blocks/{}", bob.id),
            None,
        )
        .await;
    send(server, &bob, conversation_id, "4", "unblocked").await;
}

pub async fn message_rate_limit_per_user(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let conversation_id = server.start_direct(&alice, &bob).await;
    for i in 0..3 {
        send(server, &alice, conversation_id, &format!("c{i}"), "spam?").await;
    }
    let (status, body) = server
        .api(
            &alice,
            "POST",
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(json!({"client_id": "c4", "body": "spam!"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("message_rate_limited"))
    );
    let mut alice_ws = server.connect(&alice, &[(conversation_id, 0)]).await;
    let reply = alice_ws.send_message(conversation_id, "c5", "spam!!").await;
    assert_eq!(
        reply["error"]["code"], "message_rate_limited",
        "the socket shares the limit"
    );
    send(server, &bob, conversation_id, "b", "I am not limited").await;
    assert_eq!(history(server, &bob, conversation_id, "").await.len(), 4);
}

pub async fn conversation_list_counts_unread_and_mentions(server: &TestServer) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let group = server
        .create_group(&alice, "Book club", &[&bob, &carol])
        .await;
    let direct = server.start_direct(&carol, &bob).await;
    send(server, &alice, group, "1", "chapter one").await;
    let second = send(server, &alice, group, "2", "@bob your turn").await;
    // The test clock stands still unless moved: move it so activity has an order.
    server.clock.advance(chrono::Duration::seconds(1));
    send(server, &carol, direct, "3", "psst").await;
    let (_, list) = server.api(&bob, "GET", "/api/v1/conversations", None).await;
    let rows = list["conversations"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["conversation"]["id"],
        direct.to_string(),
        "most recent activity first"
    );
    assert_eq!(rows[0]["peer_id"], carol.id.to_string());
    assert_eq!(rows[0]["last_message"]["body"], "psst");
    assert_eq!(rows[1]["unread_count"], 2);
    assert_eq!(rows[1]["mention_count"], 1);
    server
        .api(
            &bob,
            "POST",
            &format!("/api/v1/conversations/{group}/read"),
            Some(json!({"seq": second["seq"]})),
        )
        .await;
    let (_, list) = server.api(&bob, "GET", "/api/v1/conversations", None).await;
    let book_club = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["conversation"]["id"] == group.to_string())
        .unwrap()
        .clone();
    assert_eq!(
        (
            book_club["unread_count"].as_i64(),
            book_club["mention_count"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let (_, page) = server
        .api(&bob, "GET", "/api/v1/conversations?limit=1", None)
        .await;
    assert_eq!(page["conversations"].as_array().unwrap().len(), 1);
}
