//! The token store shared with the Python client: the active token in
//! `$HF_HOME/token` and named tokens in `$HF_HOME/stored_tokens` (INI).

use std::path::{Path, PathBuf};

use hub_url::{HubConfig, Token};

use crate::error::{Error, Result};
use crate::secret_file::write_secret;

/// Where tokens are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStore {
    token_path: PathBuf,
    stored_tokens_path: PathBuf,
}

/// One section of `stored_tokens`: a name and its fields (`hf_token`, and for
/// OAuth tokens `refresh_token`, `expires_at`), kept as they are.
#[derive(Clone, PartialEq, Eq)]
struct StoredSection {
    name: String,
    fields: Vec<(String, String)>,
}

impl std::fmt::Debug for StoredSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSection")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Which tokens [`TokenStore::logout`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutFrom<'a> {
    /// Every stored token and the active one.
    All,
    /// The token saved under this name.
    Named(&'a str),
}

/// What `logout` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Logout {
    /// There was no token to remove.
    NotLoggedIn,
    /// Every stored token and the active one were removed.
    All,
    /// The named token was removed; `was_active` if it was the active one too.
    Named {
        /// The token's name.
        name: String,
        /// Whether it was the active token (whose file was removed too).
        was_active: bool,
    },
}

impl TokenStore {
    /// A store at these two paths.
    pub fn new(token_path: impl Into<PathBuf>, stored_tokens_path: impl Into<PathBuf>) -> Self {
        TokenStore {
            token_path: token_path.into(),
            stored_tokens_path: stored_tokens_path.into(),
        }
    }

