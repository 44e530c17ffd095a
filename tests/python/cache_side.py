"""Runs the real huggingface_hub client's cache operations for the interop tests.

The Rust test that runs this script writes a JSON plan, `{"steps": [...]}`, and
names it as the first argument. Each step is one call of the client:

- `{"op": "hf_hub_download", "repo", "filename", "revision"?, "repo_type"?, "local_dir"?}`
- `{"op": "snapshot_download", "repo", "revision"?, "repo_type"?, "allow_patterns"?,
  "ignore_patterns"?, "local_dir"?}`
- `{"op": "scan_cache_dir"}`
- `{"op": "upload_file", "repo", "local", "path", "repo_type"?}` (the repo created if missing; the token from HF_TOKEN)
- `{"op": "xet_hashes", "repo", "repo_type"?}`: the tree's `xetHash` of every file

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
