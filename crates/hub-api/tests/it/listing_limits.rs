//! Listings a broken or hostile server sends: links that lead back, pages
//! without end, more entries than any repo has, pages too large to read, and
//! next pages on another origin.

use std::io::Read;

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
fn pages_without_entries_end_at_the_page_limit() -> TestResult {
    let (server, client) = serve(HostileListings)?;
    let mut limits = PageLimits::default();
    limits.max_pages = 5;
    let (paths, error) = paths_then_error(tree(&client, "empty", limits)?)?;
    assert!(paths.is_empty());
    assert!(error.contains("goes on past 5 pages"), "{error}");
    assert_eq!(requests(&server), 5);
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
