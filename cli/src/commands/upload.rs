//! `huggingface-cli upload`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use hub_api::{
    AddSource, CommitOptions, CreateBranchOptions, CreateRepoOptions, RepoOptions, UploadFolderOptions, Visibility,
};
use hub_url::{RepoId, RepoType, Revision};
use hub_xet::XetUploader;

use crate::progress_bars::ProgressBars;
use crate::session::Session;

/// Arguments of `upload`.
#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    /// The repo id, `namespace/name` (created if missing).
    repo_id: String,
    /// A file or a folder to upload.
    local_path: PathBuf,
    /// Where in the repo (default: the file's name, or the root for a folder).
    path_in_repo: Option<String>,
    /// `model`, `dataset` or `space`.
    #[arg(long, default_value = "model")]
    repo_type: RepoType,
    /// The branch to commit on (created if missing).
    #[arg(long)]
    revision: Option<String>,
    /// Only files matching this glob (repeatable; folders only).
    #[arg(long = "include", value_name = "PATTERN")]
    include: Vec<String>,
    /// Leave out files matching this glob (repeatable; folders only).
    #[arg(long = "exclude", value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Delete remote files matching this glob unless uploaded again (repeatable; folders only).
    #[arg(long = "delete", value_name = "PATTERN")]
    delete: Vec<String>,
    /// The commit's summary line.
    #[arg(long)]
    commit_message: Option<String>,
    /// The rest of the commit message.
    #[arg(long)]
    commit_description: Option<String>,
    /// Create the repo private if it does not exist.
    #[arg(long)]
    private: bool,
    /// Open a pull request instead of committing on the branch.
    #[arg(long)]
    create_pr: bool,
    /// The token to use instead of the stored one.
    #[arg(long)]
    token: Option<String>,
    /// No progress bars; print only the commit URL.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn run(args: UploadArgs) -> Result<()> {
    let session = Session::new(args.token.as_deref())?;
    if session.client.token().is_none() {
        bail!("not logged in: run `huggingface-cli login` or set HF_TOKEN to upload");
    }
    let repo_id = RepoId::new(&args.repo_id)?;
    let revision = args.revision.as_deref().map(Revision::new).transpose()?;
    let is_file = args.local_path.is_file();
    if !is_file && !args.local_path.is_dir() {
        bail!("{} is neither a file nor a folder", args.local_path.display());
    }
    if is_file && !(args.include.is_empty() && args.exclude.is_empty() && args.delete.is_empty()) {
        bail!("--include, --exclude and --delete apply to folders only");
    }

    let mut create = CreateRepoOptions::default().repo_type(args.repo_type).exist_ok(true);
    if args.private {
        create = create.visibility(Visibility::Private);
    }
    if args.repo_type == RepoType::Space {
        create = create.space_sdk("gradio");
    }
    let repo = RepoOptions::default().repo_type(args.repo_type);
    if !session.client.repo_exists(&repo_id, &repo)? {
        session.client.create_repo(&repo_id, &create)?;
    }
    if let Some(branch) = &revision
        && !args.create_pr
        && !session.client.revision_exists(&repo_id, branch, &repo)?
    {
        let options = CreateBranchOptions::default().repo_type(args.repo_type).exist_ok(true);
        session.client.create_branch(&repo_id, branch.as_str(), &options)?;
    }

    let bars = ProgressBars::for_terminal(args.quiet, session.config.disable_progress_bars);
    // Large files go through Xet storage where the Hub offers it, else through LFS.
    let xet = XetUploader::new(&session.config);
    let mut options = CommitOptions::new(String::new())
        .repo_type(args.repo_type)
        .create_pr(args.create_pr)
        .content_uploader(&xet);
    if let Some(revision) = revision {
        options = options.revision(revision);
    }
    if let Some(description) = &args.commit_description {
        options = options.commit_description(description);
    }
    let mut options = match &bars {
        Some(bars) => options.progress(bars),
        None => options,
    };
    let info = if is_file {
        let name = args
            .local_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path_in_repo = args.path_in_repo.clone().unwrap_or(name);
        options.commit_message = args
            .commit_message
            .clone()
            .unwrap_or_else(|| format!("Upload {path_in_repo} with huggingface-cli"));
        session.client.upload_file(
            &repo_id,
            AddSource::File(args.local_path.clone()),
            &path_in_repo,
            &options,
        )
    } else {
        options.commit_message = args
            .commit_message
            .clone()
            .unwrap_or_else(|| "Upload folder using huggingface-cli".to_string());
        let mut folder = UploadFolderOptions::default()
            .allow_patterns(&args.include)
            .ignore_patterns(&args.exclude)
            .delete_patterns(&args.delete);
        if let Some(path) = args.path_in_repo.as_ref().filter(|p| *p != ".") {
            folder = folder.path_in_repo(path);
        }
        session
            .client
            .upload_folder(&repo_id, &args.local_path, &folder, &options)
    };
    if let Some(bars) = &bars {
        bars.finish();
    }
    let info = info?;
    let shown = info.pull_request_url.as_deref().unwrap_or(&info.commit_url);
    writeln!(std::io::stdout().lock(), "{shown}")?;
    Ok(())
}
