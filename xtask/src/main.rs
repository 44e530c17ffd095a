//! `cargo xtask`: the project's chores.
//!
//! - `cargo xtask ci`: formatting, lints, docs and every test, as CI runs them.
//! - `cargo xtask demo`: a tour of `huggingface-cli` against the bundled local Hub.
//! - `cargo xtask bench download|download-xet|upload|upload-xet [--quick]`: transfer speed next to curl,
//!   aria2c and the Python client, on the bundled local Hub.
//! - `cargo xtask hardening [--quick]`: the CLI against a hub that lies, and
//!   the suites that keep it safe, as a table of cases per category.
//! - `cargo xtask tidy`: the crates' manifests, READMEs and docs are ready to
//!   publish, and only `HubConfig::from_env` reads the environment.
//! - `cargo xtask release VERSION [--dry-run] [--publish]`: versions,
//!   changelog, checks, packages, the release commit and its tag.
//! - `cargo xtask dist`: the release `huggingface-cli` with completions and
//!   man page, as a `.tar.gz` and its `.sha256`.

// A chore runner: it prints, and reads cargo's and the shell's variables.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)]

mod bench;
mod ci;
mod demo;
mod dist;
mod hardening;
mod release;
mod tidy;
mod workspace;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("demo") => demo::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("hardening") => hardening::run(&args[1..]),
        Some("tidy") => tidy::run(),
        Some("release") => release::run(&args[1..]),
        Some("dist") => dist::run(),
        _ => {
            eprintln!("usage: cargo xtask <ci|demo|bench|hardening|tidy|release|dist>");
            eprintln!("  ci     fmt check, clippy -D warnings, docs, and all tests");
            eprintln!("  demo   start the local Hub and show huggingface-cli at work");
            eprintln!(
                "  bench  download|download-xet|upload|upload-xet [--quick]: release-build transfer benchmarks against curl, aria2c, Python"
            );
            eprintln!(
                "  hardening [--quick]: the release CLI against a hub that lies, and the suites that keep it safe"
            );
            eprintln!("  tidy   manifests, READMEs and crate docs ready to publish; the environment read in one place");
            eprintln!("  release VERSION [--dry-run] [--publish] [--skip-checks] [--skip-semver] [--skip-package]");
            eprintln!("         bump, changelog, checks, package, commit and tag (never pushes)");
            eprintln!("  dist   release build of huggingface-cli, completions, man pages: target/dist/*.tar.gz");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
