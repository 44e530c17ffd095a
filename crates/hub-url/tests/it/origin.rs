//! Origins of tricky URLs: the host a token would go to is the host the URL reaches.

use hub_url::{Endpoint, Error, Origin, parse_http_url};

type TestResult = Result<(), Error>;

fn same(a: &str, b: &str) -> Result<bool, Error> {
    Ok(Origin::parse(a)? == Origin::parse(b)?)
}

#[test]
fn user_info_is_not_the_host() -> TestResult {
    let evil_user = Origin::parse("http://evil@hub:1/")?;
    assert_eq!((evil_user.host(), evil_user.port()), ("hub", 1));
    let hub_user = Origin::parse("http://hub:1@evil/")?;
    assert_eq!((hub_user.host(), hub_user.port()), ("evil", 80));
    assert!(!same("http://hub:1@evil/", "http://hub:1/")?);
    Ok(())
}

#[test]
fn default_ports_are_explicit() -> TestResult {
    assert!(same("https://h:443", "https://h")?);
    assert!(same("http://h:80", "http://h/")?);
    assert!(!same("https://h:80", "https://h")?);
    assert!(!same("http://h:443", "https://h")?);
    assert!(!same("http://h:1/", "https://h:1/")?);
    assert_eq!(Origin::parse("https://h")?.port(), 443);
    assert_eq!(Origin::parse("http://h")?.port(), 80);
    Ok(())
}

#[test]
fn ipv6_hosts_keep_their_brackets() -> TestResult {
    let origin = Origin::parse("http://[::1]:8080/")?;
    assert_eq!((origin.host(), origin.port()), ("[::1]", 8080));
    assert_eq!(origin.to_string(), "http://[::1]:8080");
    assert!(same("http://[0:0::1]:8080/x", "http://[::1]:8080")?);
    assert!(!same("http://[::1]:8080/", "http://127.0.0.1:8080/")?);
    Ok(())
}

#[test]
fn hosts_compare_as_the_parser_writes_them() -> TestResult {
    assert!(same("HTTPS://HuggingFace.CO/api", "https://huggingface.co")?);
    // Percent-encoding in a host is decoded, as the request itself would be sent.
    assert_eq!(Origin::parse("http://h%75b:1/")?.host(), "hub");
    assert!(same("http://h%75b:1/", "http://hub:1")?);
    assert!(same("http://127.1/", "http://127.0.0.1/")?);
    assert_eq!(Origin::parse("https://exämple.org")?.host(), "xn--exmple-cua.org");
    Ok(())
}

#[test]
fn dot_segments_stay_on_the_origin() -> TestResult {
    assert!(same("http://hub:1/../../evil/x", "http://hub:1")?);
    assert!(same("http://hub:1/a/..//evil.example/", "http://hub:1")?);
    // A backslash ends the host, as in a browser.
    assert_eq!(Origin::parse("http://hub\\@evil/")?.host(), "hub");
    Ok(())
}

#[test]
fn only_http_and_https_have_origins() {
    for input in [
        "ftp://hub/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/plain,x",
        "ssh://git@hub/org/repo",
        "git@hub:org/repo",
        "hub/x",
        "",
        "http://",
        "http://hub:99999/",
    ] {
        let refused = Origin::parse(input);
        assert!(
            matches!(refused, Err(Error::InvalidUrl { .. })),
            "{input:?}: {refused:?}"
        );
        assert!(parse_http_url(input).is_err(), "{input:?}");
    }
}

#[test]
fn credentials_go_only_to_the_same_origin_without_user_info() -> TestResult {
    let hub = Endpoint::new("http://hub:1/")?;
    let goes = |url: &str| -> Result<bool, Error> { Ok(hub.origin().credentials_go_to(&parse_http_url(url)?)) };
    assert!(goes("http://hub:1/api/models")?);
    assert!(goes("HTTP://HUB:1/a/../b")?);
    assert!(!goes("http://evil@hub:1/")?, "user info of its own");
    assert!(!goes("http://hub:1@evil/")?);
    assert!(!goes("http://u:p@hub:1/x")?);
    assert!(!goes("https://hub:1/")?);
    assert!(!goes("http://hub:2/")?);
    assert!(!goes("http://hub/")?);
    let public = Endpoint::default();
    assert!(
        public
            .origin()
            .credentials_go_to(&parse_http_url("https://huggingface.co:443/x")?)
    );
    Ok(())
}

#[test]
fn errors_name_the_url() {
    let message = Origin::parse("ftp://hub/x").map_err(|e| e.to_string()).err();
    assert_eq!(
        message.as_deref(),
        Some("invalid URL \"ftp://hub/x\": only http:// and https:// URLs are requested")
    );
    let message = parse_http_url("hub/x").map_err(|e| e.to_string()).err();
    assert_eq!(
        message.as_deref(),
        Some("invalid URL \"hub/x\": a URL must start with http:// or https://")
    );
}
