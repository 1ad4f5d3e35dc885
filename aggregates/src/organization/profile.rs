//! An organization's profile: what it calls itself, where it lives and
//! which defaults its members inherit; and the rules its fields follow.

use serde::{Deserialize, Serialize};

use super::errors::OrganizationError;
use crate::locale::Locale;

/// Longest organization name.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest postal field (address lines, city, phone number and the like).
const MAX_FIELD_CHARS: usize = 200;
/// Longest corporate signature.
const MAX_SIGNATURE_CHARS: usize = 4000;
/// Longest URL.
const MAX_URL_CHARS: usize = 2048;
/// Longest hostname (RFC 1035).
const MAX_HOSTNAME_CHARS: usize = 253;

/// The profile of an organization. Company data, not personal data: it is
/// stored in the clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationProfile {
    pub name: String,
    pub locale: Locale,
    pub time_zone: String,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub post_code: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub phone_number: Option<String>,
    pub global_signature: Option<String>,
    pub legal_notice_url: Option<String>,
    pub privacy_policy_url: Option<String>,
}

/// Changes to a profile; a field left out keeps its value, an empty string
/// clears an optional field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileChanges {
    pub name: Option<String>,
    pub locale: Option<Locale>,
    pub time_zone: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub post_code: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub phone_number: Option<String>,
    pub global_signature: Option<String>,
    pub legal_notice_url: Option<String>,
    pub privacy_policy_url: Option<String>,
}

impl OrganizationProfile {
    /// A profile with only the required fields.
    pub fn new(name: String, locale: Locale, time_zone: String) -> Self {
        Self {
            name,
            locale,
            time_zone,
            address_line1: None,
            address_line2: None,
            post_code: None,
            city: None,
            state: None,
            country: None,
            phone_number: None,
            global_signature: None,
            legal_notice_url: None,
            privacy_policy_url: None,
        }
    }

    /// This profile with `changes` applied, every field checked.
    pub fn changed(&self, changes: ProfileChanges) -> Result<Self, OrganizationError> {
        let keep = |change: Option<String>, current: &Option<String>| match change {
            None => current.clone(),
            Some(value) if value.trim().is_empty() => None,
            Some(value) => Some(value.trim().to_string()),
        };
        let changed = Self {
            name: changes
                .name
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|| self.name.clone()),
            locale: changes.locale.unwrap_or(self.locale),
            time_zone: changes.time_zone.unwrap_or_else(|| self.time_zone.clone()),
            address_line1: keep(changes.address_line1, &self.address_line1),
            address_line2: keep(changes.address_line2, &self.address_line2),
            post_code: keep(changes.post_code, &self.post_code),
            city: keep(changes.city, &self.city),
            state: keep(changes.state, &self.state),
            country: keep(changes.country, &self.country),
            phone_number: keep(changes.phone_number, &self.phone_number),
            global_signature: keep(changes.global_signature, &self.global_signature),
            legal_notice_url: keep(changes.legal_notice_url, &self.legal_notice_url),
            privacy_policy_url: keep(changes.privacy_policy_url, &self.privacy_policy_url),
        };
        changed.check()?;
        Ok(changed)
    }

    /// Checks every field against its rule.
    pub fn check(&self) -> Result<(), OrganizationError> {
        let name_chars = self.name.trim().chars().count();
        if name_chars == 0 || name_chars > MAX_NAME_CHARS {
            return Err(OrganizationError::InvalidName);
        }
        if !crate::time_zone::is_known(&self.time_zone) {
            return Err(OrganizationError::UnknownTimeZone(self.time_zone.clone()));
        }
        let fields = [
            ("addressLine1", &self.address_line1, MAX_FIELD_CHARS),
            ("addressLine2", &self.address_line2, MAX_FIELD_CHARS),
            ("postCode", &self.post_code, MAX_FIELD_CHARS),
            ("city", &self.city, MAX_FIELD_CHARS),
            ("state", &self.state, MAX_FIELD_CHARS),
            ("country", &self.country, MAX_FIELD_CHARS),
            ("phoneNumber", &self.phone_number, MAX_FIELD_CHARS),
            (
                "globalSignature",
                &self.global_signature,
                MAX_SIGNATURE_CHARS,
            ),
        ];
        for (name, value, max) in fields {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(OrganizationError::FieldTooLong(name, max));
            }
        }
        for url in [&self.legal_notice_url, &self.privacy_policy_url]
            .into_iter()
            .flatten()
        {
            check_url(url)?;
        }
        Ok(())
    }
}

fn check_url(url: &str) -> Result<(), OrganizationError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid = url.chars().count() <= MAX_URL_CHARS
        && rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(OrganizationError::InvalidUrl(url.to_string()))
    }
}

/// The hostname in lower case if it is a valid DNS name: dot-separated
/// labels of letters, digits and inner hyphens, at least two labels.
pub fn check_hostname(hostname: &str) -> Result<String, OrganizationError> {
    let lower = hostname.trim().to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let valid = lower.len() <= MAX_HOSTNAME_CHARS
        && lower.split('.').count() >= 2
        && lower.split('.').all(label_ok);
    if valid {
        Ok(lower)
    } else {
        Err(OrganizationError::InvalidHostname(hostname.to_string()))
    }
}
