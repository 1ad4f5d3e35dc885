//! Entity tags for conditional GETs: a strong tag from the body's SHA-256,
//! and the `If-None-Match` comparison (weak comparison, as RFC 9110 asks
//! for GET).

use aws_lc_rs::digest::{SHA256, digest};
use axum::http::HeaderMap;
use axum::http::header::IF_NONE_MATCH;

/// The quoted tag of `body`.
pub fn of(body: &[u8]) -> String {
    let hash = digest(&SHA256, body);
    let hex: String = hash
        .as_ref()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Whether the request's `If-None-Match` names `tag` (or `*`).
pub fn matches(headers: &HeaderMap, tag: &str) -> bool {
    let wanted = tag.trim_start_matches("W/");
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == "*" || candidate == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_tag_matches_itself_weakly_in_lists_and_by_star() {
        let tag = of(b"{}");
        let mut headers = HeaderMap::new();
        assert!(!matches(&headers, &tag));
        for value in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"x\", {tag}"),
            "*".to_string(),
        ] {
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&value).unwrap());
            assert!(matches(&headers, &tag), "{value}");
        }
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!matches(&headers, &tag));
    }
}
