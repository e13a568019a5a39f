//! Input rules for account fields, in one place so the API and its docs agree.

use crate::error::{ApiError, ApiResult};

pub const MIN_USERNAME_CHARS: usize = 3;
pub const MAX_USERNAME_CHARS: usize = 32;
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_AVATAR_URL_CHARS: usize = 2048;
/// Generated guest usernames start with this; members cannot take it.
pub const GUEST_USERNAME_PREFIX: &str = "guest_";

/// Usernames are case-insensitive and stored lowercase: 3–32 of `a-z 0-9 _ .`, starting
/// with a letter, not ending with `.`, no `..`, and not starting with `guest_`.
pub fn normalize_username(raw: &str) -> ApiResult<String> {
    let username = raw.to_ascii_lowercase();
    let invalid = |why: &str| {
        ApiError::unprocessable(
            "invalid_username",
            format!(
                "Usernames are {MIN_USERNAME_CHARS}–{MAX_USERNAME_CHARS} characters of a–z, 0–9, \
                 '_' and '.', starting with a letter: {why}."
            ),
        )
    };
    let n_chars = username.chars().count();
    if !(MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&n_chars) {
        return Err(invalid("wrong length"));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    {
        return Err(invalid("it contains another character"));
    }
    if !username.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(invalid("it must start with a letter"));
    }
    if username.ends_with('.') || username.contains("..") {
        return Err(invalid("dots cannot end it or stand together"));
    }
    if username.starts_with(GUEST_USERNAME_PREFIX) {
        return Err(invalid(
            "names starting with 'guest_' are reserved for guests",
        ));
    }
    Ok(username)
}

/// Trimmed, 1–64 characters, no control characters.
pub fn normalize_display_name(raw: &str) -> ApiResult<String> {
    let display_name = raw.trim();
    let n_chars = display_name.chars().count();
    if n_chars == 0 || n_chars > MAX_DISPLAY_NAME_CHARS {
        return Err(ApiError::unprocessable(
            "invalid_display_name",
            format!("The display name must be 1–{MAX_DISPLAY_NAME_CHARS} characters."),
        ));
    }
    if display_name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_display_name",
            "The display name cannot contain control characters.",
        ));
    }
    Ok(display_name.to_owned())
}

/// A plausible address (`local@domain.tld`, no spaces, ≤ 254); lowercased domain.
pub fn normalize_email(raw: &str) -> ApiResult<String> {
    let email = raw.trim();
    let invalid = || ApiError::unprocessable("invalid_email", "That is not a valid email address.");
    if email.len() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains('@')
    {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// An absolute `https://` URL without spaces, ≤ 2048 characters. Plain http images would
/// be mixed content on an https deployment (and the CSP allows only https images).
pub fn normalize_avatar_url(raw: &str) -> ApiResult<String> {
    let url = raw.trim();
    let ok = url.len() <= MAX_AVATAR_URL_CHARS
        && url.starts_with("https://")
        && url.len() > "https://".len()
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<');
    if !ok {
        return Err(ApiError::unprocessable(
            "invalid_avatar_url",
            "The avatar must be an absolute https:// URL.",
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(normalize_username("Alice_B.2").unwrap(), "alice_b.2");
        for bad in [
            "al",
            "1alice",
            "alice!",
            "alice.",
            "al..ice",
            "guest_bob",
            "ålice",
            &"a".repeat(33),
        ] {
            assert_eq!(
                normalize_username(bad).unwrap_err().code,
                "invalid_username",
                "{bad}"
            );
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(normalize_display_name("  Alice  ").unwrap(), "Alice");
        assert!(normalize_display_name("   ").is_err());
        assert!(normalize_display_name("a\u{0007}b").is_err());
        assert!(normalize_display_name(&"é".repeat(65)).is_err());
        assert!(normalize_display_name(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn emails_need_a_domain_with_a_dot() {
        assert_eq!(
            normalize_email("Ann@Example.COM").unwrap(),
            "Ann@example.com"
        );
        for bad in [
            "ann",
            "ann@",
            "@x.io",
            "ann@localhost",
            "a b@x.io",
            "ann@.io",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn avatar_urls_are_absolute_http() {
        assert!(normalize_avatar_url("https://cdn.example.com/a.png").is_ok());
        assert!(normalize_avatar_url("javascript:alert(1)").is_err());
        assert!(normalize_avatar_url("http://cdn.example.com/a.png").is_err());
        assert!(normalize_avatar_url("https://").is_err());
    }
}
