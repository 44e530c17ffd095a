//! The `User-Agent` every request carries.

/// The version of this library, as sent in `hf_hub/{version}`.
pub const HF_HUB_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The compiler that built this library, as sent in `rust/{version}`.
pub const RUST_VERSION: &str = env!("HUB_API_RUSTC_VERSION");

/// Builds `{library_name}/{library_version}; hf_hub/{version}; rust/{version}[; key/value]...`,
/// the Python client's format with `rust` in place of `python`.
pub(crate) fn user_agent(
    library_name: Option<&str>,
    library_version: Option<&str>,
    extra: &[(String, String)],
    telemetry_disabled: bool,
) -> String {
    let mut ua = format!(
        "{}/{}; hf_hub/{HF_HUB_VERSION}; rust/{RUST_VERSION}",
        library_name.unwrap_or("unknown"),
        library_version.unwrap_or("None"),
    );
    if telemetry_disabled {
        ua.push_str("; telemetry/off");
    }
    for (key, value) in extra {
        ua.push_str(&format!("; {key}/{value}"));
    }
    ua
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_matches_the_python_client() {
        let ua = user_agent(
            Some("candle"),
            Some("0.9"),
            &[("file_type".into(), "model".into())],
            false,
        );
        assert_eq!(
            ua,
            format!("candle/0.9; hf_hub/{HF_HUB_VERSION}; rust/{RUST_VERSION}; file_type/model")
        );
        assert!(user_agent(None, None, &[], true).starts_with("unknown/None; hf_hub/"));
        assert!(user_agent(None, None, &[], true).ends_with("; telemetry/off"));
        assert!(RUST_VERSION.starts_with("1."), "{RUST_VERSION}");
    }
}
