//! The version bump: `[workspace.package].version`, the version of every
//! internal path dependency (which crates.io needs), members that set their
//! own version, and the workspace's own packages in `Cargo.lock`, together.

use anyhow::{Context, Result};
use semver::Version;
use toml_edit::{DocumentMut, Item, Value};

use super::Workspace;

/// The tables of a manifest that list dependencies.
const DEPENDENCY_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

fn read(ws: &Workspace, relative: &str) -> Result<DocumentMut> {
    let path = ws.path(relative);
    let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
    text.parse()
        .with_context(|| format!("failed to parse {}", path.display()))
}

/// The version in the root manifest's `[workspace.package]`.
pub(super) fn current_version(ws: &Workspace) -> Result<Version> {
    let root = read(ws, "Cargo.toml")?;
    let text = root["workspace"]["package"]["version"]
        .as_str()
        .context("Cargo.toml has no [workspace.package] version")?;
    Version::parse(text).with_context(|| format!("the workspace version {text:?} is not semver"))
}

/// Sets every version to `new`; returns the files changed (relative paths).
pub(super) fn bump(ws: &Workspace, new: &Version) -> Result<Vec<String>> {
    let new = new.to_string();
    let mut root = read(ws, "Cargo.toml")?;
    let mut changed = Vec::new();
    let members = member_dirs(ws, &root)?;

    let mut edits = set_string(&mut root["workspace"]["package"]["version"], &new);
    edits += bump_path_dependencies(&mut root["workspace"]["dependencies"], &new);
    save(ws, "Cargo.toml", &root, edits, &mut changed)?;

    for dir in members {
        let relative = format!("{dir}/Cargo.toml");
        let mut manifest = read(ws, &relative)?;
        let mut edits = set_string(&mut manifest["package"]["version"], &new);
        edits += dependency_tables(&mut manifest)
            .into_iter()
            .map(|table| bump_path_dependencies(table, &new))
            .sum::<usize>();
        save(ws, &relative, &manifest, edits, &mut changed)?;
    }

    if ws.path("Cargo.lock").is_file() {
        let mut lock = read(ws, "Cargo.lock")?;
        let edits = bump_lock(&mut lock, &new);
        save(ws, "Cargo.lock", &lock, edits, &mut changed)?;
    }
    Ok(changed)
}

fn save(ws: &Workspace, relative: &str, doc: &DocumentMut, edits: usize, changed: &mut Vec<String>) -> Result<()> {
    if edits == 0 {
        return Ok(());
    }
    eprintln!("{relative}: {edits} version(s)");
    ws.write(relative, &doc.to_string())?;
    changed.push(relative.to_owned());
    Ok(())
}

/// The member folders, with `dir/*` globs expanded to the folders in `dir`
/// that hold a manifest.
fn member_dirs(ws: &Workspace, root: &DocumentMut) -> Result<Vec<String>> {
    let members = root["workspace"]["members"]
        .as_array()
        .context("Cargo.toml has no [workspace] members")?;
    let mut dirs = Vec::new();
    for member in members.iter().filter_map(Value::as_str) {
        match member.strip_suffix("/*") {
            Some(parent) => {
                let folder = ws.path(parent);
                let entries =
                    std::fs::read_dir(&folder).with_context(|| format!("failed to list {}", folder.display()))?;
                let mut found: Vec<String> = entries
                    .filter_map(|entry| entry.ok())
                    .filter(|entry| entry.path().join("Cargo.toml").is_file())
                    .map(|entry| format!("{parent}/{}", entry.file_name().to_string_lossy()))
                    .collect();
                found.sort();
                dirs.extend(found);
            }
            None => dirs.push(member.to_owned()),
        }
    }
    Ok(dirs)
}

/// `[dependencies]` and the like, at the top and under every `[target.…]`.
fn dependency_tables(manifest: &mut DocumentMut) -> Vec<&mut Item> {
    let mut tables = Vec::new();
    let mut targets = None;
    for (key, item) in manifest.iter_mut() {
        if DEPENDENCY_TABLES.contains(&key.get()) {
            tables.push(item);
        } else if key.get() == "target" {
            targets = Some(item);
        }
    }
    if let Some(targets) = targets.and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            if let Some(target) = target.as_table_like_mut() {
                for (key, item) in target.iter_mut() {
                    if DEPENDENCY_TABLES.contains(&key.get()) {
                        tables.push(item);
                    }
                }
            }
        }
    }
    tables
}

