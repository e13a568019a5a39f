//! The bus: what gateway pods share that is not durable (presence, socket routing, fan-out,
//! the SFU registry). It grows with the features that need it; today it answers readiness.
//!
//! Two implementations of one trait: [`InProcessBus`] for the single-process embedded
//! default, and [`RedisBus`] (fred) for several gateway pods. Only the binaries' wiring
//! chooses one.
//!
//! Architecture invariant: the bus is a hint, never the truth. Nothing a user was told is
//! saved lives only here; losing Redis may delay events but never loses a message.

mod in_process;
mod redis;

pub use in_process::InProcessBus;
pub use redis::RedisBus;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid redis url")]
    InvalidUrl(#[source] fred::error::Error),
    #[error("redis unavailable")]
    Unavailable(#[source] fred::error::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// `in_process` or `redis`, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    /// Closes connections; called once at shutdown.
    async fn close(&self);
}
