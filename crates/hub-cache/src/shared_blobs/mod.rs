//! The cache-wide shared blob store of the Python client 2.4: a file with a Xet
//! hash is kept once per cache, whichever repos hold it.
//!
//! ```text
//! {cache}/blobs/.huggingface-shared-blobs      "1\n": the layout version; no marker, no store
//! {cache}/blobs/{hash[..2]}/{hash}             the bytes, a read-only regular file
//! {cache}/blobs/{hash[..2]}/{hash}.refs        one line a repo blob linking to it: models--o--n/blobs/{etag}
//! {cache}/blobs/{hash[..2]}/{hash}.lock        the flock taken to publish, link or collect it
//! {cache}/models--o--n/blobs/{etag}            a relative symlink: ../../blobs/{hash[..2]}/{hash}
//! ```
//!
//! A reference is appended to the manifest and flushed before its symlink
//! appears, so a process killed at any point leaves at worst a reference
//! without a link, which every reader checks against the disk and passes over.
//! The manifest is a hint: a store blob is removed only when its manifest is
//! readable and none of the links it names still points at it; anything
//! unreadable keeps the blob (it leaks rather than losing referenced bytes).
//! A server's Xet hash becomes a name only once it is 64 lowercase hex digits,
//! and repo blob paths are taken from a manifest only when they are
//! `{type}s--…/blobs/{name}` directly under the cache.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use crate::download::FetchOptions;
use crate::error::{Error, Result};
use crate::fetch::{BlobSource, Fetched, TransferSettings, git_blob_id, sha256_of};
use crate::snapshot_link::{relative_target, symlink};

/// The store's folder name under the cache root.
pub(crate) const STORE_DIR: &str = "blobs";
/// The marker that makes a `blobs/` folder the store, and says which layout it has.
const MARKER: &str = ".huggingface-shared-blobs";
/// The marker's content, byte for byte.
const MARKER_CONTENT: &str = "1\n";
const MANIFEST_SUFFIX: &str = ".refs";
const LOCK_SUFFIX: &str = ".lock";
/// How many times, and how far apart, a process tries to mark the store
/// while another one is marking it.
const MARK_TRIES: usize = 50;
const MARK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);
/// A temporary marker younger than this may be another process's, about to
/// be renamed; an older one was left by a process that died.
const MARKER_TEMP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// The repo folders of a cache, as the Python client names them.
const REPO_FOLDER_PREFIXES: [&str; 3] = ["datasets--", "models--", "spaces--"];

/// Whether `hash` may name a store blob: a Xet file hash as the Hub spells it.
pub(crate) fn is_xet_hash(hash: &str) -> bool {
    hash.len() == 64 && is_lower_hex(hash)
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How one download uses the shared store: set for a file with a Xet hash
/// when the store is on and snapshots are symlinks.
pub(crate) struct StoreUse<'a> {
    store: SharedStore,
    hash: &'a str,
}

