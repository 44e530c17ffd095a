//! Large blobs: ranges fetched on several connections at once, each written at
//! its offset into one preallocated partial file. Finished ranges are recorded
//! beside it (`{etag}.incomplete.parts`), so a later call fetches only the rest.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use hub_api::{HubClient, HubRequest};

use super::hasher::PrefixHasher;
use super::ramp::Ramp;
use super::stall::{StallGuard, fill};
use super::{BlobSource, COPY_BUFFER, RESUMES_PER_CALL, TransferSettings, content_range_start, open_partial};
use crate::connection_budget::ConnectionBudget;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};

/// The record of finished ranges beside a partial file.
pub(crate) fn parts_path(partial: &Path) -> PathBuf {
    let mut name = partial.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".parts");
    partial.with_file_name(name)
}

/// How a blob is cut into ranges: fixed for the whole call, so read without a lock.
#[derive(Clone, Copy)]
struct Ranges {
    size: u64,
    chunk_size: u64,
}

impl Ranges {
    /// Range `index`'s bytes: `[start, end)`.
    fn range(&self, index: usize) -> (u64, u64) {
        let start = index as u64 * self.chunk_size;
        (start, (start + self.chunk_size).min(self.size))
    }
}

/// The ranges of a blob and which of them are on disk.
struct Plan {
    ranges: Ranges,
    done: Vec<bool>,
    /// Bytes written from the start of each range not yet done.
    filled: Vec<u64>,
}

impl Plan {
    fn range(&self, index: usize) -> (u64, u64) {
        self.ranges.range(index)
    }

    /// Bytes from the start that are all on disk: the ranges done, then what
    /// the first range not done has written so far (ranges are written in order).
    fn contiguous(&self) -> u64 {
        match self.done.iter().position(|d| !d) {
            Some(first_missing) => self.range(first_missing).0 + self.filled[first_missing],
            None => self.ranges.size,
        }
    }

    fn header(&self) -> String {
        format!("size {} chunk {}\n", self.ranges.size, self.ranges.chunk_size)
    }
}

/// Reads the record of finished ranges, if it was made for the same plan.
fn load_done(parts: &Path, plan: &mut Plan) {
    let Ok(text) = std::fs::read_to_string(parts) else {
        return;
    };
    let mut lines = text.lines();
    if lines.next().map(|l| format!("{l}\n")) != Some(plan.header()) {
        return;
    }
    for line in lines {
        if let Some(done) = line.trim().parse::<usize>().ok().and_then(|i| plan.done.get_mut(i)) {
            *done = true;
        }
    }
}

/// The ranges no worker has taken yet, in order.
struct RangeQueue(Mutex<VecDeque<usize>>);

impl RangeQueue {
    /// Takes the first range left.
    fn take(&self) -> Option<usize> {
        self.0.lock().ok()?.pop_front()
    }

    /// Takes range `index` if it is still the first left: the spanning
    /// worker's next range, unless another worker took it.
    fn claim(&self, index: usize) -> bool {
        match self.0.lock() {
            Ok(mut queue) if queue.front() == Some(&index) => queue.pop_front().is_some(),
            _ => false,
        }
    }

    /// How far one request from range `index` may reach: the index after the
    /// last of the ranges queued right after it, in a row.
    fn reach(&self, index: usize) -> usize {
        let Ok(queue) = self.0.lock() else {
            return index + 1;
        };
        let mut end = index + 1;
        for &queued in queue.iter() {
            if queued != end {
                break;
            }
            end += 1;
        }
        end
    }

    fn is_empty(&self) -> bool {
        self.0.lock().map(|q| q.is_empty()).unwrap_or(true)
    }
}

struct Shared<'a> {
    ranges: Ranges,
    plan: Mutex<Plan>,
    /// Held for every write: one writer at a time into the file, waiting
    /// asleep, rather than all of them spinning on the kernel's inode lock.
    write_turn: Mutex<()>,
    queue: RangeQueue,
    record: Mutex<File>,
    failed: AtomicBool,
    /// A range request was answered with the whole body (status 200).
    ranges_ignored: AtomicBool,
    error: Mutex<Option<Error>>,
    hasher: Option<&'a PrefixHasher>,
    settings: &'a TransferSettings,
    /// How many of the workers may fetch, found while the file arrives.
    ramp: Ramp,
}

