//! Arbitrary input to every parser of user input: nothing panics, and what is
//! accepted can neither leave its folder nor change a URL's shape.

use std::path::{Component, Path};

use hub_url::{
    Endpoint, HubConfig, RepoId, RepoType, Revision, Token, encode_path, encode_segment, filter_path, fnmatch,
    hf_hub_url, redact_tokens,
};
use proptest::prelude::*;

/// Text of every kind: printable, any `char` (controls, NUL, surrogates' neighbours),
/// and pieces that paths, URLs and ref names treat specially.
fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "Z",
        "0",
        "_",
        "-",
        ".",
        "..",
        "/",
        "//",
        "\\",
        "\0",
        "\n",
        "\t",
        " ",
        "~",
        "^",
        ":",
        "?",
        "*",
        "[",
        "]",
        "!",
        "@{",
        "@",
        "%",
        "%2F",
        "é",
        "日",
        ".lock",
        ".git",
        "--",
        "refs/",
        "hf_",
        "hf",
        "Bearer ",
        "0123456789abcdef",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat()),
    ]
}

fn repo_type() -> impl Strategy<Value = RepoType> {
    prop::sample::select(RepoType::ALL.to_vec())
}

/// Valid repo ids, of every shape the rules allow.
fn repo_id() -> impl Strategy<Value = RepoId> {
    "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,6}(/[a-zA-Z0-9_][a-zA-Z0-9._-]{0,6})?"
        .prop_filter_map("valid", |id| RepoId::new(&id).ok())
}

/// Valid revisions: branch-like names and arbitrary text that passes.
fn revision() -> impl Strategy<Value = Revision> {
    prop_oneof!["[a-zA-Z0-9_@-]{1,8}(/[a-zA-Z0-9_.@-]{1,8}){0,2}", text()]
        .prop_filter_map("valid", |rev| Revision::new(&rev).ok())
}

/// Python's `unquote` of what `quote` wrote: every `%XX` back to its byte.
fn percent_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'~')
}

/// `text` as a glob that matches only itself: each special character in a set of its own.
fn glob_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '*' | '?' | '[' => format!("[{c}]"),
            c => c.to_string(),
        })
        .collect()
}

