//! The server driven by raw `std` TCP clients (and a rustls client for HTTPS).

use std::error::Error;
use std::io::{self, BufRead, BufReader, Cursor, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pacing::Pacer;
use super::{
    Body, Fault, FaultAction, Handler, HttpServer, NetworkConditions, Request, Response, ServerOptions, TlsIdentity,
};
use crate::tls::TestCa;

type TestResult = Result<(), Box<dyn Error>>;

/// A body of `len` bytes that differ from their neighbours, so that shifted or
/// damaged bytes show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Test routes:
/// - `/bytes/N`: N pattern bytes in memory;
/// - `/file`, `/file-part`: the fixture file, whole or bytes 100..1100;
/// - `/reader/N`: N pattern bytes streamed from a reader;
/// - `/echo`: the request body, with the method in `X-Method` and, for a body
///   spooled to disk, its length and sha256 in `X-Spooled` and `X-Sha256`;
/// - `/base`: the `base` the route was given;
/// - `/no-content`, `/close`, `/panic`: a 204, a route asking to close, a panicking route.
struct Routes {
    file: Option<PathBuf>,
    /// Where `PUT` bodies over the threshold are spooled.
    spool: Option<PathBuf>,
}

impl Handler for Routes {
    fn handle(&self, request: &Request, base: &str) -> Response {
        let path = request.path.as_str();
        let ok = |body| Response {
            status: 200,
            headers: Vec::new(),
            body,
        };
        if let Some(n) = path.strip_prefix("/bytes/") {
            return ok(Body::Bytes(pattern(n.parse().unwrap_or(0))));
        }
        if let Some(n) = path.strip_prefix("/reader/") {
            let len: usize = n.parse().unwrap_or(0);
            let reader = Box::new(Cursor::new(pattern(len)));
            return ok(Body::Reader {
                reader,
                len: len as u64,
            });
        }
        match path {
            "/file" | "/file-part" => {
                let Some(file) = self.file.as_ref().and_then(|p| std::fs::File::open(p).ok()) else {
                    return Response::hub_error(500, None, "no fixture file");
                };
                let Ok(metadata) = file.metadata() else {
                    return Response::hub_error(500, None, "no fixture metadata");
                };
                let (offset, len) = if path == "/file" {
                    (0, metadata.len())
                } else {
                    (100, 1000)
                };
                ok(Body::File { file, offset, len })
            }
            "/echo" => {
                let (body, spooled) = match &request.body_file {
                    Some(file) => match std::fs::read(file.path()) {
                        Ok(bytes) => (bytes, Some(file)),
                        Err(_) => return Response::hub_error(500, None, "spool file unreadable"),
                    },
                    None => (request.body.clone(), None),
                };
                let mut response = ok(Body::Bytes(body))
                    .with_header("X-Method", request.method.clone())
                    .with_header("X-Query", request.query.clone());
                if let Some(file) = spooled {
                    response = response
                        .with_header("X-Spooled", file.len().to_string())
                        .with_header("X-Sha256", hex(&file.sha256()));
                }
                response
            }
            "/base" => ok(Body::Bytes(base.as_bytes().to_vec())),
            "/no-content" => Response::empty(204),
            "/close" => ok(Body::Bytes(b"bye".to_vec())).with_header("Connection", "close"),
            "/panic" => panic!("a route failed"),
            _ => Response::hub_error(404, None, "no such route"),
        }
    }

    fn spool_dir(&self, head: &Request) -> Option<PathBuf> {
        self.spool.clone().filter(|_| head.method == "PUT")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Fixture {
    server: HttpServer,
    file: Vec<u8>,
    spool: PathBuf,
    _dir: tempfile::TempDir,
}

fn start() -> io::Result<Fixture> {
    start_with(None)
}

fn start_with(tls: Option<TlsIdentity>) -> io::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let file = pattern(3 * 1024 * 1024 + 17);
    let path = dir.path().join("fixture.bin");
    std::fs::write(&path, &file)?;
    let options = ServerOptions {
        tls,
        ..ServerOptions::default()
    };
    let spool = dir.path().join("spool");
    let routes = Routes {
        file: Some(path),
        spool: Some(spool.clone()),
    };
    let server = HttpServer::start(options, Arc::new(routes))?;
    Ok(Fixture {
        server,
        file,
        spool,
        _dir: dir,
    })
}

fn connect(server: &HttpServer) -> io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(server.local_addr())?;
    // A broken server fails the test instead of hanging it.
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    Ok(BufReader::new(stream))
}

fn send(client: &mut BufReader<TcpStream>, bytes: &[u8]) -> io::Result<()> {
    client.get_mut().write_all(bytes)
}

#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// Reads a status line and headers.
fn read_head(reader: &mut impl BufRead) -> io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    if parts.next() != Some("HTTP/1.1") {
        return Err(invalid(&format!("bad status line {line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(&line))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if !line.ends_with("\r\n") {
            return Err(invalid(&format!("bad header line {line:?}")));
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok((status, headers));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| invalid(line))?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
}

/// Reads one response; `head_request` when it answers a HEAD (no body follows).
fn read_response(reader: &mut impl BufRead, head_request: bool) -> io::Result<RawResponse> {
    let (status, headers) = read_head(reader)?;
    let mut response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if !head_request && status != 204 && status != 304 {
        let length: usize = response
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| invalid("no content-length"))?;
        response.body = vec![0; length];
        reader.read_exact(&mut response.body)?;
    }
    Ok(response)
}

fn get(reader: &mut BufReader<TcpStream>, path: &str) -> io::Result<RawResponse> {
    send(reader, format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())?;
    read_response(reader, false)
}

/// Reads until the server closes, returning what came; a reset counts as the end too.
fn read_until_closed(reader: &mut impl Read) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut buffer = [0; 8192];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) | Err(_) => return rest,
            Ok(n) => rest.extend_from_slice(&buffer[..n]),
        }
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    for n in [0, 1, 10, 70_000] {
        let response = get(&mut client, &format!("/bytes/{n}"))?;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Connection"), Some("keep-alive"));
        assert_eq!(response.header("Server"), Some("hub-emulator"));
        assert!(response.header("Date").is_some_and(|d| d.ends_with(" GMT")));
        assert_eq!(response.body, pattern(n));
    }
    // Pipelined: two requests in one write, two answers in order.
    send(
        &mut client,
        b"GET /bytes/3 HTTP/1.1\r\nHost: t\r\n\r\nGET /bytes/5 HTTP/1.1\r\nHost: t\r\n\r\n",
    )?;
    assert_eq!(read_response(&mut client, false)?.body, pattern(3));
    assert_eq!(read_response(&mut client, false)?.body, pattern(5));
    let paths: Vec<String> = fixture.server.log().records().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/bytes/0",
            "/bytes/1",
            "/bytes/10",
            "/bytes/70000",
            "/bytes/3",
            "/bytes/5"
        ]
    );
    Ok(())
}

