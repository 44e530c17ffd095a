//! The URL a file is downloaded from: the Python client's `hf_hub_url`.

use crate::endpoint::Endpoint;
use crate::quote::{encode_path, encode_segment};
use crate::repo_id::RepoId;
use crate::repo_type::RepoType;
use crate::revision::Revision;

/// The resolve URL of `filename` in a repository, exactly as the Python client's `hf_hub_url`
/// builds it: `{endpoint}/{prefix}{repo}/resolve/{revision}/{filename}`.
///
/// The revision is encoded as one segment, so `refs/pr/1` becomes
/// `refs%2Fpr%2F1`; the filename is encoded per segment and keeps its `/`s. A subfolder is
/// simply the start of `filename`.
pub fn hf_hub_url(
    repo_id: &RepoId,
    filename: &str,
    revision: &Revision,
    repo_type: RepoType,
    endpoint: &Endpoint,
) -> String {
    format!(
        "{}/resolve/{}/{}",
        endpoint.repo_url(repo_type, repo_id),
        encode_segment(revision.as_str()),
        encode_path(filename)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;

    #[test]
    fn the_default_revision_is_main() -> Result<()> {
        let id = RepoId::new("org/name")?;
        let endpoint = Endpoint::default();
        let url = hf_hub_url(&id, "config.json", &Revision::default(), RepoType::Model, &endpoint);
        assert_eq!(url, "https://huggingface.co/org/name/resolve/main/config.json");
        Ok(())
    }
}
