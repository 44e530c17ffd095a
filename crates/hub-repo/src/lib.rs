//! `Repository`: a Hub repo checked out with the user's own `git` and `git-lfs`.
//!
//! **Not implemented yet.** This crate will drive `git` and `git-lfs` as
//! processes to clone a Hub repo, add files with automatic LFS tracking,
//! commit, pull and push, and offer a `commit` scope that pushes on success.
//! It depends only on `hub-url`; nothing here talks HTTP itself.
