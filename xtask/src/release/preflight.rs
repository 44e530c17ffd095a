//! What must hold before a release changes anything: a clean tree, a version
//! above the current one, a free tag, and the semver tool when it is needed.

use anyhow::{Result, ensure};
use semver::Version;

use super::{ReleaseOptions, Workspace, git, manifests, semver_check};

/// What the preflight found out.
pub(super) struct Plan {
    /// The version in `[workspace.package]` now.
    pub(super) current: Version,
    /// The last `v*` tag HEAD descends from, if any.
    pub(super) previous_tag: Option<String>,
}

pub(super) fn check(ws: &Workspace, options: &ReleaseOptions) -> Result<Plan> {
    git::ensure_clean(ws)?;
    let current = manifests::current_version(ws)?;
    ensure_above(&options.version, &current)?;
    let tag = format!("v{}", options.version);
    ensure!(!git::tag_exists(ws, &tag)?, "the tag {tag} exists already");
    let previous_tag = git::last_release_tag(ws)?;
    if let Some(previous) = &previous_tag
        && !options.skip_semver
    {
        semver_check::ensure_installed(ws, previous)?;
    }
    Ok(Plan { current, previous_tag })
}

/// A release goes up: `0.2.0-rc.1` is above `0.1.0` and below `0.2.0`, as
/// semver orders them.
fn ensure_above(new: &Version, current: &Version) -> Result<()> {
    ensure!(
        new > current,
        "{new} is not above the current version {current}: a release must go up"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("a valid version")
    }

    #[test]
    fn only_higher_versions_pass() {
        assert!(ensure_above(&v("0.2.0"), &v("0.1.0")).is_ok());
        assert!(ensure_above(&v("0.1.1"), &v("0.1.0")).is_ok());
        assert!(ensure_above(&v("0.2.0-rc.1"), &v("0.1.0")).is_ok());
        assert!(ensure_above(&v("0.2.0"), &v("0.2.0-rc.1")).is_ok());
        assert!(ensure_above(&v("0.1.0"), &v("0.1.0")).is_err());
        assert!(ensure_above(&v("0.0.9"), &v("0.1.0")).is_err());
        assert!(ensure_above(&v("0.10.0"), &v("0.9.0")).is_ok(), "numbers, not text");
        assert!(ensure_above(&v("0.2.0-rc.1"), &v("0.2.0")).is_err());
    }
}
