//! Writing one response: the head the server frames, then the body, possibly
//! cut short, damaged or slowed down.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::message::{Body, Response};
use super::pacing::Pacer;
use super::transport::Transport;

/// Bodies up to this size go out in the same write as the head.
const INLINE_BODY_BYTES: usize = 64 * 1024;

/// Route headers the server frames itself.
const FRAMING_HEADERS: [&str; 5] = [
    "content-length",
    "connection",
    "date",
    "transfer-encoding",
    "keep-alive",
];

/// A response ready to go on the wire, with the number of body bytes it will send.
pub(crate) struct Outgoing {
    response: Response,
    /// The `Content-Length` to announce; `None` for statuses that have no body.
    content_length: Option<u64>,
    /// The body bytes to send: all of them, none (`HEAD`, 204, 304), or a fault's cut-off.
    send: u64,
}

impl Outgoing {
    /// Frames `response` for a `HEAD` request or not, cut after `drop_after` body bytes if given.
    pub(crate) fn new(response: Response, head_request: bool, drop_after: Option<u64>) -> Self {
        let status = response.status;
        let body_len = response.body.len();
        let bodiless_status = status < 200 || status == 204 || status == 304;
        let content_length = if bodiless_status {
            None
        } else if head_request && response.body.is_empty() {
            // A route may answer a HEAD with no body but the length a GET would have.
            Some(route_content_length(&response).unwrap_or(0))
        } else {
            Some(body_len)
        };
        let send = if bodiless_status || head_request {
            0
        } else {
            drop_after.map_or(body_len, |cut| cut.min(body_len))
        };
        Outgoing {
            response,
            content_length,
            send,
        }
    }

    pub(crate) fn status(&self) -> u16 {
        self.response.status
    }

    pub(crate) fn body_bytes(&self) -> u64 {
        self.send
    }

    /// Whether the route asked for the connection to be closed after this response.
    pub(crate) fn route_closes(&self) -> bool {
        self.response.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("connection")
                && value.split(',').any(|token| token.trim().eq_ignore_ascii_case("close"))
        })
    }

    /// Writes the head and the body bytes, flipping the bits of the body byte
    /// at `corrupt_at` if it is sent, and sending the body at most `bytes_per_sec`
    /// fast if given. `head` is a scratch buffer.
    pub(crate) fn write<T: Transport>(
        self,
        out: &mut T,
        head: &mut Vec<u8>,
        date: &str,
        keep_alive: bool,
        corrupt_at: Option<u64>,
        bytes_per_sec: Option<u64>,
    ) -> io::Result<()> {
        let Outgoing {
            response,
            content_length,
            send,
        } = self;
        write_head(head, &response, content_length, date, keep_alive);
        let corrupt_at = corrupt_at.filter(|&at| at < send);
        // A paced body leaves on its own, after the head, so that the pacer sees all of it.
        let inline = if bytes_per_sec.is_some() { 0 } else { INLINE_BODY_BYTES };
        match response.body {
            _ if send == 0 => out.write_all(head)?,
            Body::Empty => out.write_all(head)?,
            Body::Bytes(mut data) => {
                data.truncate(send as usize);
                if let Some(at) = corrupt_at {
                    data[at as usize] ^= 0xff;
                }
                if data.len() <= inline {
                    head.extend_from_slice(&data);
                    out.write_all(head)?;
                } else {
                    out.write_all(head)?;
                    BodyOut::new(out, bytes_per_sec).write_all(&data)?;
                }
            }
            Body::File { file, offset, .. } if send as usize <= inline => {
                let body_start = head.len();
                let mut reader = &file;
                reader.seek(SeekFrom::Start(offset))?;
                if reader.take(send).read_to_end(head)? as u64 != send {
                    return Err(short_body());
                }
                if let Some(at) = corrupt_at {
                    head[body_start + at as usize] ^= 0xff;
                }
                out.write_all(head)?;
            }
            Body::File { file, offset, .. } => {
                out.write_all(head)?;
                write_file(&mut BodyOut::new(out, bytes_per_sec), &file, offset, send, corrupt_at)?;
            }
            Body::Reader { mut reader, .. } => {
                out.write_all(head)?;
                write_reader(&mut BodyOut::new(out, bytes_per_sec), &mut reader, send, corrupt_at)?;
            }
        }
        out.flush()
    }
}

/// Where body bytes go: the connection, through a [`Pacer`] when the body is slowed down.
struct BodyOut<'a, T> {
    out: &'a mut T,
    pacer: Option<Pacer>,
}

