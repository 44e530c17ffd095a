//! Tokens cut out of text shown to people: a server's error message, git's
//! stderr, the CLI's last word. A hostile or broken server may echo the
//! `Authorization` header it was sent; every layer redacts the same way.

use std::borrow::Cow;

use crate::token::Token;

/// The prefix of every Hub access token.
const HUB_TOKEN_PREFIX: &str = "hf_";

/// The fewest token characters after `hf_` that make a token. Real tokens carry
/// 34; shorter runs are words such as `hf_hub` or `hf_transfer`, while a token
/// a server cut short still goes.
const MIN_TOKEN_CHARS: usize = 16;

/// What a Hub token found in text becomes.
const REDACTED_HUB_TOKEN: &str = "hf_***";

/// The scheme before the credential of an `Authorization` header, lowercased.
const BEARER: &str = "bearer";

/// The fewest characters after `Bearer ` taken for a credential, so that prose
/// such as "a Bearer token is required" keeps its words.
const MIN_BEARER_CHARS: usize = 8;

/// A URL as a log line may show it: without its user info, query and
/// fragment (where presigned URLs carry their signatures), and with tokens
/// redacted from what is left.
///
/// ```
/// use hub_url::url_for_log;
///
/// assert_eq!(
///     url_for_log("https://user:pw@cdn.example/blob?X-Amz-Signature=abc#x"),
///     "https://cdn.example/blob"
/// );
/// ```
pub fn url_for_log(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    let without_userinfo = match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_string(),
    };
    redact_tokens(&without_userinfo, &[]).into_owned()
}

/// `text` with every Hub token in it redacted: each token in `held` (the
/// tokens this process may have sent, whatever their form), the credential
/// after `Bearer `, and anything that looks like a Hub token (`hf_` and at
/// least 16 ASCII letters or digits) become `hf_***` (`***` for a secret of
/// another form).
///
/// ```
/// use hub_url::{Token, redact_tokens};
///
/// let said = "bad token hf_abcdefghijklmnopqrstuvwxyz123456 (sent my-own-secret)";
/// assert_eq!(
///     redact_tokens(said, &[Token::new("my-own-secret")]),
///     "bad token hf_*** (sent ***)"
/// );
/// assert_eq!(redact_tokens("Authorization: Bearer abc_123-xyz", &[]), "Authorization: Bearer ***");
/// assert_eq!(redact_tokens("see hf_hub_download", &[]), "see hf_hub_download");
/// ```
pub fn redact_tokens<'a>(text: &'a str, held: &[Token]) -> Cow<'a, str> {
    let mut text = Cow::Borrowed(text);
    for token in held {
        let secret = token.expose();
        // An empty token would match between every two characters.
        if !secret.is_empty() && text.contains(secret) {
            text = Cow::Owned(text.replace(secret, token.redacted()));
        }
    }
    if let Some(cut) = bearer_credentials_cut(&text) {
        text = Cow::Owned(cut);
    }
    match hub_tokens_cut(&text) {
        Some(cut) => Cow::Owned(cut),
        None => text,
    }
}

/// `text` with the credential after each `Bearer` (in any case) replaced,
/// `None` when it holds none: a server echoing the `Authorization` header it
/// was sent shows the token whatever its form.
fn bearer_credentials_cut(text: &str) -> Option<String> {
    // ASCII lowercasing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut out = String::new();
    let mut written = 0;
    let mut search = 0;
    while let Some(at) = lower[search..].find(BEARER) {
        let word_end = search + at + BEARER.len();
        let spaces = text[word_end..]
            .bytes()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let start = word_end + spaces;
        let len = text[start..].bytes().take_while(is_token68).count();
        if spaces == 0 || len < MIN_BEARER_CHARS {
            search = word_end;
            continue;
        }
        out.push_str(&text[written..start]);
        out.push_str(Token::new(&text[start..start + len]).redacted());
        written = start + len;
        search = written;
    }
    (written > 0).then(|| out + &text[written..])
}

