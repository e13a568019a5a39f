//! The gateway: Convene's HTTP surface. REST under `/api/v1/` (accounts, sessions, profiles,
//! user search, blocks), health and metrics, the generated OpenAPI document, and the
//! cross-cutting protections (origin checks, rate limits, body limits, security headers).
//!
//! It depends on the [`convene_store::Store`] and [`convene_bus::Bus`] traits, never on a
//! particular database or Redis; the binary picks the implementations and builds
//! [`AppState`].
//!
//! Architecture invariant: a gateway pod holds no state another pod could not rebuild.
//! Everything durable is in the store; everything shared and ephemeral is on the bus; what
//! is local (rate-limit buckets, metrics) may be lost with the pod.

pub mod api;
pub mod auth;
pub mod calls;
pub mod chat;
pub mod clock;
mod error;
pub mod meetings;
pub mod metrics;
mod middleware;
pub mod process_metrics;
pub mod rate_limit;
mod settings;
mod state;
pub mod turn;
pub mod typescript;
mod validate;
pub mod web;

pub use api::router;
pub use error::{ApiError, ApiResult, ErrorBody};
pub use settings::GatewaySettings;
pub use state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no signing key configured")]
    NoSigningKey,
    #[error("password hashing could not be initialised")]
    PasswordHashing,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
