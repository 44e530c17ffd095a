//! The settings of the environment (`HF_HOME`, `HF_ENDPOINT`, `HF_TOKEN`, …), read in one place.

use std::env::VarError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::proxy::ProxySettings;
use crate::token::Token;

/// The default of `HF_HUB_ETAG_TIMEOUT` and `HF_HUB_DOWNLOAD_TIMEOUT`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the environment says, read in exactly one place.
///
/// [`HubConfig::from_env`] reads the process environment as the Python client does;
/// [`HubConfig::from_vars`] applies the same rules to any source; [`HubConfig::new`] ignores
/// the environment. `Debug` shows neither the token nor proxy passwords.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubConfig {
    /// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` on every OS.
    pub home: PathBuf,
    /// `HF_HUB_CACHE`, else the legacy `HUGGINGFACE_HUB_CACHE`, else `{home}/hub`.
    pub hub_cache: PathBuf,
    /// `HF_TOKEN_PATH`, else `{home}/token`.
    pub token_path: PathBuf,
    /// `stored_tokens` next to the token file: `{home}/stored_tokens` unless `HF_TOKEN_PATH`
    /// moves it, as in the Python client.
    pub stored_tokens_path: PathBuf,
    /// `HF_ENDPOINT` without trailing `/`, else `https://huggingface.co`.
    pub endpoint: Endpoint,
    /// `HF_TOKEN`, else the legacy `HUGGING_FACE_HUB_TOKEN`; empty means no token. The token
    /// file is not read here.
    pub token: Option<Token>,
    /// `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is truthy: no network, cache only.
    pub offline: bool,
    /// `HF_HUB_DISABLE_PROGRESS_BARS` is truthy.
    pub disable_progress_bars: bool,
    /// `HF_HUB_DISABLE_SYMLINKS` is truthy: the cache copies files instead of linking them.
    pub disable_symlinks: bool,
    /// `HF_HUB_DISABLE_TELEMETRY`, `DISABLE_TELEMETRY` or `DO_NOT_TRACK` is truthy.
    pub disable_telemetry: bool,
    /// `HF_HUB_DISABLE_XET` is truthy: uploads and downloads use LFS and plain HTTP even
    /// where the Hub offers Xet storage.
    pub disable_xet: bool,
    /// `HF_HUB_DISABLE_SHARED_BLOBS` is truthy: every repo keeps its own copy of a Xet
    /// file, instead of a link into the cache-wide store (`{cache}/blobs/`) the Python
    /// client 2.4 shares between repos. The store is off with Xet or symlinks off too.
    pub disable_shared_blobs: bool,
    /// `HF_XET_CACHE`, else `{home}/xet`: Xet's local caches (shards of earlier uploads,
    /// chunks of earlier downloads), shared with the Python client's `hf_xet`.
    pub xet_cache: PathBuf,
    /// `HF_HUB_ETAG_TIMEOUT` seconds for metadata requests, 10 when unset or 0.
    pub etag_timeout: Duration,
    /// `HF_HUB_DOWNLOAD_TIMEOUT` seconds for downloads, 10 when unset or 0.
    pub download_timeout: Duration,
    /// `REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`, else `CURL_CA_BUNDLE`: extra trusted roots.
    pub ca_bundle: Option<PathBuf>,
    /// The `*_proxy` variables.
    pub proxy: ProxySettings,
}

impl HubConfig {
    /// Every variable the settings are read from; paths may also name others as `$VAR`.
    pub const ENV_VARS: &[&str] = &[
        "HF_HOME",
        "XDG_CACHE_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_TOKEN_PATH",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_HUB_DISABLE_PROGRESS_BARS",
        "HF_HUB_DISABLE_SYMLINKS",
        "HF_HUB_DISABLE_TELEMETRY",
        "HF_HUB_DISABLE_XET",
        "HF_HUB_DISABLE_SHARED_BLOBS",
        "HF_XET_CACHE",
        "DISABLE_TELEMETRY",
        "DO_NOT_TRACK",
        "HF_HUB_ETAG_TIMEOUT",
        "HF_HUB_DOWNLOAD_TIMEOUT",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "CURL_CA_BUNDLE",
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
        "REQUEST_METHOD",
    ];

