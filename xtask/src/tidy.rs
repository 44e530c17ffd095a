//! `cargo xtask tidy`: what makes the crates publishable and keeps the house
//! rules that no compiler checks.
//!
//! Every crate under `crates/` and `cli/` has a README, `[lints] workspace =
//! true`, a crate doc (`//!`) that, for a library, shows an example, the
//! registry's metadata (description, license, repository, readme, at most
//! five keywords, categories crates.io knows) and is not `publish = false`;
//! `tests/` and `xtask/` are. Only `hub_url::HubConfig::from_env` (in
//! `crates/hub-url/src/config.rs`) reads the environment: elsewhere a read
//! needs `#[allow(clippy::disallowed_methods)] // why` just above it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, Item};

use crate::workspace::root;

/// The category slugs crates.io accepts (its `categories.toml`).
const CATEGORIES: &[&str] = &[
    "algorithms",
    "api-bindings",
    "asynchronous",
    "authentication",
    "caching",
    "command-line-interface",
    "command-line-utilities",
    "compression",
    "computer-vision",
    "concurrency",
    "config",
    "cryptography",
    "cryptography::cryptocurrencies",
    "data-structures",
    "database",
    "database-implementations",
    "date-and-time",
    "development-tools",
    "development-tools::build-utils",
    "development-tools::cargo-plugins",
    "development-tools::debugging",
    "development-tools::ffi",
    "development-tools::procedural-macro-helpers",
    "development-tools::profiling",
    "development-tools::testing",
    "email",
    "embedded",
    "emulators",
    "encoding",
    "external-ffi-bindings",
    "filesystem",
    "game-development",
    "game-engines",
    "games",
    "graphics",
    "gui",
    "hardware-support",
    "internationalization",
    "localization",
    "mathematics",
    "memory-management",
    "multimedia",
    "multimedia::audio",
    "multimedia::encoding",
    "multimedia::images",
    "multimedia::video",
    "network-programming",
    "no-std",
    "os",
    "os::linux-apis",
    "os::macos-apis",
    "os::unix-apis",
    "os::windows-apis",
    "parser-implementations",
    "parsing",
    "rendering",
    "rendering::data-formats",
    "rendering::engine",
    "rendering::graphics-api",
    "rust-patterns",
    "science",
    "science::robotics",
    "simulation",
    "template-engine",
    "text-editors",
    "text-processing",
    "value-formatting",
    "visualization",
    "wasm",
    "web-programming",
    "web-programming::http-client",
    "web-programming::http-server",
    "web-programming::websocket",
];

/// The one file allowed to read the environment.
const ENVIRONMENT_READER: &str = "crates/hub-url/src/config.rs";

/// Calls that read the environment (clippy.toml's `disallowed-methods`).
const ENVIRONMENT_READS: [&str; 4] = ["env::var(", "env::var_os(", "env::vars(", "env::vars_os("];

/// How many lines above a read its `#[allow(clippy::disallowed_methods)]` may be.
const ALLOW_REACH: usize = 3;

pub(crate) fn run() -> Result<()> {
    let problems = check(&root())?;
    if !problems.is_empty() {
        bail!("tidy found {} problem(s):\n  {}", problems.len(), problems.join("\n  "));
    }
    eprintln!("tidy: every crate is ready to publish, and the environment is read in one place");
    Ok(())
}

/// Every problem in the workspace at `root`, one line each.
pub(crate) fn check(root: &Path) -> Result<Vec<String>> {
    let workspace = read_manifest(&root.join("Cargo.toml"))?;
    let mut problems = Vec::new();
    for dir in published_crate_dirs(root)? {
        check_crate(root, &dir, &workspace, &mut problems)?;
    }
    for unpublished in ["tests", "xtask"] {
        let manifest_path = root.join(unpublished).join("Cargo.toml");
        if manifest_path.is_file() {
            let manifest = read_manifest(&manifest_path)?;
            if !matches!(
                inherited(&manifest, &workspace, "publish").and_then(Item::as_bool),
                Some(false)
            ) {
                problems.push(format!("{unpublished}/Cargo.toml: needs `publish = false`"));
            }
        }
    }
    for dir in source_dirs(root)? {
        check_environment_reads(root, &dir, &mut problems)?;
    }
    Ok(problems)
}