#[test]
fn many_small_requests_share_one_connection() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    for _ in 0..2000 {
        assert_eq!(get(&mut client, "/bytes/16")?.body, pattern(16));
    }
    assert_eq!(fixture.server.log().records().len(), 2000);
    Ok(())
}

#[test]
fn connection_close_and_http_10_end_the_connection() -> TestResult {
    let fixture = start()?;

    let mut client = connect(&fixture.server)?;
    send(
        &mut client,
        b"GET /bytes/4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )?;
    let response = read_response(&mut client, false)?;
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(response.body, pattern(4));
    assert!(read_until_closed(&mut client).is_empty());

    let mut client = connect(&fixture.server)?;
    send(&mut client, b"GET /bytes/4 HTTP/1.0\r\n\r\n")?;
    let response = read_response(&mut client, false)?;
    assert_eq!(response.header("Connection"), Some("close"));
    assert!(read_until_closed(&mut client).is_empty());

    // HTTP/1.0 may ask to keep the connection.
    let mut client = connect(&fixture.server)?;
    for _ in 0..2 {
        send(&mut client, b"GET /bytes/4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?;
        assert_eq!(
            read_response(&mut client, false)?.header("Connection"),
            Some("keep-alive")
        );
    }

    // A route may close the connection too.
    let mut client = connect(&fixture.server)?;
    let response = get(&mut client, "/close")?;
    assert_eq!(
        (response.header("Connection"), response.body.as_slice()),
        (Some("close"), &b"bye"[..])
    );
    assert!(read_until_closed(&mut client).is_empty());
    Ok(())
}

#[test]
fn request_bodies_arrive_whole_by_length_and_chunked() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;

    send(
        &mut client,
        b"PUT /echo?a=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
    )?;
    let response = read_response(&mut client, false)?;
    assert_eq!(response.header("X-Method"), Some("PUT"));
    assert_eq!(response.header("X-Query"), Some("a=1"));
    assert_eq!(response.body, b"hello world");

    let chunked = b"POST /echo HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\n\r\n\
        4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n";
    send(&mut client, chunked)?;
    let response = read_response(&mut client, false)?;
    assert_eq!(response.body, b"Wikipedia in\r\n\r\nchunks.");

    // A large chunked body, in uneven chunks.
    let data = pattern(300_000);
    let mut request = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in data.chunks(65_521) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    send(&mut client, &request)?;
    assert_eq!(read_response(&mut client, false)?.body, data);

    // The connection is still in step after all of that.
    assert_eq!(get(&mut client, "/bytes/7")?.body, pattern(7));
    Ok(())
}

#[test]
fn expect_100_continue_is_answered_before_the_body() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    send(
        &mut client,
        b"PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )?;
    let (status, _) = read_head(&mut client)?;
    assert_eq!(status, 100);
    send(&mut client, b"abcde")?;
    let response = read_response(&mut client, false)?;
    assert_eq!((response.status, response.body.as_slice()), (200, &b"abcde"[..]));
    Ok(())
}

#[test]
fn head_sends_the_length_but_no_body() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    for path in ["/bytes/1000", "/file", "/reader/1000"] {
        send(
            &mut client,
            format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        )?;
        let response = read_response(&mut client, true)?;
        let expected = if path == "/file" { fixture.file.len() } else { 1000 };
        assert_eq!(response.header("Content-Length"), Some(expected.to_string().as_str()));
        // Were any body bytes sent, this next answer would not parse.
        assert_eq!(get(&mut client, "/bytes/2")?.body, pattern(2));
    }
    let response = get(&mut client, "/no-content")?;
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Content-Length"), None);
    assert_eq!(get(&mut client, "/bytes/2")?.body, pattern(2));
    let head = fixture.server.log().records().into_iter().find(|r| r.method == "HEAD");
    assert_eq!(head.map(|r| r.body_bytes_sent), Some(0));
    Ok(())
}

