//! Lazy iteration over the Hub's paginated listings (`Link: <…>; rel="next"`),
//! bounded so that no server can keep a listing going forever.

use std::collections::HashSet;
use std::fmt;

use hub_url::{Url, parse_http_url};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::json_array::JsonArray;
use crate::redirect::join_http;
use crate::request::{BODY_LIMIT, HubRequest, HubResponse};
use crate::target::RequestTarget;

/// The most pages one listing fetches. The Hub sends up to 1000 entries a page
/// (50 for an expanded tree), so a real listing stops at its entry limit first.
pub const MAX_PAGES: usize = 100_000;

/// The most entries one listing yields: ten times the files of the largest
/// repos on the Hub, and far beyond any search a person reads.
pub const MAX_ENTRIES: usize = 10_000_000;

/// The most pages in a row without an entry. The Hub's cursors never lead to
/// an empty page that has a next one; a server that keeps sending them is
/// stopped long before [`MAX_PAGES`] round trips.
pub const MAX_EMPTY_PAGES: usize = 100;

/// How far one listing may go before it is refused as broken or hostile.
///
/// The defaults are far beyond any real listing; tests and callers that know
/// their listing is small can tighten them with [`Paginated::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageLimits {
    /// The most pages fetched ([`MAX_PAGES`]).
    pub max_pages: usize,
    /// The most entries yielded ([`MAX_ENTRIES`]).
    pub max_entries: usize,
    /// The most pages in a row without an entry ([`MAX_EMPTY_PAGES`]).
    pub max_empty_pages: usize,
    /// The largest body of one page, in bytes (256 MiB). Its entries are parsed
    /// one at a time as they arrive, so memory does not grow with it.
    pub max_page_bytes: u64,
}

impl Default for PageLimits {
    fn default() -> Self {
        PageLimits {
            max_pages: MAX_PAGES,
            max_entries: MAX_ENTRIES,
            max_empty_pages: MAX_EMPTY_PAGES,
            max_page_bytes: BODY_LIMIT,
        }
    }
}

/// An iterator over a paginated listing: fetches a page only when the entries
/// before it are used, and stops at `limit` without fetching further pages.
///
/// Entries are parsed one at a time as the page's body arrives, so memory
/// holds one entry, however large the page: the page's connection stays open
/// while the caller works between entries (collect first when that work is
/// long, or the server may close it). A next-page link to a page already
/// fetched, or one past [`PageLimits`], ends the listing with an
/// [`Error::InvalidResponse`] after the entries before it.
pub struct Paginated<T> {
    client: HubClient,
    target: RequestTarget,
    /// The page being read.
    page: Option<JsonArray<T>>,
    /// The URL that answered with the last page opened, for errors.
    page_url: String,
    /// The page after it, the error to yield once it is read, or nothing when
    /// the listing ends with it.
    next_page: Option<Result<Url>>,
    remaining: Option<usize>,
    limits: PageLimits,
    /// The sha256 of every page URL fetched: a hostile server's long URLs
    /// cannot fill memory, and a link back to any of them is refused.
    fetched: HashSet<[u8; 32]>,
    entries: usize,
    /// Pages in a row, the current one included, without an entry so far.
    empty_pages: usize,
}

impl<T> fmt::Debug for Paginated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let next_url = match &self.next_page {
            Some(Ok(url)) => Some(url.as_str()),
            _ => None,
        };
        f.debug_struct("Paginated")
            .field("page", &self.page)
            .field("next_url", &next_url)
            .field("remaining", &self.remaining)
            .field("pages", &self.fetched.len())
            .field("entries", &self.entries)
            .field("limits", &self.limits)
            .finish()
    }
}

impl<T: DeserializeOwned> Paginated<T> {
    pub(crate) fn new(client: HubClient, first_url: String, target: RequestTarget, limit: Option<usize>) -> Self {
        Paginated {
            client,
            target,
            page: None,
            page_url: first_url.clone(),
            next_page: Some(parse_http_url(&first_url).map_err(Error::from)),
            remaining: limit,
            limits: PageLimits::default(),
            fetched: HashSet::new(),
            entries: 0,
            empty_pages: 0,
        }
    }

