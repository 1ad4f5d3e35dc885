//! The Token aggregate: one ID token, from issue to expiry. Its id is the
//! token's `jti`, so that anything that names a token (a logout, an access
//! token's `sid`) names its aggregate.

mod aggregate;
#[cfg(test)]
mod tests;

pub use aggregate::{
    IssueIdToken, IssuedFor, Token, TokenCommand, TokenError, TokenEvent, TokenScope,
};
