//! What to tell the user to do after an error.

/// A hint for the errors where the next step is not in the message already.
pub(crate) fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|cause| {
        if let Some(api) = cause.downcast_ref::<hub_api::Error>() {
            return api_hint(api);
        }
        if let Some(cache) = cause.downcast_ref::<hub_cache::Error>() {
            return cache_hint(cache);
        }
        cause.downcast_ref::<hub_repo::Error>().and_then(repo_hint)
    })
}

fn api_hint(error: &hub_api::Error) -> Option<&'static str> {
    use hub_api::{Error, UnauthorizedReason};
    match error {
        Error::Transport { .. } => {
            Some("check your network connection and HF_ENDPOINT; set HF_HUB_OFFLINE=1 to use only the cache")
        }
        Error::RateLimited { .. } => Some("wait a minute before trying again"),
        Error::RepoNotFound { .. } => Some(
            "check the repo id and --repo-type; if the repo is private, log in with `huggingface-cli login` or set HF_TOKEN",
        ),
        Error::RevisionNotFound { .. } => Some("check the branch, tag or commit given to --revision"),
        Error::EntryNotFound { .. } => Some("check the file name and --revision"),
        Error::GatedRepo { .. } => Some(
            "accept the repo's conditions on its Hub page, then log in with `huggingface-cli login` or set HF_TOKEN",
        ),
        Error::Unauthorized { reason, .. } => Some(match reason {
            UnauthorizedReason::MissingToken => "log in with `huggingface-cli login` or set HF_TOKEN",
            UnauthorizedReason::InvalidToken => "log in again with `huggingface-cli login` or fix HF_TOKEN",
            _ => "use a token with the permission it needs (a write token to change a repo)",
        }),
        Error::UnknownToken { .. } => Some(
            "the saved names are the [sections] of stored_tokens in HF_HOME; `logout` without a name removes them all",
        ),
        _ => None,
    }
}

fn cache_hint(error: &hub_cache::Error) -> Option<&'static str> {
    match error {
        hub_cache::Error::NotCached { .. } => Some("unset HF_HUB_OFFLINE to fetch it"),
        _ => None,
    }
}

fn repo_hint(error: &hub_repo::Error) -> Option<&'static str> {
    use hub_repo::Error;
    match error {
        Error::GitMissing { .. } => Some("install git and git-lfs, and put them on the PATH"),
        Error::NotEmpty { .. } => Some(
            "clone into a new folder and move the files there, or `git init` the folder and add the remote yourself",
        ),
        Error::UnrelatedClone { .. } => Some("clone into another folder"),
        Error::NotARepository { .. } => Some("clone the repo first, or give the path of a clone"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::hint_for;

    #[test]
    fn advice_about_commands_comes_from_the_cli_not_the_libraries() {
        let missing = hub_api::Error::RepoNotFound {
            repo: "alice/private".into(),
            endpoint: "http://127.0.0.1:1".into(),
            request_id: None,
        };
        assert!(!missing.to_string().contains("huggingface-cli"), "{missing}");
        let err = anyhow::Error::new(hub_cache::Error::from(missing)).context("failed to download x");
        let hint = hint_for(&err).expect("a hint through the cache's error");
        assert!(hint.contains("huggingface-cli login"), "{hint}");

        let not_cached = hub_cache::Error::NotCached {
            repo: "alice/m".into(),
            revision: "main".into(),
            path: "config.json".into(),
            cache_dir: "/cache".into(),
        };
        assert!(!not_cached.to_string().contains("HF_HUB_OFFLINE"), "{not_cached}");
        assert_eq!(
            hint_for(&anyhow::Error::new(not_cached)),
            Some("unset HF_HUB_OFFLINE to fetch it")
        );
    }
}