#[test]
fn file_bodies_are_served_byte_exact() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    let response = get(&mut client, "/file")?;
    assert_eq!(response.status, 200);
    assert!(response.body == fixture.file, "the file body differs");
    let response = get(&mut client, "/file-part")?;
    assert!(response.body == fixture.file[100..1100], "the file slice differs");
    let response = get(&mut client, "/reader/100000")?;
    assert!(response.body == pattern(100_000), "the streamed body differs");
    Ok(())
}

#[test]
fn status_fault_answers_instead_of_the_route_with_retry_after() -> TestResult {
    let fixture = start()?;
    let faults = fixture.server.faults();
    faults.push(
        Fault::new(
            "/bytes/",
            FaultAction::Status {
                status: 429,
                retry_after: Some(7),
            },
        )
        .method("GET")
        .times(2),
    );
    faults.push(Fault::new(
        "/echo",
        FaultAction::Status {
            status: 503,
            retry_after: None,
        },
    ));
    assert_eq!(faults.pending(), 3);
    let mut client = connect(&fixture.server)?;

    // Another method does not match.
    send(&mut client, b"HEAD /bytes/9 HTTP/1.1\r\nHost: t\r\n\r\n")?;
    assert_eq!(read_response(&mut client, true)?.status, 200);

    for _ in 0..2 {
        let response = get(&mut client, "/bytes/9")?;
        assert_eq!(response.status, 429);
        assert_eq!(response.header("Retry-After"), Some("7"));
        assert_eq!(response.body, br#"{"error":"Too Many Requests"}"#);
    }
    assert_eq!(faults.pending(), 1);
    assert_eq!(get(&mut client, "/bytes/9")?.status, 200);

    let response = get(&mut client, "/echo")?;
    assert_eq!((response.status, response.header("Retry-After")), (503, None));
    assert_eq!(faults.pending(), 0);

    faults.push(Fault::new(
        "/",
        FaultAction::Status {
            status: 500,
            retry_after: None,
        },
    ));
    faults.clear();
    assert_eq!(get(&mut client, "/bytes/1")?.status, 200);

    let statuses: Vec<u16> = fixture.server.log().records().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 429, 429, 200, 503, 200]);
    Ok(())
}

