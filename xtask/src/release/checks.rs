//! The CI checks, as `cargo xtask ci` runs them, on the tree being released.

use anyhow::Result;

use super::Workspace;

pub(super) fn run(ws: &Workspace) -> Result<()> {
    ws.run(ws.cargo().args(["xtask", "ci"]))
}
