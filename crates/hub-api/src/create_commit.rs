//! `create_commit`: the Hub's commit API, as the Python client drives it:
//! preupload (which files go to large-file storage), their upload (LFS batch
//! or another [`ContentUploader`]), then one NDJSON commit.

use hub_url::{RepoId, RepoType, Revision, encode_segment, hf_hub_url};
use serde::Deserialize;
use serde_json::json;

use crate::base64;
use crate::client::HubClient;
use crate::commit_operation::{AddSource, CommitOperation, validate_path_in_repo};
use crate::content_upload::{ContentTarget, ContentUploader, LargeFile, LfsUploader, UploadedContent};
use crate::error::{Error, Result};
use crate::lfs_upload::{BATCH_SIZE, DEFAULT_PART_WORKERS};
use crate::progress::Progress;
use crate::repo_info::RepoInfoOptions;
use crate::request::{HubRequest, Method};
use crate::request_body::RequestBody;
use crate::target::RequestTarget;

/// Options of [`HubClient::create_commit`], [`HubClient::upload_file`] and
/// [`HubClient::upload_folder`].
#[derive(Clone)]
#[non_exhaustive]
pub struct CommitOptions<'a> {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// The branch to commit on (default `main`).
    pub revision: Revision,
    /// The commit's summary line.
    pub commit_message: String,
    /// The rest of the commit message.
    pub commit_description: Option<String>,
    /// Fail unless the branch is still at this commit.
    pub parent_commit: Option<String>,
    /// Open a pull request with the commit instead of committing on the branch.
    pub create_pr: bool,
    /// LFS files uploaded at once.
    pub upload_workers: usize,
    /// Parts of one multipart upload sent at once.
    pub part_workers: usize,
    /// Receives progress events of the uploads.
    pub progress: &'a dyn Progress,
    /// Uploads the files the preupload sends to large-file storage (default: [`LfsUploader`]).
    pub content_uploader: &'a dyn ContentUploader,
}

impl std::fmt::Debug for CommitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitOptions")
            .field("repo_type", &self.repo_type)
            .field("revision", &self.revision)
            .field("commit_message", &self.commit_message)
            .field("parent_commit", &self.parent_commit)
            .field("create_pr", &self.create_pr)
            .finish_non_exhaustive()
    }
}

impl CommitOptions<'static> {
    /// Options with this commit message and the defaults.
    pub fn new(commit_message: impl Into<String>) -> Self {
        CommitOptions {
            repo_type: RepoType::Model,
            revision: Revision::main(),
            commit_message: commit_message.into(),
            commit_description: None,
            parent_commit: None,
            create_pr: false,
            upload_workers: 4,
            part_workers: DEFAULT_PART_WORKERS,
            progress: &(),
            content_uploader: &LfsUploader,
        }
    }
}

impl<'a> CommitOptions<'a> {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The branch to commit on.
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }

    /// The rest of the commit message, after the summary line.
    pub fn commit_description(mut self, description: impl Into<String>) -> Self {
        self.commit_description = Some(description.into());
        self
    }

    /// Fail unless the branch is still at this commit.
    pub fn parent_commit(mut self, commit: impl Into<String>) -> Self {
        self.parent_commit = Some(commit.into());
        self
    }

    /// Whether to open a pull request with the commit instead of committing on the branch.
    pub fn create_pr(mut self, create_pr: bool) -> Self {
        self.create_pr = create_pr;
        self
    }

    /// LFS files uploaded at once.
    pub fn upload_workers(mut self, workers: usize) -> Self {
        self.upload_workers = workers;
        self
    }

    /// Parts of one multipart upload sent at once.
    pub fn part_workers(mut self, workers: usize) -> Self {
        self.part_workers = workers;
        self
    }

    /// The same options reporting upload progress to `progress`.
    pub fn progress<'b>(self, progress: &'b dyn Progress) -> CommitOptions<'b>
    where
        'a: 'b,
    {
        CommitOptions { progress, ..self }
    }

    /// The same options uploading large files through `uploader`.
    pub fn content_uploader<'b>(self, uploader: &'b dyn ContentUploader) -> CommitOptions<'b>
    where
        'a: 'b,
    {
        CommitOptions {
            content_uploader: uploader,
            ..self
        }
    }
}

