"""Drives the real huggingface_hub client's write side against the local Hub emulator.

The Rust test that runs this script writes the files to upload and describes them in
the JSON file named by HUB_EXPECTED; the script uploads them, checks what the client
reports, and writes what it did to the JSON file named by HUB_RESULT. Every check
raises on failure; the script prints one line per check that passed.
"""

import json
import os
import warnings

import huggingface_hub
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

expected = json.load(open(os.environ["HUB_EXPECTED"]))
repo = expected["repo"]
endpoint = os.environ["HF_ENDPOINT"]
api = HfApi()
result = {}


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok {name}")


def raises(kind, fn):
    try:
        fn()
    except kind as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"expected {kind.__name__}, got {type(e).__name__}: {e}")
    raise AssertionError(f"expected {kind.__name__}, nothing raised")


check("client version", huggingface_hub.__version__ == "2.4.0", huggingface_hub.__version__)

# create_repo, again with exist_ok, and the 409 without it.
url = api.create_repo(repo)
check("create_repo url", url == f"{endpoint}/{repo}", url)
check("create_repo repo_id", url.repo_id == repo, url.repo_id)
check("create_repo exist_ok", api.create_repo(repo, exist_ok=True) == url)
e = raises(HfHubHTTPError, lambda: api.create_repo(repo))
check("create_repo conflict", e.response.status_code == 409, e.response.status_code)
e = raises(HfHubHTTPError, lambda: api.create_repo(repo + "-ro", token=expected["read_token"]))
check("read token cannot create", e.response.status_code == 403, e.response.status_code)

# upload_file: a regular file, an LFS file by basic, an LFS file by multipart.
files = expected["files"]
info = api.upload_file(path_or_fileobj=files["regular"]["local"], path_in_repo=files["regular"]["path"], repo_id=repo)
check("upload regular", len(info.oid) == 40 and info.commit_url.endswith(info.oid), info)
info = api.upload_file(
    path_or_fileobj=files["basic"]["local"],
    path_in_repo=files["basic"]["path"],
    repo_id=repo,
    commit_message="Add weights by basic",
    commit_description="The small checkpoint.",
)
result["basic_commit"] = info.oid
check("upload lfs basic", info.commit_message == "Add weights by basic", info)
info = api.upload_file(
    path_or_fileobj=files["multipart"]["local"],
    path_in_repo=files["multipart"]["path"],
    repo_id=repo,
    commit_message="Add weights by multipart",
)
result["multipart_commit"] = info.oid
check("upload lfs multipart", len(info.oid) == 40, info)
e = raises(
    HfHubHTTPError,
    lambda: api.upload_file(path_or_fileobj=b"no", path_in_repo="denied.txt", repo_id=repo, token=expected["read_token"]),
)
check("read token cannot upload", e.response.status_code == 403, e.response.status_code)

# upload_folder (with a README.md, so the card is validated first).
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    info = api.upload_folder(folder_path=expected["folder"], path_in_repo="folder", repo_id=repo, commit_message="Add a folder")
check("upload_folder", len(info.oid) == 40, info)
card_warnings = [str(w.message) for w in caught if "README" in str(w.message)]
check("card validated without warnings", card_warnings == [], card_warnings)

# Branches and tags.
api.create_branch(repo, branch="dev")
api.create_branch(repo, branch="dev", exist_ok=True)
e = raises(HfHubHTTPError, lambda: api.create_branch(repo, branch="dev"))
check("create_branch conflict", e.response.status_code == 409, e.response.status_code)
api.create_tag(repo, tag="v1", tag_message="First release")
api.create_tag(repo, tag="v0", revision=result["basic_commit"])
refs = api.list_repo_refs(repo)
check("branches", sorted(b.name for b in refs.branches) == ["dev", "main"], refs.branches)
tags = {t.name: t.target_commit for t in refs.tags}
check("tags", tags.get("v0") == result["basic_commit"] and "v1" in tags, tags)
main_commit = next(b.target_commit for b in refs.branches if b.name == "main")
check("tag at main", tags["v1"] == main_commit, (tags, main_commit))
check("no pull requests asked", refs.pull_requests is None, refs)

# list_repo_commits, newest first.
commits = api.list_repo_commits(repo)
titles = [c.title for c in commits]
check(
    "list_repo_commits titles",
    titles
    == [
        "Add a folder",
        "Add weights by multipart",
        "Add weights by basic",
        f"Upload {files['regular']['path']} with huggingface_hub",
        "initial commit",
    ],
    titles,
)
check("commit authors", commits[0].authors == [expected["user"]], commits[0].authors)
check("commit description", commits[2].message == "The small checkpoint.", commits[2].message)

# create_commit with create_pr=True.
info = api.create_commit(
    repo,
    [CommitOperationAdd(path_in_repo="proposal.txt", path_or_fileobj=b"a proposal\n")],
    commit_message="Propose a file",
    create_pr=True,
)
check("pull request url", info.pr_url == f"{endpoint}/{repo}/discussions/1", info.pr_url)
check("pull request revision", info.pr_revision == "refs/pr/1" and info.pr_num == 1, info)
result["pr_commit"] = info.oid
refs = api.list_repo_refs(repo, include_pull_requests=True)
check("pull request ref", [(p.ref, p.target_commit) for p in refs.pull_requests] == [("refs/pr/1", info.oid)], refs)
check("main unchanged by the pull request", api.repo_info(repo).sha == main_commit)

# A stale parent commit is refused.
e = raises(
    HfHubHTTPError,
    lambda: api.create_commit(
        repo,
        [CommitOperationAdd(path_in_repo="late.txt", path_or_fileobj=b"late")],
        commit_message="Late",
        parent_commit=result["basic_commit"],
    ),
)
check("stale parent commit", e.response.status_code == 412, e.response.status_code)

# delete_file, then the paths as the client sees them.
api.delete_file(files["regular"]["path"], repo)
check("file deleted", not api.file_exists(repo, files["regular"]["path"]))
paths = api.get_paths_info(repo, [files["basic"]["path"], "folder", "missing.txt"])
check("paths info", [p.path for p in paths] == [files["basic"]["path"], "folder"], paths)
check("paths info lfs", paths[0].lfs is not None and paths[0].lfs.sha256 == files["basic"]["sha256"], paths[0])
api.create_commit(
    repo,
    [CommitOperationDelete(path_in_repo="folder/remove-me/")],
    commit_message="Remove a subfolder",
)

# delete_repo, on a repo of its own.
other = repo + "-temporary"
api.create_repo(other, repo_type="dataset")
api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=other, repo_type="dataset")
api.delete_repo(other, repo_type="dataset")
check("deleted repo is gone", not api.repo_exists(other, repo_type="dataset"))
raises(RepositoryNotFoundError, lambda: api.delete_repo(other, repo_type="dataset"))
api.delete_repo(other, repo_type="dataset", missing_ok=True)
print("ok delete_repo")

result["main_commit"] = api.repo_info(repo).sha
json.dump(result, open(os.environ["HUB_RESULT"], "w"))
print("all checks passed")
