//! `CHANGELOG.md`: a new section `## VERSION (DATE)` on top, from the
//! commits since the last release, grouped by the crate each commit touched
//! and by what its message says it does. A commit that touches two crates is
//! listed under both.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, Result};
use semver::Version;

use super::git::{self, Commit};
use super::{PUBLISHED, Workspace};
use crate::workspace::stdout_of;

const FILE: &str = "CHANGELOG.md";

const HEADER: &str = "# Changelog\n\n\
Each release's changes, by crate, from its commits. `cargo xtask release VERSION` writes a \
section here.\n";

/// The changelog's new text and its new section.
pub(super) struct Rolled {
    /// The changelog, relative to the root.
    pub(super) path: String,
    /// The section added, also the release tag's message.
    pub(super) section: String,
}

/// Adds the section for `version` to `CHANGELOG.md` (made when missing).
pub(super) fn roll(ws: &Workspace, version: &Version, since: Option<&str>) -> Result<Rolled> {
    let commits = git::commits_since(ws, since)?;
    eprintln!("{} commit(s) since {}", commits.len(), since.unwrap_or("the beginning"));
    let section = section(version, &today()?, &commits);
    let path = ws.path(FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("failed to read {}", path.display())),
    };
    if ws.dry_run {
        eprintln!("{section}");
    }
    ws.write(FILE, &insert(existing.as_deref(), &section))?;
    Ok(Rolled {
        path: FILE.to_owned(),
        section,
    })
}

/// What a commit does, from the first word of its message (after a
/// `scope:` prefix); most say nothing this simple rule knows, and are
/// "Changed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Added,
    Fixed,
    Removed,
    Changed,
}

impl Kind {
    fn of(subject: &str) -> Kind {
        let words: Vec<String> = subject
            .split_whitespace()
            .take(2)
            .map(|w| w.trim_end_matches([':', ',']).to_ascii_lowercase())
            .collect();
        // `fix: …`, `Fix …`, `hub-cache: fix …`.
        let scoped = subject.split_whitespace().next().is_some_and(|w| w.ends_with(':'));
        let candidates = if scoped {
            &words[..]
        } else {
            &words[..words.len().min(1)]
        };
        for word in candidates {
            match word.as_str() {
                "fix" | "fixes" | "fixed" => return Kind::Fixed,
                "add" | "adds" | "added" | "feat" | "new" => return Kind::Added,
                "remove" | "removes" | "removed" | "drop" | "drops" | "delete" | "deletes" => return Kind::Removed,
                _ => {}
            }
        }
        Kind::Changed
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Added => "Added",
            Kind::Fixed => "Fixed",
            Kind::Removed => "Removed",
            Kind::Changed => "Changed",
        }
    }
}

/// The part of the workspace a path belongs to, by package name.
fn part_of(path: &str) -> String {
    let mut parts = path.split('/');
    match (parts.next(), parts.next()) {
        (Some("crates"), Some(name)) if parts.next().is_some() => name.to_owned(),
        (Some("cli"), Some(_)) => "huggingface-cli".to_owned(),
        (Some("tests"), Some(_)) => "hub-emulator".to_owned(),
        (Some("xtask"), Some(_)) => "xtask".to_owned(),
        _ => "workspace".to_owned(),
    }
}

/// Published crates first, in dependency order, then the rest.
fn part_rank(part: &str) -> (usize, String) {
    let known = PUBLISHED.iter().chain(&["hub-emulator", "xtask", "workspace"]);
    let rank = known.clone().position(|p| *p == part).unwrap_or(known.count());
    (rank, part.to_owned())
}

/// The section for one release.
fn section(version: &Version, date: &str, commits: &[Commit]) -> String {
    let mut by_part: BTreeMap<(usize, String), BTreeMap<Kind, Vec<&Commit>>> = BTreeMap::new();
    for commit in commits {
        let mut parts: Vec<String> = commit.paths.iter().map(|p| part_of(p)).collect();
        if parts.is_empty() {
            parts.push("workspace".to_owned());
        }
        parts.sort();
        parts.dedup();
        let kind = Kind::of(&commit.subject);
        for part in parts {
            by_part
                .entry(part_rank(&part))
                .or_default()
                .entry(kind)
                .or_default()
                .push(commit);
        }
    }
    let mut text = format!("## {version} ({date})\n");
    if by_part.is_empty() {
        text.push_str("\nNo changes.\n");
    }
    for ((_, part), kinds) in by_part {
        text.push_str(&format!("\n### {part}\n"));
        for (kind, commits) in kinds {
            text.push_str(&format!("\n#### {}\n\n", kind.title()));
            for commit in commits {
                text.push_str(&format!("- {} ({})\n", commit.subject, commit.hash));
            }
        }
    }
    text
}

