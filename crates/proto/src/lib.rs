//! Convene's wire contract. The WebSocket protocol (`ClientFrame`, `ServerFrame`) and the
//! JSON shapes shared by the WebSocket and the REST API (`MessageView`, `EventView`, …).
//! TypeScript types for the web client are generated from these (`typescript.rs`,
//! committed as `crates/proto/typescript/protocol.ts`; a test fails when they differ).
//!
//! Architecture invariant: this crate is data only: serde, TypeScript and OpenAPI derives,
//! no logic, no IO, no dependency on other Convene crates. Changing a type here changes what
//! clients see: update docs/protocol.md in the same change.

mod frames;
mod meetings;
pub mod typescript;
mod views;

pub use frames::{ClientFrame, ErrorView, ServerFrame};
pub use meetings::{
    MeetingHostActionView, MeetingParticipantView, MeetingSourceKindView, MeetingSourceView,
    MeetingStreamView, MeetingWaitingView,
};
pub use views::{
    CallKindView, CallSignalView, CallStateView, CallView, ConversationKindView,
    ConversationSummaryView, ConversationView, EventKindView, EventView, MemberRoleView,
    MemberView, MessageView, ReactionView, ResumeCursor,
};

/// Largest text message, in characters (Unicode scalar values).
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Largest WebSocket frame a client may send, in bytes.
pub const MAX_CLIENT_FRAME_BYTES: usize = 32 * 1024;
