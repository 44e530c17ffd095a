//! The redirect policy: which redirects are followed, and whether the token goes along.
//!
//! Redirects are followed by hand (never by the HTTP stack) so that the rule
//! lives in one place: the token is sent only to the endpoint's own origin,
//! so a redirect to a CDN on another host is followed without it.

use hub_url::{Origin, Url, parse_http_url};

/// How many redirects one request may follow.
pub const MAX_REDIRECTS: usize = 10;

/// Which redirects a request follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectPolicy {
    /// Follow every redirect (the token only ever goes to the endpoint's origin).
    #[default]
    Follow,
    /// Follow redirects within the same origin; return a redirect to another
    /// origin as the response (how file metadata is read: the Hub's `302` to
    /// the CDN carries the `X-Linked-*` headers).
    SameOriginOnly,
}

/// Resolves a reference (a `Location`, a `Link`) against the URL that answered
/// with it, as a browser does (`Url::join`); `None` unless it leads to an
/// `http` or `https` URL, so that no other scheme is ever requested.
pub(crate) fn join_http(base: &Url, reference: &str) -> Option<Url> {
    let mut next = base.join(reference).ok()?;
    Origin::of(&next).ok()?;
    // Credentials a server writes into a link are not followed: the HTTP
    // stack would send them as a `Basic` header to wherever the link leads.
    let _ = next.set_username("");
    let _ = next.set_password(None);
    Some(next)
}

/// Resolves a `Location` (or `Link`) against the URL that answered with it,
/// as text: the absolute `http`/`https` URL it leads to, without user info.
pub(crate) fn resolve_location(base: &str, location: &str) -> Option<String> {
    let base = parse_http_url(base).ok()?;
    join_http(&base, location).map(String::from)
}

/// Whether two URLs have one origin (scheme, host and port).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    matches!((Origin::of(a), Origin::of(b)), (Ok(a), Ok(b)) if a == b)
}

/// Whether a status is a redirect that carries a `Location`.
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() -> hub_url::Result<()> {
        let same =
            |a: &str, b: &str| -> hub_url::Result<bool> { Ok(same_origin(&parse_http_url(a)?, &parse_http_url(b)?)) };
        assert!(same("https://huggingface.co/api/x", "https://HuggingFace.co:443/y")?);
        assert!(same("http://127.0.0.1:8080?x", "http://127.0.0.1:8080/")?);
        assert!(same("http://u@h:1/a", "http://h:1/b")?);
        assert!(!same("http://localhost:1/a", "http://127.0.0.1:1/a")?);
        assert!(!same("http://h:1/a", "https://h:1/a")?);
        assert!(!same("https://h:80/a", "https://h/a")?);
        Ok(())
    }

    #[test]
    fn locations_resolve_like_a_browser() {
        let base = "http://h:1/org/repo/resolve/main/a/b.txt?x=1";
        assert_eq!(
            resolve_location(base, "/new/repo/resolve/main/a/b.txt").as_deref(),
            Some("http://h:1/new/repo/resolve/main/a/b.txt")
        );
        assert_eq!(
            resolve_location(base, "c.txt").as_deref(),
            Some("http://h:1/org/repo/resolve/main/a/c.txt")
        );
        assert_eq!(
            resolve_location(base, "https://cdn/x?sig=1").as_deref(),
            Some("https://cdn/x?sig=1")
        );
        assert_eq!(resolve_location(base, "//cdn/x").as_deref(), Some("http://cdn/x"));
        assert_eq!(resolve_location("http://h", "x").as_deref(), Some("http://h/x"));
        assert_eq!(
            resolve_location(base, "?y=2").as_deref(),
            Some("http://h:1/org/repo/resolve/main/a/b.txt?y=2")
        );
        assert_eq!(
            resolve_location(base, "../../../../../../../x").as_deref(),
            Some("http://h:1/x")
        );
        // User info a server writes into a Location is dropped.
        assert_eq!(
            resolve_location(base, "http://u:p@h:1/z").as_deref(),
            Some("http://h:1/z")
        );
        assert_eq!(
            resolve_location(base, "HTTPS://CDN:443/X").as_deref(),
            Some("https://cdn/X")
        );
    }

    #[test]
    fn locations_to_other_schemes_lead_nowhere() {
        let base = "http://h:1/a/b";
        for location in [
            "ftp://h/x",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:,x",
            "http://",
            "http://h:99999/",
        ] {
            assert_eq!(resolve_location(base, location), None, "{location}");
        }
        assert_eq!(resolve_location("ftp://h/a", "b"), None);
    }
}
