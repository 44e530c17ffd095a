//! HTTPS over rustls's unbuffered connection, with small buffers and few
//! copies.
//!
//! On a direct connection, ciphertext is read from the socket straight into
//! [`TlsSession::incoming`] ([`TcpTransport::read_into`]), and rustls decrypts
//! each record where it lies; only the start of a record cut by the buffer's
//! end is moved, to its front. Through a `CONNECT` proxy's tunnel (ureq's
//! transport, which reads into a buffer of its own), ciphertext is copied from
//! that buffer a whole record at a time where it has them, so that records are
//! never moved once copied. rustls 0.23 hands each record's plaintext back in
//! a `Vec` of its own, which is copied into the buffer the HTTP layer reads
//! from. Outgoing records are encrypted directly into the socket transport's
//! output buffer.
//!
//! ureq's own rustls transport makes a copy more, through rustls's buffered
//! connection and a socket buffer, and holds more memory a connection (see the
//! constants).

use std::fmt;
use std::sync::Arc;

use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{AppDataRecord, ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use ureq::Error;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};

use crate::tcp_transport::TcpTransport;

/// Ciphertext waiting to be decrypted: room for two full records (one is at
/// most 16 KiB of plaintext plus 2 KiB of overhead in TLS 1.2, 256 bytes in
/// 1.3), so that the start of a record cut by the buffer's end always fits
/// at its front with room for the rest. Through a tunnel, the tunnel's own
/// buffer holds what comes after them; on a direct connection, the socket is
/// read this much at a time.
///
/// Not more: the kernel sizes a connection's receive window from how much
/// the reader takes per round trip, and on loopback (a round trip of
/// microseconds) that is one read. 512 KiB reads grew it to 7.8 MB, against
/// 0.85 MB with these, and the server then spent a quarter more CPU sending
/// the same bytes (its records no longer stay in the caches until they are
/// read): a 2 GiB HTTPS download on one connection took 1.81 s against
/// 1.45 s (medians of ten interleaved runs), for the same CPU here (1.18
/// against 1.19 CPU-s). Over a longer round trip the window grows from all
/// the reads within it, and a 2 GiB download behind 20 ms and 180 MB/s a
/// connection took as long as with 512 KiB reads.
const INCOMING_BUFFER: usize = 40 * 1024;
const _: () = assert!(INCOMING_BUFFER >= 2 * LARGEST_RECORD);

/// The largest record the protocol allows, with its header (TLS 1.2's
/// overhead, the larger).
const LARGEST_RECORD: usize = RECORD_HEADER + 16 * 1024 + 2048;

/// Decrypted bytes waiting for the HTTP layer: two full records. Ciphertext
/// is read in large pieces (they cost less per byte), but a record is
/// decrypted at a time, so a larger buffer here only holds memory.
const PLAINTEXT_INPUT_BUFFER: usize = 32 * 1024;

/// Outgoing plaintext is encrypted in pieces this much smaller than the
/// socket's output buffer, which leaves room for every record's overhead.
const RECORD_OVERHEAD_ROOM: usize = 4096;

/// Wraps the chained transport in TLS when the URL is `https`.
pub(crate) struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
}

impl TlsConnector {
    /// A connector trusting what `config` trusts.
    pub(crate) fn new(config: Arc<rustls::ClientConfig>) -> TlsConnector {
        TlsConnector { config }
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<Either<In, TcpTransport>> for TlsConnector {
    type Out = Either<Either<In, TcpTransport>, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<Either<In, TcpTransport>>,
    ) -> Result<Option<Self::Out>, Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(Error::Tls("the URL has no host to check the certificate against"))?;
        // An IPv6 literal comes bracketed in a URL; a certificate names it bare.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host)
            .map_err(|_| Error::Tls("the URL's host is not a valid TLS server name"))?
            .to_owned();
        let conn = UnbufferedClientConnection::new(self.config.clone(), name)?;
        let socket = match transport {
            Either::B(socket) => Socket::Direct(socket),
            tunnel => Socket::Tunnel(tunnel.boxed()),
        };
        let mut session = TlsSession {
            conn,
            socket,
            incoming: vec![0; INCOMING_BUFFER],
            incoming_start: 0,
            incoming_used: 0,
            overflow: Vec::new(),
            peer_closed: false,
        };
        session.drive(details.timeout, Goal::Handshake, None)?;
        let plaintext = LazyBuffers::new(
            details.config.input_buffer_size().min(PLAINTEXT_INPUT_BUFFER),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport { session, plaintext })))
    }
}

