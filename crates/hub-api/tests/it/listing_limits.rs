//! Listings a broken or hostile server sends: links that lead back, pages
//! without end, more entries than any repo has, pages too large to read, and
//! next pages on another origin.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use hub_api::{Error, HubClient, ListTreeOptions, PageLimits, RepoTreeEntry};
use hub_emulator::http::{Body, Handler, HttpServer, Request, Response};
use hub_emulator::test_hub::ALICE_WRITE;
use hub_url::RepoId;

use crate::{TestResult, serve};

/// What a page of `/api/models/org/{repo}/tree/main` is, by repo name.
struct HostileListings;

fn entry(path: &str) -> serde_json::Value {
    serde_json::json!({ "type": "file", "path": path, "oid": "1111111111111111111111111111111111111111", "size": 1 })
}

fn page(entries: &[&str], next: Option<String>) -> Response {
    let entries: Vec<_> = entries.iter().map(|path| entry(path)).collect();
    let response = Response::json(200, &serde_json::Value::Array(entries));
    match next {
        Some(url) => response.with_header("Link", format!("<{url}>; rel=\"next\"")),
        None => response,
    }
}

impl Handler for HostileListings {
    fn handle(&self, request: &Request, base: &str) -> Response {
        let Some(repo) = request
            .path
            .strip_prefix("/api/models/org/")
            .and_then(|rest| rest.strip_suffix("/tree/main"))
        else {
            return Response::hub_error(404, None, "not here");
        };
        let here = format!("{base}{}", request.path);
        let cursor: u64 = request.query_param("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
        let next = Some(format!("{here}?cursor={}", cursor + 1));
        match repo {
            "self" => page(&["a.txt"], Some(here)),
            // Relative links, the second one back to the first page.
            "cycle" if cursor == 0 => page(&["a.txt"], Some("?cursor=1".to_owned())),
            "cycle" => page(&["b.txt"], Some(request.path.clone())),
            "empty" => page(&[], next),
            "many" => page(&["a.txt", "b.txt"], next),
            "huge" => Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Body::Reader {
                    reader: Box::new(EndlessArray { opened: false }),
                    len: 1 << 40,
                },
            },
            "cross" if cursor == 0 => {
                let port = base.rsplit(':').next().unwrap_or_default();
                page(
                    &["a.txt"],
                    Some(format!("http://localhost:{port}{}?cursor=1", request.path)),
                )
            }
            "cross" => page(&["b.txt"], None),
            _ => page(&[], None),
        }
    }
}

/// `[` and then spaces for ever: a page that never ends, whose text a client
/// that held it whole would run out of memory on.
struct EndlessArray {
    opened: bool,
}

impl Read for EndlessArray {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        buf.fill(b' ');
        if !self.opened && !buf.is_empty() {
            buf[0] = b'[';
            self.opened = true;
        }
        Ok(buf.len())
    }
}

fn tree(
    client: &HubClient,
    repo: &str,
    limits: PageLimits,
) -> Result<Vec<Result<RepoTreeEntry, Error>>, Box<dyn std::error::Error>> {
    let repo = RepoId::new(&format!("org/{repo}"))?;
    Ok(client
        .list_repo_tree(&repo, &ListTreeOptions::default())
        .limits(limits)
        .collect())
}

/// The entries' paths, and the one error that must end the listing.
fn paths_then_error(
    listing: Vec<Result<RepoTreeEntry, Error>>,
) -> Result<(Vec<String>, String), Box<dyn std::error::Error>> {
    let mut paths = Vec::new();
    let mut listing = listing.into_iter();
    for item in listing.by_ref() {
        match item {
            Ok(entry) => paths.push(entry.path().to_owned()),
            Err(error) => {
                assert!(matches!(error, Error::InvalidResponse { .. }), "{error:?}");
                assert!(listing.next().is_none(), "the error ends the listing");
                return Ok((paths, error.to_string()));
            }
        }
    }
    Err(format!("the listing ended without an error after {paths:?}").into())
}

fn requests(server: &HttpServer) -> usize {
    server.log().records().len()
}

#[test]
fn a_link_to_the_same_page_is_refused_after_one_request() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let (paths, error) = paths_then_error(tree(&client, "self", PageLimits::default())?)?;
    assert_eq!(paths, ["a.txt"], "the page's entries come first");
    assert!(error.contains("a page already fetched"), "{error}");
    assert!(
        error.contains("/api/models/org/self/tree/main"),
        "the error names the URL: {error}"
    );
    assert_eq!(requests(&server), 1);
    Ok(())
}

#[test]
fn a_link_back_to_an_earlier_page_is_refused() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let (paths, error) = paths_then_error(tree(&client, "cycle", PageLimits::default())?)?;
    assert_eq!(paths, ["a.txt", "b.txt"]);
    assert!(error.contains("leads back to"), "{error}");
    assert_eq!(requests(&server), 2);
    Ok(())
}

