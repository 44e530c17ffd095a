//! `cargo xtask release VERSION`: one release, from a clean tree to an
//! annotated tag, one step a file.
//!
//! 1. `preflight`: the tree is clean, VERSION is above the current version,
//!    its tag is free, and the semver tool is there when it will be needed.
//! 2. `checks`: `cargo xtask ci`.
//! 3. `manifests`: the workspace version and every internal dependency's
//!    version, and `Cargo.lock`.
//! 4. `changelog`: a new `CHANGELOG.md` section from the commits since the
//!    last `v*` tag, by crate and kind.
//! 5. `semver_check`: each library's public API against the last tag.
//! 6. `package`: each published crate's file list checked, then packaged.
//! 7. `git`: the commit `release: vVERSION` and the annotated tag.
//! 8. `publish` (with `--publish`): `cargo publish` in dependency order.
//!
//! Nothing is ever pushed. `--dry-run` prints every step and changes nothing;
//! a step that fails after the files were edited puts them back.

mod changelog;
mod checks;
mod git;
mod manifests;
mod package;
mod preflight;
mod publish;
mod semver_check;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use semver::Version;

use crate::workspace::{describe, root, run_command};

/// The published crates, each after the crates it depends on: the order
/// `cargo publish` needs.
pub(crate) const PUBLISHED: [&str; 6] = [
    "hub-url",
    "hub-api",
    "hub-repo",
    "hub-cache",
    "hub-lfs",
    "huggingface-cli",
];

/// The published libraries, whose public API the semver check compares.
const LIBRARIES: [&str; 5] = ["hub-url", "hub-api", "hub-repo", "hub-cache", "hub-lfs"];

const USAGE: &str =
    "usage: cargo xtask release VERSION [--dry-run] [--publish] [--skip-checks] [--skip-semver] [--skip-package]";

/// What `cargo xtask release` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseOptions {
    /// The version to release.
    pub(crate) version: Version,
    /// Print every step, change nothing.
    pub(crate) dry_run: bool,
    /// Run `cargo publish` for every published crate after tagging.
    pub(crate) publish: bool,
    /// Leave out `cargo xtask ci`.
    pub(crate) skip_checks: bool,
    /// Leave out the semver check of the libraries.
    pub(crate) skip_semver: bool,
    /// Leave out `cargo package` and its file-list check.
    pub(crate) skip_package: bool,
}

impl ReleaseOptions {
    /// Options for VERSION with every step on and nothing skipped.
    pub(crate) fn new(version: Version) -> Self {
        ReleaseOptions {
            version,
            dry_run: false,
            publish: false,
            skip_checks: false,
            skip_semver: false,
            skip_package: false,
        }
    }

    fn parse(args: &[String]) -> Result<Self> {
        let mut version = None;
        let mut options = ReleaseOptions::new(Version::new(0, 0, 0));
        for arg in args {
            match arg.as_str() {
                "--dry-run" => options.dry_run = true,
                "--publish" => options.publish = true,
                "--skip-checks" => options.skip_checks = true,
                "--skip-semver" => options.skip_semver = true,
                "--skip-package" => options.skip_package = true,
                flag if flag.starts_with('-') => bail!("unknown option {flag:?}\n{USAGE}"),
                text if version.is_none() => {
                    let text = text.strip_prefix('v').unwrap_or(text);
                    version = Some(Version::parse(text).with_context(|| format!("{text:?} is not a semver version"))?);
                }
                extra => bail!("unexpected argument {extra:?}\n{USAGE}"),
            }
        }
        options.version = version.with_context(|| format!("no version given\n{USAGE}"))?;
        Ok(options)
    }
}

/// `cargo xtask release …` on this workspace.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = ReleaseOptions::parse(args)?;
    release(&root(), &options)
}

/// The repository a release runs in, and whether it only tells.
pub(crate) struct Workspace {
    root: PathBuf,
    dry_run: bool,
}

impl Workspace {
    fn step(&self, title: &str) {
        let mode = if self.dry_run { " (dry run)" } else { "" };
        eprintln!("==> {title}{mode}");
    }

    /// A command run in the repository.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root);
        cmd
    }

    /// `git` in the repository.
    fn git(&self) -> Command {
        self.command("git")
    }

    /// The cargo that runs this task, in the repository.
    fn cargo(&self) -> Command {
        self.command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
    }

    /// Runs a command; in a dry run, only prints it.
    fn run(&self, cmd: &mut Command) -> Result<()> {
        if self.dry_run {
            eprintln!("would run: {}", describe(cmd));
            return Ok(());
        }
        run_command(cmd)
    }

    /// Writes a file; in a dry run, only says so.
    fn write(&self, relative: &str, text: &str) -> Result<()> {
        let path = self.root.join(relative);
        if self.dry_run {
            eprintln!("would write {}", path.display());
            return Ok(());
        }
        std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

/// Runs every step of a release of the repository at `root`.
pub(crate) fn release(root: &Path, options: &ReleaseOptions) -> Result<()> {
    let ws = Workspace {
        root: root.to_path_buf(),
        dry_run: options.dry_run,
    };
    let tag = format!("v{}", options.version);

    ws.step(&format!("preflight for {tag}"));
    let plan = preflight::check(&ws, options)?;
    eprintln!(
        "{} -> {}; last release: {}",
        plan.current,
        options.version,
        plan.previous_tag.as_deref().unwrap_or("none")
    );

    ws.step("CI checks");
    if options.skip_checks {
        eprintln!("skipped (--skip-checks)");
    } else {
        checks::run(&ws)?;
    }

    // From here on files change: a failure puts them back as they were.
    let mut edited = Vec::new();
    let notes = match edit_and_check(&ws, options, &plan, &mut edited) {
        Ok(notes) => notes,
        Err(err) => {
            if !ws.dry_run {
                git::restore(&ws, &edited).context("failed to undo the release's edits")?;
                eprintln!("the release's edits were undone: {}", edited.join(", "));
            }
            return Err(err);
        }
    };

    ws.step(&format!("commit and tag {tag}"));
    git::commit_and_tag(&ws, &edited, &tag, &notes)?;

    if options.publish {
        ws.step("publish to crates.io");
        publish::run(&ws, &PUBLISHED)?;
    }
    if ws.dry_run {
        eprintln!("dry run: nothing was changed");
    } else {
        eprintln!("released {tag}; nothing was pushed: `git push origin HEAD {tag}` shares it");
    }
    Ok(())
}

/// The steps that edit files, and the checks of what they made; returns the
/// new changelog section. `edited` gets every file changed, for the commit or
/// for the undo.
fn edit_and_check(
    ws: &Workspace,
    options: &ReleaseOptions,
    plan: &preflight::Plan,
    edited: &mut Vec<String>,
) -> Result<String> {
    ws.step(&format!("bump every version to {}", options.version));
    edited.extend(manifests::bump(ws, &options.version)?);

    ws.step("roll CHANGELOG.md");
    let rolled = changelog::roll(ws, &options.version, plan.previous_tag.as_deref())?;
    edited.push(rolled.path);

    ws.step("semver check of the libraries");
    match (&plan.previous_tag, options.skip_semver) {
        (None, _) => eprintln!("no earlier release: nothing to compare with"),
        (Some(_), true) => eprintln!("skipped (--skip-semver)"),
        (Some(previous), false) => semver_check::run(ws, previous, &LIBRARIES)?,
    }

    ws.step("package the published crates");
    if options.skip_package {
        eprintln!("skipped (--skip-package)");
    } else {
        package::run(ws, &PUBLISHED)?;
    }
    Ok(rolled.section)
}