/// How the ranges went.
pub(super) enum Outcome {
    /// Every range is on disk; the sha256 when asked to hash.
    Fetched(Option<String>),
    /// The server answers range requests with the whole body: the file must
    /// come in one stream instead.
    RangesIgnored,
}

/// Fetches the missing ranges of `partial`.
#[allow(clippy::too_many_arguments)]
pub(super) fn fetch(
    client: &HubClient,
    source: &BlobSource<'_>,
    partial: &Path,
    size: u64,
    hash: bool,
    settings: &TransferSettings,
    budget: &ConnectionBudget,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let file = open_partial(partial)?;
    let chunk_size = settings.chunk_size.max(1);
    let chunks = size.div_ceil(chunk_size) as usize;
    let ranges = Ranges { size, chunk_size };
    let mut plan = Plan {
        ranges,
        done: vec![false; chunks],
        filled: vec![0; chunks],
    };
    let parts = parts_path(partial);
    let existing_len = file.metadata().map_err(Error::io("read", partial))?.len();
    if existing_len == size {
        load_done(&parts, &mut plan);
    } else {
        preallocate(&file, size).map_err(Error::io("allocate", partial))?;
    }
    let mut record = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&parts)
        .map_err(Error::io("open", &parts))?;
    if !plan.done.iter().any(|d| *d) {
        record.set_len(0).map_err(Error::io("truncate", &parts))?;
        record
            .write_all(plan.header().as_bytes())
            .map_err(Error::io("write", &parts))?;
    }
    let already: u64 = (0..chunks)
        .filter(|&i| plan.done[i])
        .map(|i| plan.range(i).1 - plan.range(i).0)
        .sum();
    if already > 0 {
        progress.event(&ProgressEvent::Advanced {
            path: source.repo_path.to_string(),
            bytes: already,
        });
    }
    let hasher = if hash {
        Some(PrefixHasher::start(partial, size).map_err(Error::io("read", partial))?)
    } else {
        None
    };
    if let Some(h) = &hasher {
        h.advance(plan.contiguous());
    }
    let pending: VecDeque<usize> = (0..chunks).filter(|&i| !plan.done[i]).collect();
    let workers = settings.connections.min(pending.len()).max(1);
    let shared = Shared {
        ranges,
        plan: Mutex::new(plan),
        write_turn: Mutex::new(()),
        queue: RangeQueue(Mutex::new(pending)),
        record: Mutex::new(record),
        failed: AtomicBool::new(false),
        ranges_ignored: AtomicBool::new(false),
        error: Mutex::new(None),
        hasher: hasher.as_ref(),
        settings,
        ramp: Ramp::new(workers),
    };
    let _ranged = budget.ranged_file();
    std::thread::scope(|scope| {
        for index in 0..workers {
            let (shared, file) = (&shared, &file);
            scope.spawn(move || {
                worker(index, client, source, file, partial, shared, budget, progress);
                // The last ranges are taken (or the file failed): nothing is
                // left to decide, and workers still waiting leave.
                let drained = shared.queue.is_empty();
                if drained || shared.failed.load(Ordering::SeqCst) {
                    shared.ramp.finish();
                }
            });
        }
        shared.ramp.measure(&|| shared.hasher.map(PrefixHasher::hungry), &|| {
            budget.ranged_files() > 1
        });
    });
    if shared.ranges_ignored.load(Ordering::SeqCst) {
        return Ok(Outcome::RangesIgnored);
    }
    if let Some(error) = shared.error.lock().ok().and_then(|mut e| e.take()) {
        return Err(error);
    }
    drop(file);
    match hasher {
        Some(h) => h
            .finish()
            .map(Some)
            .map_err(Error::io("hash", partial))
            .map(Outcome::Fetched),
        None => Ok(Outcome::Fetched(None)),
    }
}

