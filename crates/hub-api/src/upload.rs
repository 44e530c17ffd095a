//! `upload_file`, `upload_folder`, `delete_file`, `delete_folder`: commits
//! built from the common cases.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hub_url::{RepoId, filter_path};

use crate::client::HubClient;
use crate::commit_operation::{AddSource, CommitOperation};
use crate::create_commit::{CommitInfo, CommitOptions};
use crate::error::{Error, Result};
use crate::repo_management::RevisionOptions;

/// What `upload_folder` never uploads: git's and the cache's bookkeeping.
pub const DEFAULT_IGNORE_PATTERNS: [&str; 8] = [
    ".git",
    ".git/*",
    "*/.git",
    "**/.git/**",
    ".cache/huggingface",
    ".cache/huggingface/*",
    "*/.cache/huggingface",
    "**/.cache/huggingface/**",
];

/// Options of [`HubClient::upload_folder`] beyond the commit's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadFolderOptions {
    /// The folder in the repo to upload into (default: the root).
    pub path_in_repo: Option<String>,
    /// Only local files matching one of these globs (all when empty).
    pub allow_patterns: Vec<String>,
    /// Leave out local files matching any of these globs.
    pub ignore_patterns: Vec<String>,
    /// Delete remote files under `path_in_repo` matching these globs, unless uploaded again.
    pub delete_patterns: Vec<String>,
}

impl UploadFolderOptions {
    /// The folder in the repo to upload into.
    pub fn path_in_repo(mut self, path: impl Into<String>) -> Self {
        self.path_in_repo = Some(path.into());
        self
    }

    /// Only local files matching one of these globs.
    pub fn allow_patterns(mut self, patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allow_patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Leave out local files matching any of these globs.
    pub fn ignore_patterns(mut self, patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.ignore_patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Delete remote files under `path_in_repo` matching these globs, unless uploaded again.
    pub fn delete_patterns(mut self, patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.delete_patterns = patterns.into_iter().map(Into::into).collect();
        self
    }
}

impl HubClient {
    /// Uploads one file (from disk or bytes) in one commit.
    ///
    /// ```no_run
    /// use hub_api::{AddSource, CommitOptions, HubClient};
    /// use hub_url::{HubConfig, RepoId, Revision};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let options = CommitOptions::new("Add the weights").revision(Revision::new("dev")?);
    /// let source = AddSource::File("model.safetensors".into());
    /// let commit = client.upload_file(&RepoId::new("me/my-model")?, source, "model.safetensors", &options)?;
    /// println!("{}", commit.commit_url);
    /// # Ok(())
    /// # }
    /// ```
    pub fn upload_file(
        &self,
        repo_id: &RepoId,
        source: AddSource,
        path_in_repo: &str,
        options: &CommitOptions<'_>,
    ) -> Result<CommitInfo> {
        let operations = [CommitOperation::Add {
            path_in_repo: path_in_repo.to_string(),
            source,
        }];
        self.create_commit(repo_id, &operations, options)
    }

    /// Uploads a folder in one commit, and deletes what `delete_patterns` names.
    ///
    /// ```no_run
    /// use hub_api::{CommitOptions, HubClient, UploadFolderOptions};
    /// use hub_url::{HubConfig, RepoId};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let folder = UploadFolderOptions::default().ignore_patterns(["*.tmp"]).delete_patterns(["*.bin"]);
    /// let options = CommitOptions::new("Sync the checkpoint");
    /// client.upload_folder(&RepoId::new("me/my-model")?, "./checkpoint".as_ref(), &folder, &options)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn upload_folder(
        &self,
        repo_id: &RepoId,
        folder: &Path,
        folder_options: &UploadFolderOptions,
        options: &CommitOptions<'_>,
    ) -> Result<CommitInfo> {
        let operations = self.upload_folder_operations(repo_id, folder, folder_options, options)?;
        self.create_commit(repo_id, &operations, options)
    }

    /// The operations `upload_folder` would commit.
    pub fn upload_folder_operations(
        &self,
        repo_id: &RepoId,
        folder: &Path,
        folder_options: &UploadFolderOptions,
        options: &CommitOptions<'_>,
    ) -> Result<Vec<CommitOperation>> {
        if !folder.is_dir() {
            return Err(Error::InvalidArgument {
                reason: format!("{} is not a folder", folder.display()),
            });
        }
        let prefix = folder_options
            .path_in_repo
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
            .to_string();
        let in_repo = |relative: &str| {
            if prefix.is_empty() {
                relative.to_string()
            } else {
                format!("{prefix}/{relative}")
            }
        };
        let mut ignore = folder_options.ignore_patterns.clone();
        ignore.extend(DEFAULT_IGNORE_PATTERNS.iter().map(|p| p.to_string()));
        let mut operations = Vec::new();
        let mut uploaded = BTreeSet::new();
        for (relative, path) in local_files(folder)? {
            if filter_path(&relative, &folder_options.allow_patterns, &ignore) {
                uploaded.insert(in_repo(&relative));
                operations.push(CommitOperation::Add {
                    path_in_repo: in_repo(&relative),
                    source: AddSource::File(path),
                });
            }
        }
        if !folder_options.delete_patterns.is_empty() {
            let remote = match self.list_repo_files(
                repo_id,
                &RevisionOptions::default()
                    .repo_type(options.repo_type)
                    .revision(options.revision.clone()),
            ) {
                Ok(files) => files,
                Err(Error::RevisionNotFound { .. }) => Vec::new(),
                Err(error) => return Err(error),
            };
            for path in remote {
                let relative = if prefix.is_empty() {
                    Some(path.as_str())
                } else {
                    path.strip_prefix(&format!("{prefix}/"))
                };
                let Some(relative) = relative else { continue };
                // `.gitattributes` decides what is LFS: it is never deleted this way.
                if relative != ".gitattributes"
                    && !uploaded.contains(&path)
                    && filter_path(relative, &folder_options.delete_patterns, &[])
                {
                    operations.push(CommitOperation::Delete {
                        path_in_repo: path.clone(),
                    });
                }
            }
        }
        Ok(operations)
    }

    /// Deletes one file in one commit.
    pub fn delete_file(&self, repo_id: &RepoId, path_in_repo: &str, options: &CommitOptions<'_>) -> Result<CommitInfo> {
        self.create_commit(repo_id, &[CommitOperation::delete(path_in_repo)], options)
    }

    /// Deletes a folder in one commit.
    pub fn delete_folder(
        &self,
        repo_id: &RepoId,
        path_in_repo: &str,
        options: &CommitOptions<'_>,
    ) -> Result<CommitInfo> {
        let operation = CommitOperation::DeleteFolder {
            path_in_repo: path_in_repo.to_string(),
        };
        self.create_commit(repo_id, &[operation], options)
    }
}

/// Every file below `folder` (following symlinks, as the Python client), with
/// its path relative to the folder using `/`, sorted.
fn local_files(folder: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let relative = path.strip_prefix(folder).unwrap_or(&path);
                let relative: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((relative.join("/"), path));
            }
        }
    }
    out.sort();
    Ok(out)
}
