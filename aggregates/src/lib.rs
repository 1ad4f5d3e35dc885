//! The domain of Skalio ID: the Person, Organization and Token aggregates, their commands,
//! events and rules, and the sealing of personal data inside events.
//!
//! Nothing here knows about HTTP or SQL; what a rule needs from the outside
//! world (a password hasher, the registry of claimed addresses) comes in
//! through the aggregate's services.
#![forbid(unsafe_code)]

pub mod email;
pub mod locale;
pub mod organization;
pub mod password;
pub mod person;
pub mod sealed;
pub mod time_zone;
pub mod token;