/// Fetches ranges from the queue while the ramp lets worker `index` in.
///
/// While the file has one connection, its worker asks, in one request, for
/// every range queued after the one it takes, and claims each as its bytes
/// reach it: alone, it fetches the file in one stream, as one `GET` would,
/// instead of a request, and a pause in the flow while it crosses the round
/// trip, for every range (2 GiB over loopback HTTPS, `--no-verify`: 1.49
/// against 1.69 s, the server's CPU 1.44 against 1.63 s). Once the ramp lets
/// more in, they take ranges from the queue's front too, and it stops at the
/// first range another took: the ranges stay in file order, so the sha256
/// thread follows them all, not one connection's share.
#[allow(clippy::too_many_arguments)]
fn worker(
    worker_index: usize,
    client: &HubClient,
    source: &BlobSource<'_>,
    file: &File,
    partial: &Path,
    shared: &Shared<'_>,
    budget: &ConnectionBudget,
    progress: &dyn Progress,
) {
    loop {
        if shared.failed.load(Ordering::SeqCst) || !shared.ramp.wait_turn(worker_index) {
            return;
        }
        let spanning = shared.ramp.alone();
        let Some(index) = shared.queue.take() else {
            return;
        };
        let permit = budget.acquire();
        // Only workers holding a connection hold a buffer: many files may wait at once.
        let mut buffer = vec![0u8; COPY_BUFFER];
        let mut target = RangeTarget {
            file,
            partial,
            shared,
            index,
        };
        let fetched = fetch_ranges(client, source, &mut target, spanning, &mut buffer, progress);
        drop(permit);
        match fetched {
            Ok(true) => {}
            // Stopped early because the server ignores ranges: not done.
            Ok(false) => return,
            Err(error) => {
                shared.failed.store(true, Ordering::SeqCst);
                if let Ok(mut slot) = shared.error.lock() {
                    slot.get_or_insert(error);
                }
                return;
            }
        }
    }
}

impl Shared<'_> {
    /// Records range `index` as on disk.
    fn range_done(&self, index: usize) {
        if let Ok(mut record) = self.record.lock() {
            // A lost record only means this range is fetched again next time.
            let _ = writeln!(record, "{index}");
        }
        if let Ok(mut plan) = self.plan.lock() {
            plan.done[index] = true;
            if let Some(h) = self.hasher {
                h.advance(plan.contiguous());
            }
        }
    }
}

/// Where a range's bytes go, and who hears of them.
struct RangeTarget<'a> {
    file: &'a File,
    partial: &'a Path,
    shared: &'a Shared<'a>,
    /// The range being written.
    index: usize,
}

impl RangeTarget<'_> {
    /// Writes the first `len` bytes of `buffer` at `offset`; the hasher may
    /// follow at once, and takes the buffer itself (giving another) when the
    /// bytes are the next it needs.
    fn write_at(&self, buffer: &mut Vec<u8>, len: usize, offset: u64) -> Result<()> {
        {
            let _turn = self.shared.write_turn.lock().unwrap_or_else(|p| p.into_inner());
            self.file
                .write_all_at(&buffer[..len], offset)
                .map_err(Error::io("write", self.partial))?;
        }
        self.shared.ramp.received(len);
        if let Some(h) = self.shared.hasher {
            // Before the watermark moves past these bytes, or the hasher
            // would read them back from the file.
            h.offer(offset, buffer, len);
        }
        if let Ok(mut plan) = self.shared.plan.lock() {
            plan.filled[self.index] = offset + len as u64 - plan.range(self.index).0;
            if let Some(h) = self.shared.hasher {
                h.advance(plan.contiguous());
            }
        }
        Ok(())
    }
}

