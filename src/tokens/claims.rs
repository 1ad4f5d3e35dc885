//! The claims of Skalio ID tokens, named as the document names them.

use serde::{Deserialize, Serialize};

/// The `ver` claim of every token.
pub const TOKEN_VERSION: &str = "3.0";

/// What a token may be used for (its `scope` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// An ID token: obtains access tokens.
    Idtoken,
    /// A short-lived access token: authorizes API calls.
    Access,
    /// A single-use pickup token for a parked ID token.
    Park,
    /// A long-lived token that identifies a person where the document asks
    /// for one; it cannot be revoked.
    Uid,
}

/// The claims of an ID or access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The person's uid.
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// On an access token: the `jti` of the ID token it was obtained with, so
    /// that it dies with that token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub scope: Scope,
    pub ver: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(
        rename = "http://skalio.com/org_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub org_id: Option<String>,
    #[serde(rename = "authLevel")]
    pub auth_level: u8,
    #[serde(
        rename = "setPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub set_password: Option<bool>,
}