/// The dependencies with both a `path` and a `version` get `new`; returns how many.
fn bump_path_dependencies(table: &mut Item, new: &str) -> usize {
    let Some(table) = table.as_table_like_mut() else {
        return 0;
    };
    let mut edits = 0;
    for (_, dependency) in table.iter_mut() {
        if let Some(dependency) = dependency.as_table_like_mut()
            && dependency.contains_key("path")
            && let Some(version) = dependency.get_mut("version")
        {
            edits += set_string(version, new);
        }
    }
    edits
}

/// The workspace's own packages in `Cargo.lock`: those with no `source`.
fn bump_lock(lock: &mut DocumentMut, new: &str) -> usize {
    let Some(packages) = lock.get_mut("package").and_then(Item::as_array_of_tables_mut) else {
        return 0;
    };
    packages
        .iter_mut()
        .filter(|package| !package.contains_key("source"))
        .filter_map(|package| package.get_mut("version"))
        .map(|version| set_string(version, new))
        .sum()
}

/// Replaces a string value, keeping its spacing and comments; an absent or
/// inherited (`version.workspace = true`) value is left alone. Returns 1 for
/// a change, else 0.
fn set_string(item: &mut Item, new: &str) -> usize {
    let Some(value) = item.as_value_mut() else {
        return 0;
    };
    if value.as_str().is_none_or(|old| old == new) {
        return 0;
    }
    let decor = value.decor().clone();
    *value = Value::from(new);
    *value.decor_mut() = decor;
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> DocumentMut {
        text.parse().expect("valid TOML")
    }

    #[test]
    fn path_dependencies_with_a_version_are_bumped_and_layout_kept() {
        let mut root = doc(concat!(
            "[workspace.dependencies]\n",
            "hub-url = { path = \"crates/hub-url\", version = \"0.1.0\" } # the base\n",
            "hub-emulator = { path = \"tests\" }\n",
            "serde = { version = \"1\", features = [\"derive\"] }\n",
            "[workspace.dependencies.hub-api]\n",
            "path = \"crates/hub-api\"\n",
            "version = \"0.1.0\"\n",
        ));
        let edits = bump_path_dependencies(&mut root["workspace"]["dependencies"], "0.2.0");
        assert_eq!(edits, 2);
        let text = root.to_string();
        assert!(
            text.contains("hub-url = { path = \"crates/hub-url\", version = \"0.2.0\" } # the base\n"),
            "{text}"
        );
        assert!(text.contains("hub-emulator = { path = \"tests\" }\n"), "{text}");
        assert!(text.contains("serde = { version = \"1\""), "{text}");
        assert!(
            text.contains("path = \"crates/hub-api\"\nversion = \"0.2.0\"\n"),
            "{text}"
        );
    }

    #[test]
    fn member_tables_include_target_dependencies_and_skip_inherited_versions() {
        let mut manifest = doc(concat!(
            "[package]\nname = \"a\"\nversion.workspace = true\n",
            "[dependencies]\nb = { path = \"../b\", version = \"0.1.0\" }\n",
            "[target.'cfg(unix)'.dev-dependencies]\nc = { path = \"../c\", version = \"0.1.0\" }\n",
        ));
        assert_eq!(set_string(&mut manifest["package"]["version"], "0.2.0"), 0);
        let edits: usize = dependency_tables(&mut manifest)
            .into_iter()
            .map(|table| bump_path_dependencies(table, "0.2.0"))
            .sum();
        assert_eq!(edits, 2);
        assert_eq!(manifest.to_string().matches("0.2.0").count(), 2);
    }

    #[test]
    fn lock_bumps_only_packages_without_a_source() {
        let mut lock = doc(concat!(
            "version = 4\n\n",
            "[[package]]\nname = \"hub-url\"\nversion = \"0.1.0\"\ndependencies = [\n \"url\",\n]\n\n",
            "[[package]]\nname = \"url\"\nversion = \"0.1.0\"\n",
            "source = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
        ));
        assert_eq!(bump_lock(&mut lock, "0.2.0"), 1);
        let text = lock.to_string();
        assert!(text.contains("name = \"hub-url\"\nversion = \"0.2.0\"\n"), "{text}");
        assert!(text.contains("name = \"url\"\nversion = \"0.1.0\"\n"), "{text}");
    }
}
