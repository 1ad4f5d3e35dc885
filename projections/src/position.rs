//! A place in the event store's global order.

use serde::{Deserialize, Serialize};

/// Events are ordered by the id of the transaction that wrote them, then by
/// the number each was given at insert. Only transactions older than every
/// running one are read, so this order never changes behind a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Position {
    pub transaction_id: i64,
    pub global_sequence: i64,
}

impl Position {
    /// Before the first event.
    pub const START: Self = Self {
        transaction_id: 0,
        global_sequence: 0,
    };
}
