//! Cleaning one file: its bytes are read once, in pieces; each piece goes to the sha256 on
//! its own thread and through the chunker; blocks of chunks go to a third thread, where the
//! chunks are hashed, deduplicated against what the session knows (asking the CAS's global
//! dedupe for eligible chunks it does not), and those that are new are appended to the
//! worker's xorb, staged on disk. What comes out is the file's chunks, its terms and its
//! sha256.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, RwLock};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::chunking::{Chunker, MAX_CHUNK_SIZE};
use crate::dedupe::is_global_dedupe_eligible;
use crate::hash::{HashedChunk, XetHash};
use crate::merkle::xorb_hash;
use crate::shard::{Shard, ShardChunk, XorbInfo};
use crate::xorb::{CHUNK_HEADER_LEN, MAX_XORB_BYTES, MAX_XORB_CHUNKS, XorbBuilder};

use super::defrag::DefragPrevention;
use super::known::{KnownChunks, Run, TermXorb};
use super::staged::{Held, StagedFile};
use super::{CasUpload, UploadProgress};

/// Bytes read from a file at a time.
const READ_BYTES: usize = 1 << 20;
/// Chunks are deduplicated in blocks of this many bytes (and at most one chunk more), so that
/// a global dedupe answer found for one chunk serves the chunks after it.
const BLOCK_BYTES: usize = 4 << 20;
/// At most one global dedupe query per this many bytes of a file (the specification's
/// advice): an answer describes a whole xorb, about 64 MiB around the chunk.
const GLOBAL_QUERY_SPACING: u64 = 4 << 20;
/// The buffer of each staged xorb file read or written.
const STAGING_BUFFER: usize = 1 << 20;
/// Pieces of a file waiting for its sha256 thread.
const SHA256_QUEUE: usize = 4;

/// What the workers of a session share.
pub(crate) struct Shared<'a> {
    pub(crate) cas: &'a dyn CasUpload,
    pub(crate) progress: &'a dyn UploadProgress,
    pub(crate) known: RwLock<KnownChunks>,
    pub(crate) global_dedupe: bool,
    /// The next session xorb's number.
    pub(crate) next_xorb: AtomicUsize,
    /// The xorbs finished so far, by number.
    pub(crate) finished: Mutex<Vec<(usize, XorbInfo)>>,
    /// Global dedupe answers, for the shard cache.
    pub(crate) answers: Mutex<Vec<Shard>>,
    /// Set when a worker or an upload failed: the others stop.
    pub(crate) failed: AtomicBool,
    pub(crate) counters: Counters,
    /// Where xorbs are staged.
    pub(crate) staging_dir: PathBuf,
    /// The bytes of buffers held.
    pub(crate) held: Held,
}

/// What a session counts as it goes.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) bytes: AtomicU64,
    pub(crate) new_bytes: AtomicU64,
    pub(crate) deduped_bytes: AtomicU64,
    pub(crate) dedupe_queries: AtomicU64,
    pub(crate) dedupe_hits: AtomicU64,
    pub(crate) xorbs_uploaded: AtomicU64,
    pub(crate) xorb_bytes_uploaded: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Shared<'_> {
    /// Asks the CAS's global dedupe about `chunk`; whether an answer was added.
    fn query_global(&self, chunk: &XetHash) -> Result<bool, Error> {
        add(&self.counters.dedupe_queries, 1);
        let Some(bytes) = self.cas.query_dedupe(chunk)? else {
            return Ok(false);
        };
        // An answer that does not parse only costs deduplication.
        let Ok(shard) = Shard::parse(&bytes) else {
            return Ok(false);
        };
        add(&self.counters.dedupe_hits, 1);
        if let Ok(mut known) = self.known.write() {
            known.add_shard(&shard);
        }
        if let Ok(mut answers) = self.answers.lock() {
            answers.push(shard);
        }
        Ok(true)
    }

    fn find_run(&self, hashes: &[XetHash]) -> Option<Run> {
        self.known.read().ok()?.find_run(hashes)
    }
}

