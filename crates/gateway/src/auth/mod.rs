//! Accounts and sessions: password policy and hashing, tokens, cookies, and the extractor
//! that turns a request into an authenticated user.

pub mod cookies;
pub mod extract;
pub mod password;
pub mod tokens;

pub use extract::Authenticated;
