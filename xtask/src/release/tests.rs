//! Whole releases on a clone of this repository's HEAD in a temporary
//! folder, with `--skip-checks` and `--skip-package` (packaging is checked on
//! its own below): the versions, the changelog, the commit, the tag, and the
//! refusals.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use semver::Version;
use tempfile::TempDir;
use toml_edit::DocumentMut;

use super::git::RELEASE_SUBJECT;
use super::package::{check_file_list, crate_dir, file_list};
use super::{LIBRARIES, PUBLISHED, ReleaseOptions, Workspace, manifests, release};
use crate::workspace::{root, stdout_of};

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = stdout_of(Command::new("git").current_dir(dir).args(args))?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// A clone of HEAD, its commit and its version.
struct Copy {
    dir: TempDir,
    head: String,
    current: Version,
}

impl Copy {
    fn new() -> Result<Self> {
        let dir = clone_of_head()?;
        let head = git(dir.path(), &["rev-parse", "HEAD"])?;
        let current = manifests::current_version(&workspace(dir.path()))?;
        Ok(Copy { dir, head, current })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fails unless HEAD is where it was and no tag was made.
    fn assert_unchanged(&self) -> Result<()> {
        assert_eq!(git(self.path(), &["rev-parse", "HEAD"])?, self.head);
        assert_eq!(git(self.path(), &["tag", "--list"])?, "");
        Ok(())
    }
}

/// A clone of HEAD with an identity to commit with and no release tags.
fn clone_of_head() -> Result<TempDir> {
    let dir = tempfile::tempdir()?;
    let source = root();
    let source = source.to_str().context("a UTF-8 root")?;
    let target = dir.path().to_str().context("a UTF-8 temp dir")?;
    git(Path::new("."), &["clone", "--quiet", source, target])?;
    for (key, value) in [
        ("user.name", "Release Test"),
        ("user.email", "release-test@example.invalid"),
        ("commit.gpgsign", "false"),
        ("tag.gpgsign", "false"),
    ] {
        git(dir.path(), &["config", key, value])?;
    }
    for tag in git(dir.path(), &["tag", "--list", "v*"])?.lines() {
        git(dir.path(), &["tag", "-d", tag])?;
    }
    Ok(dir)
}

fn workspace(dir: &Path) -> Workspace {
    Workspace {
        root: dir.to_path_buf(),
        dry_run: false,
    }
}

fn quick(version: &Version) -> ReleaseOptions {
    ReleaseOptions {
        skip_checks: true,
        skip_package: true,
        ..ReleaseOptions::new(version.clone())
    }
}

fn read_toml(path: &Path) -> Result<DocumentMut> {
    Ok(std::fs::read_to_string(path)?.parse()?)
}

/// The newest section of the changelog.
fn newest_section(dir: &Path) -> Result<String> {
    let text = std::fs::read_to_string(dir.join("CHANGELOG.md"))?;
    let start = text.find("\n## ").context("a release section")? + 1;
    let end = text[start + 1..].find("\n## ").map_or(text.len(), |i| start + 2 + i);
    Ok(text[start..end].to_owned())
}

fn assert_released(dir: &Path, version: &Version) -> Result<()> {
    let new = version.to_string();
    let manifest = read_toml(&dir.join("Cargo.toml"))?;
    assert_eq!(manifest["workspace"]["package"]["version"].as_str(), Some(new.as_str()));
    let dependencies = manifest["workspace"]["dependencies"]
        .as_table_like()
        .context("workspace dependencies")?;
    for name in PUBLISHED.iter().filter(|n| **n != "huggingface-cli") {
        let version = dependencies
            .get(name)
            .and_then(|d| d.get("version"))
            .and_then(|v| v.as_str());
        assert_eq!(version, Some(new.as_str()), "the {name} dependency");
    }
    let lock = read_toml(&dir.join("Cargo.lock"))?;
    let packages = lock["package"].as_array_of_tables().context("lock packages")?;
    let own: Vec<_> = packages.iter().filter(|p| !p.contains_key("source")).collect();
    assert!(own.len() >= PUBLISHED.len());
    for package in own {
        assert_eq!(package["version"].as_str(), Some(new.as_str()), "{package}");
    }

    let tag = format!("v{new}");
    assert_eq!(git(dir, &["log", "-1", "--format=%s"])?, format!("release: {tag}"));
    assert_eq!(git(dir, &["cat-file", "-t", &tag])?, "tag", "an annotated tag");
    assert_eq!(
        git(dir, &["rev-parse", &format!("{tag}^{{commit}}")])?,
        git(dir, &["rev-parse", "HEAD"])?
    );
    let message = git(dir, &["tag", "--list", "--format=%(contents)", &tag])?;
    assert!(message.contains(&format!("## {new} (")), "{message}");
    assert_eq!(
        git(dir, &["status", "--porcelain"])?,
        "",
        "the release commit holds every edit"
    );
    Ok(())
}

fn next_minor(version: &Version, step: u64) -> Version {
    Version::new(version.major, version.minor + step, 0)
}

#[test]
fn release_bumps_versions_rolls_the_changelog_commits_and_tags() -> Result<()> {
    let copy = Copy::new()?;
    let (dir, current) = (&copy.dir, &copy.current);

    let first = next_minor(current, 1);
    release(dir.path(), &quick(&first))?;
    assert_released(dir.path(), &first)?;
    let changelog = std::fs::read_to_string(dir.path().join("CHANGELOG.md"))?;
    assert!(changelog.starts_with("# Changelog\n"), "{changelog}");
    let section = newest_section(dir.path())?;
    assert!(section.starts_with(&format!("## {first} (20")), "{section}");
    for part in ["### hub-url", "### hub-cache", "### huggingface-cli", "#### Changed"] {
        assert!(section.contains(part), "{part} in {section}");
    }
    // Every commit of the history, as there was no release before.
    let mut listed: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("- ")?.rsplit_once(" (")?.1.strip_suffix(')'))
        .collect();
    listed.sort_unstable();
    listed.dedup();
    let history = git(dir.path(), &["log", "--no-merges", "--format=%s", "HEAD~1"])?;
    let history = history.lines().filter(|s| !s.starts_with(RELEASE_SUBJECT)).count();
    assert_eq!(listed.len(), history, "{section}");

