//! The TypeScript declarations of the wire types, as one module for the web client.

use ts_rs::{Config, TS};

use crate::{
    CallKindView, CallSignalView, CallStateView, CallView, ClientFrame, ConversationKindView,
    ConversationSummaryView, ConversationView, ErrorView, EventKindView, EventView,
    MeetingHostActionView, MeetingParticipantView, MeetingSourceKindView, MeetingSourceView,
    MeetingStreamView, MeetingWaitingView, MemberRoleView, MemberView, MessageView, ReactionView,
    ResumeCursor, ServerFrame,
};

/// Where the generated module is committed, relative to this crate.
pub const GENERATED_PATH: &str = "typescript/protocol.ts";

/// The whole module: every wire type as an exported TypeScript declaration.
pub fn protocol_module() -> String {
    // Seqs and counts are JSON numbers (they stay far below 2^53), not bigint.
    let config = Config::new().with_large_int("number");
    let declarations = [
        ConversationKindView::decl(&config),
        MemberRoleView::decl(&config),
        ConversationView::decl(&config),
        MemberView::decl(&config),
        ReactionView::decl(&config),
        MessageView::decl(&config),
        EventKindView::decl(&config),
        EventView::decl(&config),
        ConversationSummaryView::decl(&config),
        CallKindView::decl(&config),
        CallStateView::decl(&config),
        CallView::decl(&config),
        CallSignalView::decl(&config),
        ResumeCursor::decl(&config),
        ErrorView::decl(&config),
        MeetingSourceKindView::decl(&config),
        MeetingSourceView::decl(&config),
        MeetingStreamView::decl(&config),
        MeetingParticipantView::decl(&config),
        MeetingWaitingView::decl(&config),
        MeetingHostActionView::decl(&config),
        ClientFrame::decl(&config),
        ServerFrame::decl(&config),
    ];
    let mut module = String::from(
        "// Generated from crates/proto by `UPDATE_PROTOCOL_TS=1 cargo test -p convene-proto`.\n\
         // Do not edit: change the Rust types instead.\n\n",
    );
    for declaration in declarations {
        module.push_str("export ");
        module.push_str(&declaration);
        module.push_str("\n\n");
    }
    module.truncate(module.trim_end().len());
    module.push('\n');
    module
}
