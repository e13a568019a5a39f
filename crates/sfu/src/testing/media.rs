//! Synthetic media: VP8 and Opus RTP payloads that the SFU parses like a browser's, each
//! carrying a [`Stamp`] so that the receiver knows which packet it got and when it was sent.
//!
//! VP8 follows RFC 7741: every packet starts with a payload descriptor (X=1, I=1, a 15-bit
//! PictureID, like Chromium's), and the first packet of a frame has S=1, PID=0 and the VP8
//! payload header (RFC 6386 §9.1), whose P bit is 0 on keyframes. The SFU only looks at these
//! first bytes; the rest is filler.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

/// The payload types the participants offer (the SFU answers with the offerer's numbers).
pub const VIDEO_PAYLOAD_TYPE: u8 = 96;
pub const AUDIO_PAYLOAD_TYPE: u8 = 111;
pub const VIDEO_CLOCK_RATE: u32 = 90_000;
pub const AUDIO_CLOCK_RATE: u32 = 48_000;

/// One Opus frame every 20 ms.
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);
const AUDIO_PAYLOAD_BYTES: usize = 80;

const STAMP_MAGIC: u32 = 0x4356_4e42;
/// Bytes a stamp takes at the end of every synthetic payload.
pub const STAMP_LEN: usize = 20;

/// VP8 payload descriptor: X|S|PID byte, the I flag byte, and a 15-bit PictureID.
const VP8_DESCRIPTOR_LEN: usize = 4;
const VP8_KEYFRAME_HEADER_LEN: usize = 10;
const VP8_INTERFRAME_HEADER_LEN: usize = 3;

/// The clock every stamp is relative to. Publishers and subscribers live in one process, so
/// a send time read by the receiver means the same as its own `Instant::now()`.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// What the publisher wrote at the end of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The frame (video) or audio packet number, from 0.
    pub frame: u32,
    /// Counts every packet of the track from 0, so a receiver can tell what it missed.
    pub packet_index: u32,
    pub sent_at: Instant,
}

impl Stamp {
    fn put(&self, buffer: &mut BytesMut) {
        let sent_at_micros = self.sent_at.saturating_duration_since(epoch()).as_micros() as u64;
        buffer.put_u32(STAMP_MAGIC);
        buffer.put_u32(self.frame);
        buffer.put_u32(self.packet_index);
        buffer.put_u64(sent_at_micros);
    }

    /// The stamp at the end of a synthetic payload; `None` for anything else.
    pub fn read(payload: &[u8]) -> Option<Self> {
        let stamp = payload.get(payload.len().checked_sub(STAMP_LEN)?..)?;
        let word = |at: usize| {
            u32::from_be_bytes([stamp[at], stamp[at + 1], stamp[at + 2], stamp[at + 3]])
        };
        if word(0) != STAMP_MAGIC {
            return None;
        }
        let sent_at_micros = (u64::from(word(12)) << 32) | u64::from(word(16));
        Some(Self {
            frame: word(4),
            packet_index: word(8),
            sent_at: epoch() + Duration::from_micros(sent_at_micros),
        })
    }
}

/// The shape of a synthetic camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoPattern {
    pub frames_per_second: u32,
    pub bits_per_second: u32,
    /// Largest RTP payload; Chromium's are around 1100-1200 bytes.
    pub max_payload_bytes: usize,
    /// How much larger than an interframe a keyframe is.
    pub keyframe_size_factor: u32,
    /// A keyframe this often, besides the first frame and those asked for by PLI/FIR;
    /// `None` sends keyframes only then, which makes keyframe requests observable.
    pub keyframe_interval: Option<Duration>,
}

impl Default for VideoPattern {
    /// 30 fps at 1 Mbit/s in payloads of up to 1100 bytes, keyframes only on request.
    fn default() -> Self {
        Self {
            frames_per_second: 30,
            bits_per_second: 1_000_000,
            max_payload_bytes: 1100,
            keyframe_size_factor: 4,
            keyframe_interval: None,
        }
    }
}

impl VideoPattern {
    pub fn frame_interval(&self) -> Duration {
        Duration::from_secs(1) / self.frames_per_second.max(1)
    }

    pub fn timestamp_step(&self) -> u32 {
        VIDEO_CLOCK_RATE / self.frames_per_second.max(1)
    }

    pub fn frame_bytes(&self, keyframe: bool) -> usize {
        let interframe = (self.bits_per_second / 8 / self.frames_per_second.max(1)) as usize;
        if keyframe {
            interframe * self.keyframe_size_factor.max(1) as usize
        } else {
            interframe
        }
    }
}

/// Cuts synthetic VP8 frames into RTP payloads.
#[derive(Debug)]
pub struct Vp8Packetizer {
    picture_id: u16,
    max_payload_bytes: usize,
}

impl Vp8Packetizer {
    pub fn new(max_payload_bytes: usize) -> Self {
        Self {
            picture_id: rand::random::<u16>() & 0x7fff,
            // Room for the descriptor, the keyframe header and the stamp.
            max_payload_bytes: max_payload_bytes
                .max(VP8_DESCRIPTOR_LEN + VP8_KEYFRAME_HEADER_LEN + STAMP_LEN + 1),
        }
    }

