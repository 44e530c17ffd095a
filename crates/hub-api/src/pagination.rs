//! Lazy iteration over the Hub's paginated listings (`Link: <…>; rel="next"`),
//! bounded so that no server can keep a listing going forever.

use std::collections::{HashSet, VecDeque};
use std::fmt;

use hub_url::{Url, parse_http_url};
use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::redirect::join_http;
use crate::request::{BODY_LIMIT, HubRequest, HubResponse};
use crate::target::RequestTarget;

/// The most pages one listing fetches. The Hub sends up to 1000 entries a page
/// (50 for an expanded tree), so a real listing stops at its entry limit first.
pub const MAX_PAGES: usize = 100_000;

/// The most entries one listing yields: ten times the files of the largest
/// repos on the Hub, and far beyond any search a person reads.
pub const MAX_ENTRIES: usize = 10_000_000;

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
    /// The largest body of one page, in bytes (256 MiB). Its entries are parsed
    /// as they arrive, so memory holds the page's entries, not its text.
    pub max_page_bytes: u64,
}

impl Default for PageLimits {
    fn default() -> Self {
        PageLimits {
            max_pages: MAX_PAGES,
            max_entries: MAX_ENTRIES,
            max_page_bytes: BODY_LIMIT,
        }
    }
}

/// An iterator over a paginated listing: fetches a page only when the entries
/// before it are used, and stops at `limit` without fetching further pages.
///
/// A page is read whole before its entries are handed out, so that a slow
/// consumer never holds a connection open half-read. A next-page link that was
/// already fetched, or one past [`PageLimits`], ends the listing with an
/// [`Error::InvalidResponse`] after the entries before it.
pub struct Paginated<T> {
    client: HubClient,
    /// The next page to fetch, the error to yield once the buffer is used up,
    /// or nothing when the listing is over.
    next_page: Option<Result<Url>>,
    target: RequestTarget,
    buffer: VecDeque<T>,
    remaining: Option<usize>,
    limits: PageLimits,
    /// The sha256 of every page URL fetched: a hostile server's long URLs
    /// cannot fill memory, and a link back to any of them is refused.
    fetched: HashSet<[u8; 32]>,
    entries: usize,
}

impl<T> fmt::Debug for Paginated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let next_url = match &self.next_page {
            Some(Ok(url)) => Some(url.as_str()),
            _ => None,
        };
        f.debug_struct("Paginated")
            .field("next_url", &next_url)
            .field("buffered", &self.buffer.len())
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
            next_page: Some(parse_http_url(&first_url).map_err(Error::from)),
            target,
            buffer: VecDeque::new(),
            remaining: limit,
            limits: PageLimits::default(),
            fetched: HashSet::new(),
            entries: 0,
        }
    }

    /// The same listing within other bounds.
    pub fn limits(mut self, limits: PageLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Fetches the page at `url` into the buffer, and decides what comes after it.
    fn fetch_page(&mut self, url: Url) {
        self.fetched.insert(page_key(&url));
        let response = match self
            .client
            .send(&HubRequest::get(url.as_str()).target(self.target.clone()))
        {
            Ok(response) => response,
            Err(error) => {
                self.next_page = Some(Err(error));
                return;
            }
        };
        let after = self.page_after(&response);
        let page_url = response.url().to_owned();
        let room = self.limits.max_entries.saturating_sub(self.entries);
        let mut page = PageEntries {
            into: &mut self.buffer,
            room,
            added: 0,
            over: false,
        };
        let read = response.read_json(&mut page, self.limits.max_page_bytes, "listing page");
        let (added, over) = (page.added, page.over);
        self.entries += added;
        self.next_page = match read {
            Ok(()) => after,
            Err(_) if over => Some(Err(Error::InvalidResponse {
                url: page_url,
                reason: format!("the listing has more than {} entries", self.limits.max_entries),
            })),
            Err(error) => Some(Err(error)),
        };
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
}

impl<T: DeserializeOwned> Iterator for Paginated<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == Some(0) {
            return None;
        }
        while self.buffer.is_empty() {
            match self.next_page.take()? {
                Ok(url) => self.fetch_page(url),
                Err(error) => return Some(Err(error)),
            }
        }
        let item = self.buffer.pop_front()?;
        if let Some(n) = self.remaining.as_mut() {
            *n -= 1;
        }
        Some(Ok(item))
    }
}

/// What [`Paginated`] remembers of a fetched page's URL.
fn page_key(url: &Url) -> [u8; 32] {
    Sha256::digest(url.as_str()).into()
}

/// Parses a page (a JSON array) entry by entry into the listing's buffer, and
/// stops with an error at the first entry past `room`.
struct PageEntries<'a, T> {
    into: &'a mut VecDeque<T>,
    room: usize,
    added: usize,
    over: bool,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for &mut PageEntries<'_, T> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for &mut PageEntries<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<T>()? {
            if self.added == self.room {
                self.over = true;
                return Err(de::Error::custom("more entries than the listing may have"));
            }
            self.into.push_back(entry);
            self.added += 1;
        }
        Ok(())
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim().replace(' ', "").as_str(), "rel=\"next\"" | "rel=next"));
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
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
    fn default_limits_are_beyond_any_real_listing() {
        let limits = PageLimits::default();
        assert_eq!(limits.max_pages, 100_000);
        assert_eq!(limits.max_entries, 10_000_000);
        assert_eq!(limits.max_page_bytes, 256 * 1024 * 1024);
    }

    #[test]
    fn a_page_is_parsed_entry_by_entry_up_to_its_room() -> serde_json::Result<()> {
        let mut buffer = VecDeque::<u32>::new();
        let mut page = PageEntries {
            into: &mut buffer,
            room: 2,
            added: 0,
            over: false,
        };
        page.deserialize(&mut serde_json::Deserializer::from_str("[1, 2]"))?;
        assert_eq!((page.added, page.over), (2, false));
        let mut page = PageEntries {
            into: &mut buffer,
            room: 1,
            added: 0,
            over: false,
        };
        assert!(
            page.deserialize(&mut serde_json::Deserializer::from_str("[3, 4, 5]"))
                .is_err()
        );
        assert_eq!((page.added, page.over), (1, true));
        assert_eq!(buffer, [1, 2, 3]);
        Ok(())
    }
}
