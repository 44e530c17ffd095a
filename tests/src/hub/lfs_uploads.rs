//! LFS uploads on their way into the store: `basic` uploads checked against the oid
//! they claim, and `multipart` uploads whose parts wait in
//! `{root}/lfs/uploads/{upload_id}/{part:05}` until the completion checks every part's
//! ETag and the whole object's sha256 and size, then moves the object into the store.
//!
//! Every write goes to a temp file that is renamed once complete, and objects are read
//! and written in bounded chunks. Large bodies arrive spooled to disk, already hashed
//! ([`SpooledBody`]): they are checked and moved into place, never copied in memory.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::lfs_store::{CHUNK, LfsStore, hex, is_sha256};
use crate::EmulatorError;
use crate::chunk_hasher::ChunkHasher;
use crate::http::{Request, SpooledBody};

/// Why an upload was not accepted.
#[derive(Debug)]
pub(crate) enum UploadRejection {
    /// The client sent something inconsistent: answered with 400 and this message.
    Invalid(String),
    /// The emulator failed to store it.
    Storage(EmulatorError),
}

impl From<EmulatorError> for UploadRejection {
    fn from(err: EmulatorError) -> Self {
        UploadRejection::Storage(err)
    }
}

/// The bytes of an upload as they reached the server: in memory, or spooled to disk.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UploadBody<'a> {
    /// A small body, in memory.
    Bytes(&'a [u8]),
    /// A large body, in a spool file, with its sha256.
    Spooled(&'a SpooledBody),
}

impl<'a> UploadBody<'a> {
    /// The body of `request`, wherever it is.
    pub(crate) fn of(request: &'a Request) -> Self {
        match &request.body_file {
            Some(file) => UploadBody::Spooled(file),
            None => UploadBody::Bytes(&request.body),
        }
    }

    fn len(self) -> u64 {
        match self {
            UploadBody::Bytes(bytes) => bytes.len() as u64,
            UploadBody::Spooled(file) => file.len(),
        }
    }

    /// The sha256 in lowercase hex (computed while spooling for spooled bodies).
    fn sha256_hex(self) -> String {
        match self {
            UploadBody::Bytes(bytes) => hex(&Sha256::digest(bytes)),
            UploadBody::Spooled(file) => hex(&file.sha256()),
        }
    }

    /// Puts the bytes at `path` (a temp name): written out, or the spool file moved there.
    fn place(self, path: &Path) -> Result<(), EmulatorError> {
        match self {
            UploadBody::Bytes(bytes) => std::fs::write(path, bytes).map_err(|e| EmulatorError::io(path, e)),
            UploadBody::Spooled(file) => file.persist(path).map_err(|e| EmulatorError::io(path, e)),
        }
    }
}

/// The shape of one multipart upload, fixed when the LFS batch hands out its URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MultipartPlan {
    /// The upload's id (32 hex digits), naming its staging folder.
    pub(crate) upload_id: String,
    /// The object's sha256.
    pub(crate) oid: String,
    /// The object's size.
    pub(crate) size: u64,
    /// The size of every part but the last.
    pub(crate) part_size: u64,
}

impl MultipartPlan {
    /// How many parts the object is cut into (one for an empty object).
    pub(crate) fn part_count(&self) -> u64 {
        self.size.div_ceil(self.part_size.max(1)).max(1)
    }

    /// The length of part `number` (1-based), `None` when there is no such part.
    pub(crate) fn part_len(&self, number: u64) -> Option<u64> {
        let count = self.part_count();
        if number == 0 || number > count {
            return None;
        }
        let start = (number - 1) * self.part_size;
        Some((self.size - start).min(self.part_size))
    }
}