/// The new chunks of a xorb, staged on disk as they are, not yet compressed: the upload
/// threads compress them, so that a worker goes on reading and hashing meanwhile.
pub(crate) struct PendingXorb {
    /// The session's number of the xorb.
    pub(crate) id: usize,
    /// Its hash (from its chunks' hashes and lengths alone).
    pub(crate) hash: XetHash,
    /// The chunks' bytes, one after the other.
    pub(crate) raw: StagedFile,
    /// The chunks, in order.
    pub(crate) chunks: Vec<HashedChunk>,
    /// The indices of the chunks that start a file: compression is chosen anew there.
    pub(crate) file_starts: Vec<usize>,
}

/// A xorb compressed into its staged file, ready to send.
pub(crate) struct BuiltXorb {
    /// The serialized xorb.
    pub(crate) file: StagedFile,
    /// Its record for the shard.
    pub(crate) info: XorbInfo,
}

impl PendingXorb {
    /// Compresses the chunks, one at a time, into a serialized xorb in another staged file;
    /// the raw one is removed.
    pub(crate) fn build(self, shared: &Shared<'_>) -> Result<BuiltXorb, Error> {
        let buffers = 2 * STAGING_BUFFER + crate::chunking::MAX_CHUNK_SIZE;
        shared.held.hold(buffers);
        let built = self.compress(&shared.staging_dir);
        shared.held.release(buffers);
        built
    }

    fn compress(self, dir: &Path) -> Result<BuiltXorb, Error> {
        let raw_path = self.raw.path().to_path_buf();
        let read_error = |source| Error::Io {
            action: "read a staged xorb",
            path: raw_path.clone(),
            source,
        };
        let mut reader = BufReader::with_capacity(STAGING_BUFFER, File::open(&raw_path).map_err(read_error)?);
        let (file, out) = StagedFile::create(dir, "xorb")?;
        let write_error = |source| Error::Io {
            action: "write a staged xorb",
            path: file.path().to_path_buf(),
            source,
        };
        let mut writer = BufWriter::with_capacity(STAGING_BUFFER, out);
        let mut builder = XorbBuilder::new();
        let mut starts = self.file_starts.iter().peekable();
        let mut data = Vec::with_capacity(crate::chunking::MAX_CHUNK_SIZE);
        for (index, chunk) in self.chunks.iter().enumerate() {
            if starts.next_if_eq(&&index).is_some() {
                builder.start_file();
            }
            data.resize(chunk.len as usize, 0);
            reader.read_exact(&mut data).map_err(read_error)?;
            builder.push_hashed(&data, *chunk)?;
            builder.drain_serialized(&mut writer).map_err(write_error)?;
        }
        writer.flush().map_err(write_error)?;
        drop(writer);
        drop(self.raw);
        // Below 64 MiB: the builder keeps to the limit.
        let serialized_len = builder.serialized_len() as u32;
        let xorb = builder.finish().ok_or(Error::EmptyXorb)?;
        debug_assert_eq!(xorb.hash, self.hash);
        let info = XorbInfo {
            serialized_len,
            ..XorbInfo::of(&xorb)
        };
        Ok(BuiltXorb { file, info })
    }
}

/// The xorb a worker is filling, shared by the files it cleans one after the other, so that
/// the new chunks of small files travel together.
pub(crate) struct Lane {
    id: usize,
    /// The staged file of the xorb's chunks, once it has one.
    raw: Option<(StagedFile, BufWriter<File>)>,
    raw_len: usize,
    chunks: Vec<HashedChunk>,
    file_starts: Vec<usize>,
    /// The chunks of the xorb under way, by hash: a file repeating its own chunks.
    local: HashMap<XetHash, u32>,
}

