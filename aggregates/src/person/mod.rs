//! The Person aggregate: a registered human, their credentials, addresses
//! and profile.

mod addresses;
mod administration;
mod aggregate;
mod commands;
mod errors;
mod events;
mod password_reset;
mod services;
#[cfg(test)]
mod tests;

pub use administration::CLUSTER_ROLES;
pub use aggregate::{EmailState, Person};
pub use commands::{
    AddEmailAddress, AuthenticateWithPassword, ConfirmEmailAddress, DeleteAccount, DisableAccount,
    EnableAccount, ImportPerson, MarkEmailAddressPrimary, PersonCommand, RedeemPasswordResetKey,
    RegisterPerson, RemoveAvatar, RemoveEmailAddress, RemoveLapsedEmailAddress, ReplaceAvatar,
    RequestEmailVerification, RequestPasswordReset, SetClusterRoles, UpdateProfile,
    VerificationKey,
};
pub use errors::PersonError;
pub use events::PersonEvent;
pub use password_reset::reset_key_digest;
pub use services::{EmailAddressTaken, PersonServices, ServiceFailure};

/// Longest name a person may give.
pub const MAX_NAME_CHARS: usize = 200;
