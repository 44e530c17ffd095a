//! A Hub access token that never shows itself in logs or error messages.

use std::fmt;

/// A Hub access token.
///
/// `Debug` and `Display` print a redacted form (`hf_***`), never the value; only
/// [`Token::expose`] gives the secret, for the `Authorization` header or the token file.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token, removing line breaks and the surrounding whitespace as the Python client
    /// does when it reads `HF_TOKEN` or the token file.
    pub fn new(s: impl Into<String>) -> Token {
        let mut s = s.into();
        s.retain(|c| c != '\r' && c != '\n');
        let trimmed = s.trim();
        if trimmed.len() != s.len() {
            s = trimmed.to_owned();
        }
        Token(s)
    }

    /// Like [`Token::new`], but `None` when nothing is left after cleaning: an empty
    /// `HF_TOKEN` or token file means "no token".
    pub fn non_empty(s: impl Into<String>) -> Option<Token> {
        Some(Token::new(s)).filter(|token| !token.0.is_empty())
    }

    /// The secret value, for the `Authorization` header or the token file.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The redacted form shown by `Debug` and `Display`: `hf_***` for a Hub token, `***` for
    /// anything else.
    pub fn redacted(&self) -> &'static str {
        if self.0.starts_with("hf_") { "hf_***" } else { "***" }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Token").field(&self.redacted()).finish()
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

    #[test]
    fn debug_and_display_never_show_the_value() {
        let token = Token::new(SECRET);
        for shown in [
            format!("{token}"),
            format!("{token:?}"),
            format!("{token:#?}"),
            token.to_string(),
        ] {
            assert!(!shown.contains(&SECRET[3..]), "{shown}");
            assert!(shown.contains("hf_***"), "{shown}");
        }
        let other = Token::new("api_org_secretvalue");
        assert_eq!(other.to_string(), "***");
        assert_eq!(format!("{other:?}"), "Token(\"***\")");
        assert_eq!(format!("{:?}", Some(&token)), "Some(Token(\"hf_***\"))");
    }

    #[test]
    fn expose_gives_the_value() {
        assert_eq!(Token::new(SECRET).expose(), SECRET);
    }

    #[test]
    fn cleans_whitespace_and_line_breaks() {
        assert_eq!(Token::new(format!("  {SECRET}\n")).expose(), SECRET);
        assert_eq!(Token::new(format!("{SECRET}\r\n")).expose(), SECRET);
        assert_eq!(Token::new("hf_ab\ncd").expose(), "hf_abcd");
        assert_eq!(Token::new("\thf_x ").expose(), "hf_x");
    }

    #[test]
    fn empty_means_no_token() {
        assert_eq!(Token::non_empty(""), None);
        assert_eq!(Token::non_empty(" \r\n\t"), None);
        assert_eq!(Token::non_empty(" hf_x\n"), Some(Token::new("hf_x")));
    }
}