/// The staging area of uploads in flight.
#[derive(Debug)]
pub(crate) struct LfsUploads {
    dir: PathBuf,
    temp_counter: AtomicU64,
    /// One lock an upload, so that a completion sent again while the first is
    /// still assembling waits for it instead of finding its parts gone.
    completions: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl LfsUploads {
    /// Staging under `{root}/lfs/uploads`.
    pub(crate) fn new(root: &Path) -> Self {
        LfsUploads {
            dir: root.join("lfs").join("uploads"),
            temp_counter: AtomicU64::new(0),
            completions: Mutex::new(HashMap::new()),
        }
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, UploadRejection> {
        if upload_id.len() == 32 && upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(self.dir.join(upload_id))
        } else {
            Err(UploadRejection::Invalid(format!("invalid upload id {upload_id:?}")))
        }
    }

    fn part_path(dir: &Path, number: u64) -> PathBuf {
        dir.join(format!("{number:05}"))
    }

    /// The sha256 of the part as it was stored, beside it.
    fn etag_path(dir: &Path, number: u64) -> PathBuf {
        dir.join(format!("{number:05}.sha256"))
    }

    /// Keeps part `number` of an upload and returns its ETag (the quoted sha256 of the
    /// part). The part must have exactly the length the plan gives it; sending a part
    /// again replaces it.
    pub(crate) fn store_part(
        &self,
        plan: &MultipartPlan,
        number: u64,
        body: UploadBody<'_>,
    ) -> Result<String, UploadRejection> {
        let expected = plan.part_len(number).ok_or_else(|| {
            UploadRejection::Invalid(format!(
                "part {number} is out of range: the upload has {} parts",
                plan.part_count()
            ))
        })?;
        if body.len() != expected {
            return Err(UploadRejection::Invalid(format!(
                "part {number} must have {expected} bytes, got {}",
                body.len()
            )));
        }
        let dir = self.upload_dir(&plan.upload_id)?;
        fs::create_dir_all(&dir).map_err(|e| EmulatorError::io(&dir, e))?;
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!("{number:05}.{}-{n}.tmp", std::process::id()));
        let sha256 = body.sha256_hex();
        let result = body.place(&temp).and_then(|()| {
            let dest = Self::part_path(&dir, number);
            fs::rename(&temp, &dest).map_err(|e| EmulatorError::io(dest, e))
        });
        if let Err(err) = result {
            let _ = fs::remove_file(&temp);
            return Err(err.into());
        }
        // The completion compares ETags with this instead of hashing every part
        // again; without it (or when it disagrees) the part is hashed.
        let _ = fs::write(Self::etag_path(&dir, number), &sha256);
        Ok(format!("\"{sha256}\""))
    }

    /// Assembles an upload from its parts, checking that `parts` lists every part once
    /// with the ETag its PUT returned, and that the whole has the plan's sha256 and size;
    /// then moves the object into `store` and drops the parts. After a rejection the
    /// parts stay, so the client can complete again.
    pub(crate) fn complete(
        &self,
        store: &LfsStore,
        plan: &MultipartPlan,
        parts: &[(u64, String)],
    ) -> Result<(), UploadRejection> {
        let dir = self.upload_dir(&plan.upload_id)?;
        let mut ordered: Vec<&(u64, String)> = parts.iter().collect();
        ordered.sort_by_key(|(number, _)| *number);
        let count = plan.part_count();
        let numbers: Vec<u64> = ordered.iter().map(|(number, _)| *number).collect();
        if numbers != (1..=count).collect::<Vec<u64>>() {
            return Err(UploadRejection::Invalid(format!(
                "the completion must list parts 1 to {count} once each, got {numbers:?}"
            )));
        }
        let lock = {
            let mut locks = self.completions.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(plan.upload_id.clone()).or_default().clone()
        };
        let _completing = lock.lock().unwrap_or_else(|e| e.into_inner());
        if store.object_size(&plan.oid) == Some(plan.size) {
            // This completion came again, or another upload of the same content finished first.
            let _ = fs::remove_dir_all(&dir);
            self.forget_completion(&plan.upload_id);
            return Ok(());
        }
        let temp = store.temp_path()?;
        let result = assemble(&dir, &temp, plan, &ordered).and_then(|()| Ok(store.adopt(&temp, &plan.oid)?));
        match result {
            Ok(()) => {
                let _ = fs::remove_dir_all(&dir);
                self.forget_completion(&plan.upload_id);
                Ok(())
            }
            Err(err) => {
                let _ = fs::remove_file(&temp);
                Err(err)
            }
        }
    }
}

impl LfsUploads {
    /// Drops the completion lock of a finished upload.
    fn forget_completion(&self, upload_id: &str) {
        let mut locks = self.completions.lock().unwrap_or_else(|e| e.into_inner());
        locks.remove(upload_id);
    }
}

