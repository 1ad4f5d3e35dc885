//! Random identifiers and keys.

use rand::RngExt;

const UID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// No 0/O or 1/I: the key is read from a mail and typed.
const KEY_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A uid for a person or a token id: 16 characters, about 82 bits.
pub fn new_uid() -> String {
    random_string(UID_ALPHABET, 16)
}

/// A verification key for a mail: short enough to type, and only useful to
/// the person it was sent for, within its lifetime, under a rate limit.
pub fn new_verification_key() -> String {
    random_string(KEY_ALPHABET, 6)
}

/// A password reset key: it is the only proof a caller brings, so it is
/// long (32 characters, about 160 bits) rather than typeable.
pub fn new_reset_key() -> String {
    random_string(KEY_ALPHABET, 32)
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// The first label of a generated organization hostname.
pub fn new_hostname_label() -> String {
    random_string(UID_ALPHABET, 12)
}
