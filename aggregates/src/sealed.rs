//! Personal data and secrets inside events, sealed under a key per person.
//!
//! An event holds such a value as [`Sealed`]. In memory it serializes to
//! `{"sealedFor": <person>, "value": ...}`; before the event is written,
//! [`seal_json`] replaces the value with AES-256-GCM ciphertext under the
//! person's key, and [`open_json`] reverses that when the event is read.
//! The keys live outside the event table; destroying a person's key erases
//! every value sealed for them, and an erased value reads back as
//! [`Sealed::is_erased`] rather than as an error, so history still replays.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

const OWNER_FIELD: &str = "sealedFor";
const VALUE_FIELD: &str = "value";
const CIPHERTEXT_FIELD: &str = "ciphertext";
const ERASED_FIELD: &str = "erased";

/// Length of a person key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// A value that belongs to one person and is stored only in sealed form.
#[derive(Clone, PartialEq)]
pub struct Sealed<T> {
    owner: String,
    value: Option<T>,
}

impl<T> Sealed<T> {
    /// Marks `value` as personal data of `owner` (a person's uid).
    pub fn new(owner: impl Into<String>, value: T) -> Self {
        Self {
            owner: owner.into(),
            value: Some(value),
        }
    }

    /// The value, or `None` once its owner has been erased.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value, or `None` once its owner has been erased.
    pub fn into_inner(self) -> Option<T> {
        self.value
    }

    /// Whether the owner's key was destroyed before this value was read.
    pub fn is_erased(&self) -> bool {
        self.value.is_none()
    }

    /// The person this value belongs to.
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

impl<T> fmt::Debug for Sealed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.value.is_some() {
            "***"
        } else {
            "erased"
        };
        write!(f, "Sealed({}: {state})", self.owner)
    }
}

#[derive(Serialize, Deserialize)]
struct Wire<T> {
    #[serde(rename = "sealedFor")]
    owner: String,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    value: Option<T>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    erased: bool,
}

fn none<T>() -> Option<T> {
    None
}

impl<T: Serialize> Serialize for Sealed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            owner: self.owner.clone(),
            value: self.value.as_ref(),
            erased: self.is_erased(),
        }
        .serialize(serializer)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Sealed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::<T>::deserialize(deserializer)?;
        if wire.value.is_none() && !wire.erased {
            return Err(serde::de::Error::custom(
                "sealed value is neither opened nor erased",
            ));
        }
        Ok(Self {
            owner: wire.owner,
            value: wire.value,
        })
    }
}

/// A person's key, or the fact that it was destroyed.
#[derive(Clone)]
pub enum PersonKey {
    Live(Box<[u8; KEY_LEN]>),
    Destroyed,
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Live(_) => f.write_str("PersonKey(***)"),
            Self::Destroyed => f.write_str("PersonKey(destroyed)"),
        }
    }
}

impl PersonKey {
    /// Draws a fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SealError::Crypto)?;
        Ok(Self::Live(Box::new(bytes)))
    }

    /// Restores a key from its stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SealError::Crypto)?;
        Ok(Self::Live(Box::new(bytes)))
    }

    /// The raw key, for the key store only.
    pub fn bytes(&self) -> Option<&[u8; KEY_LEN]> {
        match self {
            Self::Live(bytes) => Some(bytes),
            Self::Destroyed => None,
        }
    }
}

/// Keys by owner, fetched by the caller for every owner [`owners_in`] names.
pub type KeyRing = HashMap<String, PersonKey>;

/// Why sealing or opening failed. An erased owner is not an error.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("no key was supplied for a sealed value's owner")]
    MissingKey,
    #[error("a sealed value is malformed")]
    Malformed,
    #[error("a sealed value does not authenticate under its owner's key")]
    Crypto,
}

/// Every owner whose data the JSON document holds sealed or to be sealed.
pub fn owners_in(document: &Value) -> Vec<String> {
    let mut owners = Vec::new();
    visit_sealed(document, &mut |object| {
        if let Some(Value::String(owner)) = object.get(OWNER_FIELD)
            && !owners.contains(owner)
        {
            owners.push(owner.clone());
        }
    });
    owners
}

/// Every owner named in any of `documents`, each once.
pub fn owners_in_all<'a>(documents: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let all = documents.into_iter().flat_map(owners_in);
    all.filter(|owner| seen.insert(owner.clone())).collect()
}

