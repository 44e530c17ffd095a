//! What a request sends: bytes in memory, or a slice of a file streamed from
//! disk (uploads), which can be sent again on a retry.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// Called with the number of bytes just sent.
pub type SentBytes<'a> = &'a (dyn Fn(u64) + Sync);

/// A request body.
#[derive(Clone)]
pub enum RequestBody<'a> {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// `len` bytes of a file from `offset`, read as they are sent.
    File {
        /// The file.
        path: PathBuf,
        /// Where the slice starts.
        offset: u64,
        /// How many bytes.
        len: u64,
        /// Told of every chunk sent (for progress).
        on_sent: Option<SentBytes<'a>>,
    },
}

impl std::fmt::Debug for RequestBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            RequestBody::File { path, offset, len, .. } => {
                write!(f, "File({}, offset {offset}, {len} bytes)", path.display())
            }
        }
    }
}

impl<'a> RequestBody<'a> {
    /// The number of bytes sent.
    pub fn len(&self) -> u64 {
        match self {
            RequestBody::Bytes(b) => b.len() as u64,
            RequestBody::File { len, .. } => *len,
        }
    }

    /// Whether nothing is sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens a file body at its offset, counting what is read.
    pub(crate) fn open_file(&self) -> std::io::Result<Option<CountingReader<'a>>> {
        let RequestBody::File {
            path,
            offset,
            len,
            on_sent,
        } = self
        else {
            return Ok(None);
        };
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(*offset))?;
        Ok(Some(CountingReader {
            inner: file.take(*len),
            on_sent: *on_sent,
        }))
    }
}

/// A file slice that reports what is read from it (that is, sent).
pub(crate) struct CountingReader<'a> {
    inner: std::io::Take<File>,
    on_sent: Option<SentBytes<'a>>,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(report) = &self.on_sent {
            report(n as u64);
        }
        Ok(n)
    }
}