/// A character of an HTTP credential (RFC 9110's `token68`).
fn is_token68(byte: &u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// `text` with each run that looks like a Hub token replaced, `None` when it
/// holds none.
fn hub_tokens_cut(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    let mut found = false;
    while let Some(at) = rest.find(HUB_TOKEN_PREFIX) {
        let after = &rest[at + HUB_TOKEN_PREFIX.len()..];
        let run = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
        if run >= MIN_TOKEN_CHARS {
            // Tokens written back to back (`hf_…hf_…`) make one run up to the
            // second `_`: the `hf` before it starts the next token.
            let next_starts = after[run..].starts_with('_') && after[..run].ends_with("hf");
            let token_end = if next_starts { run - 2 } else { run };
            out.push_str(&rest[..at]);
            out.push_str(REDACTED_HUB_TOKEN);
            rest = &after[token_end..];
            found = true;
        } else {
            // Only the prefix is passed over: in `hf_abhf_…` a token starts
            // inside the short run.
            out.push_str(&rest[..at + HUB_TOKEN_PREFIX.len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "hf_abcdefghijklmnopqrstuvwxyz123456";

    fn redact(text: &str) -> String {
        redact_tokens(text, &[]).into_owned()
    }

    #[test]
    fn a_token_anywhere_is_cut() {
        assert_eq!(redact(TOKEN), "hf_***");
        assert_eq!(redact(&format!("{TOKEN} is bad")), "hf_*** is bad");
        assert_eq!(redact(&format!("bad token {TOKEN}")), "bad token hf_***");
        assert_eq!(redact(&format!("bad token {TOKEN}\n")), "bad token hf_***\n");
    }

    #[test]
    fn punctuation_around_a_token_stays() {
        for (text, expected) in [
            (format!("\"{TOKEN}\""), "\"hf_***\""),
            (format!("'{TOKEN}'."), "'hf_***'."),
            (format!("(Bearer {TOKEN})"), "(Bearer hf_***)"),
            (format!("token={TOKEN}&x=1"), "token=hf_***&x=1"),
            (format!("<{TOKEN}>,"), "<hf_***>,"),
            (format!("{TOKEN}_suffix"), "hf_***_suffix"),
            (format!("{TOKEN}-x"), "hf_***-x"),
            (format!("x{TOKEN}"), "xhf_***"),
            (format!("{TOKEN}é"), "hf_***é"),
        ] {
            assert_eq!(redact(&text), expected, "{text}");
        }
    }

    #[test]
    fn every_token_is_cut() {
        let other = "hf_ZYXWVUTSRQPONMLKJIHGFEDCBA987654";
        assert_eq!(
            redact(&format!("{TOKEN},{other} and {TOKEN}")),
            "hf_***,hf_*** and hf_***"
        );
        assert_eq!(redact(&format!("{TOKEN}{other}")), "hf_***hf_***", "back to back");
        assert_eq!(
            redact(&format!("hf_ab{TOKEN}")),
            "hf_abhf_***",
            "a token inside a short run"
        );
        assert_eq!(redact(&format!("hf_hf_{}", &TOKEN[3..])), "hf_hf_***");
    }

    #[test]
    fn words_that_only_start_like_a_token_stay() {
        for text in [
            "hf_",
            "hf_ alone",
            "hf__",
            "see hf_hub_download and hf_transfer",
            "username=hf_user",
            "hf_0123456789abcde",
            "HF_ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "",
            "no token here",
        ] {
            assert!(
                matches!(redact_tokens(text, &[]), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
        assert_eq!(
            redact("hf_0123456789abcdef"),
            "hf_***",
            "sixteen characters make a token"
        );
    }

    #[test]
    fn held_tokens_are_cut_whatever_their_form() {
        let held = [
            Token::new("hf_alice_write_0123456789"),
            Token::new("api_org_secret"),
            Token::new(""),
        ];
        assert_eq!(
            redact_tokens("Authorization: Bearer hf_alice_write_0123456789; api_org_secret", &held),
            "Authorization: Bearer hf_***; ***"
        );
        assert_eq!(redact_tokens("nothing held here", &held), "nothing held here");
    }

    #[test]
    fn bearer_credentials_are_cut_whatever_their_form() {
        for (text, expected) in [
            (
                r#"{"error":"bad header: Authorization: Bearer hf_alice_write_0123456789"}"#,
                r#"{"error":"bad header: Authorization: Bearer hf_***"}"#,
            ),
            ("authorization: bearer abc.def-ghi/jk==", "authorization: bearer ***"),
            ("BEARER\tsecretvalue1, next", "BEARER\t***, next"),
            ("Bearer a Bearer b Bearer 12345678", "Bearer a Bearer b Bearer ***"),
        ] {
            assert_eq!(redact(text), expected, "{text}");
        }
        for prose in [
            "a Bearer token is required",
            "Bearer",
            "Bearer ",
            "bearers",
            "Bearerabcdefghij",
        ] {
            assert_eq!(redact(prose), prose);
        }
    }
}
