//! The `hub-emulator` binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::{TestResult, get_as};

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn binary_prints_its_address_first_and_serves() -> TestResult {
    let root = tempfile::tempdir()?;
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
            .arg("--root")
            .arg(root.path().join("hub"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--token",
                "hf_cli=carol:read",
                "--org",
                "labs=carol,dave",
            ])
            .args(["--lfs-threshold", "2048", "--page-size", "5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    let endpoint = first
        .trim()
        .strip_prefix("listening on ")
        .ok_or(format!("first line: {first:?}"))?;
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let me = get_as(&format!("{endpoint}/api/whoami-v2"), "hf_cli")?;
    assert_eq!(me.status, 200);
    let json = me.json()?;
    assert_eq!(json["name"], "carol");
    assert_eq!(json["orgs"][0]["name"], "labs");
    assert_eq!(json["auth"]["accessToken"]["role"], "read");
    assert!(root.path().join("hub/repos").is_dir());
    Ok(())
}

#[test]
fn binary_rejects_bad_arguments() -> TestResult {
    let output = Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
        .args(["--root", "/nonexistent-unused", "--token", "no-user-here"])
        .output()?;
    assert_eq!(output.status.code(), Some(2), "usage errors exit 2");
    assert!(String::from_utf8_lossy(&output.stderr).contains("TOKEN=USER"));
    Ok(())
}