/// What a commit made.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CommitInfo {
    /// The commit's page on the Hub.
    #[serde(rename = "commitUrl")]
    pub commit_url: String,
    /// The commit id.
    #[serde(rename = "commitOid", deserialize_with = "crate::server_ids::commit_id")]
    pub commit_oid: String,
    /// The pull request opened, with `create_pr`.
    #[serde(rename = "pullRequestUrl", default)]
    pub pull_request_url: Option<String>,
}

/// The Hub's verdict on one file of a preupload.
#[derive(Debug, Deserialize)]
struct PreuploadFile {
    path: String,
    #[serde(rename = "uploadMode")]
    upload_mode: String,
    #[serde(rename = "shouldIgnore", default)]
    should_ignore: bool,
}

#[derive(Debug, Deserialize)]
struct PreuploadResponse {
    files: Vec<PreuploadFile>,
}

/// An added file, sampled and classified.
struct PreparedAdd<'o> {
    path: String,
    source: &'o AddSource,
    size: u64,
    /// The first 512 bytes, from which the Hub guesses text or binary.
    sample: Vec<u8>,
    /// The sha256, once the content uploader has it (large files only).
    sha256: Option<String>,
    lfs: bool,
    ignore: bool,
}

impl HubClient {
    /// Commits `operations` to a branch (or a new pull request) in one commit.
    /// The files the preupload sends to large-file storage go up through
    /// `options.content_uploader` (LFS by default: objects already on the Hub
    /// are not sent again, the rest go up in parallel); the commit then names
    /// them by sha256.
    pub fn create_commit(
        &self,
        repo_id: &RepoId,
        operations: &[CommitOperation],
        options: &CommitOptions<'_>,
    ) -> Result<CommitInfo> {
        let revision = &options.revision;
        let target = RequestTarget::repo(options.repo_type, repo_id).at(revision.as_str());
        let mut adds = self.prepare_adds(operations)?;
        self.fetch_upload_modes(repo_id, revision, &mut adds, options)?;
        self.upload_large_files(repo_id, &mut adds, options)?;
        let mut lines = self.commit_body(repo_id, revision, operations, &adds, options)?;
        let body = lines.finish()?;
        let url = self.revision_route_url("commit", repo_id, revision, options);
        let request = HubRequest::new(Method::Post, url)
            .header("content-type", "application/x-ndjson")
            .body(RequestBody::File {
                path: body.path().to_path_buf(),
                offset: 0,
                len: lines.len,
                on_sent: None,
            })
            .target(target);
        self.send(&request)?.json()
    }

    /// `{api}/{type}s/{repo}/{route}/{revision}`, with `?create_pr=1` when the
    /// commit opens a pull request.
    fn revision_route_url(
        &self,
        route: &str,
        repo_id: &RepoId,
        revision: &Revision,
        options: &CommitOptions<'_>,
    ) -> String {
        let mut url = format!(
            "{}/{route}/{}",
            self.endpoint().api_url(options.repo_type, repo_id),
            encode_segment(revision.as_str())
        );
        if options.create_pr {
            url.push_str("?create_pr=1");
        }
        url
    }

