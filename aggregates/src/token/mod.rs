//! The Token aggregate: one ID token, from issue through parking, pickup and
//! blacklisting to expiry. Its id is the token's `jti`, so that anything that
//! names a token (a logout, an access token's `sid`, a pickup token's `sid`)
//! names its aggregate.

mod aggregate;
mod commands;
mod errors;
mod events;
#[cfg(test)]
mod tests;

pub use aggregate::Token;
pub use commands::{BlacklistToken, IssueIdToken, ParkToken, PickUpParkedToken, TokenCommand};
pub use errors::TokenError;
pub use events::{BlacklistReason, IssuedFor, TokenEvent, TokenScope};
