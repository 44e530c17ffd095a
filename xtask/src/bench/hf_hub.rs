//! The `hf-hub` crate 1.0, the Rust client users compare against, as a column
//! of the download benchmark.
//!
//! It runs as a small program, `xtask/drivers/hf-hub-driver`, a workspace of
//! its own with its own `Cargo.lock`, so that neither the product's build nor
//! `cargo xtask ci` ever compiles hf-hub and its tree (tokio, reqwest, hf-xet):
//! it is built here, into `target/drivers`, only when the benchmark runs.

use std::path::PathBuf;

use anyhow::Result;

use crate::workspace::{cargo, root, run_command, target_dir};

/// The version the driver's manifest pins, for the notes.
pub(crate) const VERSION: &str = "1.0.0";

/// Builds the driver (release, `--locked`) and returns its binary.
pub(crate) fn build_driver() -> Result<PathBuf> {
    let manifest = root()
        .join("xtask")
        .join("drivers")
        .join("hf-hub-driver")
        .join("Cargo.toml");
    let target = target_dir().join("drivers");
    eprintln!("building the hf-hub {VERSION} driver (its first build takes minutes)");
    run_command(
        cargo()
            .args(["build", "--release", "--quiet", "--locked", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            // The driver is a workspace of its own: none of this one's settings apply.
            .env_remove("CARGO_TARGET_DIR"),
    )?;
    Ok(target.join("release").join("hf-hub-driver"))
}