impl<'a> StoreUse<'a> {
    /// The store's part in fetching a file with this Xet hash, if it has one.
    pub(crate) fn for_file(options: &FetchOptions<'_>, xet_hash: Option<&'a str>) -> Option<StoreUse<'a>> {
        let hash = xet_hash.filter(|h| is_xet_hash(h))?;
        (options.shared_blobs && !options.disable_symlinks).then(|| StoreUse {
            store: SharedStore::new(&options.cache_dir),
            hash,
        })
    }

    /// Links `repo_blob` to the store's copy, if it has a usable one whose
    /// bytes are the file's: their sha256 (or git blob id) is checked, unless
    /// verification is off, since the Hub's word that this file has this Xet
    /// hash is not enough to give the blob a name its bytes do not have.
    pub(crate) fn link_existing(
        &self,
        repo_blob: &Path,
        source: &BlobSource<'_>,
        settings: &TransferSettings,
    ) -> StoreLink {
        let mut damaged = false;
        let mut is_the_file = |stored: &Path| {
            let matches = match (settings.verify, source.expected_sha256, source.expected_git_blob) {
                (false, _, _) => true,
                (true, Some(sha256), _) => File::open(stored)
                    .and_then(sha256_of)
                    .is_ok_and(|actual| actual.eq_ignore_ascii_case(sha256)),
                (true, None, Some(git_blob)) => {
                    git_blob_id(stored).is_ok_and(|actual| actual.eq_ignore_ascii_case(git_blob))
                }
                // Nothing to check the bytes against: fetch them, and let
                // them (their Xet hash checked) take the stored copy's place.
                (true, None, None) => false,
            };
            if !matches {
                log::debug!(
                    "the shared blob {} is not known to hold the bytes of {}: not used",
                    stored.display(),
                    source.repo_path
                );
                damaged = true;
            }
            matches
        };
        match self
            .store
            .try_link(repo_blob, self.hash, source.expected_size, &mut is_the_file)
        {
            true => StoreLink::Linked,
            false if damaged => StoreLink::Damaged,
            false => StoreLink::Missing,
        }
    }

    /// Moves a blob just fetched into the store, once its bytes are known to
    /// have the Xet hash: a reconstruction checked it, else (bytes that came
    /// over plain HTTP, checked against the sha256 only) it is computed here,
    /// as a store blob stands for every file of that hash in every repo and
    /// the server's word is not enough. A blob that does not hash to it stays
    /// the repo's own.
    pub(crate) fn publish_fetched(
        &self,
        repo_blob: &Path,
        size: Option<u64>,
        fetched: Fetched,
        replace_existing: bool,
    ) -> Result<bool> {
        if size.is_none() || self.store.blob_path(self.hash).is_none() {
            return Ok(false);
        }
        if fetched == Fetched::FromXet {
            return self.publish(repo_blob, size, replace_existing);
        }
        let actual = File::open(repo_blob).and_then(hub_xet::hash_reader);
        match actual {
            Ok(outcome) if outcome.file_hash.to_string() == self.hash => {}
            Ok(outcome) => {
                log::debug!(
                    "{} has the Xet hash {}, not {} as the Hub said: kept out of the shared store",
                    repo_blob.display(),
                    outcome.file_hash,
                    self.hash
                );
                return Ok(false);
            }
            Err(error) => {
                log::debug!("could not hash {}: {error}", repo_blob.display());
                return Ok(false);
            }
        }
        self.publish(repo_blob, size, replace_existing)
    }

    fn publish(&self, repo_blob: &Path, size: Option<u64>, replace_existing: bool) -> Result<bool> {
        self.store
            .publish(repo_blob, self.hash, size, replace_existing)
            .map_err(Error::io("restore", repo_blob))
    }
}

/// What [`StoreUse::link_existing`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreLink {
    /// The repo blob now links to the store's copy.
    Linked,
    /// The store has no usable copy (or linking failed): fetch the file.
    Missing,
    /// The store's copy does not hold the file's bytes: fetch the file, and
    /// let it replace that copy.
    Damaged,
}

/// The shared store of one cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedStore {
    /// The cache root, absolute, without `.` or `..`.
    cache_dir: PathBuf,
}

impl SharedStore {
    /// The store of the cache at `cache_dir`.
    pub(crate) fn new(cache_dir: &Path) -> SharedStore {
        SharedStore {
            cache_dir: absolute(cache_dir),
        }
    }

    /// `{cache}/blobs`.
    pub(crate) fn dir(&self) -> PathBuf {
        self.cache_dir.join(STORE_DIR)
    }

    /// `{cache}/blobs/{hash[..2]}/{hash}`, for a valid Xet hash only.
    pub(crate) fn blob_path(&self, hash: &str) -> Option<PathBuf> {
        is_xet_hash(hash).then(|| self.dir().join(&hash[..2]).join(hash))
    }

    /// Whether `{cache}/blobs` is a store this client understands: a folder
    /// holding the marker of layout version 1.
    pub(crate) fn is_marked(&self) -> bool {
        let dir = self.dir();
        let marker = dir.join(MARKER);
        is_dir(&dir) && is_regular_file(&marker) && std::fs::read(&marker).is_ok_and(|c| c == MARKER_CONTENT.as_bytes())
    }

    /// The store blob a repo blob stands for: `Some` when `repo_blob` is a
    /// symlink, directly in a repo's `blobs/`, to a regular file of the store.
    pub(crate) fn target_of(&self, repo_blob: &Path) -> Option<PathBuf> {
        let target = self.link_target(repo_blob).ok().flatten()?;
        is_regular_file(&target).then_some(target)
    }

