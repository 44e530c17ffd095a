//! TCP connections as ureq's own connector makes them (each resolved address
//! in turn within the connect timeout, `TCP_NODELAY` as configured, per-read
//! and per-write timeouts), with one difference: the TLS layer can read the
//! socket itself ([`TcpTransport::read_into`]), so that ciphertext goes from
//! the kernel straight into the TLS session's buffer instead of through a
//! socket buffer first: a copy of every byte less over HTTPS.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle, Transport,
};
use ureq::{Error, Timeout};

/// The input buffer of a connection that TLS reads itself: never filled
/// (ureq's buffers allocate their full size on first use, and a connection
/// under TLS only writes through them).
const UNUSED_INPUT: usize = 1;

/// What a read from the socket asks for at most, on most plain connections
/// (TLS reads for itself: `tls_transport.rs`).
const READ_SIZE: usize = 128 * 1024;

/// What it asks for on [`LARGE_READ_CONNECTIONS`] of the process's plain
/// connections at a time: those that have shown they carry file bodies
/// ([`LARGE_READS_AFTER`]). A large file's connection then costs less CPU per
/// byte, with a quarter as many reads (one connection on loopback: 1.6
/// against 1.9 CPU-s for 2 GiB; five files of 400 MB: 1.85 against 1.95).
/// The other connections keep [`READ_SIZE`], so memory stays bounded: at
/// most 1.5 MiB more in all.
const LARGE_READ_SIZE: usize = 512 * 1024;

/// How many bytes a connection must have received in reads that filled its
/// buffer (the sender had more ready than it read at once) before it may
/// read [`LARGE_READ_SIZE`] at once. Connections are made for the Hub's API
/// first (a revision, a file's metadata), and they stay in the pool: given
/// the places by the order they were made, they would hold them while the
/// file bodies came in at [`READ_SIZE`] on the connections made after them.
/// Nor does a connection that carries many small files need them: its
/// responses never fill a read.
const LARGE_READS_AFTER: u64 = 4 * 1024 * 1024;

/// How many connections at a time read [`LARGE_READ_SIZE`] at once. Eight
/// saved little more CPU than four on five files of 400 MB over loopback
/// (1.82 against 1.85 CPU-s), for 2 MB more memory, and none over a slow link.
const LARGE_READ_CONNECTIONS: usize = 4;

/// Connections of this process that read [`LARGE_READ_SIZE`] at once.
static LARGE_READERS: AtomicUsize = AtomicUsize::new(0);

/// One of the [`LARGE_READ_CONNECTIONS`] places, given back on drop.
struct LargeReads(&'static AtomicUsize);

impl LargeReads {
    /// A place among `holders`, if fewer than [`LARGE_READ_CONNECTIONS`] hold one.
    fn take(holders: &'static AtomicUsize) -> Option<LargeReads> {
        holders
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < LARGE_READ_CONNECTIONS).then_some(n + 1)
            })
            .ok()
            .map(|_| LargeReads(holders))
    }
}

impl Drop for LargeReads {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The least time a connection attempt to one address is given.
const MIN_ATTEMPT: Duration = Duration::from_millis(10);

/// Opens a TCP connection to the resolved addresses, unless a connector
/// before it in the chain (a proxy's tunnel) already made the connection.
#[derive(Debug, Default)]
pub(crate) struct TcpConnector;

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, Error> {
        if let Some(tunnel) = chained {
            return Ok(Some(Either::A(tunnel)));
        }
        let stream = connect_any(&details.addrs, details.timeout)?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        // TLS reads the socket itself, into a buffer of its own size
        // (`tls_transport.rs`): large reads are for plain connections.
        let tls = details.needs_tls();
        let input = match tls {
            true => UNUSED_INPUT,
            false => READ_SIZE.min(details.config.input_buffer_size()),
        };
        let output = details.config.output_buffer_size();
        let transport = TcpTransport {
            stream: Arc::new(stream),
            buffers: LazyBuffers::new(input, output),
            output_size: output,
            read_timeout: None,
            write_timeout: None,
            reads: match tls {
                true => ReadSize::Own,
                false => ReadSize::Usual { streamed: 0 },
            },
            places: &LARGE_READERS,
        };
        // So that `Agent::shutdown` can break a read or a write blocked on it.
        let handle = Arc::downgrade(&transport.stream) as Weak<dyn ShutdownHandle>;
        (details.register_shutdown)(handle)?;
        Ok(Some(Either::B(transport)))
    }
}

