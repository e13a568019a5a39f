//! One-to-one calls: signalling over the existing WebSocket. The state machine is
//! `convene_calls` (pure); this module authorises, persists each transition with a
//! compare-and-set (any pod may handle any request), tells both participants, relays WebRTC
//! negotiation to the right connection, and rings calls out when nobody answers. Adding a
//! third person moves the call to a group meeting on the SFU (`upgrade.rs`).

pub mod signalling;
pub mod sweeper;
pub mod upgrade;

pub use signalling::{call_view, hang_up_calls_of_connection};
