//! The token goes to the endpoint's origin as the URL parser sees it: never
//! to a `Location` with user info, never to another scheme, and always to the
//! host the request really reaches.

use hub_api::{Error, HubRequest};
use hub_emulator::http::{Handler, HttpServer, Request, Response};
use hub_emulator::test_hub::ALICE_WRITE;

use crate::{TestResult, serve};

/// Redirects `/to/NAME` to a `Location` made from this server's port, and
/// answers its own path elsewhere.
struct Locations;

impl Handler for Locations {
    fn handle(&self, request: &Request, base: &str) -> Response {
        let port = base.rsplit(':').next().unwrap_or_default();
        let location = match request.path.as_str() {
            "/to/user-info" => format!("http://evil@127.0.0.1:{port}/landed/user-info"),
            "/to/hub-as-user-info" => format!("http://127.0.0.1:{port}@localhost:{port}/landed/hub-as-user-info"),
            "/to/dot-segments" => format!("http://127.0.0.1:{port}/a/../landed/dot-segments"),
            "/to/percent-host" => format!("http://%31%32%37.0.0.1:{port}/landed/percent-host"),
            "/to/upper-case" => format!("HTTP://LOCALHOST:{port}/landed/upper-case"),
            "/to/ftp" => format!("ftp://127.0.0.1:{port}/landed/ftp"),
            "/to/file" => "file:///etc/passwd".to_owned(),
            _ => return Response::json(200, &serde_json::json!({ "path": request.path })),
        };
        Response::empty(302).with_header("Location", location)
    }
}

/// The `Authorization` the server saw on `path`, and whether it saw the path at all.
fn landed(server: &HttpServer, path: &str) -> Option<Option<String>> {
    server
        .log()
        .records()
        .into_iter()
        .find(|r| r.path == path)
        .map(|r| r.authorization)
}

#[test]
fn a_location_with_user_info_is_followed_without_it() -> TestResult {
    let (server, client) = serve(Locations)?;
    let response = client.send(&HubRequest::get(format!("{}/to/user-info", client.endpoint())))?;
    assert_eq!(response.status(), 200);
    assert!(
        landed(&server, "/to/user-info").flatten().is_some(),
        "the Hub gets the token"
    );
    let sent = landed(&server, "/landed/user-info").ok_or("the redirect was followed")?;
    // Same host and port with user info of its own: the user info is dropped (the HTTP
    // stack would send it as `Basic`), and what is left is the Hub's own origin.
    assert!(
        !sent.as_deref().unwrap_or_default().starts_with("Basic"),
        "no server-written credentials: {sent:?}"
    );
    assert!(
        carries_token(sent.as_deref()),
        "the Hub's own origin gets the token: {sent:?}"
    );
    Ok(())
}

/// Whether `authorization` carries the test token in any form.
fn carries_token(authorization: Option<&str>) -> bool {
    authorization.is_some_and(|value| value.contains(ALICE_WRITE))
}

#[test]
fn the_hub_named_as_user_info_gets_nothing() -> TestResult {
    let (server, client) = serve(Locations)?;
    client.send(&HubRequest::get(format!("{}/to/hub-as-user-info", client.endpoint())))?;
    let landed = server
        .log()
        .records()
        .into_iter()
        .find(|r| r.path == "/landed/hub-as-user-info")
        .ok_or("the redirect was followed")?;
    assert!(
        landed.host.starts_with("localhost"),
        "it went to the real host: {}",
        landed.host
    );
    assert!(
        !carries_token(landed.authorization.as_deref()),
        "{:?}",
        landed.authorization
    );
    Ok(())
}

#[test]
fn the_token_goes_where_the_parser_says_the_request_goes() -> TestResult {
    let (server, client) = serve(Locations)?;
    for (from, to) in [
        ("/to/dot-segments", "/landed/dot-segments"),
        ("/to/percent-host", "/landed/percent-host"),
    ] {
        let response = client.send(&HubRequest::get(format!("{}{from}", client.endpoint())))?;
        assert!(response.url().ends_with(to), "{}", response.url());
        assert!(
            landed(&server, to).flatten().is_some(),
            "{to}: the endpoint's own origin, however written, gets the token"
        );
    }
    let response = client.send(&HubRequest::get(format!("{}/to/upper-case", client.endpoint())))?;
    assert!(response.url().starts_with("http://localhost:"), "{}", response.url());
    assert_eq!(landed(&server, "/landed/upper-case"), Some(None), "another host");
    Ok(())
}

#[test]
fn locations_to_other_schemes_are_refused() -> TestResult {
    let (server, client) = serve(Locations)?;
    for from in ["/to/ftp", "/to/file"] {
        let err = client
            .send(&HubRequest::get(format!("{}{from}", client.endpoint())))
            .expect_err("no other scheme is requested");
        assert!(matches!(err, Error::Redirect { .. }), "{from}: {err:?}");
    }
    assert_eq!(server.log().records().len(), 2, "nothing followed");
    Ok(())
}

#[test]
fn a_request_url_that_is_no_http_url_is_refused_before_sending() -> TestResult {
    let (server, client) = serve(Locations)?;
    for url in ["ftp://127.0.0.1/x", "not a url", "http://127.0.0.1:99999/"] {
        let err = client.send(&HubRequest::get(url)).expect_err("refused");
        assert!(
            matches!(&err, Error::InvalidValue { what: "URL", .. }),
            "{url}: {err:?}"
        );
    }
    assert!(server.log().records().is_empty());
    Ok(())
}