#[test]
fn drop_after_cuts_the_connection_mid_body() -> TestResult {
    let fixture = start()?;
    let cases = [
        ("/file", fixture.file.len(), 1234),
        ("/file", fixture.file.len(), 300_003),
        ("/bytes/5000", 5000, 1234),
        ("/bytes/500000", 500_000, 400_000),
        ("/reader/5000", 5000, 1234),
    ];
    for (path, full, cut) in cases {
        fixture
            .server
            .faults()
            .push(Fault::new(path, FaultAction::DropAfter { bytes: cut }));
        let mut client = connect(&fixture.server)?;
        send(
            &mut client,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        )?;
        let (status, headers) = read_head(&mut client)?;
        assert_eq!(status, 200);
        let length = headers
            .iter()
            .find(|(n, _)| n == "Content-Length")
            .map(|(_, v)| v.clone());
        assert_eq!(length, Some(full.to_string()), "the head announces the whole body");
        let received = read_until_closed(&mut client);
        assert_eq!(received.len() as u64, cut, "{path}: body bytes received before the cut");
        assert!(
            received == pattern(cut as usize),
            "{path}: the bytes that came are right"
        );
    }
    let sent: Vec<u64> = fixture
        .server
        .log()
        .records()
        .iter()
        .map(|r| r.body_bytes_sent)
        .collect();
    assert_eq!(sent, cases.map(|(_, _, cut)| cut));
    assert_eq!(fixture.server.faults().pending(), 0);
    Ok(())
}

#[test]
fn corrupt_flips_one_byte_and_keeps_the_length() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    for (path, offset, original) in [
        ("/file", 1_000_000, fixture.file.clone()),
        ("/file-part", 999, fixture.file[100..1100].to_vec()),
        ("/bytes/300", 5, pattern(300)),
        ("/reader/300", 299, pattern(300)),
    ] {
        fixture
            .server
            .faults()
            .push(Fault::new(path, FaultAction::Corrupt { offset }));
        let response = get(&mut client, path)?;
        assert_eq!(response.body.len(), original.len());
        let differing: Vec<usize> = (0..original.len())
            .filter(|&i| response.body[i] != original[i])
            .collect();
        assert_eq!(differing, [offset as usize], "{path}");
        // The fault was used up: the next answer is right again, on the same connection.
        assert!(get(&mut client, path)?.body == original);
    }
    // An offset past the end changes nothing.
    fixture
        .server
        .faults()
        .push(Fault::new("/bytes/", FaultAction::Corrupt { offset: 10 }));
    assert_eq!(get(&mut client, "/bytes/10")?.body, pattern(10));
    Ok(())
}

#[test]
fn delay_holds_the_answer_back() -> TestResult {
    let fixture = start()?;
    fixture
        .server
        .faults()
        .push(Fault::new("/bytes/", FaultAction::Delay { millis: 300 }));
    let mut client = connect(&fixture.server)?;
    let started = Instant::now();
    let response = get(&mut client, "/bytes/3")?;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.body, pattern(3));
    Ok(())
}

