//! `cargo xtask ci`: what must pass before anything lands.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::workspace::run_command;
use crate::workspace::{cargo, root};

/// The Python client the conformance tests run, pinned.
pub(crate) const PYTHON_CLIENT: &str = "huggingface_hub==2.4.0";

pub(crate) fn run() -> Result<()> {
    crate::tidy::run()?;
    run_command(cargo().args(["fmt", "--all", "--check"]))?;
    run_command(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    run_command(
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    let python = python_client_venv()?;
    run_command(
        cargo()
            .args(["test", "--workspace", "--all-targets"])
            .env("HUB_TEST_PYTHON", &python),
    )?;
    run_command(cargo().args(["test", "--workspace", "--doc"]))?;
    Ok(())
}

/// A virtualenv in `.venv/` with the pinned Python client; made once.
pub(crate) fn python_client_venv() -> Result<PathBuf> {
    if let Some(python) = std::env::var_os("HUB_TEST_PYTHON") {
        return Ok(PathBuf::from(python));
    }
    let venv = root().join(".venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join(".hub-client-version");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(PYTHON_CLIENT) {
        return Ok(python);
    }
    let system_python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    run_command(Command::new(system_python).arg("-m").arg("venv").arg(&venv))?;
    run_command(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        PYTHON_CLIENT,
    ]))?;
    std::fs::write(&marker, PYTHON_CLIENT).with_context(|| format!("failed to write {}", marker.display()))?;
    Ok(python)
}