/// `crates/*` and `cli`, relative to the root.
fn published_crate_dirs(root: &Path) -> Result<Vec<String>> {
    let mut dirs = Vec::new();
    let crates = root.join("crates");
    if crates.is_dir() {
        let entries = std::fs::read_dir(&crates).with_context(|| format!("failed to list {}", crates.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("failed to list {}", crates.display()))?;
            if entry.path().join("Cargo.toml").is_file() {
                dirs.push(format!("crates/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    dirs.sort();
    if root.join("cli/Cargo.toml").is_file() {
        dirs.push("cli".to_owned());
    }
    Ok(dirs)
}

fn source_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(published_crate_dirs(root)?
        .into_iter()
        .map(|dir| root.join(dir).join("src"))
        .filter(|dir| dir.is_dir())
        .collect())
}

fn read_manifest(path: &Path) -> Result<DocumentMut> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    text.parse()
        .with_context(|| format!("failed to parse {}", path.display()))
}

/// A `[package]` field, followed to `[workspace.package]` when inherited.
fn inherited<'a>(manifest: &'a DocumentMut, workspace: &'a DocumentMut, key: &str) -> Option<&'a Item> {
    let item = manifest.get("package")?.get(key)?;
    let from_workspace = item
        .as_table_like()
        .and_then(|t| t.get("workspace"))
        .and_then(Item::as_bool);
    match from_workspace {
        Some(true) => workspace.get("workspace")?.get("package")?.get(key),
        _ => Some(item),
    }
}

fn check_crate(root: &Path, dir: &str, workspace: &DocumentMut, problems: &mut Vec<String>) -> Result<()> {
    let path = root.join(dir);
    let manifest = read_manifest(&path.join("Cargo.toml"))?;
    let mut problem = |text: String| problems.push(format!("{dir}: {text}"));

    if !path.join("README.md").is_file() {
        problem("no README.md".to_owned());
    }
    let lints = manifest
        .get("lints")
        .and_then(|l| l.get("workspace"))
        .and_then(Item::as_bool);
    if lints != Some(true) {
        problem("needs `[lints] workspace = true`".to_owned());
    }
    for key in ["description", "license", "repository"] {
        let text = inherited(&manifest, workspace, key).and_then(Item::as_str);
        if text.is_none_or(|t| t.trim().is_empty()) {
            problem(format!("no `{key}` in [package]"));
        }
    }
    match inherited(&manifest, workspace, "readme").and_then(Item::as_str) {
        Some(readme) if path.join(readme).is_file() => {}
        Some(readme) => problem(format!("`readme = {readme:?}` names no file")),
        None => problem("no `readme` in [package]".to_owned()),
    }
    let keywords = string_list(inherited(&manifest, workspace, "keywords"));
    if keywords.is_empty() || keywords.len() > 5 {
        problem(format!("needs 1 to 5 `keywords`, has {}", keywords.len()));
    }
    for keyword in keywords.iter().filter(|k| !is_valid_keyword(k)) {
        problem(format!(
            "keyword {keyword:?}: crates.io takes up to 20 ASCII letters, digits, `-`, `_`, `+`, starting with a letter or digit"
        ));
    }
    let categories = string_list(inherited(&manifest, workspace, "categories"));
    if categories.is_empty() || categories.len() > 5 {
        problem(format!("needs 1 to 5 `categories`, has {}", categories.len()));
    }
    for category in categories.iter().filter(|c| !CATEGORIES.contains(&c.as_str())) {
        problem(format!("category {category:?} is not a crates.io category slug"));
    }
    if let Some(false) = inherited(&manifest, workspace, "publish").and_then(Item::as_bool) {
        problem("`publish = false`, but this crate is published".to_owned());
    }

    let (crate_root, library) = if path.join("src/lib.rs").is_file() {
        ("src/lib.rs", true)
    } else {
        ("src/main.rs", false)
    };
    match std::fs::read_to_string(path.join(crate_root)) {
        Ok(source) => {
            let doc: Vec<&str> = source
                .lines()
                .map(str::trim_start)
                .skip_while(|l| l.is_empty())
                .take_while(|l| l.starts_with("//!"))
                .collect();
            if doc.is_empty() {
                problem(format!("{crate_root} opens with no crate doc (`//!`)"));
            } else if library
                && !doc
                    .iter()
                    .any(|l| l.trim_start_matches("//!").trim_start().starts_with("```"))
            {
                problem(format!("the crate doc of {crate_root} shows no example (a ``` block)"));
            }
        }
        Err(_) => problem("has neither src/lib.rs nor src/main.rs".to_owned()),
    }
    Ok(())
}

fn string_list(item: Option<&Item>) -> Vec<String> {
    item.and_then(Item::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn is_valid_keyword(keyword: &str) -> bool {
    keyword.len() <= 20
        && keyword.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && keyword
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'))
}

/// Reads of the environment in `dir` (recursively), outside the one reader,
/// not sanctioned by an `#[allow(clippy::disallowed_methods)]` with a reason
/// just above; and crate-wide allows, which would silence clippy's own check.
fn check_environment_reads(root: &Path, dir: &Path, problems: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("failed to list {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            check_environment_reads(root, &path, problems)?;
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if relative == ENVIRONMENT_READER {
            continue;
        }
        let source = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
        problems.extend(environment_problems(&relative, &source));
    }
    Ok(())
}

fn environment_problems(file: &str, source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut problems = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if code.contains("#![allow(clippy::disallowed_methods") {
            problems.push(format!(
                "{file}:{}: a crate-wide allow of clippy::disallowed_methods hides reads of the environment",
                index + 1
            ));
        }
        if !ENVIRONMENT_READS.iter().any(|read| code.contains(read)) {
            continue;
        }
        let sanctioned = lines[index.saturating_sub(ALLOW_REACH)..index]
            .iter()
            .any(|above| is_allow_with_reason(above));
        if !sanctioned {
            problems.push(format!(
                "{file}:{}: reads the environment; only hub_url::HubConfig::from_env may \
                 (or `#[allow(clippy::disallowed_methods)] // why` just above)",
                index + 1
            ));
        }
    }
    problems
}

fn is_allow_with_reason(line: &str) -> bool {
    match line.split_once("#[allow(clippy::disallowed_methods)]") {
        Some((_, rest)) => rest
            .trim_start()
            .strip_prefix("//")
            .is_some_and(|reason| !reason.trim().is_empty()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_is_tidy() -> Result<()> {
        let problems = check(&root())?;
        assert!(problems.is_empty(), "{problems:#?}");
        Ok(())
    }

    fn write(dir: &Path, relative: &str, text: &str) -> Result<()> {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().context("a parent")?)?;
        std::fs::write(path, text)?;
        Ok(())
    }

    /// A manifest with everything tidy asks of a published crate.
    fn tidy_manifest(name: &str, category: &str) -> String {
        format!(
            "[package]\nname = \"{name}\"\ndescription = \"d\"\nlicense.workspace = true\n\
             repository.workspace = true\nreadme = \"README.md\"\nkeywords = [\"hub\"]\n\
             categories = [\"{category}\"]\n[lints]\nworkspace = true\n"
        )
    }

    #[test]
    fn tidy_finds_what_a_published_crate_lacks() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        write(
            root,
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\", \"cli\", \"tests\"]\n\
             [workspace.package]\nlicense = \"Apache-2.0\"\nrepository = \"https://example.invalid/r\"\n",
        )?;
        // A tidy library.
        write(
            root,
            "crates/good/Cargo.toml",
            &tidy_manifest("good", "web-programming::http-client"),
        )?;
        write(root, "crates/good/README.md", "# good\n")?;
        write(
            root,
            "crates/good/src/lib.rs",
            "//! Good.\n//!\n//! ```\n//! good::f();\n//! ```\n\n\
             #[allow(clippy::disallowed_methods)] // The test harness's own setting.\n\
             fn f() {\n    let _ = std::env::var(\"X\");\n}\n",
        )?;
        // An untidy one.
        write(
            root,
            "crates/bad/Cargo.toml",
            "[package]\nname = \"bad\"\npublish = false\n\
             keywords = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]\ncategories = [\"http\"]\n",
        )?;
        write(
            root,
            "crates/bad/src/lib.rs",
            "//! Bad, with no example.\n\nfn f() {\n    let _ = std::env::var_os(\"HOME\");\n}\n\
             #[allow(clippy::disallowed_methods)]\nfn g() {\n    let _ = std::env::var(\"A\");\n}\n",
        )?;
        write(
            root,
            "crates/bad/src/deep/inner.rs",
            "#![allow(clippy::disallowed_methods)]\n",
        )?;
        // A CLI with no crate doc, and an emulator that would be published.
        write(root, "cli/Cargo.toml", &tidy_manifest("cli", "command-line-utilities"))?;
        write(root, "cli/README.md", "# cli\n")?;
        write(root, "cli/src/main.rs", "fn main() {}\n")?;
        write(root, "tests/Cargo.toml", "[package]\nname = \"emulator\"\n")?;

        let problems = check(root)?;
        let all = problems.join("\n");
        for expected in [
            "crates/bad: no README.md",
            "crates/bad: needs `[lints] workspace = true`",
            "crates/bad: no `description`",
            "crates/bad: no `license`",
            "crates/bad: no `repository`",
            "crates/bad: no `readme`",
            "crates/bad: needs 1 to 5 `keywords`, has 6",
            "crates/bad: category \"http\"",
            "crates/bad: `publish = false`",
            "crates/bad: the crate doc of src/lib.rs shows no example",
            "crates/bad/src/lib.rs:4: reads the environment",
            "crates/bad/src/lib.rs:8: reads the environment",
            "crates/bad/src/deep/inner.rs:1: a crate-wide allow",
            "cli: src/main.rs opens with no crate doc",
            "tests/Cargo.toml: needs `publish = false`",
        ] {
            assert!(all.contains(expected), "{expected:?} in\n{all}");
        }
        assert_eq!(problems.len(), 15, "{all}");
        assert!(!all.contains("crates/good"), "{all}");
        Ok(())
    }

    #[test]
    fn keywords_follow_the_registry_rules() {
        assert!(is_valid_keyword("git-lfs"));
        assert!(is_valid_keyword("machine-learning"));
        assert!(is_valid_keyword("c++"));
        assert!(!is_valid_keyword("-lead"));
        assert!(!is_valid_keyword("two words"));
        assert!(!is_valid_keyword("a-keyword-over-twenty-chars"));
        assert!(!is_valid_keyword(""));
    }
}