    /// The payloads of one frame of `frame_bytes` (at least one packet); the stamps number
    /// packets from `first_packet_index`.
    pub fn frame(
        &mut self,
        frame: u32,
        keyframe: bool,
        frame_bytes: usize,
        first_packet_index: u32,
        sent_at: Instant,
    ) -> Vec<Bytes> {
        let per_packet = self.max_payload_bytes - VP8_DESCRIPTOR_LEN - STAMP_LEN;
        let n_packets = frame_bytes.div_ceil(per_packet).max(1);
        let picture_id = self.picture_id;
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        let mut remaining = frame_bytes.max(VP8_KEYFRAME_HEADER_LEN);
        (0..n_packets)
            .map(|packet_idx| {
                let first = packet_idx == 0;
                let body = remaining.min(per_packet);
                remaining -= body;
                let mut payload = BytesMut::with_capacity(VP8_DESCRIPTOR_LEN + body + STAMP_LEN);
                // X=1, S on the first packet, PID=0; I=1; M=1 and the 15-bit PictureID.
                payload.put_u8(0x80 | if first { 0x10 } else { 0x00 });
                payload.put_u8(0x80);
                payload.put_u16(0x8000 | picture_id);
                let mut filler = body;
                if first {
                    let header = vp8_payload_header(keyframe, frame_bytes);
                    payload.put_slice(&header);
                    filler = filler.saturating_sub(header.len());
                }
                payload.put_bytes(0x5a, filler);
                Stamp {
                    frame,
                    packet_index: first_packet_index + packet_idx as u32,
                    sent_at,
                }
                .put(&mut payload);
                payload.freeze()
            })
            .collect()
    }
}

/// RFC 6386 §9.1: the 3-byte frame tag (P bit first: 0 = keyframe, version 0, shown, the
/// size of the first partition), then on keyframes the start code and a 640x360 size.
fn vp8_payload_header(keyframe: bool, frame_bytes: usize) -> Vec<u8> {
    let first_partition_bytes = (frame_bytes / 8).clamp(1, (1 << 19) - 1) as u32;
    let tag = u32::from(!keyframe) | (1 << 4) | (first_partition_bytes << 5);
    let mut header = vec![tag as u8, (tag >> 8) as u8, (tag >> 16) as u8];
    if keyframe {
        header.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        header.extend_from_slice(&640u16.to_le_bytes());
        header.extend_from_slice(&360u16.to_le_bytes());
        debug_assert_eq!(header.len(), VP8_KEYFRAME_HEADER_LEN);
    } else {
        debug_assert_eq!(header.len(), VP8_INTERFRAME_HEADER_LEN);
    }
    header
}

/// True for the first packet of a VP8 keyframe: S=1 and PID=0 in the payload descriptor, and
/// the P bit of the payload header is 0. Written independently of the SFU's own parser, so
/// that a test checks it rather than repeats it.
pub fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    if first & 0x10 == 0 || first & 0x07 != 0 {
        return false;
    }
    let mut offset = 1;
    if first & 0x80 != 0 {
        let Some(&flags) = payload.get(1) else {
            return false;
        };
        offset = 2;
        if flags & 0x80 != 0 {
            match payload.get(offset) {
                Some(picture_id) if picture_id & 0x80 != 0 => offset += 2,
                Some(_) => offset += 1,
                None => return false,
            }
        }
        if flags & 0x40 != 0 {
            offset += 1;
        }
        if flags & 0x30 != 0 {
            offset += 1;
        }
    }
    payload.get(offset).is_some_and(|tag| tag & 0x01 == 0)
}

/// One synthetic Opus packet (a CELT fullband 20 ms TOC byte, then filler and the stamp).
pub fn opus_payload(frame: u32, sent_at: Instant) -> Bytes {
    let mut payload = BytesMut::with_capacity(AUDIO_PAYLOAD_BYTES + STAMP_LEN);
    payload.put_u8(0xfc);
    payload.put_bytes(0xa5, AUDIO_PAYLOAD_BYTES - 1);
    Stamp {
        frame,
        packet_index: frame,
        sent_at,
    }
    .put(&mut payload);
    payload.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_starts_with_s_pid0_and_p0_and_later_packets_do_not() {
        let mut packetizer = Vp8Packetizer::new(1100);
        let now = Instant::now();
        let keyframe = packetizer.frame(7, true, 16_000, 100, now);
        assert!(keyframe.len() > 1);
        assert!(vp8_starts_keyframe(&keyframe[0]));
        assert!(
            keyframe[1..]
                .iter()
                .all(|payload| !vp8_starts_keyframe(payload))
        );
        assert!(keyframe.iter().all(|payload| payload.len() <= 1100));
        let interframe = packetizer.frame(8, false, 4000, 110, now);
        assert!(
            interframe
                .iter()
                .all(|payload| !vp8_starts_keyframe(payload))
        );
    }

    #[test]
    fn stamps_survive_the_round_trip() {
        let mut packetizer = Vp8Packetizer::new(1100);
        let now = Instant::now();
        let payloads = packetizer.frame(3, false, 3000, 40, now);
        let stamps: Vec<Stamp> = payloads.iter().filter_map(|p| Stamp::read(p)).collect();
        assert_eq!(stamps.len(), payloads.len());
        assert_eq!(stamps[1].packet_index, 41);
        assert_eq!(stamps[1].frame, 3);
        assert!(stamps[0].sent_at.max(now) - stamps[0].sent_at.min(now) < Duration::from_millis(1));
        assert_eq!(Stamp::read(&opus_payload(9, now)).map(|s| s.frame), Some(9));
        assert_eq!(Stamp::read(b"not a stamp at all, really"), None);
    }
}