fn visit_sealed(value: &Value, visit: &mut impl FnMut(&Map<String, Value>)) {
    match value {
        Value::Object(object) if object.contains_key(OWNER_FIELD) => visit(object),
        Value::Object(object) => object.values().for_each(|v| visit_sealed(v, visit)),
        Value::Array(items) => items.iter().for_each(|v| visit_sealed(v, visit)),
        _ => {}
    }
}

fn transform_sealed(
    value: &mut Value,
    transform: &mut impl FnMut(&mut Map<String, Value>) -> Result<(), SealError>,
) -> Result<(), SealError> {
    match value {
        Value::Object(object) if object.contains_key(OWNER_FIELD) => transform(object),
        Value::Object(object) => object
            .values_mut()
            .try_for_each(|v| transform_sealed(v, transform)),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| transform_sealed(v, transform)),
        _ => Ok(()),
    }
}

/// Replaces every opened value in `document` by its ciphertext. A value whose
/// owner's key is destroyed is written as erased: it is never stored in clear.
pub fn seal_json(document: &mut Value, keys: &KeyRing) -> Result<(), SealError> {
    transform_sealed(document, &mut |object| {
        let Some(plain) = object.remove(VALUE_FIELD) else {
            return Ok(());
        };
        let owner = owner_of(object)?;
        match keys.get(&owner).ok_or(SealError::MissingKey)? {
            PersonKey::Live(key) => {
                let ciphertext = encrypt(
                    key,
                    &owner,
                    &serde_json::to_vec(&plain).map_err(|_| SealError::Malformed)?,
                )?;
                object.insert(CIPHERTEXT_FIELD.into(), Value::String(ciphertext));
            }
            PersonKey::Destroyed => {
                object.insert(ERASED_FIELD.into(), Value::Bool(true));
            }
        }
        Ok(())
    })
}

/// Replaces every ciphertext in `document` by its value, or marks it erased
/// when the owner's key is destroyed.
pub fn open_json(document: &mut Value, keys: &KeyRing) -> Result<(), SealError> {
    transform_sealed(document, &mut |object| {
        let Some(Value::String(ciphertext)) = object.remove(CIPHERTEXT_FIELD) else {
            return Ok(());
        };
        let owner = owner_of(object)?;
        match keys.get(&owner).ok_or(SealError::MissingKey)? {
            PersonKey::Live(key) => {
                let plain = decrypt(key, &owner, &ciphertext)?;
                let value = serde_json::from_slice(&plain).map_err(|_| SealError::Malformed)?;
                object.insert(VALUE_FIELD.into(), value);
            }
            PersonKey::Destroyed => {
                object.insert(ERASED_FIELD.into(), Value::Bool(true));
            }
        }
        Ok(())
    })
}

/// Marks string fields of event metadata (a flat map of strings) as personal
/// data of `owner`, ready for [`seal_json`].
pub fn mark_metadata(metadata: &mut Value, owner: &str, fields: &[&str]) {
    let Value::Object(map) = metadata else { return };
    for field in fields {
        if let Some(Value::String(plain)) = map.remove(*field) {
            let marked = serde_json::json!({ OWNER_FIELD: owner, VALUE_FIELD: plain });
            map.insert((*field).to_string(), marked);
        }
    }
}

/// Opens sealed metadata fields and turns them back into plain strings; a
/// field whose owner is erased is left out.
pub fn open_metadata(metadata: &mut Value, keys: &KeyRing) -> Result<(), SealError> {
    open_json(metadata, keys)?;
    let Value::Object(map) = metadata else {
        return Ok(());
    };
    let sealed_fields: Vec<String> = map
        .iter()
        .filter(|(_, v)| v.get(OWNER_FIELD).is_some())
        .map(|(k, _)| k.clone())
        .collect();
    for field in sealed_fields {
        if let Some(Value::Object(mut object)) = map.remove(&field)
            && let Some(value) = object.remove(VALUE_FIELD)
        {
            map.insert(field, value);
        }
    }
    Ok(())
}

fn owner_of(object: &Map<String, Value>) -> Result<String, SealError> {
    match object.get(OWNER_FIELD) {
        Some(Value::String(owner)) => Ok(owner.clone()),
        _ => Err(SealError::Malformed),
    }
}

fn cipher(key: &[u8; KEY_LEN]) -> Result<LessSafeKey, SealError> {
    let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| SealError::Crypto)?;
    Ok(LessSafeKey::new(unbound))
}

