//! `Repository`: a local clone of a Hub repo, driven through the user's git.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use hub_url::{Endpoint, Origin, RepoId, RepoType, Revision, Token};

use crate::error::{Error, Result};
use crate::git_command::{Git, GitProgram, without_credentials};
use crate::lfs_tracking::{LARGE_FILE_THRESHOLD, is_binary_file};

/// How to clone a repo.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CloneOptions {
    /// `model`, `dataset` or `space`.
    pub repo_type: RepoType,
    /// A branch to check out after cloning; created from the default branch if
    /// it does not exist (as the Python client's `revision`).
    pub revision: Option<Revision>,
    /// The token for private repos and pushes. It reaches git through a
    /// credential helper for the endpoint's origin only; it is never written
    /// into the remote URL or `.git/config`.
    pub token: Option<Token>,
    /// Leave LFS files as pointers (`GIT_LFS_SKIP_SMUDGE`); fetch them later
    /// with [`Repository::git_pull`] and [`PullOptions::lfs`].
    pub skip_lfs_files: bool,
    /// `user.name` for commits made in this clone (its own config).
    pub git_user: Option<String>,
    /// `user.email` for commits made in this clone (its own config).
    pub git_email: Option<String>,
    /// Files at least this large are tracked with LFS by the `auto_lfs_track`
    /// functions ([`LARGE_FILE_THRESHOLD`], the Hub's limit, by default).
    pub large_file_threshold: u64,
    /// Which git to run.
    pub git: GitProgram,
}

impl Default for CloneOptions {
    fn default() -> Self {
        CloneOptions {
            repo_type: RepoType::Model,
            revision: None,
            token: None,
            skip_lfs_files: false,
            git_user: None,
            git_email: None,
            large_file_threshold: LARGE_FILE_THRESHOLD,
            git: GitProgram::default(),
        }
    }
}

impl CloneOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The branch to check out after cloning (created if missing).
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = Some(revision);
        self
    }

    /// The token for private repos and pushes.
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Whether to leave LFS files as pointers.
    pub fn skip_lfs_files(mut self, skip: bool) -> Self {
        self.skip_lfs_files = skip;
        self
    }

    /// The name and email of commits made in this clone.
    pub fn git_identity(mut self, name: impl Into<String>, email: impl Into<String>) -> Self {
        self.git_user = Some(name.into());
        self.git_email = Some(email.into());
        self
    }

    /// Files at least this large are tracked with LFS automatically.
    pub fn large_file_threshold(mut self, bytes: u64) -> Self {
        self.large_file_threshold = bytes;
        self
    }

    /// Which git to run.
    pub fn git(mut self, git: GitProgram) -> Self {
        self.git = git;
        self
    }
}

/// How to open an existing clone ([`Repository::open`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OpenOptions {
    /// The token for private repos and pushes, offered to the clone's `origin` only.
    pub token: Option<Token>,
    /// Which git to run.
    pub git: GitProgram,
}

impl OpenOptions {
    /// The token for private repos and pushes.
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Which git to run.
    pub fn git(mut self, git: GitProgram) -> Self {
        self.git = git;
        self
    }
}

/// Whether [`Repository::git_add`] tracks files with LFS first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LfsTracking {
    /// Files at least the large-file threshold, then binary files, are
    /// tracked with LFS before they are added (the Python client's `auto_lfs_track`).
    Automatic,
    /// `.gitattributes` is left as it is.
    AsConfigured,
}

/// What the patterns of [`Repository::lfs_track`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackPattern {
    /// Globs, as `.gitattributes` reads them.
    Glob,
    /// File names taken literally (glob characters escaped in `.gitattributes`).
    FileName,
}

/// Options of [`Repository::git_pull`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullOptions {
    /// Rebase local commits, local changes set aside and put back.
    pub rebase: bool,
    /// Then `git lfs pull`, which also fetches LFS files a clone skipped.
    pub lfs: bool,
}

impl PullOptions {
    /// Whether to rebase local commits.
    pub fn rebase(mut self, rebase: bool) -> Self {
        self.rebase = rebase;
        self
    }

    /// Whether to fetch LFS files too.
    pub fn lfs(mut self, lfs: bool) -> Self {
        self.lfs = lfs;
        self
    }
}

/// The upstream of the branch [`Repository::git_push`] pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream<'a> {
    /// The branch's configured upstream.
    AsConfigured,
    /// This remote's branch, set as the upstream.
    Set {
        /// The remote (`origin`).
        remote: &'a str,
        /// The branch on the remote.
        branch: &'a str,
    },
}

