//! The durable record of Convene: users, sessions (refresh-token families) and blocks,
//! and later conversations, messages and calls.
//!
//! One trait, [`Store`], with two implementations: [`SqliteStore`] (the embedded default, a
//! file in the data directory) and [`PostgresStore`] (production). Both pass the same
//! behavioural suite in `tests/suite/`. Only the binaries' wiring chooses one.
//!
//! Architecture invariant: this crate knows nothing about HTTP, tokens, passwords or Redis.
//! It stores hashes it is given and makes decisions that must be atomic (refresh-token
//! rotation, login lockout) inside one transaction; policy values come in as arguments.

mod error;
mod model;
mod postgres;
mod rules;
mod sqlite;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, Result};
pub use model::{
    LockoutPolicy, LoginFailure, NewSession, NewUser, PoolStats, Principal, ProfileUpdate,
    RefreshRotation, RotationOutcome, Session, User, UserKind,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use store::Store;