    /// The NDJSON commit body, in a temporary file written one line at a time,
    /// so memory holds one file's content at most, however large the commit.
    fn commit_body(
        &self,
        repo_id: &RepoId,
        revision: &Revision,
        operations: &[CommitOperation],
        adds: &[PreparedAdd<'_>],
        options: &CommitOptions<'_>,
    ) -> Result<NdjsonFile> {
        let mut lines = NdjsonFile::new()?;
        let mut header = json!({
            "summary": options.commit_message,
            "description": options.commit_description.clone().unwrap_or_default(),
        });
        if let Some(parent) = &options.parent_commit {
            header["parentCommit"] = json!(parent);
        }
        lines.push(&json!({ "key": "header", "value": header }))?;
        let mut adds_iter = adds.iter();
        for operation in operations {
            match operation {
                CommitOperation::Add { .. } => {
                    let Some(add) = adds_iter.next() else { continue };
                    if add.ignore {
                        continue;
                    }
                    if add.lfs {
                        let sha256 = add.sha256.as_deref().ok_or_else(|| Error::CommitBody {
                            reason: format!("{} was uploaded without a sha256", add.path),
                        })?;
                        lines.push(&json!({ "key": "lfsFile", "value": {
                            "path": add.path, "algo": "sha256", "oid": sha256, "size": add.size } }))?;
                    } else {
                        lines.push_file(&add.path, &add.source.read_all()?)?;
                    }
                }
                CommitOperation::Delete { path_in_repo } => {
                    lines.push(
                        &json!({ "key": "deletedFile", "value": { "path": validate_path_in_repo(path_in_repo)? } }),
                    )?;
                }
                CommitOperation::DeleteFolder { path_in_repo } => {
                    let path = validate_path_in_repo(path_in_repo)?;
                    lines.push(&json!({ "key": "deletedFolder", "value": { "path": path } }))?;
                }
                CommitOperation::Copy {
                    src_path_in_repo,
                    path_in_repo,
                    src_revision,
                } => {
                    let from = src_revision.clone().unwrap_or_else(|| revision.clone());
                    lines.push(&self.copy_line(
                        repo_id,
                        options.repo_type,
                        &from,
                        src_path_in_repo,
                        path_in_repo,
                    )?)?;
                }
            }
        }
        Ok(lines)
    }

    /// Validates paths and reads every added file's size and first bytes.
    fn prepare_adds<'o>(&self, operations: &'o [CommitOperation]) -> Result<Vec<PreparedAdd<'o>>> {
        operations
            .iter()
            .filter_map(|op| match op {
                CommitOperation::Add { path_in_repo, source } => Some((path_in_repo, source)),
                _ => None,
            })
            .map(|(path, source)| {
                let path = validate_path_in_repo(path)?;
                let (size, sample) = source.sample()?;
                Ok(PreparedAdd {
                    path,
                    source,
                    size,
                    sample,
                    sha256: None,
                    lfs: false,
                    ignore: false,
                })
            })
            .collect()
    }

    /// Asks the Hub which files go to LFS, 256 at a time.
    fn fetch_upload_modes(
        &self,
        repo_id: &RepoId,
        revision: &Revision,
        adds: &mut [PreparedAdd<'_>],
        options: &CommitOptions<'_>,
    ) -> Result<()> {
        let url = self.revision_route_url("preupload", repo_id, revision, options);
        for chunk in adds.chunks_mut(BATCH_SIZE) {
            let files: Vec<_> = chunk
                .iter()
                .map(|a| json!({ "path": a.path, "sample": base64::encode(&a.sample), "size": a.size }))
                .collect();
            let request = HubRequest::new(Method::Post, &url)
                .json_body(&json!({ "files": files }))
                .target(RequestTarget::repo(options.repo_type, repo_id).at(revision.as_str()))
                .retry_post();
            let answer: PreuploadResponse = self.send(&request)?.json()?;
            for add in chunk.iter_mut() {
                let verdict =
                    answer
                        .files
                        .iter()
                        .find(|f| f.path == add.path)
                        .ok_or_else(|| Error::InvalidResponse {
                            url: url.clone(),
                            reason: format!("the preupload answer does not mention {}", add.path),
                        })?;
                // Empty files cannot be LFS objects: they always go inline.
                add.lfs = verdict.upload_mode == "lfs" && add.size > 0;
                add.ignore = verdict.should_ignore;
            }
        }
        Ok(())
    }

    /// Uploads the files bound for large-file storage through the options' content
    /// uploader, and notes their sha256s.
    fn upload_large_files(
        &self,
        repo_id: &RepoId,
        adds: &mut [PreparedAdd<'_>],
        options: &CommitOptions<'_>,
    ) -> Result<()> {
        let large: Vec<LargeFile<'_>> = adds
            .iter()
            .filter(|a| a.lfs && !a.ignore)
            .map(|a| LargeFile {
                path_in_repo: &a.path,
                source: a.source,
                size: a.size,
            })
            .collect();
        if large.is_empty() {
            return Ok(());
        }
        let target = ContentTarget {
            repo_id,
            repo_type: options.repo_type,
            revision: &options.revision,
            create_pr: options.create_pr,
            upload_workers: options.upload_workers,
            part_workers: options.part_workers,
            progress: options.progress,
        };
        let UploadedContent { sha256, .. } = options.content_uploader.upload_content(self, &target, &large)?;
        if sha256.len() != large.len() {
            return Err(Error::CommitBody {
                reason: format!("{} sha256s for {} uploaded files", sha256.len(), large.len()),
            });
        }
        for (add, sha256) in adds.iter_mut().filter(|a| a.lfs && !a.ignore).zip(sha256) {
            add.sha256 = Some(sha256);
        }
        Ok(())
    }

    /// The commit line that copies a file: by reference for LFS files, by content otherwise.
    fn copy_line(
        &self,
        repo_id: &RepoId,
        repo_type: RepoType,
        revision: &Revision,
        src: &str,
        dest: &str,
    ) -> Result<serde_json::Value> {
        let dest = validate_path_in_repo(dest)?;
        let info = self.repo_info(
            repo_id,
            &RepoInfoOptions::default()
                .repo_type(repo_type)
                .revision(revision.clone())
                .files_metadata(true),
        )?;
        let sibling = info
            .siblings
            .iter()
            .find(|s| s.rfilename == src)
            .ok_or_else(|| Error::EntryNotFound {
                repo: repo_id.to_string(),
                revision: revision.to_string(),
                path: src.to_string(),
                commit: info.sha.clone(),
                request_id: None,
            })?;
        if let Some(lfs) = &sibling.lfs {
            return Ok(json!({ "key": "lfsFile", "value": {
                "path": dest, "algo": "sha256", "oid": lfs.sha256, "size": lfs.size } }));
        }
        let url = hf_hub_url(repo_id, src, revision, repo_type, self.endpoint());
        let content = self
            .send(
                &HubRequest::get(url).target(RequestTarget::repo(repo_type, repo_id).at(revision.as_str()).file(src)),
            )?
            .bytes()?;
        Ok(
            json!({ "key": "file", "value": { "content": base64::encode(&content), "path": dest, "encoding": "base64" } }),
        )
    }
}

/// A commit body being written: one JSON value a line, in a temporary file.
struct NdjsonFile {
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    len: u64,
}

impl NdjsonFile {
    fn new() -> Result<Self> {
        let temp = tempfile::NamedTempFile::new().map_err(|source| Error::Write {
            action: "create a file in",
            path: std::env::temp_dir(),
            source,
        })?;
        Ok(NdjsonFile {
            file: std::io::BufWriter::new(temp),
            len: 0,
        })
    }

    fn push(&mut self, value: &serde_json::Value) -> Result<()> {
        let mut line = serde_json::to_vec(value).map_err(|e| Error::CommitBody {
            reason: format!("unencodable commit line: {e}"),
        })?;
        line.push(b'\n');
        std::io::Write::write_all(&mut self.file, &line).map_err(|source| self.io(source))?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// A `file` line: the content in base64, written as it is (base64 needs no
    /// JSON escaping, so megabytes of it are not scanned again).
    fn push_file(&mut self, path: &str, content: &[u8]) -> Result<()> {
        let path = serde_json::to_string(path).map_err(|e| Error::CommitBody {
            reason: format!("unencodable path in the commit: {e}"),
        })?;
        let content = base64::encode(content);
        let parts: [&[u8]; 5] = [
            br#"{"key":"file","value":{"path":"#,
            path.as_bytes(),
            br#","encoding":"base64","content":""#,
            content.as_bytes(),
            b"\"}}\n",
        ];
        for part in parts {
            std::io::Write::write_all(&mut self.file, part).map_err(|source| self.io(source))?;
            self.len += part.len() as u64;
        }
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Write {
            action: "write",
            path: self.file.get_ref().path().to_path_buf(),
            source,
        }
    }

    /// The finished file (removed when dropped).
    fn finish(&mut self) -> Result<&tempfile::NamedTempFile> {
        std::io::Write::flush(&mut self.file).map_err(|source| self.io(source))?;
        Ok(self.file.get_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_line_is_the_json_of_the_file_operation() -> Result<()> {
        let mut lines = NdjsonFile::new()?;
        let path = "dir/a \"quoted\" naïve\\name.txt";
        let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        lines.push_file(path, &content)?;
        lines.push_file("empty", b"")?;
        let written = std::fs::read_to_string(lines.finish()?.path()).map_err(|source| Error::Io {
            path: "commit body".into(),
            source,
        })?;
        assert_eq!(written.len() as u64, lines.len);
        let values: Vec<serde_json::Value> = written
            .lines()
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::CommitBody { reason: e.to_string() })?;
        assert_eq!(
            values,
            [
                json!({ "key": "file", "value": { "content": base64::encode(&content), "path": path, "encoding": "base64" } }),
                json!({ "key": "file", "value": { "content": "", "path": "empty", "encoding": "base64" } }),
            ]
        );
        Ok(())
    }
}