    /// Reads the settings from the process environment: the only reader of environment
    /// variables in the workspace.
    #[allow(clippy::disallowed_methods)] // The one reader of the environment.
    ///
    /// ```
    /// use hub_url::HubConfig;
    ///
    /// # fn main() -> Result<(), hub_url::Error> {
    /// let config = HubConfig::from_env()?;
    /// println!("{} {}", config.endpoint, config.hub_cache.display());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Result<HubConfig> {
        HubConfig::from_lookup(&|name| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(VarError::NotPresent) => Ok(None),
            Err(VarError::NotUnicode(_)) => Err(Error::NonUnicodeEnvVar { name: name.to_owned() }),
        })
    }

    /// Reads the settings from `get`, which answers a variable's value by name, with the rules
    /// of [`HubConfig::from_env`].
    ///
    /// An empty value counts as unset. Paths get `~` and `$VAR` expanded, as in Python.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<HubConfig> {
        HubConfig::from_lookup(&|name| Ok(get(name)))
    }

    /// Settings that ignore the environment: every path under `home`, every other setting at
    /// its default.
    pub fn new(home: impl Into<PathBuf>) -> HubConfig {
        let home = home.into();
        HubConfig {
            hub_cache: home.join("hub"),
            token_path: home.join("token"),
            stored_tokens_path: home.join("stored_tokens"),
            xet_cache: home.join("xet"),
            home,
            endpoint: Endpoint::default(),
            token: None,
            offline: false,
            disable_progress_bars: false,
            disable_symlinks: false,
            disable_telemetry: false,
            disable_xet: false,
            disable_shared_blobs: false,
            etag_timeout: DEFAULT_TIMEOUT,
            download_timeout: DEFAULT_TIMEOUT,
            ca_bundle: None,
            proxy: ProxySettings::default(),
        }
    }

    fn from_lookup(get: &dyn Fn(&str) -> Result<Option<String>>) -> Result<HubConfig> {
        let vars = Vars(get);
        let home = match vars.first(&["HF_HOME"])? {
            Some(home) => vars.expand_path(&home)?,
            None => {
                let cache = match vars.first(&["XDG_CACHE_HOME"])? {
                    Some(cache) => vars.expand_path(&cache)?,
                    None => home_dir()?.join(".cache"),
                };
                cache.join("huggingface")
            }
        };
        let hub_cache = match vars.first(&["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"])? {
            Some(path) => vars.expand_path(&path)?,
            None => home.join("hub"),
        };
        let token_path = match vars.first(&["HF_TOKEN_PATH"])? {
            Some(path) => vars.expand_path(&path)?,
            None => home.join("token"),
        };
        let stored_tokens_path = token_path.parent().unwrap_or(Path::new("")).join("stored_tokens");
        let xet_cache = match vars.first(&["HF_XET_CACHE"])? {
            Some(path) => vars.expand_path(&path)?,
            None => home.join("xet"),
        };
        let endpoint = match vars.first(&["HF_ENDPOINT"])? {
            Some(url) => Endpoint::new(&url).map_err(|source| Error::InvalidEnvVar {
                name: "HF_ENDPOINT",
                value: url.clone(),
                expected: "an http:// or https:// URL",
                source: Box::new(source),
            })?,
            None => Endpoint::default(),
        };
        Ok(HubConfig {
            token: vars
                .first(&["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"])?
                .and_then(Token::non_empty),
            offline: vars.truthy(&["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])?,
            disable_progress_bars: vars.truthy(&["HF_HUB_DISABLE_PROGRESS_BARS"])?,
            disable_symlinks: vars.truthy(&["HF_HUB_DISABLE_SYMLINKS"])?,
            disable_telemetry: vars.truthy(&["HF_HUB_DISABLE_TELEMETRY"])?
                || vars.truthy(&["DISABLE_TELEMETRY"])?
                || vars.truthy(&["DO_NOT_TRACK"])?,
            disable_xet: vars.truthy(&["HF_HUB_DISABLE_XET"])?,
            disable_shared_blobs: vars.truthy(&["HF_HUB_DISABLE_SHARED_BLOBS"])?,
            etag_timeout: vars.timeout("HF_HUB_ETAG_TIMEOUT")?,
            download_timeout: vars.timeout("HF_HUB_DOWNLOAD_TIMEOUT")?,
            ca_bundle: vars
                .first(&["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"])?
                .map(PathBuf::from),
            proxy: ProxySettings::from_lookup(get)?,
            home,
            hub_cache,
            token_path,
            stored_tokens_path,
            xet_cache,
            endpoint,
        })
    }
}

/// Whether an environment value means "on": `1`, `ON`, `YES` or `TRUE`, in any case, with
/// surrounding whitespace ignored.
pub(crate) fn is_truthy(value: &str) -> bool {
    ["1", "ON", "YES", "TRUE"]
        .iter()
        .any(|yes| value.trim().eq_ignore_ascii_case(yes))
}

fn home_dir() -> Result<PathBuf> {
    directories::BaseDirs::new()
        .map(|dirs| dirs.home_dir().to_path_buf())
        .ok_or(Error::NoHomeDirectory)
}

/// A variable source with the reading rules shared by every setting.
struct Vars<'a>(&'a dyn Fn(&str) -> Result<Option<String>>);

