//! Time zones as people and organizations name them: IANA names.

/// Longest time zone name accepted (the IANA database's longest is 32).
pub const MAX_TIME_ZONE_CHARS: usize = 64;

/// Whether `name` is a time zone of the IANA database.
pub fn is_known(name: &str) -> bool {
    name.chars().count() <= MAX_TIME_ZONE_CHARS && name.parse::<chrono_tz::Tz>().is_ok()
}
