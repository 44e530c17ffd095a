"""Drives the real huggingface_hub client, with hf_xet, through the Hub emulator's Xet storage.

The Rust test that runs this script writes the files and describes them in the JSON file named
by HUB_EXPECTED; HUB_XET_STEP says which step to run:

- upload: upload_file of one file and upload_folder of a folder, through Xet;
- upload_big: upload_file of a large file;
- download: hf_hub_download and snapshot_download of them, compared byte for byte;
- upload_again: upload_file of a nearly identical large file (run with an empty HF_HOME, so
  that only the emulator's global dedupe can tell the client what it already holds);
- lfs_only: against an emulator without Xet, downloads still work (plain HTTP) and an upload
  fails on the missing token route, as huggingface_hub 2.4 has no LFS fallback once hf_xet is
  installed.

Every check raises on failure; the script prints one line per check that passed.
"""

import hashlib
import json
import os

import huggingface_hub
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils._runtime import is_xet_available

expected = json.load(open(os.environ["HUB_EXPECTED"]))
step = os.environ["HUB_XET_STEP"]
repo = expected["repo"]
api = HfApi()


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok {name}")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


check("client version", huggingface_hub.__version__ == "2.4.0", huggingface_hub.__version__)
check("hf_xet is used", is_xet_available() and not os.environ.get("HF_HUB_DISABLE_XET"))

if step == "upload":
    api.create_repo(repo, exist_ok=True)
    single = expected["single"]
    info = api.upload_file(path_or_fileobj=single["local"], path_in_repo=single["path"], repo_id=repo)
    check("upload_file commit", len(info.oid) == 40, info)
    info = api.upload_folder(folder_path=expected["folder"]["local"], path_in_repo="folder", repo_id=repo)
    check("upload_folder commit", len(info.oid) == 40, info)
    # What the Hub now says of the files: Xet hashes in listings.
    listed = {f.path: f for f in api.list_repo_tree(repo, recursive=True) if hasattr(f, "lfs")}
    for path, facts in expected["xet_files"].items():
        entry = listed.get(path)
        check(f"tree {path}", entry is not None and entry.lfs is not None and entry.lfs.sha256 == facts["sha256"], entry)
        check(f"tree xetHash {path}", entry.xet_hash is not None and len(entry.xet_hash) == 64, entry.xet_hash)
    infos = api.get_paths_info(repo, [single["path"]])
    check("paths-info xetHash", infos[0].xet_hash == listed[single["path"]].xet_hash, infos)

elif step == "download":
    single = expected["single"]
    path = hf_hub_download(repo, single["path"])
    check("hf_hub_download", sha256_of(path) == single["sha256"], path)
    local = snapshot_download(repo, local_dir=os.environ["HUB_LOCAL_DIR"])
    for path, facts in expected["all_files"].items():
        got = os.path.join(local, path)
        check(f"snapshot {path}", os.path.isfile(got) and sha256_of(got) == facts["sha256"], got)

elif step == "upload_big":
    api.create_repo(repo, exist_ok=True)
    big = expected["big"]
    info = api.upload_file(path_or_fileobj=big["local"], path_in_repo=big["path"], repo_id=repo)
    check("upload_file big", len(info.oid) == 40, info)

elif step == "upload_again":
    again = expected["again"]
    info = api.upload_file(path_or_fileobj=again["local"], path_in_repo=again["path"], repo_id=repo)
    check("upload_file again", len(info.oid) == 40, info)
    path = hf_hub_download(repo, again["path"])
    check("download again", sha256_of(path) == again["sha256"], path)

elif step == "lfs_only":
    single = expected["single"]
    path = hf_hub_download(repo, single["path"])
    check("hf_hub_download without Xet", sha256_of(path) == single["sha256"], path)
    try:
        api.upload_file(path_or_fileobj=single["local"], path_in_repo="again.bin", repo_id=repo)
    except HfHubHTTPError as e:
        check("upload needs the Xet token route", e.response.status_code == 404, e.response.status_code)
    except Exception as e:  # noqa: BLE001  hf_xet reports its own errors
        check("upload needs the Xet token route", "404" in str(e) and "xet-write-token" in str(e), e)
    else:
        raise AssertionError("an upload through Xet to an LFS-only hub succeeded")

else:
    raise AssertionError(f"unknown step {step}")

print("all checks passed")
