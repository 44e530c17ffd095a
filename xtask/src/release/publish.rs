//! `cargo publish` of each crate, each after the crates it depends on
//! (cargo waits until the registry serves one before the next).

use anyhow::Result;

use super::Workspace;

pub(super) fn run(ws: &Workspace, crates: &[&str]) -> Result<()> {
    for name in crates {
        ws.run(ws.cargo().args(["publish", "-p", name]))?;
    }
    Ok(())
}
