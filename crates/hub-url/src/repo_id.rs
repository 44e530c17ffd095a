//! The id of a repository: `name` or `namespace/name`, checked against the Hub's rules.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::repo_type::RepoType;

/// The longest namespace or name the Hub accepts.
const MAX_PART_LEN: usize = 96;

/// A valid repository id: `name` or `namespace/name`.
///
/// The rules are the Hub's own: each part is 1 to 96 ASCII letters, digits, `-`, `_` or `.`,
/// starting and ending with a letter, a digit or `_`; the id holds no `--` nor `..` and does not
/// end with `.git`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoId(String);

impl RepoId {
    /// Checks `id` against the Hub's naming rules.
    ///
    /// ```
    /// use hub_url::RepoId;
    ///
    /// assert_eq!(RepoId::new("openai-community/gpt2")?.name(), "gpt2");
    /// assert!(RepoId::new("org/../name").is_err());
    /// # Ok::<(), hub_url::Error>(())
    /// ```
    pub fn new(id: &str) -> Result<RepoId> {
        check(id).map_err(|reason| Error::InvalidRepoId {
            input: id.to_owned(),
            reason,
        })?;
        Ok(RepoId(id.to_owned()))
    }

    /// The id as written, `namespace/name` or `name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user or organisation part of `namespace/name`, `None` for a bare `name`.
    pub fn namespace(&self) -> Option<&str> {
        self.0.split_once('/').map(|(namespace, _)| namespace)
    }

    /// The repository's own name, without its namespace.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(self.as_str(), |(_, name)| name)
    }

    /// The repository's folder in the cache, as the Python client names it:
    /// `models--org--name`, `datasets--name`, …
    pub fn cache_folder_name(&self, repo_type: RepoType) -> String {
        format!("{}--{}", repo_type.plural(), self.0.replace('/', "--"))
    }

    /// Reads a cache folder name back into its repo type and id, `None` for any other folder.
    pub fn parse_cache_folder_name(folder: &str) -> Option<(RepoType, RepoId)> {
        let (plural, rest) = folder.split_once("--")?;
        let repo_type = RepoType::ALL.into_iter().find(|t| t.plural() == plural)?;
        let id = RepoId::new(&rest.replace("--", "/")).ok()?;
        Some((repo_type, id))
    }
}

fn check(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("a repo id must not be empty; use \"name\" or \"namespace/name\"");
    }
    let (namespace, name) = match id.split_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, id),
    };
    if name.contains('/') {
        return Err("at most one '/' is allowed; use \"name\" or \"namespace/name\" and pass the repo type apart");
    }
    for part in namespace.into_iter().chain([name]) {
        check_part(part)?;
    }
    if id.contains("--") || id.contains("..") {
        return Err("\"--\" and \"..\" are not allowed");
    }
    if id.ends_with(".git") {
        return Err("a repo id must not end with \".git\"");
    }
    Ok(())
}

fn check_part(part: &str) -> Result<(), &'static str> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = part.as_bytes();
    if bytes.is_empty() {
        return Err("the namespace and the name must not be empty");
    }
    if !bytes.iter().all(|&b| is_word(b) || b == b'-' || b == b'.') {
        return Err("only ASCII letters, digits, '-', '_' and '.' are allowed");
    }
    if bytes.len() > MAX_PART_LEN {
        return Err("the namespace and the name are limited to 96 characters each");
    }
    let first_and_last = [bytes[0], bytes[bytes.len() - 1]];
    if !first_and_last.into_iter().all(is_word) {
        return Err("the namespace and the name must start and end with a letter, a digit or '_'");
    }
    Ok(())
}

