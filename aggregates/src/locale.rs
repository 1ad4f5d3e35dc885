//! The locales the API document allows for persons and organizations.

use serde::{Deserialize, Serialize};

/// A preferred locale, spelled as the API document spells it (`de_DE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Locale {
    #[serde(rename = "de_DE")]
    DeDe,
    #[default]
    #[serde(rename = "en_US")]
    EnUs,
    #[serde(rename = "fr_FR")]
    FrFr,
    #[serde(rename = "ru_RU")]
    RuRu,
    #[serde(rename = "ko_KR")]
    KoKr,
    #[serde(rename = "zh_CN")]
    ZhCn,
    #[serde(rename = "zh_TW")]
    ZhTw,
    #[serde(rename = "ja_JP")]
    JaJp,
}

impl Locale {
    /// The document's spelling, as stored in read models.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeDe => "de_DE",
            Self::EnUs => "en_US",
            Self::FrFr => "fr_FR",
            Self::RuRu => "ru_RU",
            Self::KoKr => "ko_KR",
            Self::ZhCn => "zh_CN",
            Self::ZhTw => "zh_TW",
            Self::JaJp => "ja_JP",
        }
    }
}
