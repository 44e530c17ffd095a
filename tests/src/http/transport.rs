//! The byte streams a connection is served over: plain TCP, or TLS on TCP.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;

use rustls::{ServerConnection, StreamOwned};

/// A TLS session on a TCP socket, server side.
pub(crate) type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// A connection's stream; the HTTP code is written once over this.
pub(crate) trait Transport: Read + Write {
    /// Writes `len` bytes of `file` from `offset`; returns how many were written
    /// (fewer only when the file is shorter).
    fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<u64>;

    /// The TCP socket underneath.
    fn socket(&self) -> &TcpStream;

    /// Ends the session politely before the socket is closed (TLS `close_notify`).
    fn finish(&mut self) -> io::Result<()>;
}

impl Transport for TcpStream {
    #[cfg(target_os = "linux")]
    fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<u64> {
        send_file_zero_copy(self, file, offset, len)
    }

    #[cfg(not(target_os = "linux"))]
    fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<u64> {
        copy_file(file, offset, len, self)
    }

    fn socket(&self) -> &TcpStream {
        self
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for TlsStream {
    fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<u64> {
        copy_file(file, offset, len, self)
    }

    fn socket(&self) -> &TcpStream {
        self.get_ref()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()
    }
}

/// The most bytes one `sendfile` call moves (the kernel's own limit).
#[cfg(target_os = "linux")]
const MAX_SENDFILE: u64 = 0x7fff_f000;

/// Bodies at least this large are sent corked (see [`Corked`]).
#[cfg(target_os = "linux")]
const CORK_AT: u64 = 256 * 1024;

/// `TCP_CORK` on a socket while it lives: the kernel sends only full segments
/// until it is dropped, which sends what is left at once. A body sent with
/// `sendfile` on a `TCP_NODELAY` socket otherwise goes out in as many pieces
/// as the kernel moves it in: 2 GiB to `curl -o /dev/null` over loopback took
/// 1.08–1.16 s uncorked against 0.92–0.99 s corked (nginx, which corks with
/// `tcp_nopush`: 0.91–0.99 s), five interleaved runs.
#[cfg(target_os = "linux")]
struct Corked<'a>(&'a TcpStream);

#[cfg(target_os = "linux")]
impl<'a> Corked<'a> {
    fn new(socket: &'a TcpStream) -> Corked<'a> {
        // An uncorked socket still sends every byte: a failure only costs speed.
        let _ = rustix::net::sockopt::set_tcp_cork(socket, true);
        Corked(socket)
    }
}

#[cfg(target_os = "linux")]
impl Drop for Corked<'_> {
    /// On every way out, so that no response's last bytes wait on the socket.
    fn drop(&mut self) {
        let _ = rustix::net::sockopt::set_tcp_cork(self.0, false);
    }
}

/// Writes `len` bytes of `file` from `offset` onto the socket with `sendfile`,
/// so that the bytes go from the page cache to the socket without a copy
/// through user space; returns how many were written (fewer only when the
/// file is shorter). A large body is sent corked.
#[cfg(target_os = "linux")]
fn send_file_zero_copy(socket: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
    let _corked = (len >= CORK_AT).then(|| Corked::new(socket));
    let end = offset.saturating_add(len);
    let mut position = offset;
    while position < end {
        let count = (end - position).min(MAX_SENDFILE) as usize;
        // `sendfile` advances `position` by what it sent and leaves the file's own offset alone.
        match rustix::fs::sendfile(socket, file, Some(&mut position), count) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(errno) => return Err(io::Error::from_raw_os_error(errno.raw_os_error())),
        }
    }
    Ok(position - offset)
}

/// Bytes moved per read and write when copying a file; large, so that a
/// transfer takes few system calls.
const COPY_CHUNK: usize = 256 * 1024;

thread_local! {
    /// The copy buffer of this connection's thread, reused across responses.
    static COPY_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Copies `len` bytes of `file` from `offset` to `out`; returns how many were copied
/// (fewer only when the file is shorter).
fn copy_file<W: Write>(mut file: &File, offset: u64, len: u64, out: &mut W) -> io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    let mut source = file.take(len);
    COPY_BUFFER.with_borrow_mut(|buffer| {
        buffer.resize(COPY_CHUNK, 0);
        let mut sent = 0;
        loop {
            let n = match source.read(buffer) {
                Ok(0) => return Ok(sent),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            out.write_all(&buffer[..n])?;
            sent += n as u64;
        }
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write as _;
    use std::net::TcpListener;

    use super::*;

    /// A connected pair: (the server's end, the client's end).
    fn pair() -> io::Result<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        Ok((server, client))
    }

    fn corked(socket: &TcpStream) -> io::Result<bool> {
        rustix::net::sockopt::tcp_cork(socket).map_err(io::Error::from)
    }

    fn body(len: usize) -> io::Result<tempfile::NamedTempFile> {
        let mut file = tempfile::NamedTempFile::new()?;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes)?;
        Ok(file)
    }

    #[test]
    fn a_socket_is_corked_while_the_guard_lives() -> io::Result<()> {
        let (server, _client) = pair()?;
        assert!(!corked(&server)?);
        let guard = Corked::new(&server);
        assert!(corked(&server)?);
        drop(guard);
        assert!(!corked(&server)?, "uncorked, so that the last bytes go out");
        Ok(())
    }

    #[test]
    fn a_large_body_arrives_whole_and_leaves_the_socket_uncorked() -> io::Result<()> {
        let (mut server, mut client) = pair()?;
        let len = 4 * CORK_AT as usize + 7;
        let file = body(len)?;
        let received = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).map(|_| got)
        });
        assert_eq!(server.send_file(file.as_file(), 0, len as u64)?, len as u64);
        assert!(!corked(&server)?);
        drop(server);
        let got = received.join().map_err(|_| io::Error::other("the reader panicked"))??;
        assert_eq!(got, std::fs::read(file.path())?);
        Ok(())
    }

    #[test]
    fn a_body_that_fails_half_way_leaves_the_socket_uncorked() -> io::Result<()> {
        let (mut server, client) = pair()?;
        // The client is gone: the kernel's send buffer takes the first bytes,
        // the rest fail.
        drop(client);
        let len = 64 * CORK_AT;
        let file = body(len as usize)?;
        assert!(server.send_file(file.as_file(), 0, len).is_err());
        assert!(!corked(&server)?);
        Ok(())
    }
}
