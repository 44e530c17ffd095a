//! The redirect policy: same-origin redirects keep the token, others lose it,
//! and chains are bounded.

use hub_api::{Error, HubClient, HubRequest, MAX_REDIRECTS, RedirectPolicy};
use hub_emulator::SeedRepo;
use hub_emulator::http::{Handler, HttpServer, Request, Response};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_url::{RepoId, RepoType, Revision, hf_hub_url};

use crate::{TestResult, client, serve};

/// Redirects `/relative` → `next`, `/cross` → the same server under `localhost`,
/// `/loop/N` → `/loop/N+1`; answers `ok` elsewhere.
struct Redirector;

impl Handler for Redirector {
    fn handle(&self, request: &Request, base: &str) -> Response {
        let port = base.rsplit(':').next().unwrap_or_default();
        let redirect = |location: String| Response::empty(302).with_header("Location", location);
        match request.path.as_str() {
            "/a/relative" => redirect("next".to_string()),
            "/cross" => redirect(format!("http://localhost:{port}/landed")),
            path if path.starts_with("/loop/") => {
                let n: u32 = path["/loop/".len()..].parse().unwrap_or(0);
                redirect(format!("/loop/{}", n + 1))
            }
            _ => Response::json(200, &serde_json::json!({ "path": request.path })),
        }
    }
}

fn redirector() -> Result<(HttpServer, HubClient), Box<dyn std::error::Error>> {
    serve(Redirector)
}

fn authorization_for(server: &HttpServer, path: &str) -> Option<String> {
    server
        .log()
        .records()
        .into_iter()
        .find(|r| r.path == path)
        .and_then(|r| r.authorization)
}

#[test]
fn relative_redirect_keeps_the_token() -> TestResult {
    let (server, client) = redirector()?;
    let response = client.send(&HubRequest::get(format!("{}/a/relative", client.endpoint())))?;
    assert!(response.url().ends_with("/a/next"), "{}", response.url());
    let expected = format!("Bearer {ALICE_WRITE}");
    assert_eq!(
        authorization_for(&server, "/a/relative").as_deref(),
        Some(expected.as_str())
    );
    assert_eq!(
        authorization_for(&server, "/a/next").as_deref(),
        Some(expected.as_str())
    );
    Ok(())
}

#[test]
fn redirect_to_another_host_drops_the_token() -> TestResult {
    let (server, client) = redirector()?;
    let response = client.send(&HubRequest::get(format!("{}/cross", client.endpoint())))?;
    assert!(response.url().starts_with("http://localhost:"), "{}", response.url());
    assert!(authorization_for(&server, "/cross").is_some());
    let landed = server
        .log()
        .records()
        .into_iter()
        .find(|r| r.path == "/landed")
        .expect("followed");
    assert!(landed.host.starts_with("localhost"), "{}", landed.host);
    assert_eq!(landed.authorization, None, "the token must not follow to another host");
    Ok(())
}

#[test]
fn same_origin_only_stops_at_a_cross_origin_redirect() -> TestResult {
    let (server, client) = redirector()?;
    let request = HubRequest::get(format!("{}/cross", client.endpoint())).redirects(RedirectPolicy::SameOriginOnly);
    let response = client.send(&request)?;
    assert_eq!(response.status(), 302);
    assert!(server.log().records().iter().all(|r| r.path != "/landed"));
    Ok(())
}

#[test]
fn redirect_chains_are_bounded() -> TestResult {
    let (server, client) = redirector()?;
    let err = client
        .send(&HubRequest::get(format!("{}/loop/0", client.endpoint())))
        .expect_err("loop");
    assert!(matches!(err, Error::Redirect { .. }), "{err:?}");
    assert_eq!(server.log().records().len(), MAX_REDIRECTS + 1);
    Ok(())
}

#[test]
fn lfs_download_goes_to_the_cdn_without_the_token() -> TestResult {
    let hub = TestHub::start()?;
    let weights: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    hub.seed(
        &SeedRepo::model("alice/private-lfs")
            .file("w.bin", weights.clone())
            .private(),
    )?;
    let client = client(&hub, Some(ALICE_WRITE))?;
    let url = hf_hub_url(
        &RepoId::new("alice/private-lfs")?,
        "w.bin",
        &Revision::main(),
        RepoType::Model,
        client.endpoint(),
    );
    hub.log().clear();
    let body = client.send(&HubRequest::get(url))?.bytes()?;
    assert_eq!(body, weights);
    let records = hub.log().records();
    let resolve = records
        .iter()
        .find(|r| r.path.contains("/resolve/"))
        .expect("resolve request");
    assert!(resolve.authorization.is_some(), "the Hub gets the token");
    let cdn = records
        .iter()
        .find(|r| r.host.starts_with("localhost"))
        .expect("CDN request");
    assert_eq!(cdn.authorization, None, "the CDN never sees the token");
    Ok(())
}