/// Fetches the target's range into the file at its offset and, when
/// `spanning`, in the same request, the ranges queued after it for as long
/// as they are still there when its bytes reach them; resumes where the
/// connection breaks. Returns whether every range it took is on disk: it
/// stops early, without error, when the server ignores ranges.
fn fetch_ranges(
    client: &HubClient,
    source: &BlobSource<'_>,
    target: &mut RangeTarget<'_>,
    spanning: bool,
    buffer: &mut Vec<u8>,
    progress: &dyn Progress,
) -> Result<bool> {
    let shared = target.shared;
    let (mut position, mut range_end) = shared.ranges.range(target.index);
    let mut resumes = 0;
    loop {
        let reach = match spanning {
            true => shared.ranges.range(shared.queue.reach(target.index) - 1).1,
            false => range_end,
        };
        let request = HubRequest::get(source.url)
            .target(source.target.clone())
            .header("range", format!("bytes={position}-{}", reach - 1));
        let response = client.send(&request)?;
        let url = response.url().to_string();
        if response.status() == 200 {
            // The whole body, not the range: the connection is dropped
            // unread, and the file is fetched again in one stream.
            shared.ranges_ignored.store(true, Ordering::SeqCst);
            shared.failed.store(true, Ordering::SeqCst);
            return Ok(false);
        }
        let served_from = response.header("content-range").and_then(content_range_start);
        if response.status() != 206 || served_from != Some(position) {
            return Err(hub_api::Error::InvalidResponse {
                url,
                reason: format!(
                    "asked for bytes {position}-{}, got status {} range {served_from:?}",
                    reach - 1,
                    response.status()
                ),
            }
            .into());
        }
        let mut reader = response.into_reader();
        let mut stall = StallGuard::new(shared.settings.stall_timeout);
        let broken = loop {
            if position == range_end {
                shared.range_done(target.index);
                let next = target.index + 1;
                if position < reach && !shared.failed.load(Ordering::SeqCst) && shared.queue.claim(next) {
                    target.index = next;
                    range_end = shared.ranges.range(next).1;
                    continue;
                }
                if position == reach {
                    // Reading the body's end hands the connection back to
                    // the pool for the next range; without it, every range
                    // would pay a new connection (and, on the Hub, a TLS
                    // handshake).
                    let mut end_of_body = [0u8; 1];
                    if !matches!(reader.read(&mut end_of_body), Ok(0)) {
                        // More than the range, or a broken end: the connection is not reused.
                        drop(reader);
                    }
                }
                // Else the rest of the body is another worker's (or the
                // file failed): the connection is dropped with it unread.
                return Ok(true);
            }
            let want = ((range_end - position) as usize).min(buffer.len());
            let (filled, broken) = fill(&mut reader, &mut buffer[..want], &mut stall);
            if filled > 0 {
                target.write_at(buffer, filled, position)?;
                position += filled as u64;
                progress.event(&ProgressEvent::Advanced {
                    path: source.repo_path.to_string(),
                    bytes: filled as u64,
                });
            }
            if broken.is_some() || filled < want {
                break broken;
            }
        };
        if resumes >= RESUMES_PER_CALL {
            let source = broken.unwrap_or_else(|| std::io::ErrorKind::UnexpectedEof.into());
            return Err(hub_api::Error::Body { url, source }.into());
        }
        resumes += 1;
        log::debug!(
            "a range of {} stopped at byte {position}; resuming from there",
            source.repo_path
        );
    }
}

/// Gives the partial file its full size, with its disk space reserved where the
/// file system can: a disk too small fails now rather than after gigabytes,
/// and the parallel writes then fill blocks that already exist.
fn preallocate(file: &File, size: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{FallocateFlags, fallocate};
        match fallocate(file, FallocateFlags::empty(), 0, size) {
            Ok(()) => return Ok(()),
            // File systems without it (some network ones): a sparse file will do.
            Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    file.set_len(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contiguous_prefix_follows_the_first_range_not_done() {
        let mut plan = Plan {
            ranges: Ranges {
                size: 250,
                chunk_size: 100,
            },
            done: vec![false; 3],
            filled: vec![0; 3],
        };
        assert_eq!(plan.contiguous(), 0);
        // Bytes of a later range do not count until every range before it is done.
        plan.filled[1] = 60;
        assert_eq!(plan.contiguous(), 0);
        plan.filled[0] = 40;
        assert_eq!(plan.contiguous(), 40);
        plan.done[0] = true;
        assert_eq!(plan.contiguous(), 160);
        plan.done[1] = true;
        plan.done[2] = true;
        assert_eq!(plan.contiguous(), 250);
    }

    #[test]
    fn the_spanning_worker_reaches_the_ranges_after_its_own_until_another_takes_them() {
        // Ranges 2 and 6 are on disk from an earlier call.
        let queue = RangeQueue(Mutex::new([0, 1, 3, 4, 5, 7].into()));
        assert_eq!(queue.take(), Some(0));
        assert_eq!(queue.reach(0), 2, "one request covers 0 and 1, not 2, which is done");
        assert!(queue.claim(1));
        assert!(!queue.claim(2), "range 2 is not queued");
        assert_eq!(queue.take(), Some(3));
        assert_eq!(queue.reach(3), 6, "3, 4 and 5 in one request");
        // A second connection is let in: it takes the next range first.
        assert_eq!(queue.take(), Some(4));
        assert!(
            !queue.claim(4),
            "taken by the other: the spanning request stops before it"
        );
        assert_eq!(queue.take(), Some(5));
        assert_eq!(queue.take(), Some(7));
        assert!(queue.is_empty());
        assert_eq!(queue.reach(7), 8, "nothing left to reach");
    }
}