impl<'a, T: Transport> BodyOut<'a, T> {
    fn new(out: &'a mut T, bytes_per_sec: Option<u64>) -> Self {
        BodyOut {
            out,
            pacer: bytes_per_sec.map(Pacer::new),
        }
    }

    /// Writes `len` bytes of `file` from `offset`, in paced steps if paced; returns
    /// how many were written (fewer only when the file is shorter).
    fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<u64> {
        let Some(pacer) = &mut self.pacer else {
            return self.out.send_file(file, offset, len);
        };
        let mut sent = 0;
        while sent < len {
            let step = pacer.step().min(len - sent);
            let n = self.out.send_file(file, offset + sent, step)?;
            sent += n;
            pacer.sent(n);
            if n < step {
                break;
            }
        }
        Ok(sent)
    }
}

impl<T: Transport> Write for BodyOut<'_, T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(pacer) = &mut self.pacer else {
            return self.out.write(buf);
        };
        let step = usize::try_from(pacer.step()).unwrap_or(usize::MAX).min(buf.len());
        let n = self.out.write(&buf[..step])?;
        pacer.sent(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn route_content_length(response: &Response) -> Option<u64> {
    response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
}

fn write_head(head: &mut Vec<u8>, response: &Response, content_length: Option<u64>, date: &str, keep_alive: bool) {
    head.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason_phrase(response.status)
    );
    let mut has_server = false;
    for (name, value) in &response.headers {
        if FRAMING_HEADERS.iter().any(|framing| name.eq_ignore_ascii_case(framing)) {
            continue;
        }
        has_server |= name.eq_ignore_ascii_case("server");
        push_header_text(head, name);
        head.extend_from_slice(b": ");
        push_header_text(head, value);
        head.extend_from_slice(b"\r\n");
    }
    if let Some(length) = content_length {
        let _ = write!(head, "Content-Length: {length}\r\n");
    }
    head.extend_from_slice(b"Date: ");
    head.extend_from_slice(date.as_bytes());
    head.extend_from_slice(b"\r\n");
    if !has_server {
        head.extend_from_slice(b"Server: hub-emulator\r\n");
    }
    head.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
}

/// Appends a header name or value, blanking line breaks so that a route cannot split the head.
fn push_header_text(head: &mut Vec<u8>, text: &str) {
    let start = head.len();
    head.extend_from_slice(text.as_bytes());
    for byte in &mut head[start..] {
        if *byte == b'\r' || *byte == b'\n' {
            *byte = b' ';
        }
    }
}

fn write_file<T: Transport>(
    out: &mut BodyOut<'_, T>,
    file: &File,
    offset: u64,
    send: u64,
    corrupt_at: Option<u64>,
) -> io::Result<()> {
    let Some(at) = corrupt_at else {
        return send_file_exactly(out, file, offset, send);
    };
    send_file_exactly(out, file, offset, at)?;
    let mut byte = [0];
    let mut reader = file;
    reader.seek(SeekFrom::Start(offset + at))?;
    reader.read_exact(&mut byte)?;
    out.write_all(&[byte[0] ^ 0xff])?;
    send_file_exactly(out, file, offset + at + 1, send - at - 1)
}

fn send_file_exactly<T: Transport>(out: &mut BodyOut<'_, T>, file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    if out.send_file(file, offset, len)? != len {
        return Err(short_body());
    }
    Ok(())
}

fn write_reader<T: Transport>(
    out: &mut BodyOut<'_, T>,
    reader: &mut Box<dyn Read + Send>,
    send: u64,
    corrupt_at: Option<u64>,
) -> io::Result<()> {
    let Some(at) = corrupt_at else {
        return copy_exactly(reader, out, send);
    };
    copy_exactly(reader, out, at)?;
    let mut byte = [0];
    reader.read_exact(&mut byte)?;
    out.write_all(&[byte[0] ^ 0xff])?;
    copy_exactly(reader, out, send - at - 1)
}

fn copy_exactly<T: Transport>(reader: &mut Box<dyn Read + Send>, out: &mut BodyOut<'_, T>, len: u64) -> io::Result<()> {
    if io::copy(&mut reader.take(len), out)? != len {
        return Err(short_body());
    }
    Ok(())
}

/// The body source ended before its declared length: the response cannot be
/// completed, so the connection must close.
fn short_body() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "response body shorter than its length")
}

/// The reason phrase for a status code (empty for unknown codes, which HTTP allows).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        423 => "Locked",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
