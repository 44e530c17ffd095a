//! A git revision on the Hub: a branch, a tag, a commit hash or a special ref.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A valid revision: a branch, a tag, a commit hash, `refs/pr/N` or `refs/convert/…`.
///
/// The name follows git's `check-ref-format` rules, so it can become a path under a cache's
/// `refs/` folder and a URL segment safely.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revision(String);

impl Revision {
    /// Checks `rev` against git's rules for ref names.
    ///
    /// ```
    /// use hub_url::Revision;
    ///
    /// assert!(Revision::new("refs/pr/1")?.as_str().starts_with("refs/"));
    /// assert!(Revision::new("bad..name").is_err());
    /// # Ok::<(), hub_url::Error>(())
    /// ```
    pub fn new(rev: &str) -> Result<Revision> {
        check(rev).map_err(|reason| Error::InvalidRevision {
            input: rev.to_owned(),
            reason,
        })?;
        Ok(Revision(rev.to_owned()))
    }

    /// The default branch, `main`.
    pub fn main() -> Revision {
        Revision("main".to_owned())
    }

    /// The ref of the Hub's pull request number `number`: `refs/pr/{number}`.
    pub fn pull_request_ref(number: u64) -> Revision {
        Revision(format!("refs/pr/{number}"))
    }

    /// The revision as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a full commit hash: exactly 40 lowercase hexadecimal characters.
    pub fn is_commit_hash(&self) -> bool {
        self.0.len() == 40 && self.0.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    /// The pull request number of a `refs/pr/N` revision.
    pub fn pull_request(&self) -> Option<u64> {
        let number = self.0.strip_prefix("refs/pr/")?;
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        number.parse().ok()
    }
}

fn check(rev: &str) -> Result<(), &'static str> {
    if rev.is_empty() {
        return Err("a revision must not be empty");
    }
    if rev.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("whitespace and control characters are not allowed");
    }
    if rev.contains(['~', '^', ':', '?', '*', '[', '\\']) {
        return Err("the characters ~ ^ : ? * [ and \\ are not allowed");
    }
    if rev == "@" {
        return Err("\"@\" alone is not a revision");
    }
    if rev.contains("@{") {
        return Err("\"@{\" is not allowed");
    }
    if rev.contains("..") {
        return Err("\"..\" is not allowed");
    }
    if rev.starts_with('/') || rev.ends_with('/') || rev.contains("//") {
        return Err("a revision must not start or end with '/' nor contain \"//\"");
    }
    if rev.ends_with('.') {
        return Err("a revision must not end with '.'");
    }
    for component in rev.split('/') {
        if component.starts_with('.') {
            return Err("no part between '/' may start with '.'");
        }
        if component.ends_with(".lock") {
            return Err("no part between '/' may end with \".lock\"");
        }
    }
    Ok(())
}

impl Default for Revision {
    fn default() -> Self {
        Revision::main()
    }
}

impl FromStr for Revision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Revision::new(s)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Revision {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn accepts_branches_tags_commits_and_special_refs() -> Result<()> {
        for rev in [
            "main",
            "v1.0",
            "feature/x",
            "refs/pr/1",
            "refs/convert/parquet",
            "refs/heads/main",
            COMMIT,
            "abc1234",
            "é",
            "release-2024_01",
            "HEAD",
            "a@b",
            "x.lockx",
        ] {
            assert_eq!(Revision::new(rev)?.as_str(), rev);
        }
        Ok(())
    }

    #[test]
    fn rejects_what_git_rejects() {
        for rev in [
            "",
            " ",
            "my branch",
            "main\n",
            "tab\there",
            "nul\0",
            "del\u{7f}",
            "a..b",
            "..",
            "/main",
            "main/",
            "feature//x",
            "/",
            "a@{1}",
            "@",
            "back\\slash",
            "main~1",
            "main^",
            "a:b",
            "what?",
            "glob*",
            "br[ack",
            "main.",
            ".hidden",
            "refs/.hidden",
            "main.lock",
            "refs/heads/x.lock",
            "nbsp\u{a0}",
        ] {
            assert!(Revision::new(rev).is_err(), "{rev:?} should be rejected");
        }
    }

    #[test]
    fn errors_quote_the_input() {
        let message = |rev: &str| Revision::new(rev).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(message("a..b"), "invalid revision \"a..b\": \"..\" is not allowed");
        assert_eq!(
            message("my branch"),
            "invalid revision \"my branch\": whitespace and control characters are not allowed"
        );
        assert_eq!(
            message("feature//x"),
            "invalid revision \"feature//x\": a revision must not start or end with '/' nor contain \"//\""
        );
        assert_eq!(message("a@{1}"), "invalid revision \"a@{1}\": \"@{\" is not allowed");
        assert_eq!(
            message("back\\slash"),
            "invalid revision \"back\\\\slash\": the characters ~ ^ : ? * [ and \\ are not allowed"
        );
        assert_eq!(message(""), "invalid revision \"\": a revision must not be empty");
    }

    #[test]
    fn main_is_the_default() -> Result<()> {
        assert_eq!(Revision::default(), Revision::main());
        assert_eq!(Revision::main().as_str(), "main");
        assert_eq!("main".parse::<Revision>()?, Revision::main());
        assert_eq!(Revision::main().to_string(), "main");
        Ok(())
    }

    #[test]
    fn recognises_full_commit_hashes_only() -> Result<()> {
        assert!(Revision::new(COMMIT)?.is_commit_hash());
        for rev in [
            "abc1234",
            "0123456789ABCDEF0123456789ABCDEF01234567",
            "0123456789abcdef0123456789abcdef0123456",
            "0123456789abcdef0123456789abcdef012345678",
            "g123456789abcdef0123456789abcdef01234567",
            "main",
        ] {
            assert!(!Revision::new(rev)?.is_commit_hash(), "{rev}");
        }
        Ok(())
    }

    #[test]
    fn reads_pull_request_numbers() -> Result<()> {
        assert_eq!(Revision::new("refs/pr/1")?.pull_request(), Some(1));
        assert_eq!(Revision::new("refs/pr/42")?.pull_request(), Some(42));
        assert_eq!(Revision::pull_request_ref(7), Revision::new("refs/pr/7")?);
        assert_eq!(Revision::pull_request_ref(7).pull_request(), Some(7));
        for rev in ["main", "refs/pr/x", "refs/pr/+1", "refs/pr/1/2", "refs/prs/1", "pr/1"] {
            assert_eq!(Revision::new(rev)?.pull_request(), None, "{rev}");
        }
        Ok(())
    }
}