/// Tries each address in turn: each but the last gets half of the time left
/// (an address that does not answer leaves time for the next ones), and one
/// that refuses or cannot be routed to is passed over at once.
fn connect_any(addrs: &[SocketAddr], timeout: NextTimeout) -> Result<TcpStream, Error> {
    let deadline = timeout.not_zero().map(|limit| Instant::now() + *limit);
    let mut last_error = None;
    for (index, addr) in addrs.iter().enumerate() {
        let attempt = match deadline {
            None => TcpStream::connect(addr),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(timeout.reason));
                }
                let share = match index + 1 == addrs.len() {
                    true => left,
                    false => (left / 2).max(MIN_ATTEMPT),
                };
                TcpStream::connect_timeout(addr, share)
            }
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) if is_worth_another_address(&e) => {
                log::debug!("connecting to {addr} failed ({e}); trying the next address");
                last_error = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(match last_error {
        Some(e) if is_timeout(&e) => Error::Timeout(Timeout::Connect),
        Some(e) => e.into(),
        None => io::Error::new(io::ErrorKind::NotFound, "the host resolved to no address").into(),
    })
}

/// Errors about one address only: the host's next address may still answer.
fn is_worth_another_address(e: &io::Error) -> bool {
    is_timeout(e)
        || matches!(
            e.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::NetworkDown
                | io::ErrorKind::AddrNotAvailable
        )
}

/// A socket timeout shows as `WouldBlock` on some systems, `TimedOut` on others.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// A TCP connection and the buffers ureq reads responses from and writes
/// requests into.
pub(crate) struct TcpTransport {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    /// The timeouts set on the socket, so that each is set only when it changes.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// The output buffer's size, for when the buffers are made again larger.
    output_size: usize,
    /// How much this connection reads from the socket at once.
    reads: ReadSize,
    /// The count of connections holding a place to read large.
    places: &'static AtomicUsize,
}

/// How much a connection reads from the socket at once.
enum ReadSize {
    /// TLS reads for itself ([`TcpTransport::read_into`]).
    Own,
    /// [`READ_SIZE`], until `streamed`, the bytes of reads that filled the
    /// buffer, reaches [`LARGE_READS_AFTER`] and a place is free.
    Usual { streamed: u64 },
    /// [`LARGE_READ_SIZE`], holding one of the places.
    Large { _place: LargeReads },
}

impl TcpTransport {
    /// Reads what the socket holds into `buffer`, waiting for the first byte
    /// up to `timeout`; 0 at the end of the stream.
    pub(crate) fn read_into(&mut self, buffer: &mut [u8], timeout: NextTimeout) -> Result<usize, Error> {
        read_socket(&self.stream, &mut self.read_timeout, buffer, timeout)
    }
}

fn read_socket(
    stream: &TcpStream,
    current: &mut Option<Duration>,
    buffer: &mut [u8],
    timeout: NextTimeout,
) -> Result<usize, Error> {
    let timeout = timeout.for_read();
    if timeout.after.is_zero() {
        return Err(Error::Timeout(timeout.reason));
    }
    let limit = timeout.not_zero().map(|limit| *limit);
    let started = Instant::now();
    let mut wait = limit;
    loop {
        set_timeout(stream, current, wait, TcpStream::set_read_timeout)?;
        match (&*stream).read(buffer) {
            Ok(read) => return Ok(read),
            // A signal: read again, within what is left of the timeout (the
            // kernel does not restart a socket read that has one).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if let Some(limit) = limit {
                    let left = limit.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(Error::Timeout(timeout.reason));
                    }
                    wait = Some(left);
                }
            }
            Err(e) if is_timeout(&e) => return Err(Error::Timeout(timeout.reason)),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sets a socket timeout unless it is already `wanted` (a system call saved per read).
