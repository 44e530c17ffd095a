"""Drives the real huggingface_hub client against the local Hub emulator.

The Rust test that runs this script seeds the emulator and passes what it
seeded in the JSON file named by HUB_EXPECTED. Every check raises on failure;
the script prints one line per check that passed.
"""

import hashlib
import json
import os
import sys

import huggingface_hub
from huggingface_hub import (
    HfApi,
    hf_hub_download,
    list_models,
    list_repo_files,
    model_info,
    snapshot_download,
    whoami,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

expected = json.load(open(os.environ["HUB_EXPECTED"]))
repo = expected["repo"]
files = expected["files"]  # path -> {"sha256": ..., "size": ..., "lfs": bool}
token = os.environ["HF_TOKEN"]


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok {name}")


check("client version", huggingface_hub.__version__ == "2.4.0", huggingface_hub.__version__)

# whoami
me = whoami()
check("whoami name", me["name"] == expected["user"], me)
check("whoami orgs", [o["name"] for o in me["orgs"]] == expected["orgs"], me)

# hf_hub_download: a regular file and an LFS file
regular = expected["regular_file"]
path = hf_hub_download(repo, regular)
check("download regular", sha256_of(path) == files[regular]["sha256"], path)
check("regular is a snapshot symlink", os.path.islink(path) and "/snapshots/" in path, path)

lfs = expected["lfs_file"]
path = hf_hub_download(repo, lfs)
check("download lfs", sha256_of(path) == files[lfs]["sha256"], path)
blob = os.path.realpath(path)
check("lfs blob named by sha256", os.path.basename(blob) == files[lfs]["sha256"], blob)

# snapshot_download
folder = snapshot_download(repo)
found = {}
for root, _, names in os.walk(folder):
    for n in names:
        full = os.path.join(root, n)
        found[os.path.relpath(full, folder)] = sha256_of(full)
check("snapshot files", sorted(found) == sorted(files), sorted(found))
check("snapshot bytes", all(found[p] == files[p]["sha256"] for p in files), found)

# model_info with file metadata
info = model_info(repo, files_metadata=True)
check("model_info id", info.id == repo, info.id)
check("model_info sha", info.sha == expected["commit"], info.sha)
siblings = {s.rfilename: s for s in info.siblings}
check("model_info siblings", sorted(siblings) == sorted(files), sorted(siblings))
for p, meta in files.items():
    s = siblings[p]
    check(f"size of {p}", s.size == meta["size"], (s.size, meta["size"]))
    if meta["lfs"]:
        check(f"lfs of {p}", s.lfs is not None and s.lfs.sha256 == meta["sha256"], s.lfs)
    else:
        check(f"no lfs for {p}", s.lfs is None, s.lfs)

# list_repo_files (paginated tree)
check("list_repo_files", sorted(list_repo_files(repo)) == sorted(files), list_repo_files(repo))

# list_models with search and author
by_search = sorted(m.id for m in list_models(search=expected["search"]))
check("list_models search", by_search == sorted(expected["search_results"]), by_search)
by_author = sorted(m.id for m in list_models(author=expected["user"]))
check("list_models author", by_author == sorted(expected["author_results"]), by_author)
limited = list(list_models(author=expected["user"], limit=1))
check("list_models limit", len(limited) == 1, limited)

# The not-found errors arrive as the client's own exception types.
def raises(kind, fn):
    try:
        fn()
    except kind as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"expected {kind.__name__}, got {type(e).__name__}: {e}")
    raise AssertionError(f"expected {kind.__name__}, nothing raised")


raises(RepositoryNotFoundError, lambda: hf_hub_download(expected["user"] + "/does-not-exist", "x.txt"))
print("ok RepositoryNotFoundError")
raises(RevisionNotFoundError, lambda: hf_hub_download(repo, regular, revision="no-such-branch"))
print("ok RevisionNotFoundError")
e = raises(EntryNotFoundError, lambda: hf_hub_download(repo, "no/such/file.txt"))
print("ok EntryNotFoundError")
raises(GatedRepoError, lambda: hf_hub_download(expected["gated_repo"], "config.json", token=expected["other_token"]))
print("ok GatedRepoError")
raises(RepositoryNotFoundError, lambda: model_info(expected["private_repo"], token=expected["other_token"]))
print("ok private repo hidden")
check("private repo visible to owner", model_info(expected["private_repo"]).private is True)

# Offline: everything above is served from the cache.
print("all checks passed")