/// `seconds` less one pacing step of `bytes_per_sec` (10 ms): the least time a
/// client can take to receive a paced body, whose last step may still be in flight.
fn paced_floor(len: u64, bytes_per_sec: u64) -> Duration {
    let step = (bytes_per_sec / 100).max(1);
    Duration::from_secs_f64(len.saturating_sub(step) as f64 / bytes_per_sec as f64)
}

#[test]
fn throttle_fault_slows_one_body_down() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    // A body in memory, then a file slice (sent with `sendfile` in paced steps).
    for (path, len, rate) in [("/bytes/200000", 200_000, 1_000_000), ("/file-part", 1000, 5000)] {
        fixture
            .server
            .faults()
            .push(Fault::new(path, FaultAction::Throttle { bytes_per_sec: rate }));
        let started = Instant::now();
        let response = get(&mut client, path)?;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= paced_floor(len, rate),
            "{path}: {len} bytes at {rate} B/s took {elapsed:?}"
        );
        let expected = if path == "/file-part" {
            fixture.file[100..1100].to_vec()
        } else {
            pattern(200_000)
        };
        assert!(response.body == expected, "{path}: the throttled body differs");
    }
    assert_eq!(fixture.server.faults().pending(), 0);
    Ok(())
}

#[test]
fn per_connection_cap_holds_every_body_to_the_rate() -> TestResult {
    let fixture = start()?;
    let rate = 4_000_000;
    let conditions = NetworkConditions {
        per_connection_bytes_per_sec: Some(rate),
        ..NetworkConditions::default()
    };
    fixture.server.set_network_conditions(conditions);
    assert_eq!(fixture.server.network_conditions(), conditions);
    let mut client = connect(&fixture.server)?;
    let started = Instant::now();
    let response = get(&mut client, "/file")?;
    let file_len = fixture.file.len() as u64;
    assert!(started.elapsed() >= paced_floor(file_len, rate));
    assert!(response.body == fixture.file, "the capped file body differs");
    // Small bodies, which usually leave with the head, are paced too.
    let started = Instant::now();
    assert_eq!(get(&mut client, "/bytes/60000")?.body, pattern(60_000));
    assert!(started.elapsed() >= paced_floor(60_000, rate));
    Ok(())
}

#[test]
fn latency_delays_each_answer_and_each_new_connection() -> TestResult {
    let fixture = start()?;
    let latency = Duration::from_millis(100);
    fixture.server.set_network_conditions(NetworkConditions {
        latency,
        ..NetworkConditions::default()
    });
    let started = Instant::now();
    let mut client = connect(&fixture.server)?;
    assert_eq!(get(&mut client, "/bytes/3")?.body, pattern(3));
    // The handshake's round trip, then one per answer.
    assert!(started.elapsed() >= 2 * latency);
    let again = Instant::now();
    assert_eq!(get(&mut client, "/bytes/3")?.body, pattern(3));
    assert!(again.elapsed() >= latency);
    Ok(())
}

#[test]
fn pacer_holds_the_rate_and_limits_the_burst_after_a_pause() {
    let rate = 2_000_000;
    let mut pacer = Pacer::new(rate);
    assert_eq!(pacer.step(), 20_000);
    let started = Instant::now();
    for _ in 0..10 {
        pacer.sent(pacer.step());
    }
    assert!(started.elapsed() >= Duration::from_millis(100));
    // A pause earns at most 10 ms of credit, on top of the step already written when the
    // pacer hears of it: the next 100 ms of bytes take at least 80 ms.
    std::thread::sleep(Duration::from_millis(200));
    let resumed = Instant::now();
    for _ in 0..10 {
        pacer.sent(pacer.step());
    }
    assert!(resumed.elapsed() >= Duration::from_millis(80));
    // Fast rates write in 256 KiB steps; slow ones in steps of 10 ms, at least a byte.
    assert_eq!(Pacer::new(180_000_000).step(), 256 * 1024);
    assert_eq!(Pacer::new(50).step(), 1);
}

