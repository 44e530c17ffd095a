//! Each library's public API against the last release, with
//! `cargo-semver-checks`: a breaking change needs a breaking version.

use anyhow::{Result, ensure};

use super::Workspace;

/// How to get the tool; its build is long, so CI does not install it.
const INSTALL: &str = "cargo install cargo-semver-checks --locked";

fn installed(ws: &Workspace) -> bool {
    ws.cargo()
        .args(["semver-checks", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Fails, saying how to install it, when `cargo semver-checks` is missing.
pub(super) fn ensure_installed(ws: &Workspace, previous: &str) -> Result<()> {
    ensure!(
        installed(ws),
        "cargo-semver-checks is not installed, and a release after {previous} checks the libraries' \
         public API against it: install it with `{INSTALL}`, or pass --skip-semver"
    );
    Ok(())
}

/// `cargo semver-checks check-release` of each crate against `previous`.
pub(super) fn run(ws: &Workspace, previous: &str, crates: &[&str]) -> Result<()> {
    for name in crates {
        ws.run(
            ws.cargo()
                .args(["semver-checks", "check-release", "--baseline-rev", previous, "-p", name]),
        )?;
    }
    Ok(())
}
