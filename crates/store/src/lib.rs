//! The durable record of Convene: users, sessions (refresh-token families), blocks,
//! conversations with their members, messages and event log, and one-to-one calls.
//!
//! One trait, [`Store`], with two implementations: [`SqliteStore`] (the embedded default, a
//! file in the data directory) and [`PostgresStore`] (production). Both pass the same
//! behavioural suite in `tests/suite/`. Only the binaries' wiring chooses one.
//!
//! Architecture invariant: this crate knows nothing about HTTP, tokens, passwords or Redis.
//! It stores hashes it is given and makes decisions that must be atomic (refresh-token
//! rotation, login lockout, gap-free event seqs, idempotent sends, one direct chat per pair,
//! call transitions as compare-and-set) inside one transaction; policy values come in as
//! arguments. Call state machines are `convene_calls`'s; the store only keeps their results.

mod call_rules;
mod chat_model;
mod chat_rules;
mod error;
mod model;
mod postgres;
mod rules;
mod sqlite;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use chat_model::{
    AppendOutcome, Conversation, ConversationEvent, ConversationKind, ConversationSummary,
    EventKind, Member, MemberRole, Message, NewGroup, NewMeeting, NewMessage, Reaction,
};
pub use error::{Error, Result};
pub use model::{
    LockoutPolicy, LoginFailure, NewSession, NewUser, PoolStats, Principal, ProfileUpdate,
    RefreshRotation, RotationOutcome, Session, User, UserKind,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use store::Store;