/// What [`Repository::git_checkout`] does when the revision does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Fail.
    Fail,
    /// Create a branch of that name from `HEAD`.
    CreateBranch,
}

/// Where a tag is looked for, made or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagLocation<'a> {
    /// In the clone.
    Local,
    /// On this remote: [`Repository::tag_exists`] asks it; [`Repository::add_tag`]
    /// and [`Repository::delete_tag`] act in the clone and on the remote.
    Remote(&'a str),
}

/// What kind of tag [`Repository::add_tag`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind<'a> {
    /// A name for the commit.
    Lightweight,
    /// A tag object with this message.
    Annotated(&'a str),
}

/// What [`Repository::push_to_hub`] does when there is nothing to commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenClean {
    /// Nothing, and it returns `None` (the Python client's `clean_ok=True`).
    Skip,
    /// Push the branch all the same.
    Push,
}

/// What [`Repository::commit`] does around the caller's work.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CommitScope {
    /// The branch to commit on: checked out first, created if missing.
    pub branch: Option<Revision>,
    /// Track large and binary files with LFS before adding them (on by default
    /// in the Python client; here set it explicitly, or use [`CommitScope::tracked`]).
    pub track_large_files: bool,
}

impl CommitScope {
    /// On the current branch, with large and binary files tracked with LFS.
    pub fn tracked() -> CommitScope {
        CommitScope {
            branch: None,
            track_large_files: true,
        }
    }

    /// The branch to commit on (created if missing).
    pub fn branch(mut self, branch: Revision) -> Self {
        self.branch = Some(branch);
        self
    }

    /// Whether to track large and binary files with LFS before adding them.
    pub fn track_large_files(mut self, track: bool) -> Self {
        self.track_large_files = track;
        self
    }
}

/// A local clone of a Hub repo.
///
/// Every method runs `git` (and `git-lfs`) as processes in the clone, with no
/// prompts; a failure carries git's own words, without credentials.
#[derive(Debug, Clone)]
pub struct Repository {
    git: Git,
    large_file_threshold: u64,
}