/// TLS over another transport, with rustls's unbuffered connection.
pub(crate) struct TlsTransport {
    session: TlsSession,
    /// What ureq reads responses from and writes requests into.
    plaintext: LazyBuffers,
}

/// What the ciphertext travels over.
enum Socket {
    /// A TCP connection, which TLS reads itself.
    Direct(TcpTransport),
    /// Anything else (a proxy's tunnel), read through its own buffer.
    Tunnel(Box<dyn Transport>),
}

impl Socket {
    fn transport(&mut self) -> &mut dyn Transport {
        match self {
            Socket::Direct(socket) => socket,
            Socket::Tunnel(tunnel) => tunnel.as_mut(),
        }
    }
}

/// The connection's TLS state and its ciphertext.
struct TlsSession {
    conn: UnbufferedClientConnection,
    socket: Socket,
    /// Received ciphertext; records are decrypted in place here.
    incoming: Vec<u8>,
    /// Where the ciphertext not yet decrypted starts, and ends.
    incoming_start: usize,
    incoming_used: usize,
    /// Decrypted bytes that did not fit in the plaintext buffer yet (or came
    /// while a request was being sent).
    overflow: Vec<u8>,
    peer_closed: bool,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

/// What [`TlsTransport::drive`] runs the connection until.
#[derive(Clone, Copy)]
enum Goal<'a> {
    /// The handshake is done.
    Handshake,
    /// These plaintext bytes are sent.
    Send(&'a [u8]),
    /// Some plaintext arrived, or the peer closed.
    Receive,
}

/// Where a step of the connection left it.
enum Progress {
    Done,
    NeedsInput,
    Continue,
}

impl TlsSession {
    /// Runs the TLS state machine until `goal` is reached, delivering
    /// plaintext into `sink` (or keeping it when there is none). Returns
    /// whether plaintext was delivered (always true for the other goals).
    fn drive(
        &mut self,
        timeout: NextTimeout,
        goal: Goal<'_>,
        mut sink: Option<&mut LazyBuffers>,
    ) -> Result<bool, Error> {
        let mut pending_output = 0;
        loop {
            let UnbufferedStatus { mut discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[self.incoming_start..self.incoming_used]);
            let progress = match state? {
                ConnectionState::ReadTraffic(mut traffic) => {
                    let mut delivered = false;
                    while let Some(record) = traffic.next_record() {
                        let AppDataRecord { discard: used, payload } = record?;
                        discard += used;
                        delivered |= deliver(sink.as_deref_mut(), &mut self.overflow, payload);
                    }
                    match goal {
                        Goal::Receive if delivered => Progress::Done,
                        _ => Progress::Continue,
                    }
                }
                ConnectionState::EncodeTlsData(mut encode) => {
                    let output = self.socket.transport().buffers().output();
                    pending_output += encode.encode(&mut output[pending_output..]).map_err(encode_error)?;
                    Progress::Continue
                }
                ConnectionState::TransmitTlsData(transmit) => {
                    self.socket.transport().transmit_output(pending_output, timeout)?;
                    pending_output = 0;
                    transmit.done();
                    Progress::Continue
                }
                ConnectionState::WriteTraffic(mut traffic) => match goal {
                    Goal::Handshake => Progress::Done,
                    Goal::Send(bytes) => {
                        let socket = self.socket.transport();
                        let room = socket.buffers().output().len().saturating_sub(RECORD_OVERHEAD_ROOM);
                        for piece in bytes.chunks(room.max(1)) {
                            let written = traffic
                                .encrypt(piece, socket.buffers().output())
                                .map_err(encrypt_error)?;
                            socket.transmit_output(written, timeout)?;
                        }
                        Progress::Done
                    }
                    Goal::Receive => Progress::NeedsInput,
                },
                ConnectionState::BlockedHandshake => Progress::NeedsInput,
                ConnectionState::PeerClosed | ConnectionState::Closed => {
                    self.peer_closed = true;
                    return match goal {
                        Goal::Receive => Ok(false),
                        Goal::Handshake | Goal::Send(_) => Err(closed()),
                    };
                }
                _ => return Err(Error::Tls("unexpected TLS connection state")),
            };
            // rustls decrypts a record at a time: the next ones stay where they are.
            self.incoming_start += discard;
            if self.incoming_start == self.incoming_used {
                (self.incoming_start, self.incoming_used) = (0, 0);
            }
            match progress {
                Progress::Done => return Ok(true),
                Progress::Continue => {}
                Progress::NeedsInput => {
                    if !self.receive_ciphertext(timeout)? {
                        self.peer_closed = true;
                        return match goal {
                            Goal::Receive => Ok(false),
                            Goal::Handshake | Goal::Send(_) => Err(closed()),
                        };
                    }
                }
            }
        }
    }

