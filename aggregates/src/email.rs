//! Email addresses: the shape an address must have, and the case-insensitive
//! form under which uniqueness is decided.

use serde::{Deserialize, Serialize};

/// Longest address SMTP can carry (RFC 5321 path limit minus the brackets).
const MAX_ADDRESS_LENGTH: usize = 254;

/// An address as the person typed it, trimmed and checked for shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress(String);

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid email address")]
pub struct InvalidEmailAddress(pub String);

impl EmailAddress {
    /// Checks the shape: one `@`, a non-empty local part, a dotted domain,
    /// no whitespace or control characters. Deliverability is proven later
    /// by the verification mail, not here.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmailAddress> {
        let address = raw.trim();
        let invalid = || InvalidEmailAddress(address.to_string());
        if address.is_empty() || address.len() > MAX_ADDRESS_LENGTH {
            return Err(invalid());
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = address.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(address.to_string()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two addresses are compared in: one person's `Bob@Example.org`
    /// is another's `bob@example.org`.
    pub fn canonical(&self) -> String {
        canonical(&self.0)
    }
}

/// Case-folds an address for comparison and lookup.
pub fn canonical(address: &str) -> String {
    address.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_trims_them() {
        let address = EmailAddress::parse("  Bob.Smith+id@Example.org ").unwrap();
        assert_eq!(address.as_str(), "Bob.Smith+id@Example.org");
        assert_eq!(address.canonical(), "bob.smith+id@example.org");
    }

    #[test]
    fn refuses_malformed_addresses() {
        for raw in [
            "",
            "bob",
            "@example.org",
            "bob@",
            "bob@localhost",
            "bob @x.org",
            "a@b@c.de",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "{raw} accepted");
        }
        assert!(EmailAddress::parse(&format!("{}@x.org", "a".repeat(250))).is_err());
    }
}