    // A fix to the CLI, then the next release: only that commit is new.
    std::fs::write(dir.path().join("cli/README.md"), "# huggingface-cli\n")?;
    git(dir.path(), &["commit", "--quiet", "-am", "fix: the CLI readme"])?;
    let second = next_minor(current, 2);
    let semver_tool = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["semver-checks", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !semver_tool {
        let err = release(dir.path(), &quick(&second)).expect_err("the semver tool is missing");
        assert!(
            format!("{err:#}").contains("cargo install cargo-semver-checks --locked"),
            "{err:#}"
        );
        assert_eq!(
            git(dir.path(), &["status", "--porcelain"])?,
            "",
            "a refusal changes nothing"
        );
    }
    release(
        dir.path(),
        &ReleaseOptions {
            skip_semver: true,
            ..quick(&second)
        },
    )?;
    assert_released(dir.path(), &second)?;
    let section = newest_section(dir.path())?;
    assert!(section.starts_with(&format!("## {second} (")), "{section}");
    assert!(
        section.contains("### huggingface-cli\n\n#### Fixed\n\n- fix: the CLI readme ("),
        "{section}"
    );
    assert_eq!(
        section.matches("\n- ").count(),
        1,
        "only the commit since {first}: {section}"
    );
    let changelog = std::fs::read_to_string(dir.path().join("CHANGELOG.md"))?;
    assert!(changelog.find(&format!("## {second}")) < changelog.find(&format!("## {first}")));

    // The lock file still matches the manifests. The output is kept to this
    // machine's platform: other platforms' packages (clap's Windows console
    // crates) need not be in the offline package cache.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let host = crate::dist::host_triple()?;
    stdout_of(Command::new(cargo).current_dir(dir.path()).args([
        "metadata",
        "--locked",
        "--offline",
        "--format-version",
        "1",
        "--filter-platform",
        &host,
    ]))?;
    Ok(())
}

#[test]
fn release_refuses_a_dirty_tree_and_versions_not_above() -> Result<()> {
    let copy = Copy::new()?;
    let (dir, current) = (&copy.dir, copy.current.clone());

    let err = release(dir.path(), &quick(&current)).expect_err("the same version");
    assert!(
        format!("{err:#}").contains("is not above the current version"),
        "{err:#}"
    );
    let lower = Version::new(0, 0, 1);
    ensure!(lower < current, "the workspace version is above 0.0.1");
    let err = release(dir.path(), &quick(&lower)).expect_err("a lower version");
    assert!(format!("{err:#}").contains("is not above"), "{err:#}");

    let next = next_minor(&current, 1);
    std::fs::write(dir.path().join("notes.txt"), "not committed")?;
    let err = release(dir.path(), &quick(&next)).expect_err("an untracked file");
    assert!(format!("{err:#}").contains("uncommitted changes"), "{err:#}");
    std::fs::remove_file(dir.path().join("notes.txt"))?;
    std::fs::write(dir.path().join("README.md"), "changed")?;
    let err = release(dir.path(), &quick(&next)).expect_err("a modified file");
    assert!(format!("{err:#}").contains("README.md"), "{err:#}");

    copy.assert_unchanged()
}

#[test]
fn dry_run_with_publish_changes_nothing() -> Result<()> {
    let copy = Copy::new()?;
    let options = ReleaseOptions {
        dry_run: true,
        publish: true,
        ..quick(&next_minor(&copy.current, 1))
    };
    release(copy.path(), &options)?;
    assert_eq!(git(copy.path(), &["status", "--porcelain", "--ignored"])?, "");
    copy.assert_unchanged()
}

#[test]
fn options_parse_from_the_command_line() -> Result<()> {
    let args = ["v1.2.3-rc.1", "--dry-run", "--publish", "--skip-semver"].map(String::from);
    let options = ReleaseOptions::parse(&args)?;
    assert_eq!(options.version, Version::parse("1.2.3-rc.1")?);
    assert!(options.dry_run && options.publish && options.skip_semver);
    assert!(!options.skip_checks && !options.skip_package);
    assert!(ReleaseOptions::parse(&["1.2".into()]).is_err());
    assert!(ReleaseOptions::parse(&["1.2.3".into(), "--push".into()]).is_err());
    assert!(ReleaseOptions::parse(&[]).is_err());
    Ok(())
}

#[test]
fn published_crates_come_after_their_dependencies() -> Result<()> {
    for (position, name) in PUBLISHED.iter().enumerate() {
        let manifest = read_toml(&root().join(crate_dir(name)).join("Cargo.toml"))?;
        assert_eq!(manifest["package"]["name"].as_str(), Some(*name));
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(dependencies) = manifest.get(table).and_then(|t| t.as_table_like()) else {
                continue;
            };
            for (dependency, _) in dependencies.iter() {
                if let Some(at) = PUBLISHED.iter().position(|p| *p == dependency) {
                    assert!(at < position, "{name} needs {dependency} published first");
                }
            }
        }
    }
    assert!(LIBRARIES.iter().all(|l| PUBLISHED.contains(l)));
    Ok(())
}