    /// Moves ciphertext from the socket into `incoming`; false at the end of
    /// the stream.
    fn receive_ciphertext(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        // Read from a socket, a record may be cut at the buffer's end: its
        // start goes to the front once too little room is left after it.
        let room_wanted = match self.socket {
            Socket::Direct(_) => LARGEST_RECORD,
            Socket::Tunnel(_) => 1,
        };
        if self.incoming.len() - self.incoming_used < room_wanted {
            if self.incoming_start == 0 {
                return Err(Error::Tls("a TLS record is larger than the protocol allows"));
            }
            // The part of a record at the end goes to the front, to be completed.
            self.incoming.copy_within(self.incoming_start..self.incoming_used, 0);
            self.incoming_used -= self.incoming_start;
            self.incoming_start = 0;
        }
        let tunnel = match &mut self.socket {
            Socket::Direct(socket) => {
                let read = socket.read_into(&mut self.incoming[self.incoming_used..], timeout)?;
                self.incoming_used += read;
                return Ok(read > 0);
            }
            Socket::Tunnel(tunnel) => tunnel,
        };
        if tunnel.buffers().input().is_empty() && !tunnel.await_input(timeout)? {
            return Ok(false);
        }
        let buffers = tunnel.buffers();
        let received = buffers.input();
        let mut taken = received.len().min(self.incoming.len() - self.incoming_used);
        // Stop after the last whole record, so that none is left half-received here, to
        // be moved to the front once the whole ones are decrypted: the rest waits in the
        // socket's buffer, and comes next into an empty buffer.
        let whole = whole_records_in(
            &self.incoming[self.incoming_start..self.incoming_used],
            &received[..taken],
        );
        if whole > 0 {
            taken = whole;
        }
        self.incoming[self.incoming_used..self.incoming_used + taken].copy_from_slice(&received[..taken]);
        buffers.input_consume(taken);
        self.incoming_used += taken;
        Ok(true)
    }
}

/// The length of a TLS record's header: type, version, and the length of what follows.
const RECORD_HEADER: usize = 5;

/// How many bytes of `more` complete the last whole record of `held` followed
/// by `more`, `held` starting at a record: 0 when no record ends within `more`.
/// Only the length fields are read (rustls checks the rest); a wrong guess
/// only makes a read shorter, never loses a byte.
fn whole_records_in(held: &[u8], more: &[u8]) -> usize {
    let total = held.len() + more.len();
    let byte = |i: usize| match held.get(i) {
        Some(&b) => b,
        None => more[i - held.len()],
    };
    let mut end = 0;
    while end + RECORD_HEADER <= total {
        let next = end + RECORD_HEADER + usize::from(u16::from_be_bytes([byte(end + 3), byte(end + 4)]));
        if next > total {
            break;
        }
        end = next;
    }
    end.saturating_sub(held.len())
}

/// Copies a decrypted record into ureq's input buffer, keeping what does not
/// fit for the next read. Returns whether any byte was delivered.
fn deliver(plaintext: Option<&mut LazyBuffers>, overflow: &mut Vec<u8>, payload: &[u8]) -> bool {
    if payload.is_empty() {
        return false;
    }
    let Some(plaintext) = plaintext.filter(|_| overflow.is_empty()) else {
        overflow.extend_from_slice(payload);
        return true;
    };
    let room = plaintext.input_append_buf();
    let taken = payload.len().min(room.len());
    room[..taken].copy_from_slice(&payload[..taken]);
    plaintext.input_appended(taken);
    overflow.extend_from_slice(&payload[taken..]);
    true
}

/// Moves what it can of `overflow` into ureq's input buffer; returns how much.
fn drain_overflow(plaintext: &mut LazyBuffers, overflow: &mut Vec<u8>) -> usize {
    let room = plaintext.input_append_buf();
    let taken = overflow.len().min(room.len());
    room[..taken].copy_from_slice(&overflow[..taken]);
    plaintext.input_appended(taken);
    overflow.drain(..taken);
    taken
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.plaintext
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let request = &self.plaintext.output()[..amount];
        self.session.drive(timeout, Goal::Send(request), None).map(|_| ())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let session = &mut self.session;
        if !session.overflow.is_empty() {
            return Ok(drain_overflow(&mut self.plaintext, &mut session.overflow) > 0);
        }
        if session.peer_closed {
            return Ok(false);
        }
        session.drive(timeout, Goal::Receive, Some(&mut self.plaintext))
    }