impl Lane {
    pub(crate) fn new(shared: &Shared<'_>) -> Self {
        Self {
            id: shared.next_xorb.fetch_add(1, Ordering::Relaxed),
            raw: None,
            raw_len: 0,
            chunks: Vec::new(),
            file_starts: Vec::new(),
            local: HashMap::new(),
        }
    }

    /// A new file's chunks come next.
    fn start_file(&mut self) {
        if self.file_starts.last() != Some(&self.chunks.len()) {
            self.file_starts.push(self.chunks.len());
        }
    }

    /// Whether a chunk of `len` bytes fits whatever its compression: the rule of
    /// [`XorbBuilder::fits`], so that building the xorb cannot fail.
    fn fits(&self, len: usize) -> bool {
        self.chunks.len() < MAX_XORB_CHUNKS
            && self.raw_len + len <= MAX_XORB_BYTES
            && self.raw_len + CHUNK_HEADER_LEN * (self.chunks.len() + 1) + len <= MAX_XORB_BYTES
    }

    /// Appends a new chunk to the staged file; its index in the xorb.
    fn push(&mut self, shared: &Shared<'_>, data: &[u8], chunk: HashedChunk) -> Result<u32, Error> {
        let index = self.chunks.len() as u32;
        let (raw, writer) = match &mut self.raw {
            Some(raw) => raw,
            None => {
                let (raw, file) = StagedFile::create(&shared.staging_dir, "chunks")?;
                shared.held.hold(STAGING_BUFFER);
                self.raw.insert((raw, BufWriter::with_capacity(STAGING_BUFFER, file)))
            }
        };
        writer.write_all(data).map_err(|source| Error::Io {
            action: "write a staged xorb",
            path: raw.path().to_path_buf(),
            source,
        })?;
        self.raw_len += data.len();
        self.chunks.push(chunk);
        self.local.entry(chunk.hash).or_insert(index);
        Ok(index)
    }

    /// The longest run of `hashes` that the xorb under way holds in order.
    fn local_run(&self, hashes: &[XetHash]) -> Option<Run> {
        let start = *self.local.get(hashes.first()?)?;
        let mut end = start + 1;
        for hash in &hashes[1..] {
            if self.local.get(hash) != Some(&end) {
                break;
            }
            end += 1;
        }
        Some(Run {
            xorb: TermXorb::Session(self.id),
            start,
            end,
            bytes: self.chunks[start as usize..end as usize].iter().map(|c| c.len).sum(),
        })
    }

    /// Closes the xorb under way, makes its chunks known to the session and queues it for
    /// compression and upload; the lane starts a new one.
    pub(crate) fn cut(&mut self, shared: &Shared<'_>, queue: &SyncSender<PendingXorb>) -> Result<(), Error> {
        self.local.clear();
        let id = std::mem::replace(&mut self.id, shared.next_xorb.fetch_add(1, Ordering::Relaxed));
        let chunks = std::mem::take(&mut self.chunks);
        let raw = self.raw.take();
        self.raw_len = 0;
        let file_starts = std::mem::take(&mut self.file_starts);
        let Some((raw, writer)) = raw else {
            return Ok(());
        };
        shared.held.release(STAGING_BUFFER);
        writer.into_inner().map_err(|err| Error::Io {
            action: "write a staged xorb",
            path: raw.path().to_path_buf(),
            source: err.into_error(),
        })?;
        if chunks.is_empty() {
            return Ok(());
        }
        let hash = xorb_hash(&chunks);
        let mut raw_offset = 0u32;
        let listed = XorbInfo {
            xorb_hash: hash,
            chunks: chunks
                .iter()
                .map(|c| {
                    let chunk = ShardChunk {
                        hash: c.hash,
                        raw_offset,
                        len: c.len as u32,
                        flags: 0,
                    };
                    raw_offset += c.len as u32;
                    chunk
                })
                .collect(),
            raw_len: raw_offset,
            // Known once it is built; the index does not need it.
            serialized_len: 0,
        };
        if let Ok(mut known) = shared.known.write() {
            known.add_xorb(&listed, None);
        }
        let pending = PendingXorb {
            id,
            hash,
            raw,
            chunks,
            file_starts,
        };
        queue.send(pending).map_err(|_| Error::UploadStopped {
            what: "the xorb uploads stopped",
        })
    }
}

