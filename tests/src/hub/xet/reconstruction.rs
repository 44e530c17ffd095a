//! Which chunks of which xorbs make a byte range of a registered file, and the bytes
//! themselves, decompressed from the stored xorbs one chunk at a time (for the
//! plain-HTTP bridge, the sha256 check of registration and the emulator's own reads).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use super::hash::XetHash;
use super::store::{CasStore, FileRecord};
use super::xorb::{XorbIndex, decode_chunks};
use crate::EmulatorError;

/// Chunks `start..end` of one xorb.
#[derive(Debug, Clone)]
pub(crate) struct Slice {
    /// The xorb.
    pub(crate) index: Arc<XorbIndex>,
    /// First chunk.
    pub(crate) start: usize,
    /// End chunk (exclusive).
    pub(crate) end: usize,
}

/// The chunks covering a byte range of a file, in order.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The slices, one a term (or part of one) that the range touches.
    pub(crate) slices: Vec<Slice>,
    /// Bytes of the first slice before the range starts.
    pub(crate) offset_into_first_range: u64,
    /// The range's length.
    pub(crate) len: u64,
}

/// The chunks holding bytes `first..=last` of `record` (`last` is clamped to the file).
pub(crate) fn plan(store: &CasStore, record: &FileRecord, first: u64, last: u64) -> Result<Plan, EmulatorError> {
    let last = last.min(record.size.saturating_sub(1));
    let mut slices = Vec::new();
    let mut offset_into_first_range = 0;
    let mut pos = 0u64;
    for term in &record.terms {
        let index = stored_index(store, &term.xorb)?;
        let mut kept: Option<(usize, usize)> = None;
        for i in term.start as usize..term.end as usize {
            let len = index.chunks.get(i).map(|c| c.len).ok_or_else(|| corrupt(&term.xorb))?;
            let (chunk_start, chunk_end) = (pos, pos + len);
            pos = chunk_end;
            if chunk_end <= first || chunk_start > last {
                continue;
            }
            if slices.is_empty() && kept.is_none() {
                offset_into_first_range = first - chunk_start;
            }
            kept = Some(kept.map_or((i, i + 1), |(s, _)| (s, i + 1)));
        }
        if let Some((start, end)) = kept {
            slices.push(Slice {
                index: index.clone(),
                start,
                end,
            });
        }
        if pos > last {
            break;
        }
    }
    let len = if record.size == 0 { 0 } else { last + 1 - first };
    Ok(Plan {
        slices,
        offset_into_first_range,
        len,
    })
}

fn stored_index(store: &CasStore, xorb: &str) -> Result<Arc<XorbIndex>, EmulatorError> {
    let hash = XetHash::parse(xorb).ok_or_else(|| corrupt(xorb))?;
    store.xorb_index(&hash)?.ok_or_else(|| corrupt(xorb))
}

fn corrupt(xorb: &str) -> EmulatorError {
    EmulatorError::io(
        PathBuf::from(format!("xet/xorbs/{xorb}")),
        io::Error::other("a registered file names a xorb or chunk the CAS does not hold"),
    )
}

/// The bytes of a plan, read from the stored xorbs one chunk at a time.
pub(crate) struct ContentReader {
    chunks: Vec<(PathBuf, Arc<XorbIndex>, usize)>,
    next: usize,
    file: Option<(PathBuf, File)>,
    buffer: Vec<u8>,
    pos: usize,
    skip: u64,
    remaining: u64,
}

impl ContentReader {
    /// A reader of the plan's range.
    pub(crate) fn new(store: &CasStore, plan: &Plan) -> ContentReader {
        let chunks = plan
            .slices
            .iter()
            .flat_map(|slice| {
                let path = store.xorb_path(&slice.index.hash);
                (slice.start..slice.end).map(move |i| (path.clone(), slice.index.clone(), i))
            })
            .collect();
        ContentReader {
            chunks,
            next: 0,
            file: None,
            buffer: Vec::new(),
            pos: 0,
            skip: plan.offset_into_first_range,
            remaining: plan.len,
        }
    }

    /// Decompresses the next chunk into the buffer; `false` when there is none.
    fn fill(&mut self) -> io::Result<bool> {
        let Some((path, index, i)) = self.chunks.get(self.next).cloned() else {
            return Ok(false);
        };
        self.next += 1;
        if self.file.as_ref().is_none_or(|(open, _)| *open != path) {
            self.file = Some((path.clone(), File::open(&path)?));
        }
        let chunk = index.chunks[i];
        let mut stored = vec![0u8; (chunk.end - chunk.start) as usize];
        if let Some((_, file)) = &mut self.file {
            file.seek(SeekFrom::Start(chunk.start))?;
            file.read_exact(&mut stored)?;
        }
        self.buffer.clear();
        self.pos = 0;
        let buffer = &mut self.buffer;
        decode_chunks(&stored, &index, i, i + 1, &mut |data| buffer.extend_from_slice(data))
            .map_err(io::Error::other)?;
        let skipped = self.skip.min(self.buffer.len() as u64) as usize;
        self.pos = skipped;
        self.skip -= skipped as u64;
        Ok(true)
    }
}

impl Read for ContentReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.buffer.len() {
            if self.remaining == 0 || !self.fill()? {
                return Ok(0);
            }
        }
        let available = &self.buffer[self.pos..];
        let n = available.len().min(out.len()).min(self.remaining as usize);
        out[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}
