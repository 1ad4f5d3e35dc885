//! The write side's event store: postgres-es underneath, with personal data
//! sealed on the way in and opened on the way out, and the command bus that
//! runs one command and returns once the read models show its events.

mod command_bus;
mod sealing_repository;

pub use command_bus::{CommandBus, RequestMeta};
pub use sealing_repository::SealingRepository;