    /// Links `repo_blob` to the store's copy of `hash` when the store has a
    /// usable one (a regular, readable file of `expected_size` bytes that
    /// `is_the_file` accepts, asked under the store's lock): the reference is
    /// recorded first, then the link is renamed into place. Whether it was
    /// linked; any failure is a miss that leaves `repo_blob` as it was.
    pub(crate) fn try_link(
        &self,
        repo_blob: &Path,
        hash: &str,
        expected_size: Option<u64>,
        is_the_file: &mut dyn FnMut(&Path) -> bool,
    ) -> bool {
        let (Some(store_blob), true) = (self.blob_path(hash), self.is_marked()) else {
            return false;
        };
        let repo_blob = absolute(repo_blob);
        let Some(reference) = self.reference_of(&repo_blob) else {
            return false;
        };
        let linked = (|| -> io::Result<bool> {
            let _lock = StoreLock::acquire(&sibling(&store_blob, LOCK_SUFFIX))?;
            if !is_usable(&store_blob, expected_size) || !is_the_file(&store_blob) {
                return Ok(false);
            }
            let link = TempLink::make(&repo_blob, &store_blob)?;
            append_reference(&sibling(&store_blob, MANIFEST_SUFFIX), &reference)?;
            link.rename_to(&repo_blob)?;
            Ok(true)
        })();
        match linked {
            Ok(true) => {
                log::debug!("{} linked to the shared store, no download", repo_blob.display());
                true
            }
            Ok(false) => false,
            Err(error) => {
                log::debug!("could not link {} to the shared store: {error}", repo_blob.display());
                false
            }
        }
    }

    /// Moves a freshly downloaded `repo_blob`, whose bytes have the Xet hash
    /// `hash`, into the store and leaves a relative symlink in its place;
    /// when the store holds a usable copy already (and `replace_existing` is
    /// off), only the link is made. Whether the blob is shared now.
    ///
    /// Best effort: on failure `repo_blob` stays, or is put back as, a
    /// regular file. An error means it could not be put back.
    pub(crate) fn publish(
        &self,
        repo_blob: &Path,
        hash: &str,
        expected_size: Option<u64>,
        replace_existing: bool,
    ) -> io::Result<bool> {
        let (Some(store_blob), Some(_)) = (self.blob_path(hash), expected_size) else {
            return Ok(false);
        };
        let repo_blob = absolute(repo_blob);
        let (Some(prefix_dir), Some(reference)) = (self.ensure_prefix_dir(hash), self.reference_of(&repo_blob)) else {
            return Ok(false);
        };
        let mut moved = false;
        let published = (|| -> io::Result<()> {
            let _lock = StoreLock::acquire(&sibling(&store_blob, LOCK_SUFFIX))?;
            let link = TempLink::make(&repo_blob, &store_blob)?;
            let store_is_usable = !replace_existing && is_usable(&store_blob, expected_size);
            append_reference(&sibling(&store_blob, MANIFEST_SUFFIX), &reference)?;
            if !store_is_usable {
                self.prepare_permissions(&repo_blob, &prefix_dir)?;
                std::fs::rename(&repo_blob, &store_blob)?;
                moved = true;
            }
            if let Err(error) = link.rename_to(&repo_blob) {
                if moved {
                    // Under the lock still, so no collection sees the blob unreferenced.
                    restore_copy(&store_blob, &repo_blob)?;
                    moved = false;
                }
                return Err(error);
            }
            Ok(())
        })();
        match published {
            Ok(()) => {
                log::debug!("{} published to the shared store", repo_blob.display());
                Ok(true)
            }
            Err(error) if moved => Err(io::Error::new(
                error.kind(),
                format!(
                    "could not put {} back after failing to share it: {error}",
                    repo_blob.display()
                ),
            )),
            Err(error) => {
                log::debug!("could not publish {} to the shared store: {error}", repo_blob.display());
                Ok(false)
            }
        }
    }