    /// The same listing within other bounds.
    pub fn limits(mut self, limits: PageLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Starts reading the page at `url`, and decides what comes after it.
    fn open_page(&mut self, url: Url) {
        self.fetched.insert(page_key(&url));
        self.empty_pages += 1;
        match self
            .client
            .send(&HubRequest::get(url.as_str()).target(self.target.clone()))
        {
            Ok(response) => {
                self.page_url = response.url().to_owned();
                self.next_page = self.page_after(&response);
                self.page = Some(response.json_array(self.limits.max_page_bytes, "listing page"));
            }
            Err(error) => self.next_page = Some(Err(error)),
        }
    }

    /// The page after `response`'s, from its `Link` header: `None` at the end,
    /// an error when the link leads back or past the bounds.
    fn page_after(&self, response: &HubResponse) -> Option<Result<Url>> {
        let link = response.header("link").and_then(next_link)?;
        let refused = |reason: String| {
            Some(Err(Error::InvalidResponse {
                url: response.url().to_owned(),
                reason,
            }))
        };
        let next = parse_http_url(response.url())
            .ok()
            .and_then(|base| join_http(&base, &link));
        let Some(next) = next else {
            return refused(format!("the next page link {link:?} is no http(s) URL"));
        };
        if self.fetched.contains(&page_key(&next)) {
            return refused(format!(
                "the next page link leads back to {next}, a page already fetched"
            ));
        }
        if self.fetched.len() >= self.limits.max_pages {
            return refused(format!(
                "the listing goes on past {} pages (next: {next})",
                self.limits.max_pages
            ));
        }
        Some(Ok(next))
    }

    /// The next entry of the open page, counted against the listing's bounds.
    fn next_on_page(&mut self) -> Option<Result<T>> {
        let entry = match self.page.as_mut()?.next()? {
            Ok(_) if self.entries == self.limits.max_entries => Err(Error::InvalidResponse {
                url: self.page_url.clone(),
                reason: format!("the listing has more than {} entries", self.limits.max_entries),
            }),
            entry => entry,
        };
        if entry.is_err() {
            self.page = None;
            self.next_page = None;
        } else {
            self.entries += 1;
            self.empty_pages = 0;
        }
        Some(entry)
    }
}

impl<T: DeserializeOwned> Iterator for Paginated<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == Some(0) {
            // Done: a page still open is closed rather than read to its end.
            self.page = None;
            return None;
        }
        loop {
            if let Some(entry) = self.next_on_page() {
                if let (Ok(_), Some(n)) = (&entry, self.remaining.as_mut()) {
                    *n -= 1;
                }
                return Some(entry);
            }
            self.page = None;
            match self.next_page.take()? {
                Ok(_) if self.empty_pages >= self.limits.max_empty_pages => {
                    return Some(Err(Error::InvalidResponse {
                        url: self.page_url.clone(),
                        reason: format!("{} pages in a row had no entry", self.empty_pages),
                    }));
                }
                Ok(url) => self.open_page(url),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

/// What [`Paginated`] remembers of a fetched page's URL.
fn page_key(url: &Url) -> [u8; 32] {
    Sha256::digest(url.as_str()).into()
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        // A link-value: `<URI>` then `; name=value` parameters (RFC 8288).
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        rest = &rest[end + 1..];
        let (params, after) = split_params(rest);
        rest = after;
        let is_next = params.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("rel") && value.split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(url.trim().to_string());
        }
    }
}

/// The parameters of one link-value, up to the comma that ends it (commas
/// inside quoted values do not), and the rest of the header after it.
fn split_params(text: &str) -> (Vec<(String, String)>, &str) {
    let mut params = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut end = text.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => {
                if let Some((_, escaped)) = chars.next() {
                    current.push(escaped);
                }
            }
            ';' | ',' if !in_quotes => {
                push_param(&mut params, &current);
                current.clear();
                if c == ',' {
                    end = i + 1;
                    break;
                }
            }
            c => current.push(c),
        }
    }
    if end == text.len() {
        push_param(&mut params, &current);
    }
    (params, &text[end.min(text.len())..])
}

fn push_param(params: &mut Vec<(String, String)>, text: &str) {
    if let Some((name, value)) = text.split_once('=') {
        params.push((name.trim().to_string(), value.trim().to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link() {
        let h = r#"<https://hub/api/models?cursor=abc&limit=2>; rel="next", <https://hub/api/models?p=0>; rel="prev""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://hub/api/models?cursor=abc&limit=2")
        );
        assert_eq!(next_link(r#"<https://hub/x>; rel="prev""#), None);
        assert_eq!(next_link("<https://hub/y>; rel=next").as_deref(), Some("https://hub/y"));
    }

    #[test]
    fn reads_links_as_rfc_8288_writes_them() {
        assert_eq!(
            next_link(r#"<https://h/x?a=1,2;b>; rel="next""#).as_deref(),
            Some("https://h/x?a=1,2;b")
        );
        assert_eq!(
            next_link(r#"<https://h/p>; rel="prev", <https://h/n>; title="a, b; c"; rel="next last""#).as_deref(),
            Some("https://h/n")
        );
        assert_eq!(
            next_link(r#"<https://h/u>; REL="NEXT""#).as_deref(),
            Some("https://h/u")
        );
        assert_eq!(next_link(r#"<https://h/u>; rel="nextpage""#), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link("<unterminated; rel=next"), None);
    }

    #[test]
    fn default_limits_are_beyond_any_real_listing() {
        let limits = PageLimits::default();
        assert_eq!(limits.max_pages, 100_000);
        assert_eq!(limits.max_entries, 10_000_000);
        assert_eq!(limits.max_empty_pages, 100);
        assert_eq!(limits.max_page_bytes, 256 * 1024 * 1024);
    }
}
