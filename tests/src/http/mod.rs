//! The emulator's HTTP/1.1 server: a listener thread, one thread per connection,
//! keep-alive, chunked request bodies, large request bodies spooled to disk, TLS, fault injection, simulated network
//! conditions and a request log.
//!
//! The server knows nothing of the Hub: it parses requests, hands each one to a
//! [`Handler`] and writes the [`Response`] back. Small bodies leave in one write
//! with the head; large file bodies go from the page cache to the socket with
//! `sendfile` on Linux over plain HTTP (`std::io::copy` no longer does that
//! from a file to a socket), and are copied in 256 KiB chunks elsewhere and over
//! TLS. [`NetworkConditions`] make the server look distant: a delay before each
//! answer and a throughput cap per connection.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use hub_emulator::http::{Body, Handler, HttpServer, Request, Response, ServerOptions};
//!
//! struct Hello;
//! impl Handler for Hello {
//!     fn handle(&self, request: &Request, _base: &str) -> Response {
//!         Response { status: 200, headers: Vec::new(), body: Body::Bytes(request.path.clone().into_bytes()) }
//!     }
//! }
//!
//! let server = HttpServer::start(ServerOptions::default(), Arc::new(Hello))?;
//! let mut client = std::net::TcpStream::connect(server.local_addr())?;
//! client.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut answer = String::new();
//! client.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(answer.ends_with("\r\n\r\n/hello"));
//! assert_eq!(server.log().records()[0].path, "/hello");
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod message;

mod connection;
mod faults;
mod http_date;
mod network_conditions;
mod pacing;
mod read_request;
mod request_log;
mod server;
mod spooled_body;
mod transport;
mod write_response;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr};

pub use faults::{Fault, FaultAction, Faults};
pub use message::{Body, Handler, Request, Response, percent_decode};
pub use network_conditions::NetworkConditions;
pub use request_log::{RequestLog, RequestRecord};
pub use server::HttpServer;
pub use spooled_body::{SPOOL_THRESHOLD, SpooledBody};

/// Where and how an [`HttpServer`] listens.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The address to bind; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Serve HTTPS with this certificate instead of plain HTTP.
    pub tls: Option<TlsIdentity>,
}

impl Default for ServerOptions {
    /// Plain HTTP on `127.0.0.1`, on a free port.
    fn default() -> Self {
        ServerOptions {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
        }
    }
}

/// A server certificate chain and its private key, both PEM-encoded.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The leaf certificate first, then any intermediates.
    pub cert_chain_pem: String,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
}

impl TlsIdentity {
    /// The certificate chain and the key, parsed for a rustls server.
    pub fn rustls_parts(
        &self,
    ) -> std::io::Result<(
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("unusable tls {what}: {e}"))
        };
        let certs = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("certificate chain", &e))?;
        if certs.is_empty() {
            return Err(invalid("certificate chain", &"no certificate in the pem text"));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| invalid("private key", &e))?;
        Ok((certs, key))
    }
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}
