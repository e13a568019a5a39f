//! Real-time chat: conversations, messages and their fan-out to live WebSocket connections,
//! presence and typing.
//!
//! - `operations`: what users do (send, edit, react, join, …), shared by REST and WebSocket:
//!   authorise by membership, write to the store, fan out.
//! - `hub`: this pod's connections; local delivery plus the bus for other pods.
//! - `connection`: one WebSocket: resume, per-conversation ordering, gap filling, heartbeats,
//!   slow-consumer protection.
//! - `presence`: online/offline and last seen, with heartbeats and dead-pod sweeps.
//!
//! Invariant: the store is the truth and the bus a hint. Every event has a gap-free seq per
//! conversation; a connection never skips one (it reads gaps from the store), so a lost or
//! late bus delivery delays an event but never loses it.

pub mod connection;
pub mod convert;
pub mod envelope;
pub mod hub;
pub mod operations;
pub mod presence;
pub mod rules;