#[test]
fn log_records_headers_as_received() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    send(
        &mut client,
        b"GET /file-part?x=%2F&y HTTP/1.1\r\nHOST: localhost:9\r\nauthorization: Bearer hf_secret\r\n\
          Range: bytes=0-9\r\nUser-Agent: probe/1.0\r\n\r\n",
    )?;
    read_response(&mut client, false)?;
    get(&mut client, "/missing")?;
    let records = fixture.server.log().records();
    assert_eq!(records.len(), 2);
    let first = &records[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/file-part"));
    assert_eq!(first.query, "x=%2F&y");
    assert_eq!(first.host, "localhost:9");
    assert_eq!(first.authorization.as_deref(), Some("Bearer hf_secret"));
    assert_eq!(first.range.as_deref(), Some("bytes=0-9"));
    assert_eq!(first.user_agent.as_deref(), Some("probe/1.0"));
    assert_eq!((first.status, first.body_bytes_sent), (200, 1000));
    let second = &records[1];
    assert_eq!(
        (second.status, second.authorization.as_deref(), second.host.as_str()),
        (404, None, "test")
    );
    fixture.server.log().clear();
    assert!(fixture.server.log().records().is_empty());
    Ok(())
}

#[test]
fn routes_get_the_listener_origin_as_base() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    let response = get(&mut client, "/base")?;
    let expected = format!("http://{}", fixture.server.local_addr());
    assert_eq!(String::from_utf8(response.body)?, expected);
    Ok(())
}

#[test]
fn malformed_requests_get_400_and_a_closed_connection() -> TestResult {
    let fixture = start()?;
    let long_header = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000));
    let cases: [(&[u8], u16); 8] = [
        (b"garbage\r\n\r\n", 400),
        (b"GET /x HTTP/9.9\r\n\r\n", 400),
        (b"GET x HTTP/1.1\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\n folded: header\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (long_header.as_bytes(), 431),
    ];
    for (request, status) in cases {
        let mut client = connect(&fixture.server)?;
        send(&mut client, request)?;
        let response = read_response(&mut client, false)?;
        assert_eq!(response.status, status, "for {:.30}", String::from_utf8_lossy(request));
        assert_eq!(response.header("Connection"), Some("close"));
        assert!(read_until_closed(&mut client).is_empty());
    }
    // The server still serves.
    assert_eq!(get(&mut connect(&fixture.server)?, "/bytes/1")?.status, 200);
    Ok(())
}

#[test]
fn a_panicking_route_gets_500() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    let response = get(&mut client, "/panic")?;
    assert_eq!((response.status, response.header("Connection")), (500, Some("close")));
    assert_eq!(get(&mut connect(&fixture.server)?, "/bytes/1")?.status, 200);
    Ok(())
}

#[test]
fn shutdown_returns_and_closes_idle_connections() -> TestResult {
    let fixture = start()?;
    let addr = fixture.server.local_addr();
    let mut idle = connect(&fixture.server)?;
    assert_eq!(get(&mut idle, "/bytes/1")?.status, 200);
    // A connection the server has not read from yet.
    let mut silent = connect(&fixture.server)?;

    fixture.server.shutdown();
    fixture.server.shutdown();

    assert!(read_until_closed(&mut idle).is_empty());
    assert!(read_until_closed(&mut silent).is_empty());
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
    Ok(())
}

#[test]
fn dropping_the_server_stops_it() -> TestResult {
    let fixture = start()?;
    let addr = fixture.server.local_addr();
    let mut idle = connect(&fixture.server)?;
    drop(fixture);
    assert!(read_until_closed(&mut idle).is_empty());
    assert!(TcpStream::connect(addr).is_err());
    Ok(())
}

/// A rustls client trusting only `ca`.
fn tls_client(
    ca: &TestCa,
    server: &HttpServer,
    name: &str,
) -> Result<BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>, Box<dyn Error>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca.ca_cert_pem.as_bytes())?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let session = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from(name)?.to_owned())?;
    let socket = TcpStream::connect(server.local_addr())?;
    socket.set_read_timeout(Some(Duration::from_secs(20)))?;
    Ok(BufReader::new(rustls::StreamOwned::new(session, socket)))
}