    /// The repo blobs the manifest of `store_blob` names that are still links
    /// to it; `None` when the manifest is missing or unreadable, or a link
    /// cannot be read (then nothing may be concluded).
    pub(crate) fn references(&self, store_blob: &Path) -> Option<BTreeSet<PathBuf>> {
        let manifest = sibling(store_blob, MANIFEST_SUFFIX);
        if !is_regular_file(&manifest) {
            return None;
        }
        let text = std::fs::read_to_string(&manifest).ok()?;
        let mut references = BTreeSet::new();
        for line in text.lines() {
            let relative = Path::new(line);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            {
                continue;
            }
            let candidate = self.cache_dir.join(relative);
            if self.reference_of(&candidate).is_none() {
                continue;
            }
            let candidate = absolute(&candidate);
            match self.link_target(&candidate) {
                Ok(Some(target)) if target == store_blob => {
                    references.insert(candidate);
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        Some(references)
    }

    /// The bytes deleting `to_delete` (paths made [`absolute`]) frees in the
    /// store for `store_blob`: its size when every live reference is among
    /// them, else nothing.
    pub(crate) fn freed_by_deleting(&self, store_blob: &Path, to_delete: &BTreeSet<PathBuf>) -> u64 {
        match self.references(store_blob) {
            Some(references) if !references.is_empty() && references.is_subset(to_delete) => {
                regular_file_size(store_blob).unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Every well-formed blob of a marked store.
    pub(crate) fn blobs(&self) -> BTreeSet<PathBuf> {
        let mut found = BTreeSet::new();
        if !self.is_marked() {
            return found;
        }
        for prefix in std::fs::read_dir(self.dir()).into_iter().flatten().flatten() {
            let prefix_name = prefix.file_name().to_string_lossy().into_owned();
            if prefix_name.len() != 2 || !is_lower_hex(&prefix_name) || !is_dir(&prefix.path()) {
                continue;
            }
            for entry in std::fs::read_dir(prefix.path()).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_xet_hash(&name) && name.starts_with(&prefix_name) && is_regular_file(&entry.path()) {
                    found.insert(entry.path());
                }
            }
        }
        found
    }

    /// The store blobs whose manifest names no live link, with their sizes.
    /// A blob without a readable manifest is not listed: it is never collected.
    pub(crate) fn unreferenced(&self) -> BTreeMap<PathBuf, u64> {
        self.blobs()
            .into_iter()
            .filter(|blob| self.references(blob).is_some_and(|r| r.is_empty()))
            .filter_map(|blob| regular_file_size(&blob).map(|size| (blob, size)))
            .collect()
    }

    /// Removes `store_blob` and its manifest when the manifest names no live
    /// link any more; otherwise rewrites the manifest to the live links. The
    /// bytes freed; unreadable metadata is never a reason to delete.
    pub(crate) fn sweep(&self, store_blob: &Path) -> u64 {
        let store_blob = absolute(store_blob);
        let well_formed = store_blob
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|name| self.blob_path(name))
            .is_some_and(|expected| expected == store_blob);
        if !well_formed || !self.is_marked() {
            return 0;
        }
        let swept = (|| -> io::Result<u64> {
            let _lock = StoreLock::acquire(&sibling(&store_blob, LOCK_SUFFIX))?;
            let Some(references) = self.references(&store_blob) else {
                return Ok(0);
            };
            let manifest = sibling(&store_blob, MANIFEST_SUFFIX);
            if !references.is_empty() {
                self.rewrite_manifest(&manifest, &references)?;
                return Ok(0);
            }
            let Some(size) = regular_file_size(&store_blob) else {
                return Ok(0);
            };
            std::fs::remove_file(&store_blob)?;
            match std::fs::remove_file(&manifest) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
            Ok(size)
        })();
        swept.unwrap_or_else(|error| {
            log::debug!("could not collect the shared blob {}: {error}", store_blob.display());
            0
        })
    }

    /// The manifest line naming `repo_blob`: `{type}s--{name}/blobs/{etag}`,
    /// when it is a blob directly in a repo folder of this cache.
    fn reference_of(&self, repo_blob: &Path) -> Option<String> {
        let relative = absolute(repo_blob).strip_prefix(&self.cache_dir).ok()?.to_path_buf();
        let parts: Vec<&str> = relative
            .components()
            .map(|c| match c {
                Component::Normal(part) => part.to_str(),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let [repo, "blobs", name] = parts.as_slice() else {
            return None;
        };
        let repo_ok = REPO_FOLDER_PREFIXES
            .iter()
            .any(|prefix| repo.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty()));
        let line = format!("{repo}/blobs/{name}");
        (repo_ok && !name.is_empty() && !line.contains(['\n', '\r'])).then_some(line)
    }

    /// Where the symlink `repo_blob` points in the store, when it is a
    /// well-formed store path (whether or not the file is there). A missing
    /// `repo_blob` is `Ok(None)`; other read failures are errors.
    fn link_target(&self, repo_blob: &Path) -> io::Result<Option<PathBuf>> {
        if self.reference_of(repo_blob).is_none() {
            return Ok(None);
        }
        let meta = match std::fs::symlink_metadata(repo_blob) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        if !meta.file_type().is_symlink() {
            return Ok(None);
        }
        let text = match std::fs::read_link(repo_blob) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let repo_blob = absolute(repo_blob);
        let target = match text.is_absolute() {
            true => absolute(&text),
            false => absolute(&repo_blob.parent().unwrap_or(Path::new("/")).join(text)),
        };
        let Ok(inside) = target.strip_prefix(self.dir()) else {
            return Ok(None);
        };
        let parts: Vec<_> = inside.components().collect();
        let [Component::Normal(prefix), Component::Normal(name)] = parts.as_slice() else {
            return Ok(None);
        };
        let (Some(prefix), Some(name)) = (prefix.to_str(), name.to_str()) else {
            return Ok(None);
        };
        Ok((is_xet_hash(name) && name[..2] == *prefix).then(|| self.dir().join(prefix).join(name)))
    }

    /// Makes and marks the store when it is missing; refuses a `blobs/`
    /// folder with anything but the leftovers of an interrupted marking in it.
    /// Processes marking it at once (either client) wait for one another.
    fn ensure_marked(&self) -> bool {
        let dir = self.dir();
        for _ in 0..MARK_TRIES {
            match self.try_mark(&dir) {
                Ok(Marking::Done) => return true,
                Ok(Marking::Foreign) => {
                    log::debug!("{} is not marked as a shared store: left alone", dir.display());
                    return false;
                }
                Ok(Marking::UnderWay) => {}
                Err(error) => log::debug!("could not mark the shared store {}: {error}", dir.display()),
            }
            std::thread::sleep(MARK_RETRY);
        }
        self.is_marked()
    }

    /// One try at marking the store.
    fn try_mark(&self, dir: &Path) -> io::Result<Marking> {
        match std::fs::create_dir(dir) {
            Err(error) if error.kind() != io::ErrorKind::AlreadyExists => return Err(error),
            _ => {}
        }
        if self.is_marked() {
            return Ok(Marking::Done);
        }
        if !is_dir(dir) {
            return Ok(Marking::Foreign);
        }
        match clear_marker_leftovers(dir)? {
            Unmarked::Empty => {}
            Unmarked::MarkingUnderWay => return Ok(Marking::UnderWay),
            Unmarked::Foreign if self.is_marked() => return Ok(Marking::Done),
            Unmarked::Foreign => return Ok(Marking::Foreign),
        }
        self.repair_dir_mode(dir)?;
        let temp = dir.join(format!("{MARKER}.{}.tmp", random_hex8()));
        let written = write_file(&temp, MARKER_CONTENT.as_bytes())
            .and_then(|()| set_mode(&temp, self.blob_mode()))
            .and_then(|()| std::fs::rename(&temp, dir.join(MARKER)));
        let _ = std::fs::remove_file(&temp);
        // Another process may have cleared this temporary file as a leftover,
        // and marked the store itself.
        match (written, self.is_marked()) {
            (_, true) => Ok(Marking::Done),
            (Ok(()), false) => Ok(Marking::UnderWay),
            (Err(error), false) => Err(error),
        }
    }

    /// The marked store's folder for `hash`, made when missing.
    fn ensure_prefix_dir(&self, hash: &str) -> Option<PathBuf> {
        if !is_xet_hash(hash) || !self.ensure_marked() {
            return None;
        }
        let prefix = self.dir().join(&hash[..2]);
        match std::fs::create_dir(&prefix) {
            Err(error) if error.kind() != io::ErrorKind::AlreadyExists => {
                log::debug!("could not make {}: {error}", prefix.display());
                return None;
            }
            _ => {}
        }
        if !is_dir(&prefix) {
            return None;
        }
        self.repair_dir_mode(&prefix).ok()?;
        Some(prefix)
    }

    /// Rewrites a manifest to `references` by a temporary file, flushed, renamed.
    fn rewrite_manifest(&self, manifest: &Path, references: &BTreeSet<PathBuf>) -> io::Result<()> {
        let name = manifest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = manifest.with_file_name(format!("{name}.{}.tmp", random_hex8()));
        let content: String = references
            .iter()
            .filter_map(|path| self.reference_of(path))
            .map(|line| line + "\n")
            .collect();
        let written = (|| {
            write_file(&temp, content.as_bytes())?;
            set_mode(&temp, 0o666)?;
            File::open(&temp)?.sync_all()?;
            std::fs::rename(&temp, manifest)
        })();
        let _ = std::fs::remove_file(&temp);
        written
    }

    /// The mode of store blobs: read-only, readable by whoever can enter the cache root.
    fn blob_mode(&self) -> u32 {
        match dir_mode_of(&self.cache_dir) {
            Some(mode) => 0o400 | (mode & 0o010) << 2 | (mode & 0o001) << 2,
            None => 0o400,
        }
    }

    /// Store folders take the cache root's permissions, setgid and sticky bits.
    fn repair_dir_mode(&self, dir: &Path) -> io::Result<()> {
        let expected = dir_mode_of(&self.cache_dir).map_or(0o700, |mode| mode & 0o3777);
        match dir_mode_of(dir) {
            Some(mode) if mode & 0o7777 == expected => Ok(()),
            _ => set_mode(dir, expected),
        }
    }

    /// Makes a blob about to enter the store read-only, in the store's group.
    fn prepare_permissions(&self, blob: &Path, prefix_dir: &Path) -> io::Result<()> {
        let mode = self.blob_mode();
        set_mode(blob, mode)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let group = std::fs::metadata(prefix_dir)?.gid();
            if std::fs::metadata(blob)?.gid() != group
                && let Err(error) = std::os::unix::fs::chown(blob, None, Some(group))
                && mode & 0o040 != 0
                && mode & 0o004 == 0
            {
                // Readable by the group only, a blob of the wrong group is readable by nobody else.
                return Err(error);
            }
        }
        #[cfg(not(unix))]
        let _ = prefix_dir;
        Ok(())
    }
}

/// An exclusive `flock` on a store blob's lock file, as the Python client's
/// `filelock` takes it; released when dropped.
struct StoreLock {
    file: File,
}

impl StoreLock {
    fn acquire(path: &Path) -> io::Result<StoreLock> {
        let file = open_regular(
            path,
            OpenOptions::new().read(true).write(true).create(true).truncate(false),
        )?;
        file.lock()?;
        Ok(StoreLock { file })
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// A symlink to a store blob made beside a repo blob under a temporary name
/// (`.{etag}.{8 hex}.shared`, as the Python client names it), removed unless
/// renamed into place.
struct TempLink {
    path: Option<PathBuf>,
}

impl TempLink {
    fn make(repo_blob: &Path, store_blob: &Path) -> io::Result<TempLink> {
        let folder = repo_blob.parent().unwrap_or(Path::new("."));
        let name = repo_blob
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = folder.join(format!(".{name}.{}.shared", random_hex8()));
        symlink(&relative_target(store_blob, folder), &path)?;
        Ok(TempLink { path: Some(path) })
    }

    fn rename_to(mut self, destination: &Path) -> io::Result<()> {
        let path = self.path.take().expect("a temporary link is renamed once");
        std::fs::rename(&path, destination).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })
    }
}

impl Drop for TempLink {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Appends one reference line to a manifest and flushes it to disk.
fn append_reference(manifest: &Path, reference: &str) -> io::Result<()> {
    let mut file = open_regular(manifest, OpenOptions::new().append(true).create(true))?;
    let line = format!("{reference}\n");
    // One write, so that concurrent appenders never interleave inside a line.
    if file.write(line.as_bytes())? != line.len() {
        return Err(io::Error::other(format!(
            "could not append a whole reference to {}",
            manifest.display()
        )));
    }
    file.sync_all()
}

/// Opens (creating with mode 0666) a file that must be a regular file, never
/// following a symlink planted in its place.
fn open_regular(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(io::Error::other(format!("{} is a symlink", path.display())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o666);
        #[cfg(target_os = "linux")]
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!("{} is not a regular file", path.display())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Other users of a shared cache take the same lock and append to the same manifest.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o666));
    }
    Ok(file)
}

/// Puts a copy of `store_blob` at `repo_blob`, by a temporary file and a rename.
fn restore_copy(store_blob: &Path, repo_blob: &Path) -> io::Result<()> {
    let temp = crate::staging::staging_path(repo_blob.parent().unwrap_or(Path::new(".")));
    let copied = std::fs::copy(store_blob, &temp).and_then(|_| {
        set_mode(&temp, 0o644)?;
        std::fs::rename(&temp, repo_blob)
    });
    if copied.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    copied
}

/// Whether the store blob may stand for a file of `expected_size` bytes.
fn is_usable(store_blob: &Path, expected_size: Option<u64>) -> bool {
    let Some(expected) = expected_size else {
        return false;
    };
    let Some(size) = regular_file_size(store_blob) else {
        return false;
    };
    if size != expected {
        log::debug!(
            "the shared blob {} has {size} bytes instead of {expected}: not used",
            store_blob.display()
        );
        return false;
    }
    if File::open(store_blob).is_err() {
        log::debug!("the shared blob {} is not readable: not used", store_blob.display());
        return false;
    }
    true
}

/// What an unmarked `blobs/` folder holds.
enum Unmarked {
    /// Nothing (any leftovers of interrupted markings are removed): it may be marked.
    Empty,
    /// Another process is marking it (a fresh temporary marker, or the marker itself).
    MarkingUnderWay,
    /// Anything else: not the store, and never adopted.
    Foreign,
}

/// Where one try at marking the store left it.
enum Marking {
    Done,
    UnderWay,
    Foreign,
}

/// Removes the marker's temporary files that interrupted markings left in an
/// unmarked `blobs/` folder, and tells what the folder holds. A temporary
/// marker younger than [`MARKER_TEMP_GRACE`] may be another process's, about
/// to be renamed: it is left alone.
fn clear_marker_leftovers(dir: &Path) -> io::Result<Unmarked> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    for entry in &entries {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == MARKER {
            return Ok(Unmarked::MarkingUnderWay);
        }
        let is_leftover = name
            .strip_prefix(&format!("{MARKER}."))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(|hex| hex.len() == 8 && is_lower_hex(hex));
        let (meta, content) = match std::fs::symlink_metadata(entry).and_then(|m| Ok((m, std::fs::read(entry)?))) {
            Ok(found) => found,
            // Renamed or removed since the listing: another process is at it.
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Unmarked::MarkingUnderWay),
            Err(_) => return Ok(Unmarked::Foreign),
        };
        if !is_leftover || !meta.file_type().is_file() || !MARKER_CONTENT.as_bytes().starts_with(&content) {
            return Ok(Unmarked::Foreign);
        }
        let age = meta.modified().ok().and_then(|m| m.elapsed().ok());
        if age.is_none_or(|age| age < MARKER_TEMP_GRACE) {
            return Ok(Unmarked::MarkingUnderWay);
        }
    }
    for entry in &entries {
        match std::fs::remove_file(entry) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(match std::fs::read_dir(dir)?.next().is_none() {
        true => Unmarked::Empty,
        false => Unmarked::MarkingUnderWay,
    })
}

/// `{path}{suffix}` beside `path`: the manifest or lock of a store blob.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// A path made absolute and free of `.` and `..`, without touching the disk
/// (the Python client's `os.path.abspath`).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

fn is_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir())
}

fn regular_file_size(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_file())
        .map(|m| m.len())
}

/// Writes a new file (failing if the name is taken).
fn write_file(path: &Path, content: &[u8]) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(content)
}

/// Eight random lowercase hex digits, as the Python client's temporary names carry.
fn random_hex8() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    format!("{:08x}", hasher.finish() as u32)
}

#[cfg(unix)]
fn dir_mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn dir_mode_of(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
