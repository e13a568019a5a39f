//! The wire format is a contract: these pin it down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use convene_proto::typescript::{GENERATED_PATH, protocol_module};
use convene_proto::{ClientFrame, ServerFrame};
use serde_json::json;

#[test]
fn committed_typescript_matches_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GENERATED_PATH);
    let generated = protocol_module();
    if std::env::var_os("UPDATE_PROTOCOL_TS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `UPDATE_PROTOCOL_TS=1 cargo test -p convene-proto` and commit it",
        path.display()
    );
}

#[test]
fn client_frames_are_tagged_snake_case_json() {
    let frame: ClientFrame = serde_json::from_value(json!({
        "type": "send_message",
        "request_id": "r1",
        "conversation_id": "0196a3c2-0000-7000-8000-000000000001",
        "client_id": "c-1",
        "body": "hello"
    }))
    .unwrap();
    assert!(
        matches!(frame, ClientFrame::SendMessage { ref body, reply_to: None, .. } if body == "hello")
    );
    let ping: ClientFrame = serde_json::from_str(r#"{"type":"ping"}"#).unwrap();
    assert_eq!(ping, ClientFrame::Ping { request_id: None });
}

#[test]
fn unknown_frames_and_fields_are_rejected() {
    assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"launch_missiles"}"#).is_err());
    assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"ping","extra":1}"#).is_err());
    assert!(serde_json::from_str::<ClientFrame>(r#"{"body":"no type"}"#).is_err());
}

#[test]
fn server_frames_serialize_with_their_type() {
    let frame = ServerFrame::Typing {
        conversation_id: uuid::Uuid::nil(),
        user_id: uuid::Uuid::nil(),
        expires_in_ms: 5000,
    };
    assert_eq!(
        serde_json::to_value(&frame).unwrap(),
        json!({"type": "typing", "conversation_id": "00000000-0000-0000-0000-000000000000",
               "user_id": "00000000-0000-0000-0000-000000000000", "expires_in_ms": 5000})
    );
}

#[test]
fn docs_show_an_example_of_every_frame() {
    let typescript = protocol_module();
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md"),
    )
    .unwrap();
    let mut frame_types: Vec<&str> = typescript
        .split("\"type\": \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    frame_types.dedup();
    assert!(frame_types.len() >= 20, "{frame_types:?}");
    for frame_type in frame_types {
        assert!(
            docs.contains(&format!("{{\"type\": \"{frame_type}\"")),
            "docs/protocol.md has no example of the `{frame_type}` frame"
        );
    }
}
