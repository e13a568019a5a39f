//! The scenarios, one module each. Each takes a [`crate::targets::Target`] (or starts its own
//! deployment), is bounded by its config's `validate`, stops by itself, and returns a
//! serialisable report.

pub mod api;
pub mod chaos;
pub mod chat;
pub mod compare;
pub mod connections;
pub mod join_storm;
pub mod media;
pub mod setup;

// The media scenarios (`media.rs`, `join_storm.rs`) are written by the media load-test
// engineer: declare them here (`pub mod media; pub mod join_storm;`) and add their
// subcommands in `main.rs` next to the marked place.