impl Repository {
    /// Clones `repo_id` from `endpoint` into `local_dir` (created if missing)
    /// and returns it. LFS files are fetched unless `skip_lfs_files`; git-lfs
    /// is set up in the clone's own config, the user's global config is not
    /// touched.
    ///
    /// A folder that is already a clone of this repo is opened as it is (pull
    /// to update it); a folder with other files, or a clone of another repo, is
    /// refused.
    ///
    /// ```no_run
    /// use hub_repo::{CloneOptions, LfsTracking, Repository};
    /// use hub_url::{HubConfig, RepoId};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let options = CloneOptions::default().skip_lfs_files(true);
    /// let repo = Repository::clone_from(&config.endpoint, &RepoId::new("me/my-model")?, "my-model", &options)?;
    /// repo.git_add("README.md", LfsTracking::Automatic)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn clone_from(
        endpoint: &Endpoint,
        repo_id: &RepoId,
        local_dir: impl AsRef<Path>,
        options: &CloneOptions,
    ) -> Result<Repository> {
        let url = endpoint.repo_url(options.repo_type, repo_id);
        Self::clone_url(&url, local_dir.as_ref(), options)
    }

    /// Like [`Repository::clone_from`], from a git URL of a Hub repo.
    pub fn clone_url(url: &str, local_dir: &Path, options: &CloneOptions) -> Result<Repository> {
        fs::create_dir_all(local_dir).map_err(|source| Error::Io {
            action: "create",
            path: local_dir.to_path_buf(),
            source,
        })?;
        let credentials = options
            .token
            .clone()
            .and_then(|token| Some((Origin::parse(url).ok()?, token)));
        let git = Git::new(options.git.clone(), local_dir.to_path_buf(), credentials);
        let repo = Repository {
            git,
            large_file_threshold: options.large_file_threshold,
        };
        if local_dir.join(".git").exists() {
            let origin = repo.git_remote_url().unwrap_or_else(|_| "no origin".to_string());
            if same_remote(&origin, url) {
                repo.configure(options, false)?;
                return Ok(repo);
            }
            return Err(Error::UnrelatedClone {
                dir: local_dir.to_path_buf(),
                expected: without_credentials(url),
                origin,
            });
        }
        let is_empty = fs::read_dir(local_dir)
            .map_err(|source| Error::Io {
                action: "read",
                path: local_dir.to_path_buf(),
                source,
            })?
            .next()
            .is_none();
        if !is_empty {
            return Err(Error::NotEmpty {
                dir: local_dir.to_path_buf(),
            });
        }
        // No checkout yet: git-lfs is installed in the clone first, so that the
        // checkout fetches LFS content without any global filter config.
        let args = [
            OsStr::new("clone"),
            OsStr::new("--no-checkout"),
            OsStr::new(url),
            OsStr::new("."),
        ];
        if let Err(error) = repo.git.run(args) {
            // Leave the folder as it was: empty.
            let _ = fs::remove_dir_all(local_dir.join(".git"));
            return Err(error);
        }
        repo.configure(options, true)?;
        Ok(repo)
    }

    /// Opens the clone containing `dir`; the token is offered to its `origin` only.
    ///
    /// ```no_run
    /// use hub_repo::{OpenOptions, PullOptions, Repository};
    ///
    /// # fn main() -> Result<(), hub_repo::Error> {
    /// let repo = Repository::open("my-model", &OpenOptions::default())?;
    /// repo.git_pull(&PullOptions::default().rebase(true).lfs(true))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn open(dir: impl AsRef<Path>, options: &OpenOptions) -> Result<Repository> {
        let dir = dir.as_ref();
        let (token, git) = (options.token.clone(), options.git.clone());
        let probe = Git::new(git.clone(), dir.to_path_buf(), None);
        let top = probe
            .run(["rev-parse", "--show-toplevel"])
            .map_err(|error| match error {
                Error::GitFailed { .. } => Error::NotARepository { dir: dir.to_path_buf() },
                other => other,
            })?;
        let top = PathBuf::from(top.trim_end_matches(['\n', '\r']));
        let origin = probe
            .in_dir(top.clone())
            .run(["config", "--get", "remote.origin.url"])
            .ok();
        let credentials = token.and_then(|token| Some((Origin::parse(origin?.trim()).ok()?, token)));
        Ok(Repository {
            git: Git::new(git, top, credentials),
            large_file_threshold: LARGE_FILE_THRESHOLD,
        })
    }

    /// Sets git-lfs up in the clone, the identity, and the branch; checks out when
    /// `checkout` (after a `--no-checkout` clone).
    fn configure(&self, options: &CloneOptions, checkout: bool) -> Result<()> {
        self.git.run(["lfs", "install", "--local"])?;
        if let Some(user) = &options.git_user {
            self.git_config("user.name", user)?;
        }
        if let Some(email) = &options.git_email {
            self.git_config("user.email", email)?;
        }
        if checkout {
            let skip: &[(&str, &str)] = if options.skip_lfs_files {
                &[("GIT_LFS_SKIP_SMUDGE", "1")]
            } else {
                &[]
            };
            if self.git.succeeds(["rev-parse", "--verify", "-q", "origin/HEAD"])? {
                let branch = self.default_branch()?;
                let start = format!("origin/{branch}");
                let args = ["checkout", "-q", "-B", branch.as_str(), "--track", start.as_str()];
                self.git.run_with(args, skip)?;
            }
        }
        if let Some(revision) = &options.revision {
            self.git_checkout(revision, IfMissing::CreateBranch)?;
        }
        Ok(())
    }

    /// The remote's default branch (what `origin/HEAD` points to), else `main`.
    fn default_branch(&self) -> Result<String> {
        // No `origin/HEAD` (git fails): `main`.
        let name = self
            .git
            .run(["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"])
            .unwrap_or_default();
        Ok(name.trim().strip_prefix("origin/").unwrap_or("main").to_string())
    }

    /// The same clone, with files at least `bytes` large tracked with LFS by the
    /// `auto_lfs_track` functions (for a clone opened with [`Repository::open`]).
    pub fn with_large_file_threshold(mut self, bytes: u64) -> Repository {
        self.large_file_threshold = bytes;
        self
    }

    /// Sets `key` to `value` in the clone's own config (`git config --local`).
    pub fn git_config(&self, key: &str, value: impl AsRef<OsStr>) -> Result<()> {
        self.git.run([
            OsStr::new("config"),
            OsStr::new("--local"),
            OsStr::new(key),
            value.as_ref(),
        ])?;
        Ok(())
    }

    /// The clone's top folder.
    pub fn local_dir(&self) -> &Path {
        self.git.dir()
    }

    /// The branch checked out (`HEAD` when detached).
    pub fn current_branch(&self) -> Result<String> {
        Ok(self.git.run(["rev-parse", "--abbrev-ref", "HEAD"])?.trim().to_string())
    }

    /// The commit checked out.
    pub fn git_head_hash(&self) -> Result<String> {
        Ok(self.git.run(["rev-parse", "HEAD"])?.trim().to_string())
    }

    /// `origin`'s URL, without any credentials it may hold.
    pub fn git_remote_url(&self) -> Result<String> {
        let url = self.git.run(["config", "--get", "remote.origin.url"])?;
        Ok(without_credentials(url.trim()))
    }

    /// The Hub page of the commit checked out: `{remote}/commit/{sha}`.
    pub fn git_head_commit_url(&self) -> Result<String> {
        let remote = self.git_remote_url()?;
        let remote = remote.trim_end_matches('/');
        let remote = remote.strip_suffix(".git").unwrap_or(remote);
        Ok(format!("{remote}/commit/{}", self.git_head_hash()?))
    }

    /// Whether nothing is modified, staged or untracked (ignored files aside).
    pub fn is_repo_clean(&self) -> Result<bool> {
        Ok(self.git.run(["status", "--porcelain"])?.trim().is_empty())
    }

    /// Files deleted from the work tree or the index since the last commit.
    pub fn list_deleted_files(&self) -> Result<Vec<String>> {
        let mut deleted = nul_separated(&self.git.run(["ls-files", "-z", "--deleted"])?);
        for staged in nul_separated(
            &self
                .git
                .run(["diff", "-z", "--cached", "--name-only", "--diff-filter=D"])?,
        ) {
            if !deleted.contains(&staged) {
                deleted.push(staged);
            }
        }
        Ok(deleted)
    }

    /// `git lfs track` for each pattern.
    pub fn lfs_track(&self, patterns: &[&str], kind: TrackPattern) -> Result<()> {
        for pattern in patterns {
            let mut args = vec![OsStr::new("lfs"), OsStr::new("track")];
            if kind == TrackPattern::FileName {
                args.push(OsStr::new("--filename"));
            }
            args.push(OsStr::new("--"));
            args.push(OsStr::new(pattern));
            self.git.run(args)?;
        }
        Ok(())
    }

    /// `git lfs untrack` for each pattern.
    pub fn lfs_untrack(&self, patterns: &[&str]) -> Result<()> {
        for pattern in patterns {
            self.git
                .run([OsStr::new("lfs"), OsStr::new("untrack"), OsStr::new(pattern)])?;
        }
        Ok(())
    }

    /// Files matching `pattern` that `git add` would take (modified or new, not
    /// ignored) and that exist.
    fn files_to_be_staged(&self, pattern: &str) -> Result<Vec<String>> {
        let listed = self.git.run([
            OsStr::new("ls-files"),
            OsStr::new("-z"),
            OsStr::new("--exclude-standard"),
            OsStr::new("-mo"),
            OsStr::new("--"),
            OsStr::new(pattern),
        ])?;
        Ok(nul_separated(&listed)
            .into_iter()
            .filter(|name| self.local_dir().join(name).is_file())
            .collect())
    }

    /// Whether git-lfs already takes `file` (its `filter` attribute is `lfs`).
    fn is_tracked_with_lfs(&self, file: &str) -> Result<bool> {
        let out = self.git.run([
            OsStr::new("check-attr"),
            OsStr::new("-z"),
            OsStr::new("filter"),
            OsStr::new("--"),
            OsStr::new(file),
        ])?;
        // `path NUL filter NUL value NUL`.
        Ok(out.split('\0').nth(2) == Some("lfs"))
    }

    /// Tracks with LFS, by file name, the files matching `pattern` about to be
    /// added that are at least the large-file threshold (10 MiB) and not yet
    /// tracked. Returns them.
    pub fn auto_track_large_files(&self, pattern: &str) -> Result<Vec<String>> {
        self.auto_track(pattern, |_, size| Ok(size >= self.large_file_threshold))
    }

    /// Tracks with LFS, by file name, the files matching `pattern` about to be
    /// added whose first 10 MiB hold bytes text does not (as the Python client
    /// decides), and not yet tracked. Returns them.
    pub fn auto_track_binary_files(&self, pattern: &str) -> Result<Vec<String>> {
        self.auto_track(pattern, |path, _| {
            is_binary_file(path).map_err(|source| Error::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })
        })
    }

    fn auto_track(&self, pattern: &str, wanted: impl Fn(&Path, u64) -> Result<bool>) -> Result<Vec<String>> {
        let mut tracked = Vec::new();
        for name in self.files_to_be_staged(pattern)? {
            let path = self.local_dir().join(&name);
            let size = fs::metadata(&path)
                .map_err(|source| Error::Io {
                    action: "read",
                    path: path.clone(),
                    source,
                })?
                .len();
            if self.is_tracked_with_lfs(&name)? || !wanted(&path, size)? {
                continue;
            }
            self.lfs_track(&[&name], TrackPattern::FileName)?;
            tracked.push(name);
        }
        Ok(tracked)
    }

    /// `git add` of `pattern` (new, modified and deleted files), after
    /// tracking large and binary files with LFS if asked. Returns the files
    /// newly tracked with LFS.
    pub fn git_add(&self, pattern: &str, lfs: LfsTracking) -> Result<Vec<String>> {
        let mut tracked = Vec::new();
        if lfs == LfsTracking::Automatic {
            tracked = self.auto_track_large_files(pattern)?;
            tracked.extend(self.auto_track_binary_files(pattern)?);
            if !tracked.is_empty() {
                self.git.run(["add", "--", ".gitattributes"])?;
            }
        }
        self.git.run([
            OsStr::new("add"),
            OsStr::new("-A"),
            OsStr::new("--"),
            OsStr::new(pattern),
        ])?;
        Ok(tracked)
    }

    /// Commits what is staged; `None` when nothing is.
    pub fn git_commit(&self, message: &str) -> Result<Option<String>> {
        if self.git.succeeds(["diff", "--cached", "--quiet"])? {
            return Ok(None);
        }
        self.git.run([
            OsStr::new("commit"),
            OsStr::new("-q"),
            OsStr::new("-m"),
            OsStr::new(message),
        ])?;
        Ok(Some(self.git_head_hash()?))
    }

    /// `git pull`, rebasing and fetching LFS files as the options say.
    pub fn git_pull(&self, options: &PullOptions) -> Result<()> {
        if options.rebase {
            self.git.run(["pull", "-q", "--rebase", "--autostash"])?;
        } else {
            self.git.run(["pull", "-q"])?;
        }
        if options.lfs {
            self.git.run(["lfs", "pull"])?;
        }
        Ok(())
    }

    /// `git push` (LFS objects first, by git-lfs's pre-push hook), setting the
    /// branch's upstream if asked. Returns the Hub page of the commit pushed.
    pub fn git_push(&self, upstream: Upstream<'_>) -> Result<String> {
        match upstream {
            Upstream::Set { remote, branch } => self.git.run(["push", "-q", "--set-upstream", remote, branch])?,
            Upstream::AsConfigured => self.git.run(["push", "-q"])?,
        };
        self.git_head_commit_url()
    }

    /// Checks out `revision`, or does what `if_missing` says when there is no such revision.
    pub fn git_checkout(&self, revision: &Revision, if_missing: IfMissing) -> Result<()> {
        let revision = revision.as_str();
        let args = [
            OsStr::new("checkout"),
            OsStr::new("-q"),
            OsStr::new(revision),
            OsStr::new("--"),
        ];
        match self.git.run(args) {
            Ok(_) => Ok(()),
            Err(_) if if_missing == IfMissing::CreateBranch && !self.revision_exists(revision)? => {
                self.git.run([
                    OsStr::new("checkout"),
                    OsStr::new("-q"),
                    OsStr::new("-b"),
                    OsStr::new(revision),
                ])?;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    fn revision_exists(&self, revision: &str) -> Result<bool> {
        let spec = format!("{revision}^{{commit}}");
        Ok(self.git.succeeds(["rev-parse", "--verify", "-q", &spec])?
            || self
                .git
                .succeeds(["rev-parse", "--verify", "-q", &format!("origin/{spec}")])?)
    }

    /// Whether the tag exists in the clone, or on the remote.
    pub fn tag_exists(&self, tag: &str, location: TagLocation<'_>) -> Result<bool> {
        match location {
            TagLocation::Remote(remote) => Ok(!self
                .git
                .run(["ls-remote", remote, &format!("refs/tags/{tag}")])?
                .trim()
                .is_empty()),
            TagLocation::Local => self
                .git
                .succeeds(["rev-parse", "--verify", "-q", &format!("refs/tags/{tag}")]),
        }
    }

    /// Tags `HEAD`; with a remote, pushes the tag there too.
    pub fn add_tag(&self, tag: &str, kind: TagKind<'_>, location: TagLocation<'_>) -> Result<()> {
        match kind {
            TagKind::Annotated(message) => self.git.run(["tag", "-a", tag, "-m", message])?,
            TagKind::Lightweight => self.git.run(["tag", tag])?,
        };
        if let TagLocation::Remote(remote) = location {
            self.git.run(["push", "-q", remote, &format!("refs/tags/{tag}")])?;
        }
        Ok(())
    }

    /// Deletes the tag in the clone and, with a remote, there too. Returns
    /// whether it existed anywhere.
    pub fn delete_tag(&self, tag: &str, location: TagLocation<'_>) -> Result<bool> {
        let mut existed = false;
        if self.tag_exists(tag, TagLocation::Local)? {
            self.git.run(["tag", "-d", tag])?;
            existed = true;
        }
        if let TagLocation::Remote(remote) = location
            && self.tag_exists(tag, location)?
        {
            self.git
                .run(["push", "-q", remote, "--delete", &format!("refs/tags/{tag}")])?;
            existed = true;
        }
        Ok(existed)
    }

    /// Adds everything (tracking large and binary files with LFS), commits and
    /// pushes the current branch. Returns the Hub page of the commit, or `None`
    /// when a clean repo was left alone.
    pub fn push_to_hub(&self, commit_message: &str, when_clean: WhenClean) -> Result<Option<String>> {
        if when_clean == WhenClean::Skip && self.is_repo_clean()? {
            return Ok(None);
        }
        self.git_add(".", LfsTracking::Automatic)?;
        self.git_commit(commit_message)?;
        self.push_current_branch().map(Some)
    }

    /// Runs `work` on the up-to-date branch, then commits and pushes what it changed.
    ///
    /// Before: checks out `scope.branch` (created if missing) and, when the branch
    /// has an upstream, pulls with rebase. After `work` succeeds: adds everything
    /// (tracking large and binary files with LFS when `scope.track_large_files`),
    /// commits with `message` if anything changed, and pushes the branch (setting
    /// its upstream). When `work` fails, nothing is committed or pushed and its
    /// changes stay in the work tree; its error is returned.
    pub fn commit<T, E>(
        &self,
        message: &str,
        scope: &CommitScope,
        work: impl FnOnce(&Repository) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error>,
    {
        if let Some(branch) = &scope.branch {
            self.git_checkout(branch, IfMissing::CreateBranch)?;
        }
        if self.has_upstream()? {
            self.git_pull(&PullOptions::default().rebase(true))?;
        }
        let value = work(self)?;
        let lfs = match scope.track_large_files {
            true => LfsTracking::Automatic,
            false => LfsTracking::AsConfigured,
        };
        self.git_add(".", lfs)?;
        self.git_commit(message)?;
        self.push_current_branch()?;
        Ok(value)
    }

    /// Pushes the current branch to `origin`, setting it as the upstream.
    fn push_current_branch(&self) -> Result<String> {
        let branch = self.current_branch()?;
        self.git_push(Upstream::Set {
            remote: "origin",
            branch: &branch,
        })
    }

    /// Whether the current branch tracks a remote branch.
    fn has_upstream(&self) -> Result<bool> {
        self.git
            .succeeds(["rev-parse", "--symbolic-full-name", "--abbrev-ref", "@{u}"])
    }
}

/// Whether two remote URLs name the same repo (credentials, case of the
/// origin, a trailing `/` or `.git` aside).
fn same_remote(a: &str, b: &str) -> bool {
    let normal = |url: &str| {
        let url = without_credentials(url.trim());
        let url = url.trim_end_matches('/');
        let url = url.strip_suffix(".git").unwrap_or(url).to_string();
        match (Origin::parse(&url), url.split_once("://")) {
            (Ok(origin), Some((_, rest))) => {
                let path = rest.find('/').map_or("", |i| &rest[i..]);
                format!("{origin}{path}")
            }
            _ => url,
        }
    };
    normal(a) == normal(b)
}

/// The entries of `git … -z` output.
fn nul_separated(out: &str) -> Vec<String> {
    out.split('\0').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::same_remote;

    #[test]
    fn remotes_compare_without_credentials_or_git_suffix() {
        assert!(same_remote(
            "https://u:t@Hub.example/org/m.git",
            "https://hub.example/org/m"
        ));
        assert!(same_remote("http://h:1/org/m/", "http://h:1/org/m"));
        assert!(!same_remote("http://h:1/org/m", "http://h:1/org/other"));
        assert!(!same_remote("http://h:1/org/m", "http://h:2/org/m"));
        assert!(same_remote("https://h:443/org/m", "https://H/org/m.git"));
    }
}
