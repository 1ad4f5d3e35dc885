//! Passwords as they arrive from a person: held so that they cannot be
//! printed, and checked against the policy before anything is hashed.

use std::fmt;

/// Fewest characters a new password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// bcrypt reads at most 72 bytes; longer passwords are refused rather than
/// silently cut, so that no two different passwords share a hash.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A plaintext password. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must not be longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

impl Password {
    /// Wraps a password presented for checking; no policy applies to it.
    pub fn new(plaintext: String) -> Self {
        Self(plaintext)
    }

    /// Checks a password that is about to become a person's new one.
    pub fn check_policy(&self) -> Result<(), WeakPassword> {
        if self.0.chars().count() < MIN_PASSWORD_CHARS {
            return Err(WeakPassword::TooShort);
        }
        if self.0.len() > MAX_PASSWORD_BYTES {
            return Err(WeakPassword::TooLong);
        }
        Ok(())
    }

    /// The plaintext, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bounds_length_in_characters_and_bytes() {
        assert_eq!(
            Password::new("short".into()).check_policy(),
            Err(WeakPassword::TooShort)
        );
        assert!(Password::new("long enough".into()).check_policy().is_ok());
        let too_long = Password::new("ü".repeat(37));
        assert_eq!(too_long.check_policy(), Err(WeakPassword::TooLong));
    }

    #[test]
    fn debug_output_hides_the_plaintext() {
        let shown = format!("{:?}", Password::new("CorrectHorse".into()));
        assert!(!shown.contains("CorrectHorse"));
    }
}