/// A cleaned file.
#[derive(Debug)]
pub(crate) struct CleanedFile {
    /// Its chunks, in order.
    pub(crate) chunks: Vec<HashedChunk>,
    /// Its terms, in order; together they cover the chunks.
    pub(crate) terms: Vec<Run>,
    /// The sha256 of its bytes.
    pub(crate) sha256: [u8; 32],
    /// Its size.
    pub(crate) size: u64,
}

/// Chunks read but not yet deduplicated.
struct Block<'h> {
    data: Vec<u8>,
    /// Where each chunk starts in `data`.
    starts: Vec<usize>,
    /// Each chunk's hash, once [`Block::hash`] ran.
    chunks: Vec<HashedChunk>,
    held: &'h Held,
    /// The bytes of `data` counted as held.
    counted: usize,
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        self.held.release(self.counted);
    }
}

impl<'h> Block<'h> {
    fn new(held: &'h Held) -> Self {
        Self {
            data: Vec::new(),
            starts: Vec::new(),
            chunks: Vec::new(),
            held,
            counted: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.data.capacity() == 0 {
            // Once, and exactly: a block is sent on as soon as it holds `BLOCK_BYTES`.
            self.data.reserve_exact(BLOCK_BYTES + MAX_CHUNK_SIZE);
            self.held.resize(&mut self.counted, self.data.capacity());
        }
        self.starts.push(self.data.len());
        self.data.extend_from_slice(chunk);
    }

    /// Hashes the chunks pushed.
    fn hash(&mut self) {
        // The list's buffer is kept from block to block.
        let mut chunks = std::mem::take(&mut self.chunks);
        chunks.clear();
        chunks.extend((0..self.starts.len()).map(|index| HashedChunk::of(self.chunk_data(index))));
        self.chunks = chunks;
    }

    fn chunk_data(&self, index: usize) -> &[u8] {
        let end = self.starts.get(index + 1).copied().unwrap_or(self.data.len());
        &self.data[self.starts[index]..end]
    }

    /// Empties the block, keeping its buffers.
    fn clear(&mut self) {
        self.data.clear();
        self.starts.clear();
        self.chunks.clear();
    }
}

/// The reader's side of the blocks: fills one, hands it over full, and takes an emptied one
/// back, so that two blocks at most are held, whatever the file's size.
struct BlockFiller<'h, 'c> {
    filling: Block<'h>,
    full: &'c SyncSender<Block<'h>>,
    emptied: &'c Receiver<Block<'h>>,
    /// The deduplication thread is gone (it failed): the rest is not kept.
    stopped: bool,
}

impl BlockFiller<'_, '_> {
    fn push(&mut self, chunk: &[u8]) {
        if self.stopped {
            return;
        }
        self.filling.push(chunk);
        if self.filling.data.len() >= BLOCK_BYTES {
            self.hand_over();
        }
    }

    /// Hands the block over to be deduplicated, even an empty one (the end of a file).
    fn hand_over(&mut self) {
        let held = self.filling.held;
        // Allocates nothing until a chunk is pushed.
        let full = std::mem::replace(&mut self.filling, Block::new(held));
        if self.full.send(full).is_err() {
            self.stopped = true;
            return;
        }
        // Once handed over, the block before it is done: its buffers are filled again.
        if let Ok(emptied) = self.emptied.try_recv() {
            self.filling = emptied;
        }
    }
}

/// A file being cleaned.
#[derive(Default)]
struct FileState {
    chunks: Vec<HashedChunk>,
    terms: Vec<Run>,
    defrag: DefragPrevention,
    /// The file's bytes before the block being deduplicated.
    offset: u64,
    /// No global dedupe query for chunks before this offset.
    next_query_at: u64,
}

impl FileState {
    fn continues_last(&self, run: &Run) -> bool {
        self.terms
            .last()
            .is_some_and(|last| last.xorb == run.xorb && last.end == run.start)
    }

