//! Input rules for chat: message bodies, client ids, reactions, titles, meeting codes.

use convene_proto::MAX_MESSAGE_CHARS;

use crate::error::{ApiError, ApiResult};

pub const MAX_CLIENT_ID_CHARS: usize = 64;
pub const MAX_TITLE_CHARS: usize = 64;
pub const MAX_GROUP_MEMBERS: usize = 256;
/// At most this many distinct `@username` mentions are resolved per message.
pub const MAX_MENTIONS: usize = 20;

pub fn check_body(body: &str) -> ApiResult<()> {
    if body.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "empty_message",
            "A message needs some text.",
        ));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::unprocessable(
            "message_too_long",
            format!("A message is at most {MAX_MESSAGE_CHARS} characters."),
        ));
    }
    Ok(())
}

pub fn check_client_id(client_id: &str) -> ApiResult<()> {
    let n_chars = client_id.chars().count();
    if n_chars == 0 || n_chars > MAX_CLIENT_ID_CHARS || client_id.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_client_id",
            format!("`client_id` must be 1–{MAX_CLIENT_ID_CHARS} printable characters."),
        ));
    }
    Ok(())
}

pub fn normalize_title(raw: &str) -> ApiResult<String> {
    let title = raw.trim();
    let n_chars = title.chars().count();
    if n_chars == 0 || n_chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_title",
            format!("A name is 1–{MAX_TITLE_CHARS} characters."),
        ));
    }
    Ok(title.to_owned())
}

