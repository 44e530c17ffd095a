//! A small HTTP `CONNECT` proxy for tests: it tunnels every connection to its
//! target and counts what passes through, so tests can prove that a client
//! used (or bypassed) the proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A running `CONNECT` proxy on 127.0.0.1.
pub struct ConnectProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    stopping: AtomicBool,
    tunnels: Mutex<Vec<String>>,
    bytes_to_target: AtomicU64,
    bytes_to_client: AtomicU64,
}

impl ConnectProxy {
    /// Starts the proxy on a free port.
    pub fn start() -> std::io::Result<ConnectProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ProxyState::default());
        let accept_state = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&accept_state);
                thread::spawn(move || {
                    // A failed tunnel only concerns the client that asked for it.
                    let _ = tunnel(stream, &state);
                });
            }
        });
        Ok(ConnectProxy { addr, state })
    }

    /// The proxy URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` of every tunnel opened so far.
    pub fn tunnels(&self) -> Vec<String> {
        self.state.tunnels.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Bytes relayed from clients to targets, and from targets to clients.
    pub fn bytes_relayed(&self) -> (u64, u64) {
        (
            self.state.bytes_to_target.load(Ordering::SeqCst),
            self.state.bytes_to_client.load(Ordering::SeqCst),
        )
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn tunnel(client: TcpStream, state: &ProxyState) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let mut client = client;
        client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    };
    let upstream = match TcpStream::connect(target) {
        Ok(upstream) => upstream,
        Err(e) => {
            let mut client = client;
            client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            return Err(e);
        }
    };
    if let Ok(mut tunnels) = state.tunnels.lock() {
        tunnels.push(target.to_string());
    }
    let mut client_writer = client.try_clone()?;
    client_writer.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    // Bytes the client sent right after its CONNECT head are already buffered.
    let buffered = reader.buffer().to_vec();
    let mut upstream_writer = upstream.try_clone()?;
    upstream_writer.write_all(&buffered)?;
    state.bytes_to_target.fetch_add(buffered.len() as u64, Ordering::SeqCst);

    let mut upstream_reader = upstream;
    thread::scope(|scope| {
        scope.spawn(|| {
            relay(&mut reader, &mut upstream_writer, &state.bytes_to_target);
            let _ = upstream_writer.shutdown(Shutdown::Write);
        });
        relay(&mut upstream_reader, &mut client_writer, &state.bytes_to_client);
        let _ = client_writer.shutdown(Shutdown::Write);
    });
    Ok(())
}

/// Copies until end of stream or error, counting as it goes: clients keep tunnels
/// open (keep-alive), so the count must be current before the tunnel closes.
fn relay(from: &mut impl Read, to: &mut impl Write, count: &AtomicU64) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                // Counted before the bytes leave, so a client that got them sees them counted.
                count.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
