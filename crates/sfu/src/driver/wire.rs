//! Reading the few bytes of a packet the driver routes or forwards on: the ICE username of a
//! STUN binding request, and whether a VP8 packet starts a keyframe.

use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::message::{Message, is_stun_message};
use rtc::stun::textattrs::TextAttribute;

/// The SFU's own ufrag from a STUN request's USERNAME (`<our ufrag>:<their ufrag>`), which
/// says which peer connection a datagram on the shared socket belongs to.
pub(crate) fn stun_local_ufrag(datagram: &[u8]) -> Option<String> {
    if !is_stun_message(datagram) {
        return None;
    }
    let mut message = Message::new();
    message.unmarshal_binary(datagram).ok()?;
    let username = TextAttribute::get_from_as(&message, ATTR_USERNAME).ok()?;
    Some(username.text.split(':').next()?.to_owned())
}

/// True for the first packet of a VP8 keyframe (RFC 7741 §4.2/§4.3): the payload descriptor
/// says "start of partition 0", and the payload header's P bit is 0.
pub(crate) fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition_index = first & 0x07;
    if !start_of_partition || partition_index != 0 {
        return false;
    }
    let mut offset = 1;
    if extended {
        let Some(&flags) = payload.get(1) else {
            return false;
        };
        offset = 2;
        if flags & 0x80 != 0 {
            // PictureID: one byte, or two when its M bit is set.
            let Some(&picture_id) = payload.get(offset) else {
                return false;
            };
            offset += if picture_id & 0x80 != 0 { 2 } else { 1 };
        }
        if flags & 0x40 != 0 {
            offset += 1; // TL0PICIDX
        }
        if flags & 0x30 != 0 {
            offset += 1; // TID / Y / KEYIDX
        }
    }
    payload.get(offset).is_some_and(|header| header & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_keyframes_are_recognised_through_the_extended_descriptor() {
        // S=1, PID=0, no extension; P=0.
        assert!(vp8_starts_keyframe(&[0x10, 0x00]));
        // Same, P=1: an interframe.
        assert!(!vp8_starts_keyframe(&[0x10, 0x01]));
        // Not the start of the frame.
        assert!(!vp8_starts_keyframe(&[0x00, 0x00]));
        // X=1; I=1 with a 15-bit PictureID, L=1, T=1; then P=0.
        assert!(vp8_starts_keyframe(&[
            0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x10
        ]));
        assert!(!vp8_starts_keyframe(&[
            0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x11
        ]));
        // Truncated.
        assert!(!vp8_starts_keyframe(&[0x90, 0xe0, 0x81]));
        assert!(!vp8_starts_keyframe(&[]));
    }

    #[test]
    fn non_stun_datagrams_have_no_ufrag() {
        assert_eq!(stun_local_ufrag(&[0x80, 0x60, 0, 1]), None);
        assert_eq!(stun_local_ufrag(&[0x16, 0xfe, 0xfd]), None);
    }
}