impl FromStr for RepoId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoId::new(s)
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RepoId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcomes measured with `huggingface_hub.utils.validate_repo_id` 2.4.0.
    #[test]
    fn accepts_what_the_python_client_accepts() -> Result<()> {
        let long_part = "a".repeat(96);
        let long_pair = format!("{}/{}", "o".repeat(96), "n".repeat(96));
        for id in [
            "gpt2",
            "org/name",
            "_x",
            "x_",
            "a",
            "a/b",
            "9/9",
            "_org/_name",
            "a.-b",
            "a-.b",
            "a.gitx",
            "x.GIT",
            "a.gi",
            "a/b_",
            "a.b-c_d",
            "user_1/Model-Name.v2",
            &long_part,
            &long_pair,
        ] {
            assert_eq!(RepoId::new(id)?.as_str(), id);
        }
        Ok(())
    }

    #[test]
    fn rejects_what_the_python_client_rejects() {
        let too_long = "a".repeat(97);
        let too_long_namespace = format!("{}/n", "o".repeat(97));
        for id in [
            "",
            "-a",
            "a-",
            ".a",
            "a.",
            "a/-b",
            "a-/b",
            "a/b-",
            "a/.b",
            "a./b",
            "a--b",
            "a..b",
            "a.git",
            "a/b.git",
            ".git",
            "a/b/c",
            "datasets/org/name",
            "/a",
            "a/",
            "/",
            "a b",
            "café",
            "日本",
            "a\n",
            &too_long,
            &too_long_namespace,
        ] {
            assert!(RepoId::new(id).is_err(), "{id:?} should be rejected");
        }
    }

    #[test]
    fn errors_quote_the_input_and_say_what_is_allowed() {
        let message = |id: &str| RepoId::new(id).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message("a/b/c"),
            "invalid repo id \"a/b/c\": at most one '/' is allowed; use \"name\" or \"namespace/name\" and pass the repo type apart"
        );
        assert_eq!(
            message("org/café"),
            "invalid repo id \"org/café\": only ASCII letters, digits, '-', '_' and '.' are allowed"
        );
        assert_eq!(
            message("-org/name"),
            "invalid repo id \"-org/name\": the namespace and the name must start and end with a letter, a digit or '_'"
        );
        assert_eq!(
            message("a--b"),
            "invalid repo id \"a--b\": \"--\" and \"..\" are not allowed"
        );
        assert_eq!(
            message("org/x.git"),
            "invalid repo id \"org/x.git\": a repo id must not end with \".git\""
        );
        assert_eq!(
            message(&"a".repeat(97)),
            format!(
                "invalid repo id \"{}\": the namespace and the name are limited to 96 characters each",
                "a".repeat(97)
            )
        );
        assert_eq!(
            message(""),
            "invalid repo id \"\": a repo id must not be empty; use \"name\" or \"namespace/name\""
        );
    }

    #[test]
    fn splits_namespace_and_name() -> Result<()> {
        let id = RepoId::new("org/name")?;
        assert_eq!((id.namespace(), id.name()), (Some("org"), "name"));
        let bare = RepoId::new("gpt2")?;
        assert_eq!((bare.namespace(), bare.name()), (None, "gpt2"));
        assert_eq!(bare.to_string(), "gpt2");
        assert_eq!("org/name".parse::<RepoId>()?, id);
        Ok(())
    }

    #[test]
    fn cache_folder_names_match_the_python_cache() -> Result<()> {
        let id = RepoId::new("org/name")?;
        assert_eq!(id.cache_folder_name(RepoType::Model), "models--org--name");
        assert_eq!(id.cache_folder_name(RepoType::Dataset), "datasets--org--name");
        assert_eq!(id.cache_folder_name(RepoType::Space), "spaces--org--name");
        assert_eq!(RepoId::new("gpt2")?.cache_folder_name(RepoType::Model), "models--gpt2");
        Ok(())
    }

    #[test]
    fn cache_folder_names_parse_back() -> Result<()> {
        for t in RepoType::ALL {
            for id in ["org/name", "gpt2", "a.b-c_d/x.y-z"] {
                let id = RepoId::new(id)?;
                assert_eq!(RepoId::parse_cache_folder_name(&id.cache_folder_name(t)), Some((t, id)));
            }
        }
        for folder in [
            ".locks",
            "models",
            "models--",
            "kernels--org--name",
            "models--a--b--c",
            "CACHEDIR.TAG",
        ] {
            assert_eq!(RepoId::parse_cache_folder_name(folder), None, "{folder}");
        }
        Ok(())
    }
}