/// The changelog with `section` above every earlier release.
fn insert(existing: Option<&str>, section: &str) -> String {
    let existing = existing.unwrap_or(HEADER);
    let at = if existing.starts_with("## ") {
        Some(0)
    } else {
        existing.find("\n## ").map(|i| i + 1)
    };
    match at {
        Some(at) => format!("{}{section}\n{}", &existing[..at], &existing[at..]),
        None => format!("{}\n\n{section}", existing.trim_end()),
    }
}

/// Today in UTC, `YYYY-MM-DD`, as `date` tells it.
fn today() -> Result<String> {
    let out = stdout_of(Command::new("date").args(["-u", "+%Y-%m-%d"]))?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(hash: &str, subject: &str, paths: &[&str]) -> Commit {
        Commit {
            hash: hash.to_owned(),
            subject: subject.to_owned(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn kinds_come_from_the_first_word() {
        assert_eq!(Kind::of("Fix the resume offset"), Kind::Fixed);
        assert_eq!(Kind::of("fix: the resume offset"), Kind::Fixed);
        assert_eq!(Kind::of("hub-cache: fix the resume offset"), Kind::Fixed);
        assert_eq!(Kind::of("Add scan_cache"), Kind::Added);
        assert_eq!(Kind::of("feat: scan_cache"), Kind::Added);
        assert_eq!(Kind::of("Remove the old flag"), Kind::Removed);
        assert_eq!(Kind::of("Listings stream entry by entry"), Kind::Changed);
        assert_eq!(
            Kind::of("Refs fix the order"),
            Kind::Changed,
            "only the first word counts"
        );
        assert_eq!(Kind::of(""), Kind::Changed);
    }

    #[test]
    fn paths_name_their_crate() {
        assert_eq!(part_of("crates/hub-cache/src/download.rs"), "hub-cache");
        assert_eq!(part_of("cli/src/main.rs"), "huggingface-cli");
        assert_eq!(part_of("tests/src/hub/mod.rs"), "hub-emulator");
        assert_eq!(part_of("xtask/src/ci.rs"), "xtask");
        assert_eq!(part_of("README.md"), "workspace");
        assert_eq!(part_of("crates/README.md"), "workspace");
    }

    #[test]
    fn section_groups_by_crate_then_kind() {
        let commits = [
            commit("aaaaaaa", "Fix redirects", &["crates/hub-api/src/redirect.rs"]),
            commit(
                "bbbbbbb",
                "Add generate",
                &["cli/src/commands/generate.rs", "cli/Cargo.toml"],
            ),
            commit("ccccccc", "Docs", &["README.md", "crates/hub-url/src/lib.rs"]),
            commit("ddddddd", "Empty", &[]),
        ];
        let text = section(&Version::new(0, 2, 0), "2026-12-02", &commits);
        let expected = "## 0.2.0 (2026-12-02)\n\n\
            ### hub-url\n\n#### Changed\n\n- Docs (ccccccc)\n\n\
            ### hub-api\n\n#### Fixed\n\n- Fix redirects (aaaaaaa)\n\n\
            ### huggingface-cli\n\n#### Added\n\n- Add generate (bbbbbbb)\n\n\
            ### workspace\n\n#### Changed\n\n- Docs (ccccccc)\n- Empty (ddddddd)\n";
        assert_eq!(text, expected);
        assert!(section(&Version::new(0, 2, 0), "d", &[]).contains("No changes."));
    }

    #[test]
    fn new_sections_go_above_earlier_ones() {
        let first = insert(None, "## 0.2.0 (d)\n\n- a\n");
        assert!(first.starts_with("# Changelog\n"), "{first}");
        assert!(first.ends_with("section here.\n\n## 0.2.0 (d)\n\n- a\n"), "{first}");
        let second = insert(Some(&first), "## 0.3.0 (e)\n\n- b\n");
        let at_3 = second.find("## 0.3.0").expect("new section");
        let at_2 = second.find("## 0.2.0").expect("old section");
        assert!(at_3 < at_2, "{second}");
        assert!(second.contains("- b\n\n## 0.2.0"), "{second}");
    }
}
