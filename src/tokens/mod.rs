//! Tokens: the ES256 key ring shared through the database, the claims the
//! document defines, and signing and verifying on the request path.

mod claims;
mod keyring;
mod verifier;

pub use claims::{Claims, Scope, TOKEN_VERSION};
pub use keyring::{Jwk, Jwks, KeyRing};
pub use verifier::{TokenRejected, TokenService};
