//! The redirect policy: which redirects are followed, and whether the token goes along.
//!
//! Redirects are followed by hand (never by the HTTP stack) so that the rule
//! lives in one place: the token is sent only to the endpoint's own origin,
//! so a redirect to a CDN on another host is followed without it.

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

/// `scheme://host[:port]` of a URL, lowercased, with the default port left out.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

/// Resolves a `Location` header against the URL that answered with it.
pub fn resolve_location(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.contains("://") {
        return origin(location).map(|_| location.to_string());
    }
    let scheme = base.split_once("://")?.0;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let base_origin_end = base.find("://")? + 3;
    let path_start = base[base_origin_end..]
        .find(['/', '?', '#'])
        .map(|i| i + base_origin_end)
        .unwrap_or(base.len());
    let origin_part = &base[..path_start];
    if location.starts_with('/') {
        return Some(format!("{origin_part}{location}"));
    }
    let base_path = base[path_start..].split(['?', '#']).next().unwrap_or("");
    let dir = match base_path.rfind('/') {
        Some(i) => &base_path[..=i],
        None => "/",
    };
    if location.starts_with('?') {
        return Some(format!("{origin_part}{base_path}{location}"));
    }
    Some(format!("{origin_part}{dir}{location}"))
}

/// Whether a status is a redirect that carries a `Location`.
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("https://huggingface.co/api/x").as_deref(),
            Some("https://huggingface.co")
        );
        assert_eq!(
            origin("https://HuggingFace.co:443/x").as_deref(),
            Some("https://huggingface.co")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080?x").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_ne!(origin("http://localhost:1/a"), origin("http://127.0.0.1:1/a"));
        assert_ne!(origin("http://h:1/a"), origin("https://h:1/a"));
        assert_eq!(origin("ftp://h/a"), None);
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
    }
}
