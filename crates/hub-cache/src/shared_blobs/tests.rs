use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const HASH: &str = "ab00000000000000000000000000000000000000000000000000000000000001";
const ETAG_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const ETAG_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// A cache with one downloaded blob in `models--org--a`.
fn cache_with_blob(content: &[u8]) -> Result<(tempfile::TempDir, SharedStore, PathBuf), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let blobs = dir.path().join("models--org--a/blobs");
    std::fs::create_dir_all(&blobs)?;
    std::fs::create_dir_all(dir.path().join("models--org--b/blobs"))?;
    let blob = blobs.join(ETAG_A);
    std::fs::write(&blob, content)?;
    let store = SharedStore::new(dir.path());
    Ok((dir, store, blob))
}

fn repo_b_blob(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("models--org--b/blobs").join(ETAG_B)
}

fn store_blob(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("blobs/ab").join(HASH)
}

#[test]
fn only_xet_hashes_name_store_blobs() {
    let store = SharedStore::new(Path::new("/c"));
    assert_eq!(store.blob_path(HASH), Some(PathBuf::from("/c/blobs/ab").join(HASH)));
    for bad in [
        "",
        &HASH[1..],
        &format!("{HASH}0"),
        &HASH.to_uppercase(),
        &format!("../{}", &HASH[3..]),
        &format!("{}/{}", &HASH[..2], &HASH[3..]),
        &"g".repeat(64),
    ] {
        assert!(store.blob_path(bad).is_none(), "{bad}");
    }
}

#[test]
fn publishing_moves_the_blob_into_the_store_and_leaves_a_relative_link() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);

    assert_eq!(
        std::fs::read_to_string(dir.path().join("blobs/.huggingface-shared-blobs"))?,
        "1\n"
    );
    assert!(std::fs::symlink_metadata(&blob)?.file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(&blob)?,
        Path::new("../../blobs/ab").join(HASH),
        "relative, as the Python client links"
    );
    assert_eq!(std::fs::read(&blob)?, b"weights");
    assert!(is_regular_file(&store_blob(&dir)));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("blobs/ab").join(format!("{HASH}.refs")))?,
        format!("models--org--a/blobs/{ETAG_A}\n")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store_blob(&dir))?.permissions().mode();
        assert_eq!(mode & 0o222, 0, "store blobs are read-only: {mode:o}");
    }
    assert_eq!(store.target_of(&blob), Some(store_blob(&dir)));
    assert!(store.is_marked());
    // Nothing is left under a temporary name.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("models--org--a/blobs"))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    assert_eq!(names, [ETAG_A]);
    Ok(())
}

#[test]
fn a_stored_file_is_linked_from_another_repo() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    let other = repo_b_blob(&dir);
    assert!(store.try_link(&other, HASH, Some(7), &mut |_| true));
    assert_eq!(std::fs::read(&other)?, b"weights");
    assert_eq!(
        store.references(&store_blob(&dir)),
        Some(BTreeSet::from([blob.clone(), other.clone()]))
    );
    Ok(())
}

#[test]
fn store_blobs_of_another_size_or_hash_are_not_used() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    let other = repo_b_blob(&dir);
    assert!(!store.try_link(&other, HASH, Some(8), &mut |_| true), "wrong size");
    assert!(!store.try_link(&other, HASH, Some(7), &mut |_| false), "other bytes");
    assert!(!store.try_link(&other, HASH, None, &mut |_| true), "size unknown");
    assert!(
        !store.try_link(&other, &HASH.replace("ab0", "ab1"), Some(7), &mut |_| true),
        "not stored"
    );
    assert!(!store.try_link(&other, "../../../etc/passwd", Some(7), &mut |_| true));
    assert!(std::fs::symlink_metadata(&other).is_err(), "nothing was made");

    // A store blob replaced by a link is not a store blob.
    std::fs::remove_file(store_blob(&dir))?;
    std::os::unix::fs::symlink("/etc/hostname", store_blob(&dir))?;
    assert!(!store.try_link(&other, HASH, Some(7), &mut |_| true));
    assert_eq!(store.target_of(&blob), None);
    Ok(())
}

#[test]
fn a_publish_over_a_usable_store_blob_only_links() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    let other = repo_b_blob(&dir);
    std::fs::write(&other, b"WEIGHTS")?;
    assert!(store.publish(&other, HASH, Some(7), false)?);
    assert_eq!(std::fs::read(&other)?, b"weights", "the stored copy stands");
    // A forced download replaces it.
    std::fs::remove_file(&other)?;
    std::fs::write(&other, b"fresh!!")?;
    assert!(store.publish(&other, HASH, Some(7), true)?);
    assert_eq!(std::fs::read(&blob)?, b"fresh!!");
    Ok(())
}

#[test]
fn a_blobs_folder_without_the_marker_is_never_adopted() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    std::fs::create_dir_all(dir.path().join("blobs"))?;
    std::fs::write(dir.path().join("blobs/mine.txt"), b"user data")?;
    assert!(!store.publish(&blob, HASH, Some(7), false)?);
    assert!(is_regular_file(&blob), "the blob stays where it was");
    assert!(!store.is_marked());
    assert!(store.blobs().is_empty());

    // The leftovers of a marking that was killed half-way are cleared.
    std::fs::remove_file(dir.path().join("blobs/mine.txt"))?;
    let leftover = dir.path().join("blobs/.huggingface-shared-blobs.0a1b2c3d.tmp");
    std::fs::write(&leftover, b"1")?;
    // A fresh one may be another process's, about to be renamed: it is waited for.
    assert!(!store.publish(&blob, HASH, Some(7), false)?);
    assert!(leftover.exists() && is_regular_file(&blob));
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    File::options().write(true).open(&leftover)?.set_modified(long_ago)?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    assert!(!leftover.exists());
    assert!(store.is_marked());
    // A marker of another layout version is not this store.
    std::fs::remove_file(dir.path().join("blobs/.huggingface-shared-blobs"))?;
    std::fs::write(dir.path().join("blobs/.huggingface-shared-blobs"), b"2\n")?;
    assert!(!store.is_marked());
    assert!(!store.try_link(&repo_b_blob(&dir), HASH, Some(7), &mut |_| true));
    Ok(())
}

