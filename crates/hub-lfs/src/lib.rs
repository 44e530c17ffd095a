//! The git-lfs custom transfer agent for multipart uploads to the Hub.
//!
//! **Not implemented yet.** This crate will hold the agent that git-lfs runs
//! for objects over 5 GB (`huggingface-cli lfs-multipart-upload`), a loop over
//! the JSON-lines protocol on stdin and stdout, and `lfs-enable-largefiles`,
//! which configures a repo to use it. The part uploads themselves will come
//! from `hub-api`, so that one multipart routine serves both this agent and
//! `upload_file`.
