//! The few SDP facts the participants need: the mids of their own offer, the streams an
//! offer carries, and candidates pointed at a relay.

use std::collections::BTreeSet;
use std::net::SocketAddr;

/// `(kind, mid)` of each media section, in order (`kind` is `audio` or `video`).
pub fn media_sections(sdp: &str) -> Vec<(String, String)> {
    let mut sections = Vec::new();
    let mut kind: Option<String> = None;
    for line in sdp.lines() {
        if let Some(media) = line.strip_prefix("m=") {
            kind = media.split_whitespace().next().map(str::to_owned);
        } else if let (Some(mid), Some(kind)) = (line.strip_prefix("a=mid:"), kind.as_ref()) {
            sections.push((kind.clone(), mid.trim().to_owned()));
        }
    }
    sections
}

/// The `MediaStream` ids of the tracks an SDP sends (`a=msid:<stream> <track>` in media
/// sections whose direction sends), so a test can see what a subscribe offer still carries.
pub fn sent_stream_ids(sdp: &str) -> BTreeSet<String> {
    let mut streams = BTreeSet::new();
    let mut section_streams: Vec<String> = Vec::new();
    let mut sending = false;
    let mut flush = |section_streams: &mut Vec<String>, sending: bool| {
        if sending {
            streams.extend(section_streams.drain(..));
        }
        section_streams.clear();
    };
    for line in sdp.lines() {
        if line.starts_with("m=") {
            flush(&mut section_streams, sending);
            // RFC 3264: sendrecv is the default.
            sending = true;
        } else if let Some(msid) = line.strip_prefix("a=msid:") {
            if let Some(stream) = msid.split_whitespace().next() {
                section_streams.push(stream.to_owned());
            }
        } else if line == "a=recvonly" || line == "a=inactive" {
            sending = false;
        }
    }
    flush(&mut section_streams, sending);
    streams
}

/// The address of the first candidate, where the peer that wrote the SDP receives.
pub fn first_candidate_addr(sdp: &str) -> Option<SocketAddr> {
    sdp.lines().find_map(|line| {
        let fields: Vec<&str> = line
            .strip_prefix("a=candidate:")?
            .split_whitespace()
            .collect();
        format!("{}:{}", fields.get(4)?, fields.get(5)?)
            .parse()
            .ok()
    })
}

/// Points every host candidate at `addr`, so the remote peer's media goes through a relay.
pub fn with_candidates_at(sdp: &str, addr: SocketAddr) -> String {
    let mut rewritten = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let ending = &line[body.len()..];
        match body.strip_prefix("a=candidate:") {
            Some(candidate) => {
                // foundation component transport priority address port typ ...
                let mut fields: Vec<String> =
                    candidate.split_whitespace().map(str::to_owned).collect();
                if fields.len() > 5 {
                    fields[4] = addr.ip().to_string();
                    fields[5] = addr.port().to_string();
                }
                rewritten.push_str("a=candidate:");
                rewritten.push_str(&fields.join(" "));
            }
            None => rewritten.push_str(body),
        }
        rewritten.push_str(ending);
    }
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=mid:0\r\n\
        a=msid:alice alice~audio\r\n\
        a=sendonly\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:1\r\n\
        a=msid:bob bob~video\r\n\
        a=inactive\r\n";

    #[test]
    fn reads_mids_and_the_streams_still_sent() {
        assert_eq!(
            media_sections(OFFER),
            vec![
                ("audio".to_owned(), "0".to_owned()),
                ("video".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(
            sent_stream_ids(OFFER).into_iter().collect::<Vec<_>>(),
            vec!["alice".to_owned()]
        );
    }

    #[test]
    fn candidates_move_to_the_relay() {
        let relay: SocketAddr = "127.0.0.1:6000".parse().unwrap();
        let rewritten = with_candidates_at(OFFER, relay);
        assert!(rewritten.contains("a=candidate:1 1 udp 2130706431 127.0.0.1 6000 typ host\r\n"));
        assert_eq!(rewritten.len(), OFFER.len());
        assert_eq!(first_candidate_addr(&rewritten), Some(relay));
    }
}
