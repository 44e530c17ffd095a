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

/// Writes `len` bytes of `file` from `offset` onto the socket with `sendfile`,
/// so that the bytes go from the page cache to the socket without a copy
/// through user space; returns how many were written (fewer only when the
/// file is shorter).
#[cfg(target_os = "linux")]
fn send_file_zero_copy(socket: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
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