    fn push(&mut self, run: Run) {
        if self.continues_last(&run)
            && let Some(last) = self.terms.last_mut()
        {
            last.end = run.end;
            last.bytes += run.bytes;
            self.defrag.extend_last(run.len());
            return;
        }
        self.defrag.add_range(run.len());
        self.terms.push(run);
    }
}

/// A piece of a file read, shared by the chunker and the sha256 thread, counted as held
/// until both let it go; its buffer then goes back to the file's spare buffers, so that a
/// file is read into a few buffers over and over, not a new zeroed one each time.
struct Piece<'h> {
    data: Vec<u8>,
    held: &'h Held,
    spare: &'h Mutex<Vec<Vec<u8>>>,
}

impl<'h> Piece<'h> {
    fn new(held: &'h Held, spare: &'h Mutex<Vec<Vec<u8>>>) -> Self {
        held.hold(READ_BYTES);
        let mut data = spare
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        // A buffer cut to a short last read grows back; a new one is zeroed once.
        data.resize(READ_BYTES, 0);
        Self { data, held, spare }
    }
}

impl Drop for Piece<'_> {
    fn drop(&mut self) {
        self.held.release(READ_BYTES);
        let data = std::mem::take(&mut self.data);
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        // As many as can be in flight at once: the sha256 queue, the chunker's, one more.
        if spare.len() < SHA256_QUEUE + 2 {
            spare.push(data);
        }
    }
}

/// The bytes of a file to upload.
pub(crate) enum Source<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// Reads, chunks, hashes and deduplicates one file; its new chunks go into the lane's xorb,
/// and full xorbs to `queue`.
pub(crate) fn clean(
    shared: &Shared<'_>,
    lane: &mut Lane,
    index: usize,
    source: &Source<'_>,
    queue: &SyncSender<PendingXorb>,
) -> Result<CleanedFile, Error> {
    let path = match source {
        Source::File(path) => path.to_path_buf(),
        Source::Bytes(_) => "bytes in memory".into(),
    };
    let read_error = |source: io::Error| Error::Io {
        action: "read",
        path: path.clone(),
        source,
    };
    let mut reader: Box<dyn Read + '_> = match source {
        Source::File(path) => Box::new(std::fs::File::open(path).map_err(read_error)?),
        Source::Bytes(bytes) => Box::new(*bytes),
    };
    lane.start_file();
    let spare = Mutex::new(Vec::new());
    let (pieces, received) = sync_channel::<Arc<Piece<'_>>>(SHA256_QUEUE);
    // Handed over, not queued: one block is filled while the one before is deduplicated.
    let (full_blocks, blocks_to_dedupe) = sync_channel::<Block<'_>>(0);
    // Blocks deduplicated go back to the reader, to be filled again.
    let (emptied, empty_blocks) = channel::<Block<'_>>();
    std::thread::scope(|scope| {
        let sha256 = scope.spawn(move || {
            let mut hasher = Sha256::new();
            for piece in received {
                hasher.update(&piece.data[..]);
            }
            <[u8; 32]>::from(hasher.finalize())
        });
        // Chunk hashes and deduplication run beside the reading and chunking, a block behind.
        let deduper = scope.spawn(move || {
            let mut file = FileState::default();
            for mut block in blocks_to_dedupe {
                block.hash();
                dedupe_block(shared, lane, &mut file, &mut block, queue)?;
                // The reader takes it back for a later block; it may have finished already.
                let _ = emptied.send(block);
            }
            Ok::<_, Error>(file)
        });
        let read = (|| {
            let mut chunker = Chunker::new();
            let mut blocks = BlockFiller {
                filling: Block::new(&shared.held),
                full: &full_blocks,
                emptied: &empty_blocks,
                stopped: false,
            };
            loop {
                if shared.failed.load(Ordering::Relaxed) {
                    return Err(Error::UploadStopped {
                        what: "another part of the upload failed",
                    });
                }
                let mut piece = Piece::new(&shared.held, &spare);
                let read = loop {
                    match reader.read(&mut piece.data) {
                        Ok(read) => break read,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(err) => return Err(read_error(err)),
                    }
                };
                if read == 0 {
                    break;
                }
                piece.data.truncate(read);
                let piece = Arc::new(piece);
                pieces.send(Arc::clone(&piece)).map_err(|_| Error::UploadStopped {
                    what: "the sha256 thread stopped",
                })?;
                chunker.update(&piece.data, |chunk| blocks.push(chunk));
                if blocks.stopped {
                    break;
                }
                shared.progress.file_read(index, read as u64);
            }
            chunker.finish(|chunk| blocks.push(chunk));
            blocks.hand_over();
            Ok(())
        })();
        drop((pieces, full_blocks));
        let deduped = deduper.join().map_err(|_| Error::UploadStopped {
            what: "the deduplication thread panicked",
        })?;
        let sha256 = sha256.join().map_err(|_| Error::UploadStopped {
            what: "the sha256 thread panicked",
        })?;
        // A failed deduplication stops the reading (or ends it early): its error is the cause.
        let file = deduped?;
        read?;
        add(&shared.counters.bytes, file.offset);
        Ok(CleanedFile {
            chunks: file.chunks,
            terms: file.terms,
            sha256,
            size: file.offset,
        })
    })
}

