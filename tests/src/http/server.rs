//! The listener: binding, accepting, one detached thread per connection, shutdown.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::connection::{Context, serve};
use super::faults::Faults;
use super::message::Handler;
use super::network_conditions::{NetworkConditions, SharedConditions};
use super::request_log::RequestLog;
use super::{ServerOptions, TlsIdentity};

/// A connection idle this long (or stalled mid-request) is closed.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// A client that reads nothing for this long loses its connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);
/// A pause after a failed `accept` (say, out of descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// A running HTTP/1.1 server on its own threads; stopped by [`HttpServer::shutdown`] or on drop.
pub struct HttpServer {
    local_addr: SocketAddr,
    faults: Faults,
    log: RequestLog,
    conditions: SharedConditions,
    shared: Arc<Shared>,
    accept_thread: Mutex<Option<JoinHandle<()>>>,
}

/// State shared by the server handle, the listener thread and the connection threads.
struct Shared {
    stopping: Arc<AtomicBool>,
    connections: Mutex<OpenConnections>,
}

/// The sockets of live connections, so that shutdown can close them.
#[derive(Default)]
struct OpenConnections {
    next_id: u64,
    sockets: HashMap<u64, TcpStream>,
}

impl HttpServer {
    /// Binds `options.addr`, starts the listener thread and returns at once.
    ///
    /// Fails when the address cannot be bound or the TLS identity is unusable
    /// (`InvalidInput`).
    pub fn start(options: ServerOptions, handler: Arc<dyn Handler>) -> io::Result<HttpServer> {
        let tls = options.tls.as_ref().map(tls_config).transpose()?;
        let listener = TcpListener::bind(options.addr)?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stopping: Arc::new(AtomicBool::new(false)),
            connections: Mutex::new(OpenConnections::default()),
        });
        let faults = Faults::default();
        let log = RequestLog::default();
        let conditions = SharedConditions::default();
        let context = Arc::new(Context {
            handler,
            faults: faults.clone(),
            log: log.clone(),
            stopping: shared.stopping.clone(),
            scheme: if tls.is_some() { "https" } else { "http" },
            conditions: conditions.clone(),
        });
        let accept_thread = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("hub-emulator-listener".into())
                .spawn(move || accept_loop(&listener, &shared, &context, tls.as_ref()))?
        };
        Ok(HttpServer {
            local_addr,
            faults,
            log,
            conditions,
            shared,
            accept_thread: Mutex::new(Some(accept_thread)),
        })
    }

    /// The address the server listens on (with the actual port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The faults to inject into coming requests.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The requests answered so far.
    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    /// The simulated network conditions in force (none at start).
    pub fn network_conditions(&self) -> NetworkConditions {
        self.conditions.get()
    }

    /// Changes the simulated network conditions. Requests answered from then on
    /// wait the new latency, and bodies started from then on get the new cap;
    /// a connection opened from then on pays the new latency once for its handshake.
    pub fn set_network_conditions(&self, conditions: NetworkConditions) {
        self.conditions.set(conditions);
    }

    /// Stops accepting, closes the listening socket and every open connection.
    /// Returns promptly; calling it again does nothing.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // `accept` blocks until a client arrives: become that client.
        let woke = TcpStream::connect_timeout(&wake_addr(self.local_addr), Duration::from_secs(1));
        let sockets: Vec<TcpStream> = self.shared.lock().sockets.drain().map(|(_, socket)| socket).collect();
        for socket in sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let accept_thread = self.accept_thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        // Without the wake-up connection the listener may never return: leave it detached.
        if let (Some(handle), Ok(_)) = (accept_thread, woke) {
            let _ = handle.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, OpenConnections> {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a new connection's socket; `None` once the server is stopping.
    fn register(self: &Arc<Self>, stream: &TcpStream) -> Option<Registration> {
        let mut open = self.lock();
        // Checked under the lock that shutdown drains under, so no socket escapes it.
        if self.stopping.load(Ordering::SeqCst) {
            return None;
        }
        let id = open.next_id;
        open.next_id += 1;
        if let Ok(socket) = stream.try_clone() {
            open.sockets.insert(id, socket);
        }
        Some(Registration {
            shared: self.clone(),
            id,
        })
    }
}

/// A live connection's entry in [`OpenConnections`], removed when the connection ends.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.lock().sockets.remove(&self.id);
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, context: &Arc<Context>, tls: Option<&Arc<ServerConfig>>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => spawn_connection(stream, shared, context, tls),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => thread::sleep(ACCEPT_BACKOFF),
        }
    }
}

fn spawn_connection(stream: TcpStream, shared: &Arc<Shared>, context: &Arc<Context>, tls: Option<&Arc<ServerConfig>>) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Some(registration) = shared.register(&stream) else {
        return;
    };
    let base = match stream.local_addr() {
        Ok(addr) => format!("{}://{addr}", context.scheme),
        Err(_) => return,
    };
    let context = context.clone();
    let tls = tls.cloned();
    // Detached: a connection thread never keeps the process alive, and when
    // spawning fails the closure is dropped, which closes the socket.
    let _ = thread::Builder::new()
        .name("hub-emulator-connection".into())
        .spawn(move || {
            let _registration = registration;
            match tls {
                None => serve(stream, &context, &base),
                Some(config) => {
                    if let Ok(session) = ServerConnection::new(config) {
                        serve(StreamOwned::new(session, stream), &context, &base);
                    }
                }
            }
        });
}

/// Where to connect to reach a listener bound to `addr` (loopback for a wildcard address).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Where a cipher suite comes in the order the Hub's CDN (CloudFront) chooses
/// from: "CloudFront chooses a cipher in the listed order from among the
/// ciphers that the viewer supports", and lists AES-128-GCM before AES-256-GCM
/// before ChaCha20-Poly1305, TLS 1.3 before 1.2, ECDSA before RSA.
fn cdn_preference(suite: rustls::CipherSuite) -> usize {
    use rustls::CipherSuite as S;
    const ORDER: [S; 9] = [
        S::TLS13_AES_128_GCM_SHA256,
        S::TLS13_AES_256_GCM_SHA384,
        S::TLS13_CHACHA20_POLY1305_SHA256,
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    ORDER.iter().position(|s| *s == suite).unwrap_or(ORDER.len())
}

fn tls_config(identity: &TlsIdentity) -> io::Result<Arc<ServerConfig>> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("unusable tls {what}: {e}"))
    };
    let (certs, key) = identity.rustls_parts()?;
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| cdn_preference(suite.suite()));
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("configuration", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid("identity", &e))?;
    // The Hub's CDN picks the cipher from its own list, whatever order the
    // client offers them in, so every client pays for the one it gets there.
    config.ignore_client_order = true;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