fn set_timeout(
    stream: &TcpStream,
    current: &mut Option<Duration>,
    wanted: Option<Duration>,
    set: fn(&TcpStream, Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    if *current != wanted {
        set(stream, wanted)?;
        *current = wanted;
    }
    Ok(())
}

impl TcpTransport {
    /// Reads [`LARGE_READ_SIZE`] at once from now on, if this connection has
    /// streamed [`LARGE_READS_AFTER`], a place is free, and ureq holds none of
    /// its input (the buffers are then made again, larger: ureq asks for more
    /// input only once it has taken what it holds, and has sent the request).
    fn read_larger_if_due(&mut self) {
        let ReadSize::Usual { streamed } = self.reads else {
            return;
        };
        if streamed < LARGE_READS_AFTER || !self.buffers.input().is_empty() {
            return;
        }
        if let Some(place) = LargeReads::take(self.places) {
            self.buffers = LazyBuffers::new(LARGE_READ_SIZE, self.output_size);
            self.reads = ReadSize::Large { _place: place };
        }
    }

    /// Counts a read of `read` bytes into `room` towards [`LARGE_READS_AFTER`]
    /// if it filled the room.
    fn count_read(&mut self, read: usize, room: usize) {
        if let ReadSize::Usual { streamed } = &mut self.reads
            && read == room
        {
            *streamed = streamed.saturating_add(read as u64);
        }
    }
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        let limit = timeout.not_zero().map(|limit| *limit);
        set_timeout(
            &self.stream,
            &mut self.write_timeout,
            limit,
            TcpStream::set_write_timeout,
        )?;
        match (&*self.stream).write_all(&self.buffers.output()[..amount]) {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) => Err(Error::Timeout(timeout.reason)),
            Err(e) => Err(e.into()),
        }
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.read_larger_if_due();
        let buffer = self.buffers.input_append_buf();
        let room = buffer.len();
        let read = read_socket(&self.stream, &mut self.read_timeout, buffer, timeout)?;
        self.buffers.input_appended(read);
        self.count_read(read, room);
        Ok(read > 0)
    }

    /// Open while the server has neither closed it nor sent anything
    /// unasked (a connection taken from the pool must be idle).
    fn is_open(&mut self) -> bool {
        let mut byte = [0u8];
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let idle = matches!(self.stream.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        self.stream.set_nonblocking(false).is_ok() && idle
    }
}

