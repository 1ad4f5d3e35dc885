//! The read side of Skalio ID: reading the event store in one global order,
//! the projector that keeps every consumer caught up with checkpoints, the
//! read models and their queries, outgoing mail, and the key vault that
//! opens sealed personal data.
#![forbid(unsafe_code)]

pub mod blacklist;
pub mod deletion_notice;
pub mod email_view;
pub mod erasure;
pub mod event_log;
pub mod mail;
pub mod membership_view;
pub mod organization_view;
pub mod password_reset_view;
pub mod pending_removals;
pub mod position;
pub mod profile_view;
pub mod projector;
pub mod signaling;
pub mod token_view;
pub mod vault;

pub use position::Position;