/// The distinct `@username` tokens of a message, lowercased, at most [`MAX_MENTIONS`].
pub fn mentioned_usernames(body: &str) -> Vec<String> {
    let mut usernames: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find('@') {
        // An address like a@b.c is not a mention: the @ must start a word.
        let preceded_by_word = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric());
        rest = &rest[at + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if !preceded_by_word && name.len() >= 3 && !usernames.contains(&name) {
            usernames.push(name);
            if usernames.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    usernames
}

/// One emoji: a single pictograph, optionally with skin tone, variation selector, keycap,
/// zero-width-joiner sequences (families, professions) or a flag. Anything else — words,
/// several emoji, markup — is refused.
pub fn check_emoji(emoji: &str) -> ApiResult<()> {
    let invalid = || ApiError::unprocessable("invalid_emoji", "A reaction is one emoji.");
    let chars: Vec<char> = emoji.chars().collect();
    if chars.is_empty() || chars.len() > 16 || emoji.len() > 64 {
        return Err(invalid());
    }
    let is_component = |c: char| {
        matches!(c as u32,
            0x200D            // zero-width joiner
            | 0xFE0E | 0xFE0F // variation selectors
            | 0x20E3          // combining keycap
            | 0x1F3FB..=0x1F3FF // skin tones
            | 0xE0020..=0xE007F) // tags (subdivision flags)
    };
    let is_pictograph = |c: char| {
        matches!(c as u32,
            0x1F000..=0x1FAFF
            | 0x2600..=0x27BF
            | 0x2300..=0x23FF
            | 0x2B00..=0x2BFF
            | 0x2190..=0x21FF
            | 0x25A0..=0x25FF
            | 0x2934 | 0x2935 | 0x3030 | 0x303D | 0x3297 | 0x3299
            | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2)
    };
    // Keycaps: 1️⃣ #️⃣ *️⃣ — a digit, # or * followed by FE0F? and 20E3.
    if let [first, rest @ ..] = chars.as_slice()
        && (first.is_ascii_digit() || *first == '#' || *first == '*')
    {
        return if matches!(rest, ['\u{FE0F}', '\u{20E3}'] | ['\u{20E3}']) {
            Ok(())
        } else {
            Err(invalid())
        };
    }
    if !chars.iter().all(|c| is_pictograph(*c) || is_component(*c)) {
        return Err(invalid());
    }
    // Pictographs must be joined: two side by side are two emoji. Regional-indicator pairs
    // (flags) are the exception.
    let n_regional = chars
        .iter()
        .filter(|c| matches!(**c as u32, 0x1F1E6..=0x1F1FF))
        .count();
    if n_regional > 0 {
        return if n_regional == 2 && chars.len() == 2 {
            Ok(())
        } else {
            Err(invalid())
        };
    }
    let mut previous_was_pictograph = false;
    let mut n_pictographs = 0;
    for c in &chars {
        let pictograph = is_pictograph(*c) && !is_component(*c);
        if pictograph {
            if previous_was_pictograph {
                return Err(invalid());
            }
            n_pictographs += 1;
        }
        previous_was_pictograph = pictograph || (previous_was_pictograph && *c != '\u{200D}');
    }
    if n_pictographs == 0 {
        return Err(invalid());
    }
    Ok(())
}

/// A fresh meeting code like `abc-defg-hij` (26^10 ≈ 1.4e14 codes).
pub fn new_meeting_code() -> String {
    let mut bytes = [0u8; 10];
    rand::fill(&mut bytes);
    let letters: Vec<char> = bytes
        .iter()
        .map(|byte| char::from(b'a' + byte % 26))
        .collect();
    format!(
        "{}-{}-{}",
        letters[..3].iter().collect::<String>(),
        letters[3..7].iter().collect::<String>(),
        letters[7..].iter().collect::<String>()
    )
}

/// Accepts `abc-defg-hij`, `ABCDEFGHIJ` or a URL ending in the code; returns the canonical
/// form.
pub fn normalize_meeting_code(raw: &str) -> ApiResult<String> {
    let tail = raw.trim().rsplit('/').next().unwrap_or_default();
    let letters: String = tail
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if letters.len() != 10 || !letters.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(ApiError::not_found(
            "meeting_not_found",
            "There is no meeting with that code.",
        ));
    }
    Ok(format!(
        "{}-{}-{}",
        &letters[..3],
        &letters[3..7],
        &letters[7..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_emoji_are_accepted() {
        for emoji in [
            "👍",
            "❤️",
            "😂",
            "👍🏽",
            "👨‍👩‍👧‍👦",
            "🏳️‍🌈",
            "🇫🇷",
            "1️⃣",
            "#️⃣",
            "⭐",
            "🧑🏾‍💻",
            "☕",
        ] {
            assert!(check_emoji(emoji).is_ok(), "{emoji}");
        }
    }

    #[test]
    fn words_markup_and_several_emoji_are_refused() {
        for bad in [
            "",
            "a",
            "lol",
            "<b>",
            "👍👍",
            "👍 ",
            "🇫🇷🇩🇪",
            "1",
            "‍",
            "️",
            "👍x",
        ] {
            assert_eq!(
                check_emoji(bad).unwrap_err().code,
                "invalid_emoji",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mentions_are_words_starting_with_at() {
        assert_eq!(
            mentioned_usernames("hi @Alice and @bob.smith."),
            ["alice", "bob.smith"]
        );
        assert_eq!(
            mentioned_usernames("mail me at x@example.com"),
            Vec::<String>::new()
        );
        assert_eq!(mentioned_usernames("@al @alice @alice"), ["alice"]);
    }

    #[test]
    fn bodies_are_bounded_and_not_blank() {
        assert!(check_body("hi").is_ok());
        assert_eq!(check_body("  \n ").unwrap_err().code, "empty_message");
        assert!(check_body(&"é".repeat(4096)).is_ok());
        assert_eq!(
            check_body(&"é".repeat(4097)).unwrap_err().code,
            "message_too_long"
        );
    }

    #[test]
    fn meeting_codes_round_trip_in_any_spelling() {
        let code = new_meeting_code();
        assert_eq!(code.len(), 12);
        assert_eq!(normalize_meeting_code(&code).unwrap(), code);
        assert_eq!(
            normalize_meeting_code("ABCDEFGHIJ").unwrap(),
            "abc-defg-hij"
        );
        assert_eq!(
            normalize_meeting_code("https://x.example/m/abc-defg-hij").unwrap(),
            "abc-defg-hij"
        );
        assert!(normalize_meeting_code("abc").is_err());
    }
}