proptest! {
    #[test]
    fn accepted_repo_ids_are_one_safe_name(id in prop_oneof![text(), "[a-zA-Z0-9._/-]{1,12}"], t in repo_type()) {
        let Ok(repo) = RepoId::new(&id) else { return Ok(()) };
        prop_assert_eq!(repo.as_str(), id.as_str());
        prop_assert!(id.is_ascii());
        prop_assert!(id.matches('/').count() <= 1, "{}", id);
        prop_assert!(!id.contains("..") && !id.contains("--"), "{}", id);
        for part in id.split('/') {
            prop_assert!(!part.is_empty() && !part.starts_with(['-', '.']), "{}", id);
        }
        let folder = repo.cache_folder_name(t);
        prop_assert!(!folder.contains(['/', '\\']) && !folder.starts_with('.'), "{}", folder);
        prop_assert_eq!(RepoId::parse_cache_folder_name(&folder), Some((t, repo)));
    }

    #[test]
    fn cache_folder_names_never_panic(folder in text()) {
        if let Some((t, repo)) = RepoId::parse_cache_folder_name(&folder) {
            prop_assert_eq!(repo.cache_folder_name(t), folder);
        }
    }

    #[test]
    fn accepted_revisions_stay_below_refs(rev in text()) {
        let Ok(revision) = Revision::new(&rev) else { return Ok(()) };
        prop_assert_eq!(revision.as_str(), rev.as_str());
        // `refs/{revision}` in the cache: only plain names, never `..`, a root or a prefix.
        let path = Path::new(revision.as_str());
        prop_assert!(path.is_relative(), "{:?}", rev);
        prop_assert!(path.components().all(|c| matches!(c, Component::Normal(_))), "{:?}", rev);
        prop_assert!(!rev.contains(['\\', '\0']), "{:?}", rev);
        // One URL segment.
        prop_assert!(!encode_segment(revision.as_str()).contains('/'));
        if let Some(number) = revision.pull_request() {
            prop_assert!(rev.strip_prefix("refs/pr/").is_some_and(|n| n.parse() == Ok(number)), "{:?}", rev);
        }
    }

    #[test]
    fn quoting_keeps_to_url_characters_and_round_trips(s in text()) {
        let path = encode_path(&s);
        let segment = encode_segment(&s);
        prop_assert!(path.bytes().all(|b| is_unreserved(b) || b == b'/' || b == b'%'), "{}", path);
        prop_assert!(segment.bytes().all(|b| is_unreserved(b) || b == b'%'), "{}", segment);
        prop_assert_eq!(percent_decode(&path), Some(s.clone()));
        prop_assert_eq!(percent_decode(&segment), Some(s));
    }

    #[test]
    fn resolve_urls_keep_each_part_in_its_place(
        repo in repo_id(),
        revision in revision(),
        filename in text(),
        t in repo_type(),
    ) {
        let endpoint = Endpoint::default();
        let url = hf_hub_url(&repo, &filename, &revision, t, &endpoint);
        prop_assert!(url.bytes().all(|b| b.is_ascii_graphic()), "{}", url);
        let rest = url.strip_prefix(&format!("{}/resolve/", endpoint.repo_url(t, &repo)));
        let Some((rev_part, file_part)) = rest.and_then(|r| r.split_once('/')) else {
            return Err(TestCaseError::fail(format!("not a resolve URL: {url}")));
        };
        prop_assert_eq!(percent_decode(rev_part), Some(revision.as_str().to_owned()));
        prop_assert_eq!(percent_decode(file_part), Some(filename));
    }

    #[test]
    fn globs_never_panic_and_match_themselves(pattern in text(), path in text()) {
        let _ = fnmatch(&pattern, &path);
        let _ = filter_path(&path, std::slice::from_ref(&pattern), std::slice::from_ref(&pattern));
        prop_assert!(fnmatch(&glob_escape(&path), &path), "{:?}", path);
        prop_assert!(fnmatch("*", &path));
        prop_assert!(filter_path(&path, &[], &[]));
        prop_assert!(!filter_path(&path, &[], &["*".to_owned()]));
    }

    #[test]
    fn a_folder_pattern_takes_everything_below(folder in "[a-z*?\\[\\]]{1,6}", below in text()) {
        let allow = [format!("{}/", glob_escape(&folder))];
        let path = format!("{folder}/{below}");
        prop_assert!(filter_path(&path, &allow, &[]), "{:?} under {:?}", path, allow);
    }

    #[test]
    fn a_hub_token_never_survives_redaction(
        before in text(),
        after in text(),
        secret in "[A-Za-z0-9]{16,40}",
    ) {
        let said = format!("{before}hf_{secret}{after}");
        let shown = redact_tokens(&said, &[]);
        prop_assert!(!shown.contains(&secret), "{:?} shown as {:?}", said, shown);
        prop_assert_eq!(redact_tokens(&shown, &[]), shown.clone(), "redaction is stable");
    }

    #[test]
    fn a_held_token_never_survives_redaction(
        before in text(),
        after in text(),
        secret in "[A-Za-z0-9_.-]{4,40}",
    ) {
        let said = format!("{before}{secret}{after}");
        let shown = redact_tokens(&said, &[Token::new(secret.as_str())]);
        prop_assert!(!shown.contains(&secret), "{:?} shown as {:?}", said, shown);
    }

    #[test]
    fn text_without_a_token_is_left_alone(said in any::<String>()) {
        prop_assume!(!said.contains("hf_") && !said.to_ascii_lowercase().contains("bearer"));
        prop_assert_eq!(redact_tokens(&said, &[]), said.as_str());
    }

    #[test]
    fn tokens_are_cleaned_and_never_shown(raw in text(), secret in "hf_[A-Za-z0-9]{8,40}") {
        let token = Token::new(raw.as_str());
        prop_assert!(!token.expose().contains(['\r', '\n']));
        prop_assert_eq!(token.expose(), token.expose().trim());
        let token = Token::new(secret.as_str());
        for shown in [format!("{token}"), format!("{token:?}")] {
            prop_assert!(!shown.contains(&secret), "{}", shown);
        }
    }

    #[test]
    fn settings_from_any_variables_never_panic(
        https in text(),
        all in text(),
        no_proxy in text(),
        endpoint in text(),
        flags in text(),
    ) {
        let _ = HubConfig::from_vars(|name| match name {
            "HTTPS_PROXY" | "http_proxy" => Some(https.clone()),
            "ALL_PROXY" => Some(all.clone()),
            "NO_PROXY" => Some(no_proxy.clone()),
            "HF_ENDPOINT" => Some(endpoint.clone()),
            "HF_HUB_OFFLINE" | "HF_HUB_DISABLE_SYMLINKS" | "HF_HUB_ETAG_TIMEOUT" => Some(flags.clone()),
            _ => None,
        });
        let _ = Endpoint::new(&endpoint);
    }

    #[test]
    fn proxy_passwords_never_show(
        scheme in prop::sample::select(vec!["http", "https", "socks5"]),
        user in "[a-z]{0,8}",
        password in "[A-Za-z0-9]{10,20}",
        host in "[a-z]{1,8}(\\.[a-z]{1,8})?",
        port in 1u16..,
        path in "(/[a-z@:]{0,6})?",
    ) {
        let url = format!("{scheme}://{user}:{password}@{host}:{port}{path}");
        let config = HubConfig::from_vars(|name| (name == "HTTPS_PROXY").then(|| url.clone()));
        let shown = format!("{config:?}");
        prop_assert!(!shown.contains(&password), "{}", shown);
    }
}
