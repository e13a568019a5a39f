//! What travels from the code that changed something to every connection that must hear of
//! it, locally and over the bus: the serialized `ServerFrame`, plus the routing facts the
//! connection needs to keep its per-conversation order (conversation and seq).

use std::sync::Arc;

use convene_proto::ServerFrame;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Route {
    /// A conversation event with its seq: delivered in seq order, gaps filled from the store.
    Event { conversation_id: Uuid, seq: i64 },
    /// The recipient became a member; its cursor starts at `seq`.
    ConversationAdded { conversation_id: Uuid, seq: i64 },
    /// The recipient is no longer a member: stop delivering that conversation.
    ConversationRemoved { conversation_id: Uuid },
    /// Receipts, typing, presence: no order to keep.
    Ephemeral,
    /// Only for this connection of the recipients (call signalling, answers).
    ToConnection { connection_id: Uuid },
    /// For every connection of the recipients but this one (it got its own answer).
    ExceptConnection { connection_id: Uuid },
}

/// A frame ready for sockets: serialized once, shared by every recipient.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub route: Route,
    pub frame_json: Arc<str>,
}

#[derive(Serialize)]
struct WireEnvelopeRef<'a> {
    #[serde(flatten)]
    route: Route,
    frame: &'a RawValue,
}

#[derive(Deserialize)]
struct WireEnvelope {
    #[serde(flatten)]
    route: Route,
    frame: Box<RawValue>,
}

impl Outbound {
    pub fn new(route: Route, frame: &ServerFrame) -> Self {
        // Serializing our own enum cannot fail (no maps with non-string keys, no foreign
        // Serialize impls); fall back to an error frame rather than panicking.
        let frame_json = serde_json::to_string(frame).unwrap_or_else(|error| {
            tracing::error!(%error, "serializing a server frame failed");
            r#"{"type":"error","request_id":null,"error":{"code":"internal","message":"serialization failed"}}"#.to_owned()
        });
        Self {
            route,
            frame_json: frame_json.into(),
        }
    }

    /// The bus payload: route and frame in one JSON object.
    pub fn to_bus_payload(&self) -> Option<Arc<str>> {
        let frame = RawValue::from_string(self.frame_json.to_string()).ok()?;
        let envelope = WireEnvelopeRef {
            route: self.route,
            frame: &frame,
        };
        serde_json::to_string(&envelope).ok().map(Arc::from)
    }

    pub fn from_bus_payload(payload: &str) -> Option<Self> {
        let envelope: WireEnvelope = serde_json::from_str(payload).ok()?;
        Some(Self {
            route: envelope.route,
            frame_json: Arc::from(envelope.frame.get()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_payload_round_trips() {
        let outbound = Outbound::new(
            Route::Event {
                conversation_id: Uuid::nil(),
                seq: 7,
            },
            &ServerFrame::Pong { request_id: None },
        );
        let payload = outbound.to_bus_payload().unwrap();
        let back = Outbound::from_bus_payload(&payload).unwrap();
        assert_eq!(back.route, outbound.route);
        assert_eq!(back.frame_json, outbound.frame_json);
    }
}
