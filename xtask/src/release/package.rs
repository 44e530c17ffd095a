//! `cargo package` of the published crates, after a check of what each
//! package would hold: its README and license, and no test data, no Python
//! environment, no large file.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Workspace;
use crate::workspace::stdout_of;

/// The largest file a package may hold.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Folders whose files never belong in a package: test data, fixtures,
/// property-test seeds, Python environments and caches, build output.
const UNWANTED_FOLDERS: [&str; 10] = [
    "testdata",
    "test-data",
    "test_data",
    "fixtures",
    "proptest-regressions",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    "target",
];

/// Checks every crate's file list, then packages them all (the workspace's
/// own dependencies resolved locally), without the verification build.
pub(super) fn run(ws: &Workspace, crates: &[&str]) -> Result<()> {
    let mut problems = Vec::new();
    for name in crates {
        let files = file_list(ws, name)?;
        problems.extend(check_file_list(name, &ws.path(&crate_dir(name)), &files));
    }
    if !problems.is_empty() {
        bail!("the packages would be wrong:\n  {}", problems.join("\n  "));
    }
    eprintln!(
        "file lists of {} crates: README, license, nothing unwanted",
        crates.len()
    );
    let mut cmd = ws.cargo();
    cmd.args(["package", "--no-verify", "--allow-dirty"]);
    for name in crates {
        cmd.args(["-p", name]);
    }
    ws.run(&mut cmd)
}

/// The folder of a published crate, relative to the root.
pub(crate) fn crate_dir(name: &str) -> String {
    match name {
        "huggingface-cli" => "cli".to_owned(),
        name => format!("crates/{name}"),
    }
}

/// `cargo package --list`: the files the package would hold.
pub(crate) fn file_list(ws: &Workspace, name: &str) -> Result<Vec<String>> {
    let listed = stdout_of(ws.cargo().args(["package", "--list", "--allow-dirty", "-p", name]))
        .with_context(|| format!("failed to list the package of {name}"))?;
    Ok(String::from_utf8_lossy(&listed)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}

/// What is wrong with a package of the files `files` (relative to `dir`).
pub(crate) fn check_file_list(name: &str, dir: &Path, files: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if !files.iter().any(|f| f == "README.md") {
        problems.push(format!("{name}: no README.md"));
    }
    if !files.iter().any(|f| is_license(f)) {
        problems.push(format!("{name}: no LICENSE file"));
    }
    for file in files {
        let path = Path::new(file);
        let unwanted = path
            .components()
            .any(|c| UNWANTED_FOLDERS.contains(&c.as_os_str().to_string_lossy().as_ref()));
        if unwanted || file.ends_with(".pyc") {
            problems.push(format!("{name}: {file} is not part of the crate"));
        }
        // Files cargo makes (Cargo.toml.orig, .cargo_vcs_info.json, the
        // lock file of a binary) are not in the folder, and are small.
        if let Ok(meta) = std::fs::metadata(dir.join(path))
            && meta.len() > MAX_FILE_BYTES
        {
            problems.push(format!(
                "{name}: {file} is {} bytes, over the {MAX_FILE_BYTES} a package file may have",
                meta.len()
            ));
        }
    }
    problems
}

fn is_license(file: &str) -> bool {
    !file.contains('/') && ["LICENSE", "LICENCE", "COPYING"].iter().any(|p| file.starts_with(p))
}
