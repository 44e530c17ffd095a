//! Describing repo content to put into the emulator before a test runs.

use std::path::{Path, PathBuf};

/// A repo and the files to commit into it with [`Emulator::seed`](crate::Emulator::seed).
///
/// The repo is created if needed (with the Hub's first commit holding `.gitattributes`),
/// then one commit writes `files` and removes `delete` on `branch`. A file larger than
/// the emulator's LFS threshold, or matched by a `filter=lfs` pattern of the repo's
/// `.gitattributes`, is stored with LFS.
///
/// `private`, `gated`, `downloads` and `likes` are applied when the repo is created, and
/// later only to switch a repo to private or gated or to raise counts; `tags` are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRepo {
    /// `model`, `dataset` or `space`.
    pub repo_type: String,
    /// `name` or `namespace/name`; the namespace is the owner.
    pub repo_id: String,
    /// Visible only to the owner and the members of the owning organisation.
    pub private: bool,
    /// Content downloads need the owner's (or a member's) token; info stays public.
    pub gated: bool,
    /// The branch to commit on (created from `main` if missing); a full ref such as
    /// `refs/pr/1` commits onto that ref.
    pub branch: String,
    /// The commit message.
    pub message: String,
    /// The files to write.
    pub files: Vec<SeedFile>,
    /// Hub tags, shown in info and matched by listing filters.
    pub tags: Vec<String>,
    /// Paths to remove (a folder removes everything under it).
    pub delete: Vec<String>,
    /// The download count listings report and sort by.
    pub downloads: u64,
    /// The like count listings report and sort by.
    pub likes: u64,
}

/// One file of a [`SeedRepo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFile {
    /// The path in the repo, `/`-separated.
    pub path: String,
    /// Where the bytes come from.
    pub content: SeedContent,
}

/// The bytes of a [`SeedFile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedContent {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A file on disk, streamed (never loaded whole into memory when stored with LFS).
    Path(PathBuf),
}

impl SeedRepo {
    fn new(repo_type: &str, repo_id: &str) -> Self {
        SeedRepo {
            repo_type: repo_type.to_string(),
            repo_id: repo_id.to_string(),
            private: false,
            gated: false,
            branch: "main".to_string(),
            message: "Upload files".to_string(),
            files: Vec::new(),
            tags: Vec::new(),
            delete: Vec::new(),
            downloads: 0,
            likes: 0,
        }
    }

    /// A model repo.
    pub fn model(repo_id: &str) -> Self {
        SeedRepo::new("model", repo_id)
    }

    /// A dataset repo.
    pub fn dataset(repo_id: &str) -> Self {
        SeedRepo::new("dataset", repo_id)
    }

    /// A space repo.
    pub fn space(repo_id: &str) -> Self {
        SeedRepo::new("space", repo_id)
    }

    /// Adds a file with these bytes.
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.push(SeedFile {
            path: path.to_string(),
            content: SeedContent::Bytes(content.into()),
        });
        self
    }

    /// Adds a file whose bytes are read from `source` when seeding, streamed.
    pub fn file_from_path(mut self, path: &str, source: &Path) -> Self {
        self.files.push(SeedFile {
            path: path.to_string(),
            content: SeedContent::Path(source.to_path_buf()),
        });
        self
    }

    /// Removes a file or folder in the same commit.
    pub fn delete(mut self, path: &str) -> Self {
        self.delete.push(path.to_string());
        self
    }

    /// Makes the repo private.
    pub fn private(mut self) -> Self {
        self.private = true;
        self
    }

    /// Makes the repo gated (`"auto"` approval).
    pub fn gated(mut self) -> Self {
        self.gated = true;
        self
    }

    /// Adds a Hub tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }

    /// Commits on this branch (or full ref) instead of `main`.
    pub fn branch(mut self, branch: &str) -> Self {
        self.branch = branch.to_string();
        self
    }

    /// Sets the commit message.
    pub fn message(mut self, message: &str) -> Self {
        self.message = message.to_string();
        self
    }

    /// Sets the download count.
    pub fn downloads(mut self, downloads: u64) -> Self {
        self.downloads = downloads;
        self
    }

    /// Sets the like count.
    pub fn likes(mut self, likes: u64) -> Self {
        self.likes = likes;
        self
    }
}

/// `len` deterministic bytes that do not compress (an xorshift stream from `seed`), for
/// file contents whose chunks, xorbs and dedupe must behave as real weights do.
pub fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}
