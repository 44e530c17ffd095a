//! Secrets end to end: what `login` does to `HF_HOME`, and tokens kept out of
//! every message, whatever the server says.

use hub_emulator::test_hub::ALICE_WRITE;

use crate::support::{Env, TestResult, stderr};

/// A file's permission bits in octal, so that a failed comparison reads as a mode.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    Ok(format!("{:o}", std::fs::metadata(path)?.permissions().mode() & 0o7777))
}

#[cfg(unix)]
#[test]
fn login_keeps_the_mode_of_a_shared_hf_home() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::empty()?;
    let home = env.home.path();
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o2775))?;
    let out = env.cli_with_input(&["login"], &format!("{ALICE_WRITE}\n"))?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(home)?, "2775", "a group's HF_HOME stays shared");
    assert_eq!(mode(&home.join("token"))?, "600");
    assert_eq!(mode(&home.join("stored_tokens"))?, "600");
    Ok(())
}

#[cfg(unix)]
#[test]
fn login_makes_a_missing_hf_home_owner_only() -> TestResult {
    let env = Env::empty()?;
    let home = env.home.path().join("new/home");
    let mut command = env.command(&["login", "--token", ALICE_WRITE], &[]);
    let out = command.env("HF_HOME", &home).output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    for folder in [env.home.path().join("new"), home.clone()] {
        assert_eq!(mode(&folder)?, "700", "{}", folder.display());
    }
    Ok(())
}