#[test]
fn pages_without_entries_end_after_a_hundred_in_a_row() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let (paths, error) = paths_then_error(tree(&client, "empty", PageLimits::default())?)?;
    assert!(paths.is_empty());
    assert!(error.contains("100 pages in a row had no entry"), "{error}");
    assert!(error.contains("cursor=99"), "the error names the last page: {error}");
    assert_eq!(requests(&server), 100);
    Ok(())
}

#[test]
fn pages_end_at_the_page_limit() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let mut limits = PageLimits::default();
    limits.max_pages = 3;
    let (paths, error) = paths_then_error(tree(&client, "many", limits)?)?;
    assert_eq!(paths.len(), 6, "every page's entries come first");
    assert!(error.contains("goes on past 3 pages"), "{error}");
    assert_eq!(requests(&server), 3);
    Ok(())
}

#[test]
fn entries_past_the_limit_are_refused() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let mut limits = PageLimits::default();
    limits.max_entries = 3;
    let (paths, error) = paths_then_error(tree(&client, "many", limits)?)?;
    assert_eq!(paths, ["a.txt", "b.txt", "a.txt"]);
    assert!(error.contains("more than 3 entries"), "{error}");
    assert_eq!(requests(&server), 2);
    Ok(())
}

#[test]
fn a_page_past_its_size_limit_is_refused_not_cut() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let mut limits = PageLimits::default();
    limits.max_page_bytes = 1024 * 1024;
    let (paths, error) = paths_then_error(tree(&client, "huge", limits)?)?;
    assert!(paths.is_empty());
    assert!(
        error.contains("the listing page is larger than 1048576 bytes"),
        "says so, not \"EOF while parsing\": {error}"
    );
    assert!(error.contains("/api/models/org/huge/tree/main"), "{error}");
    assert_eq!(requests(&server), 1);
    Ok(())
}

#[test]
fn a_next_page_on_another_origin_gets_no_token() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let paths = tree(&client, "cross", PageLimits::default())?
        .into_iter()
        .map(|entry| entry.map(|e| e.path().to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    assert_eq!(paths, ["a.txt", "b.txt"]);
    let records = server.log().records();
    assert_eq!(records.len(), 2);
    let bearer = format!("Bearer {ALICE_WRITE}");
    assert_eq!(
        records[0].authorization.as_deref(),
        Some(bearer.as_str()),
        "the Hub's own page"
    );
    assert!(records[1].host.starts_with("localhost"), "{}", records[1].host);
    assert_eq!(
        records[1].authorization, None,
        "the token never follows a link to another origin"
    );
    Ok(())
}

/// One page of [`GATED_ENTRIES`] entries whose second half is sent only once
/// the gate opens (or after 10 s).
struct GatedPage {
    gate: Arc<Gate>,
}

const GATED_ENTRIES: usize = 2000;

#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    waited_in_vain: AtomicBool,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (open, _) = self
            .opened
            .wait_timeout_while(open, Duration::from_secs(10), |open| !*open)
            .unwrap_or_else(|e| e.into_inner());
        if !*open {
            self.waited_in_vain.store(true, Ordering::SeqCst);
        }
    }
}

/// The page's text, the second half held back until the gate opens.
struct GatedBody {
    text: Vec<u8>,
    sent: usize,
    gate: Arc<Gate>,
}

impl Read for GatedBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let half = self.text.len() / 2;
        if self.sent == half {
            self.gate.wait();
        }
        let end = if self.sent < half { half } else { self.text.len() };
        let n = buf.len().min(end - self.sent);
        buf[..n].copy_from_slice(&self.text[self.sent..self.sent + n]);
        self.sent += n;
        Ok(n)
    }
}

impl Handler for GatedPage {
    fn handle(&self, _request: &Request, _base: &str) -> Response {
        let entries: Vec<_> = (0..GATED_ENTRIES).map(|i| entry(&format!("{i:06}.txt"))).collect();
        let text = serde_json::Value::Array(entries).to_string().into_bytes();
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Body::Reader {
                len: text.len() as u64,
                reader: Box::new(GatedBody {
                    text,
                    sent: 0,
                    gate: self.gate.clone(),
                }),
            },
        }
    }
}

#[test]
fn entries_come_out_before_their_page_has_arrived() -> TestResult {
    let gate = Arc::new(Gate::default());
    let (_server, client) = serve(GatedPage { gate: gate.clone() })?;
    let mut listing = client.list_repo_tree(&RepoId::new("org/gated")?, &ListTreeOptions::default());
    let first = listing.next().ok_or("an entry")??;
    assert_eq!(first.path(), "000000.txt");
    // Only now may the server send the rest: a client that read the whole
    // page before its first entry would still be waiting for it.
    gate.open();
    let rest = listing.collect::<Result<Vec<_>, _>>()?;
    assert_eq!(rest.len(), GATED_ENTRIES - 1);
    assert!(
        !gate.waited_in_vain.load(Ordering::SeqCst),
        "the first entry came only after the whole page"
    );
    Ok(())
}
