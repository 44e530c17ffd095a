//! `huggingface-cli env`: what a bug report needs to know.

use std::io::Write;

use anyhow::Result;
use clap::Args;

use crate::session::Session;

/// Arguments of `env`.
#[derive(Debug, Args)]
pub(crate) struct EnvArgs {}

pub(crate) fn run(_args: EnvArgs) -> Result<()> {
    let session = Session::new(None)?;
    let config = &session.config;
    let has_saved_token = config.token_path.is_file();
    let mut out = std::io::stdout().lock();
    writeln!(out, "Copy-and-paste the text below in your GitHub issue.\n")?;
    writeln!(out, "- huggingface-cli version: {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "- hf_hub (Rust) version: {}", hub_api::HF_HUB_VERSION)?;
    writeln!(out, "- Rust version: {}", hub_api::RUST_VERSION)?;
    writeln!(out, "- Platform: {}-{}", std::env::consts::OS, std::env::consts::ARCH)?;
    writeln!(out, "- User agent: {}", session.client.user_agent())?;
    writeln!(out, "- Token path ?: {}", config.token_path.display())?;
    writeln!(out, "- Has saved token ?: {has_saved_token}")?;
    writeln!(out, "- Token from HF_TOKEN ?: {}", config.token.is_some())?;
    let who = match session.client.token() {
        None => "not logged in".to_string(),
        Some(_) => match session.client.whoami() {
            Ok(me) => me.name,
            Err(e) => format!("unknown ({e})"),
        },
    };
    writeln!(out, "- Who am I ?: {who}")?;
    writeln!(out, "- ENDPOINT: {}", config.endpoint)?;
    writeln!(out, "- HF_HOME: {}", config.home.display())?;
    writeln!(out, "- HF_HUB_CACHE: {}", config.hub_cache.display())?;
    writeln!(out, "- HF_TOKEN_PATH: {}", config.token_path.display())?;
    writeln!(out, "- HF_STORED_TOKENS_PATH: {}", config.stored_tokens_path.display())?;
    writeln!(out, "- HF_HUB_OFFLINE: {}", config.offline)?;
    writeln!(out, "- HF_HUB_DISABLE_TELEMETRY: {}", config.disable_telemetry)?;
    writeln!(out, "- HF_HUB_DISABLE_PROGRESS_BARS: {}", config.disable_progress_bars)?;
    writeln!(out, "- HF_HUB_DISABLE_SYMLINKS: {}", config.disable_symlinks)?;
    writeln!(out, "- HF_HUB_DISABLE_SHARED_BLOBS: {}", config.disable_shared_blobs)?;
    writeln!(out, "- HF_HUB_ETAG_TIMEOUT: {}", config.etag_timeout.as_secs())?;
    writeln!(out, "- HF_HUB_DOWNLOAD_TIMEOUT: {}", config.download_timeout.as_secs())?;
    let ca = config
        .ca_bundle
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "platform".into());
    writeln!(out, "- CA bundle: {ca}")?;
    let proxy = config.proxy.for_endpoint(&config.endpoint).map(redact_userinfo);
    writeln!(out, "- Proxy: {}", proxy.as_deref().unwrap_or("none"))?;
    Ok(())
}

/// A proxy URL without its password.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