    fn is_open(&mut self) -> bool {
        !self.session.peer_closed && self.session.socket.transport().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

fn closed() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the server closed the TLS connection",
    ))
}

fn encode_error(error: EncodeError) -> Error {
    match error {
        EncodeError::InsufficientSize(_) => Error::Tls("a TLS handshake message is larger than the output buffer"),
        _ => Error::Tls("failed to encode a TLS handshake message"),
    }
}

fn encrypt_error(error: EncryptError) -> Error {
    match error {
        EncryptError::InsufficientSize(_) => Error::Tls("a TLS record is larger than the output buffer"),
        _ => Error::Tls("failed to encrypt a TLS record"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS record header announcing `len` bytes, then `len` bytes.
    fn record(len: u16) -> Vec<u8> {
        let mut bytes = vec![23, 3, 3];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.resize(RECORD_HEADER + usize::from(len), 0xab);
        bytes
    }

    #[test]
    fn a_read_stops_after_the_last_whole_record() {
        let stream: Vec<u8> = [record(100), record(16_401), record(300)].concat();
        let first = RECORD_HEADER + 100;
        let second = first + RECORD_HEADER + 16_401;
        assert_eq!(whole_records_in(&[], &stream[..second + 7]), second);
        assert_eq!(whole_records_in(&[], &stream), stream.len());
        // Part of a record already held: its rest counts from where it stopped.
        assert_eq!(whole_records_in(&stream[..40], &stream[40..second + 3]), second - 40);
        assert_eq!(
            whole_records_in(&stream[..first + 2], &stream[first + 2..second]),
            second - first - 2
        );
        // No record ends within the new bytes, or the header itself is cut.
        assert_eq!(whole_records_in(&[], &stream[..first - 1]), 0);
        assert_eq!(whole_records_in(&stream[..first], &stream[first..first + 3]), 0);
        assert_eq!(whole_records_in(&[], &[]), 0);
    }

    #[test]
    fn a_record_length_past_any_record_takes_what_fits_and_never_stops_a_read() {
        // A server announcing 65535 bytes (four times a record's limit): no record
        // ends, so the read takes all that fits; rustls refuses the record, and a
        // full buffer with no record decrypted is an error, not a wait.
        let lie = [vec![23, 3, 3, 0xff, 0xff], vec![0u8; 1000]].concat();
        assert_eq!(whole_records_in(&[], &lie), 0);
        // A whole record then the lie: the whole one is taken alone.
        let stream = [record(10), lie].concat();
        assert_eq!(whole_records_in(&[], &stream), RECORD_HEADER + 10);
    }

    #[test]
    fn plaintext_that_does_not_fit_waits_in_order() {
        let mut plaintext = LazyBuffers::new(8, 8);
        let mut overflow = Vec::new();
        assert!(!deliver(Some(&mut plaintext), &mut overflow, b""));
        assert!(deliver(Some(&mut plaintext), &mut overflow, b"abcdef"));
        assert!(deliver(Some(&mut plaintext), &mut overflow, b"ghijkl"));
        assert_eq!(plaintext.input(), b"abcdefgh");
        assert_eq!(overflow, b"ijkl");
        // A record received while a request is sent has no sink: it waits too.
        assert!(deliver(None, &mut overflow, b"mn"));
        plaintext.input_consume(8);
        assert_eq!(drain_overflow(&mut plaintext, &mut overflow), 6);
        assert_eq!(plaintext.input(), b"ijklmn");
        assert!(overflow.is_empty());
        // While bytes wait, a new record goes behind them, not in front.
        assert!(deliver(Some(&mut plaintext), &mut overflow, b"opqr"));
        assert!(deliver(Some(&mut plaintext), &mut overflow, b"st"));
        assert_eq!(plaintext.input(), b"ijklmnop");
        assert_eq!(overflow, b"qrst");
    }
}