/// Deduplicates the chunks of `block` and packs the new ones, then empties it.
fn dedupe_block(
    shared: &Shared<'_>,
    lane: &mut Lane,
    file: &mut FileState,
    block: &mut Block<'_>,
    queue: &SyncSender<PendingXorb>,
) -> Result<(), Error> {
    let hashes: Vec<XetHash> = block.chunks.iter().map(|c| c.hash).collect();
    let count = hashes.len();

    // What the session knows, and what global dedupe adds for eligible chunks.
    let mut found: Vec<Option<Run>> = vec![None; count];
    let mut i = 0;
    while i < count {
        if let Some(run) = shared.find_run(&hashes[i..]) {
            found[i] = Some(run);
            i += run.len();
            continue;
        }
        let at = file.offset + block.starts[i] as u64;
        let first_of_file = file.chunks.is_empty() && i == 0;
        if shared.global_dedupe && (first_of_file || is_global_dedupe_eligible(&hashes[i])) && at >= file.next_query_at
        {
            file.next_query_at = at + GLOBAL_QUERY_SPACING;
            if shared.query_global(&hashes[i])? {
                // Look again: the answer may hold this chunk and those after it.
                continue;
            }
        }
        i += 1;
    }

    // Terms: known runs unless they would fragment the file, new chunks into the xorb.
    let mut cur = 0;
    while cur < count {
        if let Some(run) = found[cur].take().or_else(|| lane.local_run(&hashes[cur..]))
            && (file.continues_last(&run) || file.defrag.allow_dedupe(run.len()))
        {
            add(&shared.counters.deduped_bytes, run.bytes);
            file.push(run);
            cur += run.len();
            continue;
        }
        let data = block.chunk_data(cur);
        let chunk = block.chunks[cur];
        if !lane.fits(data.len()) {
            lane.cut(shared, queue)?;
        }
        let index = lane.push(shared, data, chunk)?;
        add(&shared.counters.new_bytes, chunk.len);
        file.push(Run {
            xorb: TermXorb::Session(lane.id),
            start: index,
            end: index + 1,
            bytes: chunk.len,
        });
        cur += 1;
    }
    file.chunks.extend_from_slice(&block.chunks);
    file.offset += block.data.len() as u64;
    block.clear();
    Ok(())
}