#[test]
fn the_published_crates_pack_readme_and_license_and_nothing_unwanted() -> Result<()> {
    let ws = workspace(&root());
    for name in PUBLISHED {
        let files = file_list(&ws, name)?;
        assert!(files.iter().any(|f| f.starts_with("src/")), "{name}: {files:?}");
        let problems = check_file_list(name, &ws.path(&crate_dir(name)), &files);
        assert!(problems.is_empty(), "{problems:?}");
    }
    Ok(())
}

#[test]
fn file_list_check_finds_what_does_not_belong() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("tests/data"))?;
    std::fs::write(dir.path().join("big.bin"), vec![0u8; 2 * 1024 * 1024])?;
    let files = [
        "Cargo.toml",
        "Cargo.toml.orig",
        "src/lib.rs",
        "big.bin",
        "tests/fixtures/a.json",
        ".venv/bin/python",
        "proptest-regressions/x.txt",
        "src/__pycache__/m.pyc",
    ]
    .map(String::from);
    let problems = check_file_list("demo", dir.path(), &files);
    let all = problems.join("\n");
    for expected in [
        "no README.md",
        "no LICENSE",
        "big.bin is 2097152 bytes",
        "tests/fixtures/a.json",
        ".venv/bin/python",
        "proptest-regressions/x.txt",
        "src/__pycache__/m.pyc",
    ] {
        assert!(all.contains(expected), "{expected} in {all}");
    }
    assert_eq!(problems.len(), 7, "{all}");

    let good = ["README.md", "LICENSE", "Cargo.toml", "src/lib.rs"].map(String::from);
    assert!(check_file_list("demo", dir.path(), &good).is_empty());
    Ok(())
}
