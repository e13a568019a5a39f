//! Socket.IO v4 packets over Engine.IO v4 text frames, as far as this client needs them.
//! Pure, so they are tested without a server.

use serde_json::{Value, json};

use crate::{Error, Result};

/// One Socket.IO packet from the server, as far as this client cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// Engine.IO `0{…}`.
    Open,
    /// Engine.IO `2`: answer `3`.
    Ping,
    /// Socket.IO `40{…}`: the namespace accepted us.
    Connected,
    /// Socket.IO `44{…}`: the namespace refused us.
    ConnectRefused(String),
    /// Socket.IO `42["name",data]` (an ack id, if any, is ignored: the baseline asks none).
    Event {
        name: String,
        data: Value,
    },
    /// Socket.IO `43<id>[data]`.
    Ack {
        id: u64,
        data: Value,
    },
    /// Socket.IO `41` or Engine.IO `1`.
    Disconnect,
    Other,
}

/// Parses one text frame. Pure, so it is tested without a server.
pub fn parse_packet(text: &str) -> Result<Packet> {
    let malformed = |detail: &str| Error::Protocol {
        peer: "socket.io server".to_owned(),
        detail: format!("{detail}: {}", text.chars().take(120).collect::<String>()),
    };
    let Some(engine_type) = text.chars().next() else {
        return Err(malformed("empty frame"));
    };
    match engine_type {
        '0' => return Ok(Packet::Open),
        '1' => return Ok(Packet::Disconnect),
        '2' => return Ok(Packet::Ping),
        '4' => {}
        _ => return Ok(Packet::Other),
    }
    let rest = &text[1..];
    let Some(socket_type) = rest.chars().next() else {
        return Err(malformed("empty message"));
    };
    let body = &rest[1..];
    match socket_type {
        '0' => Ok(Packet::Connected),
        '1' => Ok(Packet::Disconnect),
        '4' => Ok(Packet::ConnectRefused(body.to_owned())),
        '2' | '3' => {
            let digits = body.bytes().take_while(u8::is_ascii_digit).count();
            let id = body[..digits].parse::<u64>().ok();
            let payload: Vec<Value> =
                serde_json::from_str(&body[digits..]).map_err(|_| malformed("bad payload"))?;
            if socket_type == '3' {
                let id = id.ok_or_else(|| malformed("an ack without an id"))?;
                let data = payload.into_iter().next().unwrap_or(Value::Null);
                return Ok(Packet::Ack { id, data });
            }
            let mut payload = payload.into_iter();
            let name = match payload.next() {
                Some(Value::String(name)) => name,
                _ => return Err(malformed("an event without a name")),
            };
            Ok(Packet::Event {
                name,
                data: payload.next().unwrap_or(Value::Null),
            })
        }
        _ => Ok(Packet::Other),
    }
}

/// `42<id>["name",data]`.
pub fn emit_with_ack(id: u64, name: &str, data: &Value) -> String {
    format!("42{id}{}", json!([name, data]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_socket_packets_are_parsed() {
        assert_eq!(
            parse_packet(r#"0{"sid":"x","pingInterval":25000}"#).unwrap(),
            Packet::Open
        );
        assert_eq!(parse_packet("2").unwrap(), Packet::Ping);
        assert_eq!(parse_packet(r#"40{"sid":"y"}"#).unwrap(), Packet::Connected);
        assert_eq!(
            parse_packet(r#"42["message",{"seq":3}]"#).unwrap(),
            Packet::Event {
                name: "message".to_owned(),
                data: json!({"seq": 3})
            }
        );
        assert_eq!(
            parse_packet(r#"4317[{"ok":true,"seq":9}]"#).unwrap(),
            Packet::Ack {
                id: 17,
                data: json!({"ok": true, "seq": 9})
            }
        );
        assert!(matches!(
            parse_packet(r#"44{"message":"no"}"#).unwrap(),
            Packet::ConnectRefused(_)
        ));
        assert!(parse_packet("42not json").is_err());
    }

    #[test]
    fn an_emit_with_ack_carries_its_id_before_the_payload() {
        assert_eq!(
            emit_with_ack(5, "join", &json!({"conversation": "c1"})),
            r#"425["join",{"conversation":"c1"}]"#
        );
    }
}