/// Nonce ‖ ciphertext ‖ tag, base64. The owner is bound in as associated
/// data so that a ciphertext moved to another person's event fails to open.
fn encrypt(key: &[u8; KEY_LEN], owner: &str, plain: &[u8]) -> Result<String, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Crypto)?;
    let mut buffer = plain.to_vec();
    cipher(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(owner.as_bytes()),
            &mut buffer,
        )
        .map_err(|_| SealError::Crypto)?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&buffer);
    Ok(STANDARD.encode(sealed))
}

fn decrypt(key: &[u8; KEY_LEN], owner: &str, encoded: &str) -> Result<Vec<u8>, SealError> {
    let mut sealed = STANDARD.decode(encoded).map_err(|_| SealError::Malformed)?;
    if sealed.len() < NONCE_LEN {
        return Err(SealError::Malformed);
    }
    let mut body = sealed.split_off(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&sealed).map_err(|_| SealError::Malformed)?;
    let plain = cipher(key)?
        .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut body)
        .map_err(|_| SealError::Crypto)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Event {
        address: Sealed<String>,
        count: u32,
    }

    fn ring(owner: &str, key: PersonKey) -> KeyRing {
        HashMap::from([(owner.to_string(), key)])
    }

    #[test]
    fn sealed_documents_hold_no_plaintext_and_open_again() {
        let event = Event {
            address: Sealed::new("p1", "bob@example.org".into()),
            count: 3,
        };
        let keys = ring("p1", PersonKey::generate().unwrap());
        let mut document = serde_json::to_value(&event).unwrap();
        assert_eq!(owners_in(&document), vec!["p1".to_string()]);

        seal_json(&mut document, &keys).unwrap();
        assert!(!document.to_string().contains("bob@"));

        open_json(&mut document, &keys).unwrap();
        assert_eq!(serde_json::from_value::<Event>(document).unwrap(), event);
    }

    #[test]
    fn a_destroyed_key_reads_as_erased_data() {
        let event = Event {
            address: Sealed::new("p1", "bob@example.org".into()),
            count: 3,
        };
        let mut document = serde_json::to_value(&event).unwrap();
        seal_json(&mut document, &ring("p1", PersonKey::generate().unwrap())).unwrap();

        open_json(&mut document, &ring("p1", PersonKey::Destroyed)).unwrap();
        let read: Event = serde_json::from_value(document).unwrap();
        assert!(read.address.is_erased());
        assert_eq!(read.count, 3);
    }

    #[test]
    fn sealing_for_a_destroyed_key_stores_nothing() {
        let mut document = json!({"name": {"sealedFor": "p1", "value": "Bob"}});
        seal_json(&mut document, &ring("p1", PersonKey::Destroyed)).unwrap();
        assert_eq!(
            document,
            json!({"name": {"sealedFor": "p1", "erased": true}})
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_owner_does_not_open() {
        let key = PersonKey::generate().unwrap();
        let mut document = json!({"name": {"sealedFor": "p1", "value": "Bob"}});
        seal_json(&mut document, &ring("p1", key.clone())).unwrap();
        document["name"]["sealedFor"] = json!("p2");
        assert!(matches!(
            open_json(&mut document, &ring("p2", key)),
            Err(SealError::Crypto)
        ));
    }

    #[test]
    fn metadata_fields_seal_and_open_back_to_strings() {
        let keys = ring("p1", PersonKey::generate().unwrap());
        let mut metadata = json!({"actor": "p1", "client_address": "192.0.2.7"});
        mark_metadata(&mut metadata, "p1", &["client_address"]);
        seal_json(&mut metadata, &keys).unwrap();
        assert!(!metadata.to_string().contains("192.0.2.7"));

        let mut erased = metadata.clone();
        open_metadata(&mut metadata, &keys).unwrap();
        assert_eq!(
            metadata,
            json!({"actor": "p1", "client_address": "192.0.2.7"})
        );
        open_metadata(&mut erased, &ring("p1", PersonKey::Destroyed)).unwrap();
        assert_eq!(erased, json!({"actor": "p1"}));
    }

    #[test]
    fn debug_output_never_shows_the_value() {
        let sealed = Sealed::new("p1", "secret".to_string());
        assert!(!format!("{sealed:?}").contains("secret"));
    }
}