/// Concatenates the parts into `temp`, checking each part's ETag and the whole's oid and size.
fn assemble(dir: &Path, temp: &Path, plan: &MultipartPlan, parts: &[&(u64, String)]) -> Result<(), UploadRejection> {
    let mut out = File::create(temp).map_err(|e| EmulatorError::io(temp, e))?;
    // The whole object is hashed on a helper thread while this one copies.
    let mut whole = ChunkHasher::start(CHUNK).map_err(|e| EmulatorError::io(temp, e))?;
    let size = copy_parts(dir, temp, &mut out, parts, &mut whole)?;
    let oid = hex(&whole.finish().map_err(|e| EmulatorError::io(temp, e))?);
    if size != plan.size {
        return Err(UploadRejection::Invalid(format!(
            "the parts hold {size} bytes, not the {} announced",
            plan.size
        )));
    }
    if oid != plan.oid {
        return Err(UploadRejection::Invalid(format!(
            "the uploaded content has sha256 {oid}, not {}",
            plan.oid
        )));
    }
    Ok(())
}

/// Copies the parts in order into `out`, handing every chunk to `whole`, and
/// checks each part's ETag (by the sha256 recorded when it was stored, else by
/// hashing it). Returns the bytes copied.
fn copy_parts(
    dir: &Path,
    temp: &Path,
    out: &mut File,
    parts: &[&(u64, String)],
    whole: &mut ChunkHasher,
) -> Result<u64, UploadRejection> {
    let mut size = 0u64;
    for (number, etag) in parts {
        let path = LfsUploads::part_path(dir, *number);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(UploadRejection::Invalid(format!("part {number} was not uploaded")));
            }
            Err(e) => return Err(EmulatorError::io(path, e).into()),
        };
        let claimed = unquote_etag(etag);
        let recorded = fs::read_to_string(LfsUploads::etag_path(dir, *number)).ok();
        // The whole object's sha256 is checked in any case.
        let mut part = (recorded.as_deref() != Some(claimed)).then(Sha256::new);
        loop {
            let mut buf = whole.buffer().map_err(|e| EmulatorError::io(temp, e))?;
            let n = loop {
                match file.read(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(EmulatorError::io(&path, e).into()),
                }
            };
            if n == 0 {
                whole.unused(buf);
                break;
            }
            buf.truncate(n);
            if let Some(part) = part.as_mut() {
                part.update(&buf);
            }
            out.write_all(&buf).map_err(|e| EmulatorError::io(temp, e))?;
            size += n as u64;
            whole.hash(buf).map_err(|e| EmulatorError::io(temp, e))?;
        }
        let actual = part.map_or_else(|| claimed.to_string(), |part| hex(&part.finalize()));
        if claimed != actual {
            return Err(UploadRejection::Invalid(format!(
                "the etag {etag} of part {number} does not match the uploaded part"
            )));
        }
    }
    Ok(size)
}

/// Stores a whole object sent by a `basic` upload, after checking it is `size` bytes
/// with sha256 `oid`.
pub(crate) fn store_basic(store: &LfsStore, oid: &str, size: u64, body: UploadBody<'_>) -> Result<(), UploadRejection> {
    if !is_sha256(oid) {
        return Err(UploadRejection::Invalid(format!("invalid oid {oid:?}")));
    }
    if body.len() != size {
        return Err(UploadRejection::Invalid(format!(
            "the upload of {oid} has {} bytes, not the {size} announced",
            body.len()
        )));
    }
    let actual = body.sha256_hex();
    if actual != oid {
        return Err(UploadRejection::Invalid(format!(
            "the uploaded content has sha256 {actual}, not {oid}"
        )));
    }
    if store.object_size(oid) == Some(size) {
        return Ok(());
    }
    let temp = store.temp_path()?;
    let result = body.place(&temp).and_then(|()| store.adopt(&temp, oid));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    Ok(result?)
}