impl fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpTransport")
            .field("peer", &self.stream.peer_addr().ok())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn timeout(after: Duration) -> NextTimeout {
        NextTimeout {
            after: ureq::unversioned::transport::time::Duration::Exact(after),
            reason: Timeout::Connect,
            per_read: None,
            per_write: None,
        }
    }

    #[test]
    fn only_so_many_connections_hold_a_place_and_a_closed_one_frees_its_place() {
        static HOLDERS: AtomicUsize = AtomicUsize::new(0);
        let mut places: Vec<_> = (0..LARGE_READ_CONNECTIONS)
            .map(|_| LargeReads::take(&HOLDERS))
            .collect();
        assert!(places.iter().all(Option::is_some));
        assert!(LargeReads::take(&HOLDERS).is_none(), "one more reads at the usual size");
        places.pop();
        let again = LargeReads::take(&HOLDERS);
        assert!(again.is_some(), "a place freed is taken again");
        assert!(LargeReads::take(&HOLDERS).is_none());
        drop((places, again));
        assert_eq!(HOLDERS.load(Ordering::Acquire), 0);
    }

    /// The room of a connection's reads in these tests before it reads large
    /// (less than [`READ_SIZE`]: fewer bytes make a full read).
    const ROOM: usize = 16 * 1024;

    /// A plain connection over a socket whose other end runs `server`.
    fn connection_to(
        places: &'static AtomicUsize,
        server: impl FnOnce(TcpStream) -> io::Result<()> + Send + 'static,
    ) -> io::Result<TcpTransport> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let stream = TcpStream::connect(listener.local_addr()?)?;
        let (other_end, _) = listener.accept()?;
        std::thread::spawn(move || server(other_end));
        Ok(TcpTransport {
            stream: Arc::new(stream),
            buffers: LazyBuffers::new(ROOM, 1024),
            output_size: 1024,
            read_timeout: None,
            write_timeout: None,
            reads: ReadSize::Usual { streamed: 0 },
            places,
        })
    }

    /// A connection whose other end sends nothing.
    fn idle(places: &'static AtomicUsize) -> io::Result<TcpTransport> {
        connection_to(places, |_| Ok(()))
    }

    /// Has `transport` count reads that filled its room, `bytes` in all, and
    /// asks after each whether it reads larger; for each read, what had
    /// come before it and the room the next read has.
    fn stream(transport: &mut TcpTransport, bytes: usize) -> Vec<(usize, usize)> {
        let mut reads = Vec::new();
        let mut counted = 0;
        while counted < bytes {
            transport.read_larger_if_due();
            let room = transport.buffers.input_append_buf().len();
            transport.count_read(room, room);
            reads.push((counted, room));
            counted += room;
        }
        reads
    }

    #[test]
    fn a_connection_reads_large_once_it_has_streamed_a_file_body_and_a_place_is_free()
    -> Result<(), Box<dyn std::error::Error>> {
        static HOLDERS: AtomicUsize = AtomicUsize::new(0);
        let total = LARGE_READS_AFTER as usize + 4 * LARGE_READ_SIZE;

        let mut connection = idle(&HOLDERS)?;
        let reads = stream(&mut connection, total);
        for &(before, room) in &reads {
            let expected = match before as u64 >= LARGE_READS_AFTER {
                true => LARGE_READ_SIZE,
                false => ROOM,
            };
            assert_eq!(room, expected, "room of a read after {before} bytes: {reads:?}");
        }
        assert!(matches!(connection.reads, ReadSize::Large { .. }));
        assert_eq!(HOLDERS.load(Ordering::Acquire), 1);

        // Reads that do not fill the room are not counted.
        let mut trickling = idle(&HOLDERS)?;
        for _ in 0..2 * total / ROOM {
            trickling.count_read(ROOM - 1, ROOM);
            trickling.read_larger_if_due();
        }
        assert!(matches!(trickling.reads, ReadSize::Usual { streamed: 0 }));

        // Nor does a connection read larger while ureq holds some of its
        // input: the buffers are made again only when they hold nothing.
        let mut holding = idle(&HOLDERS)?;
        stream(&mut holding, LARGE_READS_AFTER as usize);
        holding.buffers.input_append_buf()[0] = 7;
        holding.buffers.input_appended(1);
        holding.read_larger_if_due();
        assert!(matches!(holding.reads, ReadSize::Usual { .. }));
        assert_eq!(holding.buffers.input(), [7]);
        holding.buffers.input_consume(1);
        holding.read_larger_if_due();
        assert!(matches!(holding.reads, ReadSize::Large { .. }));
        assert_eq!(HOLDERS.load(Ordering::Acquire), 2);
        drop(holding);

        // With every place taken, another connection keeps the usual size
        // however much it streams, and reads large once a place is freed.
        let others: Vec<_> = (1..LARGE_READ_CONNECTIONS)
            .map(|_| LargeReads::take(&HOLDERS))
            .collect();
        assert!(others.iter().all(Option::is_some));
        let mut other = idle(&HOLDERS)?;
        let reads = stream(&mut other, total);
        assert!(reads.iter().all(|&(_, room)| room == ROOM), "{reads:?}");
        drop(connection);
        other.read_larger_if_due();
        assert_eq!(other.buffers.input_append_buf().len(), LARGE_READ_SIZE);
        drop((other, others));
        assert_eq!(HOLDERS.load(Ordering::Acquire), 0);
        Ok(())
    }

    /// A connection whose other end sends `count` responses of `size` bytes,
    /// each once the one before it was taken (a byte comes back for it), as
    /// requests one after the other get them; all of them read, each once
    /// all its bytes have come.
    fn read_responses(size: usize, count: usize, places: &'static AtomicUsize) -> io::Result<TcpTransport> {
        let mut connection = connection_to(places, move |mut server| {
            let mut asked = [0u8];
            for _ in 0..count {
                server.write_all(&vec![7u8; size])?;
                server.read_exact(&mut asked)?;
            }
            Ok(())
        })?;
        let mut peeked = vec![0u8; size];
        for _ in 0..count {
            while connection.stream.peek(&mut peeked)? < size {}
            let mut got = 0;
            while got < size {
                connection
                    .await_input(timeout(Duration::from_secs(30)))
                    .map_err(io::Error::other)?;
                let input = connection.buffers.input().len();
                connection.buffers.input_consume(input);
                got += input;
            }
            assert_eq!(got, size);
            (&*connection.stream).write_all(&[1])?;
        }
        Ok(connection)
    }

    #[test]
    fn reads_that_fill_the_room_are_counted_and_those_of_small_responses_are_not()
    -> Result<(), Box<dyn std::error::Error>> {
        static HOLDERS: AtomicUsize = AtomicUsize::new(0);
        let count = LARGE_READS_AFTER as usize / ROOM;

        let small = read_responses(ROOM - 4096, 2 * count, &HOLDERS)?;
        assert!(matches!(small.reads, ReadSize::Usual { streamed: 0 }));
        assert_eq!(HOLDERS.load(Ordering::Acquire), 0);

        let mut filling = read_responses(ROOM, count, &HOLDERS)?;
        assert!(matches!(filling.reads, ReadSize::Usual { streamed } if streamed == LARGE_READS_AFTER));
        filling.read_larger_if_due();
        assert_eq!(filling.buffers.input_append_buf().len(), LARGE_READ_SIZE);
        assert_eq!(HOLDERS.load(Ordering::Acquire), 1);
        Ok(())
    }

    #[test]
    fn an_address_that_refuses_is_passed_over_for_the_next() -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let stream = connect_any(&[closed, listener.local_addr()?], timeout(Duration::from_secs(5)))?;
        assert_eq!(stream.peer_addr()?, listener.local_addr()?);
        Ok(())
    }

    #[test]
    fn when_every_address_refuses_the_last_refusal_is_the_error() -> Result<(), Box<dyn std::error::Error>> {
        let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        match connect_any(&[closed], timeout(Duration::from_secs(5))) {
            Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(
            connect_any(&[], timeout(Duration::from_secs(5))),
            Err(Error::Io(_))
        ));
        Ok(())
    }

    #[test]
    fn a_read_that_gets_nothing_in_time_is_a_timeout_with_its_reason() -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let stream = TcpStream::connect(listener.local_addr()?)?;
        let _server_side = listener.accept()?;
        let mut current = None;
        let mut buffer = [0u8; 16];
        let mut wait = timeout(Duration::from_secs(30));
        wait.per_read = Some(ureq::unversioned::transport::time::Duration::Exact(
            Duration::from_millis(50),
        ));
        match read_socket(&stream, &mut current, &mut buffer, wait) {
            Err(Error::Timeout(reason)) => assert_eq!(reason, Timeout::PerRead),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(
            current,
            Some(Duration::from_millis(50)),
            "the per-read limit is what was set"
        );
        Ok(())
    }
}
