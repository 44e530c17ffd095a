//! Records the version of the compiler for the user agent (`rust/1.95.0`).

use std::process::Command;

#[allow(clippy::disallowed_methods)] // Cargo passes the compiler in RUSTC.
fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=HUB_API_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
