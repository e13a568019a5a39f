//! Convene's selective forwarding unit.
//!
//! [`forwarding`] is the sans-IO core of a room: subscriptions, simulcast layer choice,
//! keyframe requests and active-speaker detection, driven by inputs and virtual time.
//!
//! Architecture invariant: this crate knows nothing about HTTP, SQL or Redis.

pub mod forwarding;
