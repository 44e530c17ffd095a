//! Lazy iteration over the Hub's paginated listings (`Link: <…>; rel="next"`).

use std::collections::VecDeque;

use serde::de::DeserializeOwned;

use crate::client::HubClient;
use crate::error::Result;
use crate::request::HubRequest;
use crate::target::RequestTarget;

/// An iterator over a paginated listing: fetches a page only when the items
/// before it are used, and stops at `limit` without fetching further pages.
pub struct Paginated<T> {
    client: HubClient,
    next_url: Option<String>,
    target: RequestTarget,
    buffer: VecDeque<T>,
    remaining: Option<usize>,
}

impl<T> std::fmt::Debug for Paginated<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paginated")
            .field("next_url", &self.next_url)
            .field("buffered", &self.buffer.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<T: DeserializeOwned> Paginated<T> {
    pub(crate) fn new(client: HubClient, first_url: String, target: RequestTarget, limit: Option<usize>) -> Self {
        Paginated {
            client,
            next_url: Some(first_url),
            target,
            buffer: VecDeque::new(),
            remaining: limit,
        }
    }

    fn fetch_page(&mut self) -> Result<()> {
        let Some(url) = self.next_url.take() else {
            return Ok(());
        };
        let response = self.client.send(&HubRequest::get(&url).target(self.target.clone()))?;
        self.next_url = response.header("link").and_then(next_link);
        let items: Vec<T> = response.json()?;
        self.buffer.extend(items);
        Ok(())
    }
}

impl<T: DeserializeOwned> Iterator for Paginated<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == Some(0) {
            return None;
        }
        while self.buffer.is_empty() {
            self.next_url.as_ref()?;
            if let Err(e) = self.fetch_page() {
                self.next_url = None;
                return Some(Err(e));
            }
        }
        let item = self.buffer.pop_front()?;
        if let Some(n) = self.remaining.as_mut() {
            *n -= 1;
        }
        Some(Ok(item))
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
}
