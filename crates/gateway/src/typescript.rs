//! TypeScript declarations of the REST bodies, for the web client (the WebSocket frames and
//! shared views come from `convene_proto::typescript`). Committed as
//! `crates/gateway/typescript/rest.ts`; a test fails when it differs.

use ts_rs::{Config, TS};

use crate::api::calls::CallList;
use crate::api::chat_views::{
    AddMemberRequest, ConversationDetail, ConversationList, CreateGroupRequest,
    CreateMeetingRequest, EditMessageRequest, EventAck, EventList, ForwardMessageRequest,
    MarkReadRequest, MessageList, PresenceEntry, PresenceList, ReactRequest, RenameRequest,
    SendMessageRequest, SentMessage, StartDirectRequest, UpdateMemberRequest, WebSocketTicket,
};
use crate::api::views::{
    AccountKind, ChangePasswordRequest, GuestRequest, HealthStatus, LoginRequest, LogoutRequest,
    MeView, ReadinessChecks, RefreshRequest, RegisterRequest, SessionResponse,
    UpdateProfileRequest, UserList, UserView,
};
use crate::error::{ErrorBody, ErrorDetail};
use crate::turn::{IceServer, IceServers};

/// Where the generated module is committed, relative to this crate.
pub const GENERATED_PATH: &str = "typescript/rest.ts";

/// The whole module. Types of the proto crate it refers to are imported from `@proto`.
pub fn rest_module() -> String {
    let config = Config::new().with_large_int("number");
    let declarations = [
        ErrorDetail::decl(&config),
        ErrorBody::decl(&config),
        AccountKind::decl(&config),
        MeView::decl(&config),
        UserView::decl(&config),
        UserList::decl(&config),
        RegisterRequest::decl(&config),
        LoginRequest::decl(&config),
        GuestRequest::decl(&config),
        RefreshRequest::decl(&config),
        LogoutRequest::decl(&config),
        SessionResponse::decl(&config),
        UpdateProfileRequest::decl(&config),
        ChangePasswordRequest::decl(&config),
        HealthStatus::decl(&config),
        ReadinessChecks::decl(&config),
        StartDirectRequest::decl(&config),
        CreateGroupRequest::decl(&config),
        CreateMeetingRequest::decl(&config),
        RenameRequest::decl(&config),
        AddMemberRequest::decl(&config),
        UpdateMemberRequest::decl(&config),
        ConversationList::decl(&config),
        ConversationDetail::decl(&config),
        MessageList::decl(&config),
        EventList::decl(&config),
        SendMessageRequest::decl(&config),
        ForwardMessageRequest::decl(&config),
        SentMessage::decl(&config),
        EditMessageRequest::decl(&config),
        ReactRequest::decl(&config),
        MarkReadRequest::decl(&config),
        EventAck::decl(&config),
        PresenceEntry::decl(&config),
        PresenceList::decl(&config),
        WebSocketTicket::decl(&config),
        CallList::decl(&config),
        IceServer::decl(&config),
        IceServers::decl(&config),
    ];
    let mut module = String::from(
        "// Generated from crates/gateway by `UPDATE_REST_TS=1 cargo test -p convene-gateway --lib typescript`.\n\
         // Do not edit: change the Rust types instead.\n\n\
         import type { CallView, ConversationSummaryView, ConversationView, EventView, MemberRoleView, MemberView, MessageView } from \"@proto\";\n\n",
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn committed_typescript_matches_the_rust_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GENERATED_PATH);
        let generated = rest_module();
        if std::env::var_os("UPDATE_REST_TS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `UPDATE_REST_TS=1 cargo test -p convene-gateway --lib typescript` and commit it",
            path.display()
        );
    }
}
