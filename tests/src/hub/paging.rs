//! Cursor pagination with a GitHub-style `Link: <…>; rel="next"` header, and URL encoding.

/// Which slice of a listing one page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// First item.
    pub(crate) start: usize,
    /// One past the last item.
    pub(crate) end: usize,
    /// The cursor of the following page, when there is one.
    pub(crate) next: Option<usize>,
}

/// The page of a listing of `total` items at `cursor`, at most `page_size` items, never
/// going past `limit` items in all.
pub(crate) fn page(total: usize, cursor: Option<&str>, page_size: usize, limit: Option<usize>) -> Page {
    let cap = limit.map_or(total, |l| l.min(total));
    let start = cursor.and_then(|c| c.parse::<usize>().ok()).unwrap_or(0).min(cap);
    let end = start.saturating_add(page_size.max(1)).min(cap);
    Page {
        start,
        end,
        next: (end < cap).then_some(end),
    }
}

/// The `Link` header pointing at the page `cursor` of the same request: `base` is the
/// origin, `path` the request path as received, `query` its decoded parameters.
pub(crate) fn next_link(base: &str, path: &str, query: &[(String, String)], cursor: usize) -> String {
    let mut pairs: Vec<(String, String)> = query.iter().filter(|(k, _)| k != "cursor").cloned().collect();
    pairs.push(("cursor".to_string(), cursor.to_string()));
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("<{base}{path}?{query}>; rel=\"next\"")
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `/` too).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Page, next_link, page};

    #[test]
    fn pages_stop_at_the_limit() {
        assert_eq!(
            page(5, None, 2, None),
            Page {
                start: 0,
                end: 2,
                next: Some(2)
            }
        );
        assert_eq!(
            page(5, Some("4"), 2, None),
            Page {
                start: 4,
                end: 5,
                next: None
            }
        );
        assert_eq!(
            page(5, Some("2"), 2, Some(3)),
            Page {
                start: 2,
                end: 3,
                next: None
            }
        );
        assert_eq!(
            page(0, None, 2, None),
            Page {
                start: 0,
                end: 0,
                next: None
            }
        );
        assert_eq!(
            page(5, Some("junk"), 10, None),
            Page {
                start: 0,
                end: 5,
                next: None
            }
        );
    }

    #[test]
    fn link_keeps_the_query_and_replaces_the_cursor() {
        let query = vec![
            ("search".to_string(), "a b".to_string()),
            ("cursor".to_string(), "2".to_string()),
        ];
        assert_eq!(
            next_link("http://h:1", "/api/models", &query, 4),
            "<http://h:1/api/models?search=a%20b&cursor=4>; rel=\"next\""
        );
        assert_eq!(super::encode_component("a b/ü"), "a%20b%2F%C3%BC");
    }
}
