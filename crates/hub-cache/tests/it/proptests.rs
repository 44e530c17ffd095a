//! Arbitrary paths, ids and URLs from a server or a user: whatever is accepted
//! stays inside the cache.

use std::path::{Component, Path};

use hub_cache::{RepoCache, ResolveUrl, parse_resolve_url, safe_relative_path};
use hub_url::{Endpoint, RepoId, RepoType, Revision, hf_hub_url};
use proptest::prelude::*;

/// Text of every kind, and pieces that paths treat specially.
fn path_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "b.txt", ".", "..", "/", "//", "\\", "\0", "\n", " ", "~", "C:", "é", "%2e%2e", ".git", "-",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat()),
    ]
}

/// Whether `path` is `root` followed by plain names only.
fn is_inside(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root)
        .is_ok_and(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))))
}

fn cache() -> Result<RepoCache, TestCaseError> {
    let repo = RepoId::new("org/name").map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(RepoCache::new(Path::new("/cache"), RepoType::Model, &repo))
}

proptest! {
    #[test]
    fn accepted_repo_paths_stay_inside_their_folder(path in path_text()) {
        let Ok(relative) = safe_relative_path(&path) else { return Ok(()) };
        prop_assert!(relative.is_relative(), "{:?}", path);
        prop_assert!(relative.components().count() > 0, "{:?}", path);
        prop_assert!(relative.components().all(|c| matches!(c, Component::Normal(_))), "{:?}", path);
        prop_assert!(!path.contains(['\0', '\\']), "{:?}", path);
        let root = Path::new("/cache/models--org--name/snapshots/c");
        prop_assert!(is_inside(root, &root.join(&relative)), "{:?}", path);
    }

    #[test]
    fn plain_repo_paths_are_kept(path in "[a-zA-Z0-9 _.-]{1,8}(/[a-zA-Z0-9 _-][a-zA-Z0-9 _.-]{0,7}){0,3}") {
        prop_assume!(path.split('/').all(|part| part != "." && part != ".."));
        let relative = safe_relative_path(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(relative, Path::new(&path).components().collect::<std::path::PathBuf>());
    }

    #[test]
    fn cache_paths_from_server_ids_stay_inside(id in prop_oneof![path_text(), "[0-9a-f]{40}", "[0-9a-f]{64}"], path in path_text()) {
        let cache = cache()?;
        let root = cache.root();
        for built in [
            cache.blob_path(&id),
            cache.snapshot_dir(&id),
            cache.snapshot_path(&id, &path),
            cache.no_exist_path(&id, &path),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(is_inside(&root, &built), "{:?} {:?} -> {:?}", id, path, built);
        }
        if let Ok(lock) = cache.lock_path(&id) {
            prop_assert!(is_inside(&Path::new("/cache").join(".locks"), &lock), "{:?} -> {:?}", id, lock);
        }
    }

    #[test]
    fn refs_of_accepted_revisions_stay_inside(rev in path_text()) {
        let Ok(revision) = Revision::new(&rev) else { return Ok(()) };
        let cache = cache()?;
        prop_assert!(is_inside(&cache.root().join("refs"), &cache.ref_path(revision.as_str())), "{:?}", rev);
    }

    #[test]
    fn resolve_urls_read_back(
        repo in "[a-z0-9_][a-z0-9_.-]{0,5}(/[a-z0-9_][a-z0-9_.-]{0,5})?",
        rev in prop_oneof!["[a-z0-9_-]{1,6}(/[a-z0-9_-]{1,6}){0,2}", path_text()],
        filename in path_text(),
        repo_type in prop::sample::select(RepoType::ALL.to_vec()),
    ) {
        // `datasets/x` as a model's id reads like the dataset `x`: the Hub keeps those names.
        prop_assume!(!["datasets", "spaces"].contains(&repo.split('/').next().unwrap_or_default()));
        let (Ok(repo_id), Ok(revision)) = (RepoId::new(&repo), Revision::new(&rev)) else { return Ok(()) };
        let endpoint = Endpoint::default();
        let url = hf_hub_url(&repo_id, &filename, &revision, repo_type, &endpoint);
        let read = parse_resolve_url(&url, endpoint.as_str());
        prop_assert_eq!(
            read,
            Some(ResolveUrl { repo_type, repo_id, revision, path: filename }),
            "{}",
            url
        );
    }

    #[test]
    fn any_url_is_read_or_refused(url in path_text(), endpoint in prop_oneof![Just("https://huggingface.co".to_owned()), path_text()]) {
        let _ = parse_resolve_url(&url, &endpoint);
        let _ = parse_resolve_url(&format!("https://huggingface.co/{url}"), "https://huggingface.co");
    }
}
