"""Runs the real huggingface_hub client's cache operations for the interop tests.

The Rust test that runs this script writes a JSON plan, `{"steps": [...]}`, and
names it as the first argument. Each step is one call of the client:

- `{"op": "hf_hub_download", "repo", "filename", "revision"?, "repo_type"?, "local_dir"?}`
- `{"op": "snapshot_download", "repo", "revision"?, "repo_type"?, "allow_patterns"?,
  "ignore_patterns"?, "local_dir"?}`
- `{"op": "scan_cache_dir"}`
- `{"op": "upload_file", "repo", "local", "path", "repo_type"?}` (the repo created if missing; the token from HF_TOKEN)
- `{"op": "xet_hashes", "repo", "repo_type"?}`: the tree's `xetHash` of every file
- `{"op": "delete_repo", "repo", "repo_type"?, "execute"?}`: `delete_revisions` of all the
  repo's cached revisions, run unless `execute` is false; its `expected_freed_size`
- `{"op": "shared_store"}`: the shared blob store as the client sees it: whether it is
  marked, its blobs and the unreferenced ones with their sizes (paths relative to the cache)
- `{"op": "prune_shared"}`: collects the unreferenced shared blobs, as `hf cache prune` does

The environment (HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE, ...) is set by the test.
The script prints one JSON line, `{"results": [...]}`, one result per step:
the returned path and the sha256 of what it holds, the scanned cache, or, for a
step that raised, `{"error": <exception type>, "message": ...}`.
"""

import hashlib
import json
import os
import sys

from huggingface_hub import HfApi, hf_hub_download, scan_cache_dir, snapshot_download
from huggingface_hub.utils import _shared_blobs


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_files(folder):
    """Every file below `folder` (but the `.cache` bookkeeping) and its sha256."""
    found = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not (root == folder and d == ".cache")]
        for name in names:
            full = os.path.join(root, name)
            found[os.path.relpath(full, folder).replace(os.sep, "/")] = sha256_of(full)
    return found


def scan():
    info = scan_cache_dir()
    repos = []
    for repo in info.repos:
        revisions = []
        for rev in repo.revisions:
            revisions.append(
                {
                    "commit": rev.commit_hash,
                    "size_on_disk": rev.size_on_disk,
                    "nb_files": rev.nb_files,
                    "refs": sorted(rev.refs),
                    "files": sorted(
                        os.path.relpath(str(f.file_path), str(rev.snapshot_path)).replace(os.sep, "/")
                        for f in rev.files
                    ),
                }
            )
        repos.append(
            {
                "repo_id": repo.repo_id,
                "repo_type": repo.repo_type,
                "size_on_disk": repo.size_on_disk,
                "nb_files": repo.nb_files,
                "refs": {ref: rev.commit_hash for rev in repo.revisions for ref in rev.refs},
                "revisions": sorted(revisions, key=lambda r: r["commit"]),
            }
        )
    return {
        "repos": sorted(repos, key=lambda r: (r["repo_type"], r["repo_id"])),
        "size_on_disk": info.size_on_disk,
        "warnings": [str(w) for w in info.warnings],
        "incomplete_files": sorted(str(f.file_path) for f in info.incomplete_files),
    }


def run(step):
    op = step["op"]
    common = {
        "repo_type": step.get("repo_type"),
        "revision": step.get("revision"),
        "local_dir": step.get("local_dir"),
    }
    if op == "hf_hub_download":
        path = hf_hub_download(step["repo"], step["filename"], **common)
        return {"path": path, "sha256": sha256_of(path), "is_symlink": os.path.islink(path)}
    if op == "snapshot_download":
        folder = snapshot_download(
            step["repo"],
            allow_patterns=step.get("allow_patterns"),
            ignore_patterns=step.get("ignore_patterns"),
            **common,
        )
        return {"path": folder, "files": folder_files(folder)}
    if op == "scan_cache_dir":
        return scan()
    if op == "upload_file":
        HfApi().create_repo(step["repo"], repo_type=step.get("repo_type"), exist_ok=True)
        info = HfApi().upload_file(
            path_or_fileobj=step["local"],
            path_in_repo=step["path"],
            repo_id=step["repo"],
            repo_type=step.get("repo_type"),
        )
        return {"commit": info.oid}
    if op == "xet_hashes":
        entries = HfApi().list_repo_tree(step["repo"], recursive=True, repo_type=step.get("repo_type"))
        return {e.path: e.xet_hash for e in entries if hasattr(e, "xet_hash")}
    if op == "delete_repo":
        info = scan_cache_dir()
        repo_type = step.get("repo_type") or "model"
        commits = [
            rev.commit_hash
            for repo in info.repos
            if repo.repo_id == step["repo"] and repo.repo_type == repo_type
            for rev in repo.revisions
        ]
        strategy = info.delete_revisions(*commits)
        if step.get("execute", True):
            strategy.execute()
        return {"expected_freed_size": strategy.expected_freed_size, "revisions": len(commits)}
    if op == "shared_store":
        cache = scan_cache_dir().cache_dir
        relative = lambda p: os.path.relpath(str(p), str(cache)).replace(os.sep, "/")  # noqa: E731
        return {
            "marked": _shared_blobs.is_shared_blobs_dir(_shared_blobs.shared_blobs_dir(cache)),
            "blobs": sorted(relative(p) for p in _shared_blobs.shared_store_blob_paths(cache)),
            "unreferenced": {relative(p): n for p, n in _shared_blobs.unreferenced_shared_blobs(cache).items()},
        }
    if op == "prune_shared":
        cache = scan_cache_dir().cache_dir
        unreferenced = _shared_blobs.unreferenced_shared_blobs(cache)
        return {"freed": sum(_shared_blobs.sweep_shared_blob(p, cache_dir=cache) for p in unreferenced)}
    raise ValueError(f"unknown step {op!r}")


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    results = []
    for step in plan["steps"]:
        try:
            results.append(run(step))
        except Exception as e:  # noqa: BLE001 - the test decides which errors are expected
            results.append({"error": type(e).__name__, "message": str(e)})
    print(json.dumps({"results": results}))


main()
