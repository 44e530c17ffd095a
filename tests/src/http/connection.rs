//! Serving one connection: requests in, responses out, until either side closes.

use std::io::{BufReader, Read};
use std::net::Shutdown;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::faults::{FaultAction, Faults};
use super::http_date::HttpDate;
use super::message::{Handler, Request, Response};
use super::network_conditions::SharedConditions;
use super::read_request::{Incoming, ReadError, read_request};
use super::request_log::{RequestLog, RequestRecord};
use super::transport::Transport;
use super::write_response::{Outgoing, reason_phrase};

/// How long a closing connection waits for the client's last bytes, so that
/// unread input does not turn the close into a reset that destroys the answer.
const LINGER: Duration = Duration::from_secs(2);
/// The most input a closing connection drains before giving up.
const LINGER_BYTES: usize = 1 << 20;

/// What every connection of a server shares.
pub(crate) struct Context {
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) faults: Faults,
    pub(crate) log: RequestLog,
    /// Set when the server shuts down: answers then close their connection.
    pub(crate) stopping: Arc<AtomicBool>,
    /// `http` or `https`.
    pub(crate) scheme: &'static str,
    /// The simulated round-trip delay and throughput cap.
    pub(crate) conditions: SharedConditions,
}

/// What to do with the connection after a response.
enum After {
    KeepAlive,
    Close,
    /// Cut the connection without further ado (a fault, or the response could not be sent).
    Cut,
}

/// Numbers the connections of every server in this process, for the request log.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Serves requests on `stream` until the client or the server closes it.
/// `base` is the origin the client connected to, as `http://127.0.0.1:PORT`.
pub(crate) fn serve<T: Transport>(stream: T, context: &Context, base: &str) {
    let connection = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    // The TCP handshake of a distant server costs one round trip before the first request.
    sleep_nonzero(context.conditions.get().latency);
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut line = Vec::with_capacity(256);
    let mut head = Vec::with_capacity(1024);
    let mut date = HttpDate::new();
    loop {
        let spool_dir = |head: &Request| context.handler.spool_dir(head);
        let incoming = match read_request(&mut reader, context.scheme, &mut line, &spool_dir) {
            Ok(Some(incoming)) => incoming,
            Ok(None) | Err(ReadError::Broken) => return,
            Err(ReadError::Reject { status, reason }) => {
                let outgoing = Outgoing::new(Response::hub_error(status, None, reason), false, None);
                let stream = reader.get_mut();
                if outgoing.write(stream, &mut head, date.now(), false, None, None).is_ok() {
                    close_gracefully(stream);
                }
                return;
            }
        };
        let stream = reader.get_mut();
        match answer(stream, incoming, context, (base, connection), &mut head, &mut date) {
            After::KeepAlive => {}
            After::Close => return close_gracefully(stream),
            After::Cut => {
                let _ = stream.socket().shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Runs the faults and the route for one request and writes the answer.
fn answer<T: Transport>(
    stream: &mut T,
    incoming: Incoming,
    context: &Context,
    (base, connection): (&str, u64),
    head: &mut Vec<u8>,
    date: &mut HttpDate,
) -> After {
    let Incoming { request, keep_alive } = incoming;
    let _handling = context.log.handling();
    let conditions = context.conditions.get();
    let mut drop_after = None;
    let mut corrupt_at = None;
    let mut bytes_per_sec = conditions.per_connection_bytes_per_sec;
    let mut route_panicked = false;
    let response = match context.faults.take(&request.method, &request.path) {
        Some(FaultAction::Status { status, retry_after }) => {
            let mut response = Response::hub_error(status, None, reason_phrase(status));
            if let Some(seconds) = retry_after {
                response.headers.push(("Retry-After".into(), seconds.to_string()));
            }
            response
        }
        fault => {
            match fault {
                Some(FaultAction::Delay { millis }) => {
                    std::thread::sleep(Duration::from_millis(millis));
                }
                Some(FaultAction::DropAfter { bytes }) => drop_after = Some(bytes),
                Some(FaultAction::Corrupt { offset }) => corrupt_at = Some(offset),
                Some(FaultAction::Throttle { bytes_per_sec: rate }) => bytes_per_sec = Some(rate),
                Some(FaultAction::Status { .. }) | None => {}
            }
            match catch_unwind(AssertUnwindSafe(|| context.handler.handle(&request, base))) {
                Ok(response) => response,
                Err(_) => {
                    route_panicked = true;
                    Response::hub_error(500, None, "the route handling this request panicked")
                }
            }
        }
    };

    let head_request = request.method == "HEAD";
    let outgoing = Outgoing::new(response, head_request, drop_after);
    let keep_alive =
        keep_alive && !route_panicked && !outgoing.route_closes() && !context.stopping.load(Ordering::Relaxed);
    context
        .log
        .push(record(request, connection, outgoing.status(), outgoing.body_bytes()));

    sleep_nonzero(conditions.latency);
    let written = outgoing.write(stream, head, date.now(), keep_alive, corrupt_at, bytes_per_sec);
    match (written, drop_after) {
        (Err(_), _) | (Ok(()), Some(_)) => After::Cut,
        (Ok(()), None) if keep_alive => After::KeepAlive,
        (Ok(()), None) => After::Close,
    }
}

fn sleep_nonzero(duration: Duration) {
    if !duration.is_zero() {
        std::thread::sleep(duration);
    }
}

fn record(request: Request, connection: u64, status: u16, body_bytes_sent: u64) -> RequestRecord {
    let Request {
        method,
        path,
        query,
        mut headers,
        ..
    } = request;
    let all_headers = headers.clone();
    let mut take = |name: &str| {
        headers
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, value)| std::mem::take(value))
    };
    RequestRecord {
        method,
        path,
        query,
        host: take("host").unwrap_or_default(),
        authorization: take("authorization"),
        range: take("range"),
        user_agent: take("user-agent"),
        connection,
        headers: all_headers,
        status,
        body_bytes_sent,
        answered_at: Instant::now(),
    }
}

/// Closes after a complete answer: TLS `close_notify`, then our half of the
/// TCP connection, then a bounded wait for the client to close its half.
fn close_gracefully<T: Transport>(stream: &mut T) {
    let _ = stream.finish();
    let socket = stream.socket();
    if socket.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let _ = socket.set_read_timeout(Some(LINGER));
    let mut sink = [0; 4096];
    let mut drained = 0;
    let mut raw = socket;
    while drained < LINGER_BYTES {
        match raw.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}
