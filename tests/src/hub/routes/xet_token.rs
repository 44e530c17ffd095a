//! `GET /api/{type}/{repo}/xet-read-token/{rev}` and `…/xet-write-token/{rev}`: a
//! short-lived Xet access token for the repo, with the CAS's URL. The JSON body carries
//! `accessToken`, `casUrl` and `exp` (what `hf_xet` reads) and the same values come as
//! `X-Xet-*` headers (what `huggingface_hub` reads). A read token needs read access to
//! the repo's content, a write token write access.

use serde_json::json;

use super::{
    Caller, Hub, RepoKey, Response, check_content_access, not_found, open_repo, resolve_revision, writable_repo,
};
use crate::hub::signing::now_secs;
use crate::hub::xet::token::{Scope, mint, repo_scope};
use crate::hub::xet::{CAS_PREFIX, XetCas};

/// Answers a token request; 404 on a Hub without Xet.
pub(super) fn token(
    hub: &Hub,
    base: &str,
    caller: Caller<'_>,
    key: &RepoKey,
    revision: &str,
    scope: Scope,
) -> Response {
    let Some(xet) = &hub.xet else {
        return not_found();
    };
    let answer = || -> Result<Response, Response> {
        match scope {
            Scope::Read => {
                let repo = open_repo(hub, caller, key)?;
                check_content_access(hub, caller, key, &repo)?;
            }
            Scope::Write => {
                writable_repo(hub, caller, key)?;
            }
        }
        // A pull request's commit goes to a ref not made yet: the client says "None".
        if revision != "None" {
            resolve_revision(hub, key, revision)?;
        }
        let XetCredentials {
            cas_url,
            access_token,
            expires,
        } = credentials(hub, xet, base, key, scope);
        Ok(Response::json(
            200,
            &json!({ "accessToken": access_token, "casUrl": cas_url, "exp": expires }),
        )
        .with_header("X-Xet-Cas-Url", cas_url.as_str())
        .with_header("X-Xet-Access-Token", access_token.as_str())
        .with_header("X-Xet-Token-Expiration", expires.to_string()))
    };
    answer().unwrap_or_else(|refused| refused)
}

/// What a client needs to reach the CAS for a repo.
pub(super) struct XetCredentials {
    /// The CAS's base URL.
    pub(super) cas_url: String,
    /// A short-lived token for the repo.
    pub(super) access_token: String,
    /// When it expires, in Unix seconds.
    pub(super) expires: i64,
}

/// A fresh token of `scope` for the repo `key`, with the CAS's URL. The caller's access is
/// checked before.
pub(super) fn credentials(hub: &Hub, xet: &XetCas, base: &str, key: &RepoKey, scope: Scope) -> XetCredentials {
    let expires = now_secs().saturating_add(xet.token_ttl_secs);
    XetCredentials {
        cas_url: format!("{base}{CAS_PREFIX}"),
        access_token: mint(&hub.signer, scope, &repo_scope(key), expires),
        expires,
    }
}