#[test]
fn manifests_name_only_live_links_inside_the_cache() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    let manifest = dir.path().join("blobs/ab").join(format!("{HASH}.refs"));
    // A kill between the reference and the link leaves a reference to nothing.
    let dangling = format!("models--org--b/blobs/{ETAG_B}");
    // A regular file named in a manifest is no reference either.
    std::fs::write(dir.path().join("models--org--b/blobs/plain"), b"x")?;
    let mut text = std::fs::read_to_string(&manifest)?;
    for line in [
        dangling.as_str(),
        "models--org--b/blobs/plain",
        "/etc/passwd",
        "../models--org--a/blobs/x",
        "models--org--a/../models--org--a/blobs/x",
        "blobs/ab/x",
        "models--org--a/snapshots/c/x",
        "",
    ] {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&manifest, text)?;
    assert_eq!(
        store.references(&store_blob(&dir)),
        Some(BTreeSet::from([blob.clone()]))
    );
    Ok(())
}

#[test]
fn sweeping_frees_a_store_blob_only_once_no_link_remains() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    let other = repo_b_blob(&dir);
    assert!(store.try_link(&other, HASH, Some(7), &mut |_| true));
    let stored = store_blob(&dir);
    let manifest = dir.path().join("blobs/ab").join(format!("{HASH}.refs"));

    assert_eq!(store.freed_by_deleting(&stored, &BTreeSet::from([blob.clone()])), 0);
    assert_eq!(
        store.freed_by_deleting(&stored, &BTreeSet::from([blob.clone(), other.clone()])),
        7
    );
    std::fs::remove_file(&blob)?;
    assert_eq!(store.sweep(&stored), 0, "repo b still links to it");
    assert_eq!(
        std::fs::read_to_string(&manifest)?,
        format!("models--org--b/blobs/{ETAG_B}\n"),
        "the manifest now names the live link only"
    );
    assert!(store.unreferenced().is_empty());

    std::fs::remove_file(&other)?;
    assert_eq!(store.unreferenced(), BTreeMap::from([(stored.clone(), 7)]));
    assert_eq!(store.sweep(&stored), 7);
    assert!(!stored.exists() && !manifest.exists());
    assert!(store.blobs().is_empty());
    Ok(())
}

#[test]
fn a_store_blob_without_a_readable_manifest_is_kept() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    std::fs::remove_file(&blob)?;
    std::fs::remove_file(dir.path().join("blobs/ab").join(format!("{HASH}.refs")))?;
    let stored = store_blob(&dir);
    assert_eq!(store.blobs(), BTreeSet::from([stored.clone()]));
    assert!(store.unreferenced().is_empty());
    assert_eq!(store.sweep(&stored), 0);
    assert!(stored.exists());
    // Paths outside the store are never swept.
    assert_eq!(store.sweep(&blob), 0);
    assert_eq!(store.sweep(Path::new("/etc/hostname")), 0);
    Ok(())
}

#[test]
fn links_that_leave_the_store_are_not_store_links() -> TestResult {
    let (dir, store, blob) = cache_with_blob(b"weights")?;
    assert!(store.publish(&blob, HASH, Some(7), false)?);
    let other = repo_b_blob(&dir);
    for target in [
        format!("../../blobs/ab/../ab/{HASH}"),
        format!("/{}/../blobs/cd/{HASH}", dir.path().display()),
        format!("../../blobs/{HASH}"),
        "../../blobs/ab/ab".to_string(),
    ] {
        let _ = std::fs::remove_file(&other);
        std::os::unix::fs::symlink(&target, &other)?;
        let expected = (target.starts_with("../../blobs/ab/../")).then(|| store_blob(&dir));
        assert_eq!(store.target_of(&other), expected, "{target}");
    }
    // Not directly in a repo's blobs folder.
    assert_eq!(store.target_of(&dir.path().join("blobs/ab").join(HASH)), None);
    Ok(())
}

#[test]
fn fetched_bytes_enter_the_store_only_with_the_hash_they_have() -> TestResult {
    let (dir, _store, blob) = cache_with_blob(b"weights")?;
    let options = FetchOptions::new(dir.path());
    // The Hub's word for the hash is not enough: these bytes hash otherwise.
    let lie = StoreUse::for_file(&options, Some(HASH)).ok_or("the store is on")?;
    assert!(!lie.publish_fetched(&blob, Some(7), Fetched::OverHttp, false)?);
    assert!(is_regular_file(&blob));
    assert!(!dir.path().join("blobs").exists());

    let actual = hub_xet::hash_reader(&b"weights"[..])?.file_hash.to_string();
    let truth = StoreUse::for_file(&options, Some(&actual)).ok_or("the store is on")?;
    assert!(truth.publish_fetched(&blob, Some(7), Fetched::OverHttp, false)?);
    assert!(std::fs::symlink_metadata(&blob)?.file_type().is_symlink());

    assert!(StoreUse::for_file(&options.clone().shared_blobs(false), Some(&actual)).is_none());
    assert!(StoreUse::for_file(&options.clone().disable_symlinks(true), Some(&actual)).is_none());
    assert!(StoreUse::for_file(&options, Some("../x")).is_none());
    assert!(StoreUse::for_file(&options, None).is_none());
    Ok(())
}
