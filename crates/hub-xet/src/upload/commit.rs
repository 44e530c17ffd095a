//! [`XetUploader`]: a commit's large files through Xet storage when the Hub offers it, as the
//! Python client 2.4 with `hf_xet` does, and through LFS when it does not.

use std::path::PathBuf;
use std::sync::Arc;

use hub_api::{
    AddSource, ContentTarget, ContentTransfer, ContentUploader, HubClient, LargeFile, LfsUploader, Progress,
    ProgressEvent, UploadedContent,
};
use hub_url::HubConfig;

use super::{UploadOptions, UploadOutcome, UploadProgress, UploadSource, upload_files};
use crate::Error;
use crate::client::cas::CasClient;
use crate::client::token::{XetScope, XetTokenSource, xet_token_url};

/// The folder of the shard cache under the Xet cache.
const SHARD_CACHE_DIR: &str = "shard-cache";
/// The folder xorbs are staged in under the Xet cache: on disk, where a temporary folder
/// may be memory.
const STAGING_DIR: &str = "upload-staging";

/// Uploads a commit's large files through Xet storage: asks the Hub for a Xet write token
/// for the repo and revision, then runs an upload session ([`upload_files`]) against the
/// CAS it names, with the shard cache under `{xet_cache}/shard-cache/{CAS}` and xorbs staged
/// in `{xet_cache}/upload-staging`. Falls back to
/// [`LfsUploader`] when Xet is disabled (`HF_HUB_DISABLE_XET`) or the Hub has no Xet
/// storage (it answers the token route with 404). The commit then names the files by
/// sha256, as for LFS.
///
/// ```no_run
/// use hub_api::{AddSource, CommitOptions, HubClient};
/// use hub_url::{HubConfig, RepoId};
/// use hub_xet::XetUploader;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = HubConfig::from_env()?;
/// let client = HubClient::from_config(&config)?;
/// let xet = XetUploader::new(&config);
/// let options = CommitOptions::new("Add the weights").content_uploader(&xet);
/// let repo = RepoId::new("me/my-model")?;
/// let source = AddSource::File("model.safetensors".into());
/// client.upload_file(&repo, source, "model.safetensors", &options)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct XetUploader {
    enabled: bool,
    xet_cache: Option<PathBuf>,
    options: UploadOptions,
}

impl XetUploader {
    /// Xet unless `config.disable_xet`, with the shard cache under `config.xet_cache`.
    pub fn new(config: &HubConfig) -> Self {
        Self {
            enabled: !config.disable_xet,
            xet_cache: Some(config.xet_cache.clone()),
            options: UploadOptions::default(),
        }
    }

    /// Xet with these session options as they are (their shard cache, if any, is used for
    /// every CAS).
    pub fn with_options(options: UploadOptions) -> Self {
        Self {
            enabled: true,
            xet_cache: None,
            options,
        }
    }

    /// The session options for a CAS: the shard cache in that CAS's own folder.
    fn options_for(&self, cas_url: &str) -> UploadOptions {
        let mut options = self.options.clone();
        if let Some(root) = &self.xet_cache {
            let tag = blake3::hash(cas_url.as_bytes()).to_hex();
            options.shard_cache = Some(root.join(SHARD_CACHE_DIR).join(&tag[..16]));
            options.staging_dir.get_or_insert_with(|| root.join(STAGING_DIR));
        }
        options
    }

    /// Uploads through Xet; `None` when the Hub has no Xet storage for the repo.
    pub fn upload(
        &self,
        client: &HubClient,
        target: &ContentTarget<'_>,
        files: &[LargeFile<'_>],
    ) -> Result<Option<UploadOutcome>, Error> {
        let mut url = xet_token_url(
            client.endpoint(),
            target.repo_type,
            target.repo_id,
            target.revision.as_str(),
            XetScope::Write,
        );
        if target.create_pr {
            url.push_str("?create_pr=1");
        }
        let tokens = XetTokenSource::from_refresh_route(client, &url, target.repo_type, target.repo_id)?;
        let token = match tokens.token() {
            Ok(token) => token,
            Err(err) if err.status() == Some(404) => {
                log::debug!("the Hub has no Xet storage for {}: uploading with LFS", target.repo_id);
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let options = self.options_for(token.cas_url());
        // Xorbs go from their staged files, so that none is held in memory while it is sent.
        let cas = CasClient::new(client, Arc::new(tokens));
        let sources: Vec<UploadSource<'_>> = files
            .iter()
            .map(|file| match file.source {
                AddSource::File(path) => UploadSource::File(path),
                AddSource::Bytes(bytes) => UploadSource::Bytes(bytes),
            })
            .collect();
        for file in files {
            target.progress.event(&ProgressEvent::Started {
                path: file.path_in_repo.to_string(),
                total: Some(file.size),
            });
        }
        let progress = ReadProgress {
            progress: target.progress,
            files,
        };
        let outcome = upload_files(&cas, &sources, &options, &progress)?;
        let stats = &outcome.stats;
        log::debug!(
            "Xet upload of {} files, {} bytes: {} bytes new, {} deduplicated; {} xorbs ({} bytes) and {} shards sent; \
             {} of {} global dedupe queries answered",
            files.len(),
            stats.bytes,
            stats.new_bytes,
            stats.deduped_bytes,
            stats.xorbs_uploaded,
            stats.xorb_bytes_uploaded,
            stats.shards_uploaded,
            stats.dedupe_hits,
            stats.dedupe_queries
        );
        for file in files {
            target.progress.event(&ProgressEvent::Finished {
                path: file.path_in_repo.to_string(),
            });
        }
        Ok(Some(outcome))
    }
}

/// A session's reads as the commit's progress events, by path in the repo.
struct ReadProgress<'a> {
    progress: &'a dyn Progress,
    files: &'a [LargeFile<'a>],
}

impl UploadProgress for ReadProgress<'_> {
    fn file_read(&self, file: usize, bytes: u64) {
        if let Some(file) = self.files.get(file) {
            self.progress.event(&ProgressEvent::Advanced {
                path: file.path_in_repo.to_string(),
                bytes,
            });
        }
    }
}

impl ContentUploader for XetUploader {
    fn upload_content(
        &self,
        client: &HubClient,
        target: &ContentTarget<'_>,
        files: &[LargeFile<'_>],
    ) -> hub_api::Result<UploadedContent> {
        if !self.enabled {
            return LfsUploader.upload_content(client, target, files);
        }
        match self.upload(client, target, files) {
            Ok(Some(outcome)) => Ok(UploadedContent::new(
                outcome.files.iter().map(|f| f.sha256_hex()).collect(),
                ContentTransfer::Xet,
            )),
            Ok(None) => LfsUploader.upload_content(client, target, files),
            Err(err) => Err(into_hub_error(err)),
        }
    }
}

/// A Hub call's own error as it is (the CLI's hints know it); anything else wrapped.
fn into_hub_error(err: Error) -> hub_api::Error {
    match err {
        Error::Hub { source, action, status } => match source.downcast::<hub_api::Error>() {
            Ok(hub) => *hub,
            Err(source) => hub_api::Error::ContentUpload {
                transfer: "Xet",
                source: Box::new(Error::Hub { action, status, source }),
            },
        },
        other => hub_api::Error::ContentUpload {
            transfer: "Xet",
            source: Box::new(other),
        },
    }
}