/// An ETag without its quotes (and weak marker), as clients echo it either way.
fn unquote_etag(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"')
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{LfsUploads, MultipartPlan, UploadBody, UploadRejection, store_basic};
    use crate::hub::lfs_store::{LfsStore, hex};

    fn plan(content: &[u8], part_size: u64) -> MultipartPlan {
        MultipartPlan {
            upload_id: "0123456789abcdef0123456789abcdef".to_string(),
            oid: hex(&Sha256::digest(content)),
            size: content.len() as u64,
            part_size,
        }
    }

    #[test]
    fn parts_are_cut_by_the_part_size() {
        let p = plan(&[0u8; 10], 4);
        assert_eq!(p.part_count(), 3);
        assert_eq!(
            (p.part_len(0), p.part_len(1), p.part_len(3), p.part_len(4)),
            (None, Some(4), Some(2), None)
        );
        assert_eq!(plan(&[0u8; 8], 4).part_count(), 2);
        assert_eq!(plan(&[], 4).part_count(), 1);
    }

    #[test]
    fn completion_checks_etags_then_stores_the_object() -> Result<(), Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let store = LfsStore::new(root.path());
        let uploads = LfsUploads::new(root.path());
        let content = b"0123456789".to_vec();
        let p = plan(&content, 4);
        let mut etags = Vec::new();
        for (i, chunk) in content.chunks(4).enumerate() {
            let n = i as u64 + 1;
            etags.push((
                n,
                uploads
                    .store_part(&p, n, UploadBody::Bytes(chunk))
                    .map_err(|e| format!("{e:?}"))?,
            ));
        }
        assert!(matches!(
            uploads.store_part(&p, 3, UploadBody::Bytes(b"xyz")),
            Err(UploadRejection::Invalid(_))
        ));

        let mut wrong = etags.clone();
        wrong[1].1 = "\"bad\"".to_string();
        assert!(matches!(
            uploads.complete(&store, &p, &wrong),
            Err(UploadRejection::Invalid(m)) if m.contains("part 2")
        ));
        assert!(matches!(
            uploads.complete(&store, &p, &etags[..2]),
            Err(UploadRejection::Invalid(_))
        ));
        assert_eq!(store.object_size(&p.oid), None);

        // Reversed order and unquoted ETags are fine.
        let mut right: Vec<(u64, String)> = etags.iter().rev().cloned().collect();
        right[0].1 = right[0].1.trim_matches('"').to_string();
        uploads.complete(&store, &p, &right).map_err(|e| format!("{e:?}"))?;
        assert_eq!(std::fs::read(store.object_path(&p.oid))?, content);
        assert!(!root.path().join("lfs/uploads").join(&p.upload_id).exists());
        Ok(())
    }

    #[test]
    fn a_completion_sent_twice_at_once_succeeds_both_times() -> Result<(), Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let store = LfsStore::new(root.path());
        let uploads = LfsUploads::new(root.path());
        let content: Vec<u8> = (0..24u32 << 20)
            .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
            .collect();
        let p = plan(&content, 1 << 20);
        let mut etags = Vec::new();
        for (i, chunk) in content.chunks(1 << 20).enumerate() {
            let n = i as u64 + 1;
            let etag = uploads
                .store_part(&p, n, UploadBody::Bytes(chunk))
                .map_err(|e| format!("{e:?}"))?;
            etags.push((n, etag));
        }
        // A client that gave up waiting sends the completion again while the
        // first is still assembling the parts.
        let start = std::sync::Barrier::new(2);
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        uploads.complete(&store, &p, &etags).map_err(|e| format!("{e:?}"))
                    })
                })
                .collect();
            runs.into_iter()
                .map(|run| run.join().unwrap_or_else(|_| Err("panicked".into())))
                .collect()
        });
        assert_eq!(results, [Ok(()), Ok(())]);
        assert_eq!(std::fs::read(store.object_path(&p.oid))?, content);
        Ok(())
    }

    #[test]
    fn parts_whose_whole_is_not_the_announced_object_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let store = LfsStore::new(root.path());
        let uploads = LfsUploads::new(root.path());
        let content: Vec<u8> = (0..3u32 << 20).map(|i| (i >> 7) as u8).collect();
        let mut p = plan(&content, 1 << 20);
        p.oid = hex(&Sha256::digest(b"something else"));
        let mut etags = Vec::new();
        for (i, chunk) in content.chunks(1 << 20).enumerate() {
            let n = i as u64 + 1;
            etags.push((
                n,
                uploads
                    .store_part(&p, n, UploadBody::Bytes(chunk))
                    .map_err(|e| format!("{e:?}"))?,
            ));
        }
        let refused = uploads.complete(&store, &p, &etags);
        assert!(
            matches!(&refused, Err(UploadRejection::Invalid(m)) if m.contains("sha256")),
            "{refused:?}"
        );
        assert_eq!(store.object_size(&p.oid), None, "nothing stored");
        Ok(())
    }

    #[test]
    fn basic_uploads_must_match_their_oid() -> Result<(), Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let store = LfsStore::new(root.path());
        let oid = hex(&Sha256::digest(b"hello"));
        assert!(store_basic(&store, &oid, 5, UploadBody::Bytes(b"hellO")).is_err());
        assert!(store_basic(&store, &oid, 6, UploadBody::Bytes(b"hello")).is_err());
        store_basic(&store, &oid, 5, UploadBody::Bytes(b"hello")).map_err(|e| format!("{e:?}"))?;
        assert_eq!(store.object_size(&oid), Some(5));
        Ok(())
    }
}
