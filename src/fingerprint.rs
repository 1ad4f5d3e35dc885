//! A person's fingerprint: a few emoji derived from their uid, the same on
//! every call, so two people can compare an identity by eye.

use aws_lc_rs::digest::{SHA256, digest};
use serde::Serialize;
use utoipa::ToSchema;

/// How many emoji a fingerprint has: 32^5 ≈ 33 million combinations.
const LENGTH: usize = 5;

/// One emoji of a fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Emoji {
    /// The unique name of the emoji.
    pub name: &'static str,
    /// The emoji's code point in Unicode.
    pub code_point: u32,
    /// The English title.
    pub title: &'static str,
}

/// 32 emoji that look distinct at small sizes on every platform.
const EMOJI: [(&str, u32, &str); 32] = [
    ("christmasTree", 0x1F384, "christmas tree"),
    ("rocket", 0x1F680, "rocket"),
    ("cat", 0x1F408, "cat"),
    ("dog", 0x1F415, "dog"),
    ("fish", 0x1F41F, "fish"),
    ("octopus", 0x1F419, "octopus"),
    ("butterfly", 0x1F98B, "butterfly"),
    ("turtle", 0x1F422, "turtle"),
    ("penguin", 0x1F427, "penguin"),
    ("owl", 0x1F989, "owl"),
    ("sunflower", 0x1F33B, "sunflower"),
    ("cactus", 0x1F335, "cactus"),
    ("mushroom", 0x1F344, "mushroom"),
    ("apple", 0x1F34E, "red apple"),
    ("banana", 0x1F34C, "banana"),
    ("cherries", 0x1F352, "cherries"),
    ("pizza", 0x1F355, "pizza"),
    ("cake", 0x1F370, "shortcake"),
    ("coffee", 0x2615, "hot beverage"),
    ("guitar", 0x1F3B8, "guitar"),
    ("soccerBall", 0x26BD, "soccer ball"),
    ("bicycle", 0x1F6B2, "bicycle"),
    ("sailboat", 0x26F5, "sailboat"),
    ("airplane", 0x2708, "airplane"),
    ("umbrella", 0x2602, "umbrella"),
    ("snowflake", 0x2744, "snowflake"),
    ("rainbow", 0x1F308, "rainbow"),
    ("moon", 0x1F319, "crescent moon"),
    ("key", 0x1F511, "key"),
    ("lightBulb", 0x1F4A1, "light bulb"),
    ("anchor", 0x2693, "anchor"),
    ("crown", 0x1F451, "crown"),
];

/// The fingerprint of the person with `uid`.
pub fn of(uid: &str) -> Vec<Emoji> {
    let hash = digest(&SHA256, uid.as_bytes());
    hash.as_ref()
        .iter()
        .take(LENGTH)
        .map(|byte| {
            let (name, code_point, title) = EMOJI[usize::from(*byte) % EMOJI.len()];
            Emoji {
                name,
                code_point,
                title,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_person_always_has_the_same_fingerprint() {
        assert_eq!(of("533h18ygguvb0abc"), of("533h18ygguvb0abc"));
        assert_eq!(of("533h18ygguvb0abc").len(), LENGTH);
    }

    #[test]
    fn different_people_have_different_fingerprints() {
        assert_ne!(of("533h18ygguvb0abc"), of("533h18ygguvb0abd"));
    }

    #[test]
    fn every_code_point_is_a_character() {
        assert!(EMOJI.iter().all(|(_, cp, _)| char::from_u32(*cp).is_some()));
    }
}