impl Vars<'_> {
    /// The first of `names` with a non-empty value, as Python's `os.environ.get(a) or …`.
    fn first(&self, names: &[&str]) -> Result<Option<String>> {
        for name in names {
            if let Some(value) = (self.0)(name)?.filter(|v| !v.is_empty()) {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// Whether the first non-empty of `names` is truthy.
    fn truthy(&self, names: &[&str]) -> Result<bool> {
        Ok(self.first(names)?.is_some_and(|value| is_truthy(&value)))
    }

    /// Whole seconds; unset, empty or 0 mean the default, as in the Python client.
    fn timeout(&self, name: &'static str) -> Result<Duration> {
        let Some(value) = self.first(&[name])? else {
            return Ok(DEFAULT_TIMEOUT);
        };
        let seconds = value.trim().parse::<u64>().map_err(|source| Error::InvalidEnvVar {
            name,
            value: value.clone(),
            expected: "a whole number of seconds",
            source: Box::new(source),
        })?;
        Ok(match seconds {
            0 => DEFAULT_TIMEOUT,
            seconds => Duration::from_secs(seconds),
        })
    }

    /// Python's `expandvars(expanduser(path))`: a leading `~` becomes the home directory, then
    /// `$NAME` and `${NAME}` become the variable's value; unknown variables stay as written.
    fn expand_path(&self, path: &str) -> Result<PathBuf> {
        match path.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with(std::path::is_separator) => {
                let mut expanded = home_dir()?.into_os_string();
                expanded.push(self.expand_vars(rest)?);
                Ok(PathBuf::from(expanded))
            }
            _ => Ok(PathBuf::from(self.expand_vars(path)?)),
        }
    }

    fn expand_vars(&self, text: &str) -> Result<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let (name, len) = match after.strip_prefix('{') {
                Some(braced) => match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], end)
                }
            };
            let value = if name.is_empty() { None } else { (self.0)(name)? };
            match value {
                Some(value) => out.push_str(&value),
                // Python leaves unknown variables as written.
                None => out.push_str(&rest[dollar..=dollar + len]),
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "hf_TopSecretValue0123456789";

    fn config(vars: &[(&str, &str)]) -> Result<HubConfig> {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        HubConfig::from_vars(|name| vars.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn defaults_follow_the_python_client() -> Result<()> {
        let config = config(&[])?;
        let home = home_dir()?.join(".cache").join("huggingface");
        assert_eq!(config.home, home);
        assert_eq!(config.hub_cache, home.join("hub"));
        assert_eq!(config.token_path, home.join("token"));
        assert_eq!(config.stored_tokens_path, home.join("stored_tokens"));
        assert_eq!(config.endpoint, Endpoint::default());
        assert_eq!(config.token, None);
        assert!(!config.offline);
        assert!(!config.disable_progress_bars);
        assert!(!config.disable_symlinks);
        assert!(!config.disable_telemetry);
        assert_eq!(config.etag_timeout, Duration::from_secs(10));
        assert_eq!(config.download_timeout, Duration::from_secs(10));
        assert_eq!(config.ca_bundle, None);
        assert_eq!(config.proxy, ProxySettings::default());
        Ok(())
    }

    #[test]
    fn new_puts_everything_under_home_with_defaults() {
        let config = HubConfig::new("/data/hf");
        assert_eq!(config.home, Path::new("/data/hf"));
        assert_eq!(config.hub_cache, Path::new("/data/hf/hub"));
        assert_eq!(config.token_path, Path::new("/data/hf/token"));
        assert_eq!(config.stored_tokens_path, Path::new("/data/hf/stored_tokens"));
        assert_eq!(config.endpoint.as_str(), Endpoint::DEFAULT);
        assert_eq!(config.token, None);
        assert!(!config.offline);
        assert_eq!(config.etag_timeout, Duration::from_secs(10));
        assert_eq!(config.download_timeout, Duration::from_secs(10));
    }

    #[test]
    fn hf_home_moves_every_path() -> Result<()> {
        let config = config(&[("HF_HOME", "/srv/hf"), ("XDG_CACHE_HOME", "/xdg")])?;
        assert_eq!(config.home, Path::new("/srv/hf"));
        assert_eq!(config.hub_cache, Path::new("/srv/hf/hub"));
        assert_eq!(config.token_path, Path::new("/srv/hf/token"));
        assert_eq!(config.stored_tokens_path, Path::new("/srv/hf/stored_tokens"));
        Ok(())
    }

    #[test]
    fn xdg_cache_home_holds_the_default_home() -> Result<()> {
        let config = config(&[("XDG_CACHE_HOME", "/xdg")])?;
        assert_eq!(config.home, Path::new("/xdg/huggingface"));
        assert_eq!(config.hub_cache, Path::new("/xdg/huggingface/hub"));
        let empty = self::config(&[("XDG_CACHE_HOME", ""), ("HF_HOME", "")])?;
        assert_eq!(empty.home, home_dir()?.join(".cache/huggingface"));
        Ok(())
    }

    #[test]
    fn hf_hub_cache_beats_the_legacy_variable() -> Result<()> {
        let both = config(&[
            ("HF_HUB_CACHE", "/new"),
            ("HUGGINGFACE_HUB_CACHE", "/legacy"),
            ("HF_HOME", "/h"),
        ])?;
        assert_eq!(both.hub_cache, Path::new("/new"));
        let legacy = config(&[("HUGGINGFACE_HUB_CACHE", "/legacy"), ("HF_HOME", "/h")])?;
        assert_eq!(legacy.hub_cache, Path::new("/legacy"));
        let empty_new = config(&[("HF_HUB_CACHE", ""), ("HUGGINGFACE_HUB_CACHE", "/legacy")])?;
        assert_eq!(empty_new.hub_cache, Path::new("/legacy"));
        // The cache moves alone: the token stays under HF_HOME.
        assert_eq!(both.token_path, Path::new("/h/token"));
        Ok(())
    }

    #[test]
    fn stored_tokens_sit_next_to_the_token_file() -> Result<()> {
        let config = config(&[("HF_HOME", "/h"), ("HF_TOKEN_PATH", "/secrets/hf/token")])?;
        assert_eq!(config.token_path, Path::new("/secrets/hf/token"));
        assert_eq!(config.stored_tokens_path, Path::new("/secrets/hf/stored_tokens"));
        assert_eq!(config.hub_cache, Path::new("/h/hub"));
        Ok(())
    }

    #[test]
    fn paths_expand_home_and_variables() -> Result<()> {
        let home = home_dir()?;
        let tilde = config(&[("HF_HOME", "~/hf")])?;
        assert_eq!(tilde.home, home.join("hf"));
        let bare = config(&[("HF_HOME", "~")])?;
        assert_eq!(bare.home, home);
        let vars = config(&[
            ("BASE", "/base"),
            ("HF_HOME", "$BASE/hf"),
            ("HF_HUB_CACHE", "${BASE}/cache-$NOPE-${}-$"),
            ("HF_TOKEN_PATH", "~other/token"),
        ])?;
        assert_eq!(vars.home, Path::new("/base/hf"));
        assert_eq!(vars.hub_cache, Path::new("/base/cache-$NOPE-${}-$"));
        assert_eq!(vars.token_path, Path::new("~other/token"));
        let xdg = config(&[("XDG_CACHE_HOME", "~/.c")])?;
        assert_eq!(xdg.home, home.join(".c/huggingface"));
        Ok(())
    }

    #[test]
    fn hf_token_beats_the_legacy_variable() -> Result<()> {
        let both = config(&[("HF_TOKEN", "hf_new"), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")])?;
        assert_eq!(both.token.as_ref().map(Token::expose), Some("hf_new"));
        let legacy = config(&[("HUGGING_FACE_HUB_TOKEN", " hf_legacy\n")])?;
        assert_eq!(legacy.token.as_ref().map(Token::expose), Some("hf_legacy"));
        let empty = config(&[("HF_TOKEN", ""), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")])?;
        assert_eq!(empty.token.as_ref().map(Token::expose), Some("hf_legacy"));
        // As in Python, a blank but non-empty HF_TOKEN hides the legacy variable and means no token.
        let blank = config(&[("HF_TOKEN", " \n"), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")])?;
        assert_eq!(blank.token, None);
        Ok(())
    }

    #[test]
    fn truthy_values() {
        for yes in [
            "1", "ON", "on", "On", "YES", "yes", "yEs", "TRUE", "true", "True", " 1 ", "true\n",
        ] {
            assert!(is_truthy(yes), "{yes:?}");
        }
        for no in ["", "0", "off", "no", "false", "2", "y", "t", "enabled", "1 1", "truee"] {
            assert!(!is_truthy(no), "{no:?}");
        }
    }

    #[test]
    fn flags_read_truthy_values() -> Result<()> {
        let on = config(&[
            ("HF_HUB_OFFLINE", "1"),
            ("HF_HUB_DISABLE_PROGRESS_BARS", "yes"),
            ("HF_HUB_DISABLE_SYMLINKS", "TRUE"),
            ("HF_HUB_DISABLE_TELEMETRY", "on"),
        ])?;
        assert!(on.offline && on.disable_progress_bars && on.disable_symlinks && on.disable_telemetry);
        let off = config(&[
            ("HF_HUB_OFFLINE", "0"),
            ("HF_HUB_DISABLE_PROGRESS_BARS", "false"),
            ("HF_HUB_DISABLE_SYMLINKS", "no"),
            ("HF_HUB_DISABLE_TELEMETRY", ""),
        ])?;
        assert!(!(off.offline || off.disable_progress_bars || off.disable_symlinks || off.disable_telemetry));
        Ok(())
    }

    #[test]
    fn xet_settings_follow_the_python_client() -> Result<()> {
        let default = config(&[("HF_HOME", "/data/hf")])?;
        assert!(!default.disable_xet);
        assert!(!default.disable_shared_blobs);
        assert_eq!(default.xet_cache, Path::new("/data/hf/xet"));
        let set = config(&[
            ("HF_HOME", "/data/hf"),
            ("HF_HUB_DISABLE_XET", "1"),
            ("HF_XET_CACHE", "/fast/xet"),
            ("HF_HUB_DISABLE_SHARED_BLOBS", "true"),
        ])?;
        assert!(set.disable_xet);
        assert!(set.disable_shared_blobs);
        assert_eq!(set.xet_cache, Path::new("/fast/xet"));
        assert_eq!(HubConfig::new("/h").xet_cache, Path::new("/h/xet"));
        Ok(())
    }

    #[test]
    fn offline_and_telemetry_honour_their_other_names() -> Result<()> {
        assert!(config(&[("TRANSFORMERS_OFFLINE", "1")])?.offline);
        // HF_HUB_OFFLINE, once set, decides alone, as in Python.
        assert!(!config(&[("HF_HUB_OFFLINE", "0"), ("TRANSFORMERS_OFFLINE", "1")])?.offline);
        assert!(config(&[("DO_NOT_TRACK", "1")])?.disable_telemetry);
        assert!(config(&[("DISABLE_TELEMETRY", "true")])?.disable_telemetry);
        assert!(config(&[("HF_HUB_DISABLE_TELEMETRY", "0"), ("DO_NOT_TRACK", "1")])?.disable_telemetry);
        Ok(())
    }

    #[test]
    fn timeouts_are_whole_seconds() -> Result<()> {
        let set = config(&[("HF_HUB_ETAG_TIMEOUT", "30"), ("HF_HUB_DOWNLOAD_TIMEOUT", " 120 ")])?;
        assert_eq!(set.etag_timeout, Duration::from_secs(30));
        assert_eq!(set.download_timeout, Duration::from_secs(120));
        let zero = config(&[("HF_HUB_ETAG_TIMEOUT", "0"), ("HF_HUB_DOWNLOAD_TIMEOUT", "")])?;
        assert_eq!(zero.etag_timeout, Duration::from_secs(10));
        assert_eq!(zero.download_timeout, Duration::from_secs(10));
        Ok(())
    }

    #[test]
    fn bad_timeouts_name_the_variable_and_the_value() {
        for (name, value) in [
            ("HF_HUB_ETAG_TIMEOUT", "abc"),
            ("HF_HUB_ETAG_TIMEOUT", "-1"),
            ("HF_HUB_DOWNLOAD_TIMEOUT", "1.5"),
            ("HF_HUB_DOWNLOAD_TIMEOUT", "10s"),
        ] {
            let err = config(&[(name, value)]).err();
            assert!(
                matches!(&err, Some(Error::InvalidEnvVar { name: n, value: v, .. }) if *n == name && v == value),
                "{err:?}"
            );
            let expected = format!(
                "invalid value {value:?} for the environment variable {name}: expected a whole number of seconds"
            );
            assert_eq!(err.map(|e| e.to_string()), Some(expected));
        }
    }

    #[test]
    fn hf_endpoint_loses_its_trailing_slash() -> Result<()> {
        let config = config(&[("HF_ENDPOINT", "http://127.0.0.1:8080/")])?;
        assert_eq!(config.endpoint.as_str(), "http://127.0.0.1:8080");
        Ok(())
    }

    #[test]
    fn bad_hf_endpoint_names_the_variable_and_the_value() {
        let err = config(&[("HF_ENDPOINT", "huggingface.co")]).err();
        let source = err
            .as_ref()
            .and_then(|e| std::error::Error::source(e))
            .map(ToString::to_string);
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(
                "invalid value \"huggingface.co\" for the environment variable HF_ENDPOINT: expected an http:// or https:// URL"
            )
        );
        assert_eq!(
            source.as_deref(),
            Some("invalid endpoint \"huggingface.co\": an endpoint must start with http:// or https://")
        );
    }

    #[test]
    fn ca_bundle_follows_requests_then_openssl_then_curl() -> Result<()> {
        let all = config(&[
            ("REQUESTS_CA_BUNDLE", "/requests.pem"),
            ("SSL_CERT_FILE", "/ssl.pem"),
            ("CURL_CA_BUNDLE", "/curl.pem"),
        ])?;
        assert_eq!(all.ca_bundle.as_deref(), Some(Path::new("/requests.pem")));
        let ssl = config(&[("SSL_CERT_FILE", "/ssl.pem"), ("CURL_CA_BUNDLE", "/curl.pem")])?;
        assert_eq!(ssl.ca_bundle.as_deref(), Some(Path::new("/ssl.pem")));
        let curl = config(&[("REQUESTS_CA_BUNDLE", ""), ("CURL_CA_BUNDLE", "/curl.pem")])?;
        assert_eq!(curl.ca_bundle.as_deref(), Some(Path::new("/curl.pem")));
        Ok(())
    }

    #[test]
    fn proxies_come_from_the_environment() -> Result<()> {
        let config = config(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:1"),
            ("ALL_PROXY", "socks5://all:2"),
            ("no_proxy", "localhost"),
        ])?;
        assert_eq!(
            config.proxy.for_endpoint(&Endpoint::new("https://hub")?),
            Some("http://lower:1")
        );
        assert_eq!(
            config.proxy.for_endpoint(&Endpoint::new("http://hub")?),
            Some("socks5://all:2")
        );
        assert_eq!(config.proxy.no_proxy.as_deref(), Some("localhost"));
        Ok(())
    }

    #[test]
    fn debug_never_shows_secrets() -> Result<()> {
        let config = config(&[("HF_TOKEN", SECRET), ("HTTPS_PROXY", "http://me:pr0xyPass@proxy:3128")])?;
        assert_eq!(config.token.as_ref().map(Token::expose), Some(SECRET));
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!shown.contains(&SECRET[3..]), "{shown}");
            assert!(!shown.contains("pr0xyPass"), "{shown}");
            assert!(shown.contains("hf_***"), "{shown}");
        }
        Ok(())
    }

    #[test]
    fn env_vars_lists_every_variable_read() -> Result<()> {
        let asked = RefCell::new(Vec::new());
        HubConfig::from_vars(|name| {
            asked.borrow_mut().push(name.to_owned());
            None
        })?;
        let asked = asked.into_inner();
        for name in &asked {
            assert!(
                HubConfig::ENV_VARS.contains(&name.as_str()),
                "{name} is read but not listed"
            );
        }
        for name in HubConfig::ENV_VARS {
            assert!(asked.iter().any(|a| a == name), "{name} is listed but never read");
        }
        Ok(())
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn from_env_reads_the_process_environment() -> Result<()> {
        let from_env = HubConfig::from_env()?;
        let from_vars = HubConfig::from_vars(|name| std::env::var(name).ok())?;
        assert_eq!(format!("{from_env:?}"), format!("{from_vars:?}"));
        Ok(())
    }
}