    /// The store the configuration names (`HF_TOKEN_PATH`, `$HF_HOME`).
    ///
    /// ```no_run
    /// use hub_api::{LogoutFrom, TokenStore};
    /// use hub_url::HubConfig;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let store = TokenStore::from_config(&config);
    /// for (name, _token) in store.stored()? {
    ///     println!("{name}");
    /// }
    /// store.logout(LogoutFrom::Named("old-laptop"))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_config(config: &HubConfig) -> Self {
        Self::new(&config.token_path, &config.stored_tokens_path)
    }

    /// The active token file.
    pub fn token_path(&self) -> &Path {
        &self.token_path
    }

    /// The named tokens file.
    pub fn stored_tokens_path(&self) -> &Path {
        &self.stored_tokens_path
    }

    /// The active token, if one is saved.
    pub fn active(&self) -> Result<Option<Token>> {
        crate::token_file::read_token_file(&self.token_path)
    }

    /// The saved tokens by name, sorted by name.
    pub fn stored(&self) -> Result<Vec<(String, Token)>> {
        Ok(self
            .read_sections()?
            .into_iter()
            .filter_map(|s| {
                let token = s
                    .fields
                    .iter()
                    .find(|(k, _)| k == "hf_token")
                    .map(|(_, v)| Token::new(v.as_str()))?;
                Some((s.name, token))
            })
            .collect())
    }

    /// Saves `token` under `name` (replacing a token of that name) and makes it active.
    ///
    /// A name the file cannot hold as it is (empty, with a line break or
    /// another control character, or `DEFAULT`) is refused.
    pub fn save(&self, name: &str, token: &Token) -> Result<()> {
        if let Some(why) = unstorable_name(name) {
            return Err(Error::InvalidTokenName {
                name: name.to_string(),
                path: self.stored_tokens_path.clone(),
                reason: why,
            });
        }
        let mut sections = self.read_sections()?;
        sections.retain(|s| s.name != name);
        sections.push(StoredSection {
            name: name.to_string(),
            fields: vec![("hf_token".to_string(), token.expose().to_string())],
        });
        self.write_sections(sections)?;
        write_secret(&self.token_path, token.expose())
    }

    /// Makes the token saved under `name` the active one.
    pub fn switch(&self, name: &str) -> Result<Token> {
        let token = self
            .stored()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::UnknownToken {
                name: name.to_string(),
                path: self.stored_tokens_path.clone(),
            })?;
        write_secret(&self.token_path, token.expose())?;
        Ok(token)
    }

    /// Removes the named token (and the active token file if it is that one),
    /// or every saved token.
    pub fn logout(&self, which: LogoutFrom<'_>) -> Result<Logout> {
        let active = self.active()?;
        let mut sections = self.read_sections()?;
        if active.is_none() && sections.is_empty() {
            return Ok(Logout::NotLoggedIn);
        }
        let LogoutFrom::Named(name) = which else {
            remove_if_present(&self.token_path)?;
            remove_if_present(&self.stored_tokens_path)?;
            return Ok(Logout::All);
        };
        let Some(position) = sections.iter().position(|s| s.name == name) else {
            return Err(Error::UnknownToken {
                name: name.to_string(),
                path: self.stored_tokens_path.clone(),
            });
        };
        let removed = sections.remove(position);
        let removed_token = removed
            .fields
            .iter()
            .find(|(k, _)| k == "hf_token")
            .map(|(_, v)| Token::new(v.as_str()));
        self.write_sections(sections)?;
        let was_active = active.is_some() && active == removed_token;
        if was_active {
            remove_if_present(&self.token_path)?;
        }
        Ok(Logout::Named {
            name: name.to_string(),
            was_active,
        })
    }

    fn read_sections(&self) -> Result<Vec<StoredSection>> {
        match std::fs::read_to_string(&self.stored_tokens_path) {
            Ok(text) => Ok(parse_ini(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(Error::Io {
                path: self.stored_tokens_path.clone(),
                source,
            }),
        }
    }

    fn write_sections(&self, mut sections: Vec<StoredSection>) -> Result<()> {
        sections.sort_by(|a, b| a.name.cmp(&b.name));
        write_secret(&self.stored_tokens_path, &format_ini(&sections))
    }
}

/// Why `name` cannot be a section of `stored_tokens`, if it cannot: it must
/// read back as it was written, here and in Python's `configparser`. A line
/// break would end the section header and let the rest of the name (which the
/// Hub chooses) write sections and tokens of its own.
pub(crate) fn unstorable_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("a name must not be empty")
    } else if name.chars().any(char::is_control) {
        Some("a name must not hold a line break or another control character")
    } else if name == "DEFAULT" {
        Some("configparser keeps DEFAULT for values every section shares")
    } else {
        None
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Write {
            action: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Reads INI as Python's `configparser` writes it: `[section]`, `key = value`
/// (or `key: value`), comments with `#` or `;`. Keys are lowercased as
/// configparser does; values are kept as written.
fn parse_ini(text: &str) -> Vec<StoredSection> {
    let mut sections: Vec<StoredSection> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            sections.push(StoredSection {
                name: name.to_string(),
                fields: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else { continue };
        let split = match (trimmed.find('='), trimmed.find(':')) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = split {
            let key = trimmed[..at].trim().to_lowercase();
            let value = trimmed[at + 1..].trim().to_string();
            section.fields.push((key, value));
        }
    }
    sections
}

/// Writes INI as Python's `configparser` does: `key = value`, a blank line after each section.
fn format_ini(sections: &[StoredSection]) -> String {
    let mut out = String::new();
    for section in sections {
        out.push_str(&format!("[{}]\n", section.name));
        for (key, value) in &section.fields {
            out.push_str(&format!("{key} = {value}\n"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, TokenStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TokenStore::new(dir.path().join("home/token"), dir.path().join("home/stored_tokens"));
        (dir, store)
    }

    #[test]
    fn save_writes_both_files_in_the_python_format() -> Result<()> {
        let (_dir, store) = store();
        store.save("work", &Token::new("hf_aaa"))?;
        store.save("home", &Token::new("hf_bbb"))?;
        assert_eq!(
            std::fs::read_to_string(store.token_path()).map_err(|e| Error::Io {
                path: "t".into(),
                source: e
            })?,
            "hf_bbb"
        );
        let ini = std::fs::read_to_string(store.stored_tokens_path()).map_err(|e| Error::Io {
            path: "s".into(),
            source: e,
        })?;
        assert_eq!(ini, "[home]\nhf_token = hf_bbb\n\n[work]\nhf_token = hf_aaa\n\n");
        let names: Vec<_> = store.stored()?.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["home", "work"]);
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn files_are_owner_only() -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = store();
        store.save("x", &Token::new("hf_secret"))?;
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0)
        };
        assert_eq!(mode(store.token_path()), 0o600);
        assert_eq!(mode(store.stored_tokens_path()), 0o600);
        assert_eq!(mode(store.token_path().parent().unwrap_or(Path::new("/"))), 0o700);
        Ok(())
    }

    #[test]
    fn logout_by_name_and_all() -> Result<()> {
        let (_dir, store) = store();
        assert_eq!(store.logout(LogoutFrom::All)?, Logout::NotLoggedIn);
        store.save("a", &Token::new("hf_a"))?;
        store.save("b", &Token::new("hf_b"))?;
        assert_eq!(
            store.logout(LogoutFrom::Named("a"))?,
            Logout::Named {
                name: "a".into(),
                was_active: false
            }
        );
        assert_eq!(store.active()?, Some(Token::new("hf_b")));
        assert_eq!(
            store.logout(LogoutFrom::Named("b"))?,
            Logout::Named {
                name: "b".into(),
                was_active: true
            }
        );
        assert_eq!(store.active()?, None);
        assert!(store.logout(LogoutFrom::Named("nope")).is_err() || store.stored()?.is_empty());
        store.save("c", &Token::new("hf_c"))?;
        assert_eq!(store.logout(LogoutFrom::All)?, Logout::All);
        assert!(!store.token_path().exists() && !store.stored_tokens_path().exists());
        Ok(())
    }

    #[test]
    fn ini_keeps_other_fields_and_reads_colons() {
        let sections = parse_ini("# c\n[oauth]\nhf_token: hf_x\nrefresh_token = r\n\n[plain]\nHF_TOKEN = hf_y\n");
        assert_eq!(sections.len(), 2);
        assert_eq!(
            sections[0].fields,
            vec![("hf_token".into(), "hf_x".into()), ("refresh_token".into(), "r".into())]
        );
        assert_eq!(sections[1].fields, vec![("hf_token".into(), "hf_y".into())]);
    }

    proptest::proptest! {
        #[test]
        fn any_ini_text_is_read(text in proptest::prelude::any::<String>()) {
            for section in parse_ini(&text) {
                proptest::prop_assert!(!section.name.contains('\n'));
            }
        }

        #[test]
        fn a_saved_token_reads_back_under_its_name(
            name in "[^\\[\\]]{0,12}|\\[?[a-z\\]\\[\\n\\r=:#; ]{0,12}\\]?",
            raw in "[ -~]{0,40}|hf_[a-zA-Z0-9]{8}",
        ) {
            let (_dir, store) = store();
            let token = Token::new(raw);
            // A name the file cannot hold is refused; any other comes back exactly.
            proptest::prop_assert_eq!(store.save(&name, &token).is_ok(), unstorable_name(&name).is_none());
            if unstorable_name(&name).is_none() {
                let stored = store.stored()?;
                proptest::prop_assert_eq!(stored, vec![(name.clone(), token.clone())]);
                proptest::prop_assert_eq!(store.active()?, Token::non_empty(token.expose()));
            }
        }
    }

    #[test]
    fn a_name_cannot_write_sections_of_its_own() -> Result<()> {
        let (_dir, store) = store();
        store.save("mine", &Token::new("hf_mine"))?;
        let hostile = "x]\n[evil]\nhf_token = hf_attacker\n[y";
        for name in [hostile, "", "a\rb", "DEFAULT"] {
            let err = store.save(name, &Token::new("hf_new")).expect_err("refused");
            assert!(
                err.to_string().contains("no token can be saved under the name"),
                "{err}"
            );
        }
        assert_eq!(store.stored()?, vec![("mine".to_string(), Token::new("hf_mine"))]);
        assert_eq!(store.active()?, Some(Token::new("hf_mine")));
        Ok(())
    }

    #[test]
    fn switch_needs_a_known_name() -> Result<()> {
        let (_dir, store) = store();
        store.save("a", &Token::new("hf_a"))?;
        store.save("b", &Token::new("hf_b"))?;
        assert_eq!(store.switch("a")?, Token::new("hf_a"));
        assert_eq!(store.active()?, Some(Token::new("hf_a")));
        let err = store.switch("zzz").expect_err("unknown name");
        assert!(err.to_string().contains("zzz"));
        Ok(())
    }
}