#[test]
fn the_cipher_is_the_cdns_choice_not_the_clients() -> TestResult {
    let ca = TestCa::generate()?;
    let fixture = start_with(Some(ca.server_identity(&["localhost"])?))?;
    // rustls offers AES-256-GCM first; the Hub's CDN answers with AES-128-GCM.
    let offered = rustls::crypto::ring::default_provider().cipher_suites;
    assert_eq!(offered[0].suite(), rustls::CipherSuite::TLS13_AES_256_GCM_SHA384);
    let mut client = tls_client(&ca, &fixture.server, "localhost")?;
    client
        .get_mut()
        .write_all(b"GET /bytes/10 HTTP/1.1\r\nHost: t\r\n\r\n")?;
    assert_eq!(read_response(&mut client, false)?.body, pattern(10));
    let chosen = client.get_ref().conn.negotiated_cipher_suite().map(|s| s.suite());
    assert_eq!(chosen, Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256));
    Ok(())
}

#[test]
fn https_round_trip_with_the_generated_ca() -> TestResult {
    let ca = TestCa::generate()?;
    let identity = ca.server_identity(&["127.0.0.1", "localhost"])?;
    let fixture = start_with(Some(identity))?;

    for name in ["127.0.0.1", "localhost"] {
        let mut client = tls_client(&ca, &fixture.server, name)?;
        for path in ["/bytes/100", "/file", "/base"] {
            client
                .get_mut()
                .write_all(format!("GET {path} HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes())?;
            let response = read_response(&mut client, false)?;
            assert_eq!(response.status, 200);
            match path {
                "/bytes/100" => assert_eq!(response.body, pattern(100)),
                "/file" => assert!(response.body == fixture.file, "the file body differs over tls"),
                _ => assert_eq!(
                    response.body,
                    format!("https://{}", fixture.server.local_addr()).as_bytes()
                ),
            }
        }
        client
            .get_mut()
            .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")?;
        assert_eq!(read_response(&mut client, false)?.body, b"abc");
    }

    // A certificate for another name is refused by the client.
    let mut client = tls_client(&ca, &fixture.server, "example.com")?;
    assert!(
        client
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .and_then(|()| client.get_mut().flush())
            .is_err()
            || read_response(&mut client, false).is_err()
    );

    // A connection cut by a fault shows as a short body over TLS too.
    fixture
        .server
        .faults()
        .push(Fault::new("/file", FaultAction::DropAfter { bytes: 40_000 }));
    let mut client = tls_client(&ca, &fixture.server, "localhost")?;
    client.get_mut().write_all(b"GET /file HTTP/1.1\r\nHost: t\r\n\r\n")?;
    let (status, _) = read_head(&mut client)?;
    assert_eq!(status, 200);
    assert_eq!(read_until_closed(&mut client).len(), 40_000);
    Ok(())
}

#[test]
fn tls_setup_rejects_a_bad_identity() {
    let identity = TlsIdentity {
        cert_chain_pem: "nothing".into(),
        key_pem: "nothing".into(),
    };
    let result = HttpServer::start(
        ServerOptions {
            tls: Some(identity),
            ..ServerOptions::default()
        },
        Arc::new(Routes {
            file: None,
            spool: None,
        }),
    );
    assert!(result.is_err_and(|e| e.kind() == io::ErrorKind::InvalidInput));
}

#[test]
fn client_closing_mid_request_does_not_disturb_the_server() -> TestResult {
    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    send(
        &mut client,
        b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a part",
    )?;
    client.get_ref().shutdown(Shutdown::Write)?;
    assert!(read_until_closed(&mut client).is_empty());
    assert_eq!(get(&mut connect(&fixture.server)?, "/bytes/1")?.status, 200);
    assert!(fixture.server.log().records().iter().all(|r| r.path != "/echo"));
    Ok(())
}

/// The files in the spool folder (none when it does not exist).
fn spooled_files(fixture: &Fixture) -> io::Result<usize> {
    match std::fs::read_dir(&fixture.spool) {
        Ok(entries) => Ok(entries.count()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

fn chunked(head: &str, data: &[u8], piece: usize) -> Vec<u8> {
    let mut request = format!("{head}\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    for part in data.chunks(piece) {
        request.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        request.extend_from_slice(part);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

#[test]
fn large_put_bodies_are_spooled_to_disk_and_hashed() -> TestResult {
    use sha2::{Digest, Sha256};

    let fixture = start()?;
    let mut client = connect(&fixture.server)?;
    let data = pattern(super::SPOOL_THRESHOLD as usize + 4321);
    let sha256 = hex(&Sha256::digest(&data));

    let mut request = format!(
        "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    request.extend_from_slice(&data);
    send(&mut client, &request)?;
    let response = read_response(&mut client, false)?;
    assert_eq!(response.header("X-Spooled"), Some(data.len().to_string().as_str()));
    assert_eq!(response.header("X-Sha256"), Some(sha256.as_str()));
    assert!(response.body == data, "the spool file holds the body");
    assert_eq!(spooled_files(&fixture)?, 0, "the spool file goes with the request");

    // Chunked: starts in memory, moves to disk once it outgrows the threshold.
    send(&mut client, &chunked("PUT /echo HTTP/1.1", &data, 1_000_003))?;
    let response = read_response(&mut client, false)?;
    assert_eq!(response.header("X-Sha256"), Some(sha256.as_str()));
    assert!(response.body == data);
    assert_eq!(spooled_files(&fixture)?, 0);

    // Small PUT bodies, and large bodies of other methods, stay in memory.
    send(&mut client, &chunked("PUT /echo HTTP/1.1", b"small", 2))?;
    let response = read_response(&mut client, false)?;
    assert_eq!(
        (response.header("X-Spooled"), response.body.as_slice()),
        (None, &b"small"[..])
    );
    send(&mut client, &chunked("POST /echo HTTP/1.1", &data, 1 << 20))?;
    let response = read_response(&mut client, false)?;
    assert_eq!(response.header("X-Spooled"), None);
    assert!(response.body == data);

    assert_eq!(get(&mut client, "/bytes/7")?.body, pattern(7));
    Ok(())
}

#[test]
fn spooled_bodies_cut_short_or_refused_leave_no_file() -> TestResult {
    let fixture = start()?;
    let len = super::SPOOL_THRESHOLD as usize * 2;
    let data = pattern(len);

    // The client gives up half-way: the partial spool file is removed before the close.
    let mut client = connect(&fixture.server)?;
    let mut request = format!("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    request.extend_from_slice(&data[..len / 2 + 17]);
    send(&mut client, &request)?;
    client.get_ref().shutdown(Shutdown::Write)?;
    assert!(read_until_closed(&mut client).is_empty());
    assert_eq!(spooled_files(&fixture)?, 0);

    // The same cut in a chunked body, past the switch to disk.
    let mut client = connect(&fixture.server)?;
    let request = chunked("PUT /echo HTTP/1.1", &data, 1 << 20);
    send(&mut client, &request[..request.len() / 2 + 5])?;
    client.get_ref().shutdown(Shutdown::Write)?;
    assert!(read_until_closed(&mut client).is_empty());
    assert_eq!(spooled_files(&fixture)?, 0);

    // A fault answers instead of the route: the complete spool file is dropped too.
    fixture.server.faults().push(
        Fault::new(
            "/echo",
            FaultAction::Status {
                status: 503,
                retry_after: None,
            },
        )
        .method("PUT"),
    );
    let mut client = connect(&fixture.server)?;
    let mut request = format!("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    request.extend_from_slice(&data);
    send(&mut client, &request)?;
    assert_eq!(read_response(&mut client, false)?.status, 503);
    assert_eq!(spooled_files(&fixture)?, 0);
    assert!(fixture.server.log().records().iter().all(|r| r.status == 503));
    Ok(())
}
