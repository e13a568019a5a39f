//! Store records → wire views. The only place that knows both shapes.

use convene_proto::{
    ConversationKindView, ConversationSummaryView, ConversationView, EventKindView, EventView,
    MemberRoleView, MemberView, MessageView, ReactionView,
};
use convene_store::{
    Conversation, ConversationEvent, ConversationKind, ConversationSummary, EventKind, Member,
    MemberRole, Message,
};

pub fn conversation_kind(kind: ConversationKind) -> ConversationKindView {
    match kind {
        ConversationKind::Direct => ConversationKindView::Direct,
        ConversationKind::Group => ConversationKindView::Group,
        ConversationKind::Meeting => ConversationKindView::Meeting,
    }
}

pub fn role(role: MemberRole) -> MemberRoleView {
    match role {
        MemberRole::Admin => MemberRoleView::Admin,
        MemberRole::Member => MemberRoleView::Member,
    }
}

pub fn conversation(conversation: &Conversation) -> ConversationView {
    ConversationView {
        id: conversation.id,
        kind: conversation_kind(conversation.kind),
        title: conversation.title.clone(),
        avatar_url: conversation.avatar_url.clone(),
        meeting_code: conversation.meeting_code.clone(),
        allow_guests: conversation.allow_guests,
        created_by: conversation.created_by,
        created_at: conversation.created_at,
        last_seq: conversation.last_seq,
        last_activity_at: conversation.last_activity_at,
    }
}

pub fn member(member: &Member) -> MemberView {
    MemberView {
        user_id: member.user_id,
        role: role(member.role),
        joined_at: member.joined_at,
        delivered_seq: member.delivered_seq,
        read_seq: member.read_seq,
    }
}

pub fn message(message: &Message) -> MessageView {
    MessageView {
        id: message.id,
        conversation_id: message.conversation_id,
        seq: message.seq,
        sender_id: message.sender_id,
        client_id: message.client_id.clone(),
        body: message.body.clone(),
        reply_to: message.reply_to,
        forwarded_from: message.forwarded_from,
        mentions: message.mentions.clone(),
        created_at: message.created_at,
        edited_at: message.edited_at,
        deleted_at: message.deleted_at,
        pinned_at: message.pinned_at,
        reactions: message
            .reactions
            .iter()
            .map(|reaction| ReactionView {
                emoji: reaction.emoji.clone(),
                count: u32::try_from(reaction.user_ids.len()).unwrap_or(u32::MAX),
                user_ids: reaction.user_ids.clone(),
            })
            .collect(),
    }
}

pub fn event(event: &ConversationEvent) -> EventView {
    let change = match &event.kind {
        EventKind::MessageCreated { message: created } => EventKindView::MessageCreated {
            message: message(created),
        },
        EventKind::MessageEdited {
            message_id,
            body,
            edited_at,
        } => EventKindView::MessageEdited {
            message_id: *message_id,
            body: body.clone(),
            edited_at: *edited_at,
        },
        EventKind::MessageDeleted { message_id } => EventKindView::MessageDeleted {
            message_id: *message_id,
        },
        EventKind::ReactionChanged {
            message_id,
            user_id,
            emoji,
            added,
        } => EventKindView::ReactionChanged {
            message_id: *message_id,
            user_id: *user_id,
            emoji: emoji.clone(),
            added: *added,
        },
        EventKind::MessagePinned { message_id, pinned } => EventKindView::MessagePinned {
            message_id: *message_id,
            pinned: *pinned,
        },
        EventKind::MemberJoined {
            user_id,
            role: member_role,
        } => EventKindView::MemberJoined {
            user_id: *user_id,
            role: role(*member_role),
        },
        EventKind::MemberLeft { user_id } => EventKindView::MemberLeft { user_id: *user_id },
        EventKind::MemberRoleChanged {
            user_id,
            role: member_role,
        } => EventKindView::MemberRoleChanged {
            user_id: *user_id,
            role: role(*member_role),
        },
        EventKind::CallLogged {
            call_id,
            caller_id,
            kind,
            outcome,
            duration_seconds,
        } => EventKindView::CallLogged {
            call_id: *call_id,
            caller_id: *caller_id,
            call_kind: match kind {
                convene_calls::CallKind::Voice => convene_proto::CallKindView::Voice,
                convene_calls::CallKind::Video => convene_proto::CallKindView::Video,
            },
            outcome: crate::calls::signalling::state_view(*outcome),
            duration_seconds: *duration_seconds,
        },
        EventKind::ConversationRenamed { title, avatar_url } => {
            EventKindView::ConversationRenamed {
                title: title.clone(),
                avatar_url: avatar_url.clone(),
            }
        }
    };
    EventView {
        conversation_id: event.conversation_id,
        seq: event.seq,
        actor_id: event.actor_id,
        at: event.at,
        change,
    }
}

pub fn summary(summary: &ConversationSummary) -> ConversationSummaryView {
    ConversationSummaryView {
        conversation: conversation(&summary.conversation),
        role: role(summary.membership.role),
        read_seq: summary.membership.read_seq,
        delivered_seq: summary.membership.delivered_seq,
        unread_count: summary.unread_count,
        mention_count: summary.mention_count,
        last_message: summary.last_message.as_ref().map(message),
        peer_id: summary.peer_id,
    }
}
