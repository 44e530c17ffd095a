//! Xet access tokens: short-lived, scoped to one repo and to reading or writing, signed
//! by the emulator so the CAS can check them without a lookup.

use super::super::lfs_store::hex;
use super::super::repo_id::RepoKey;
use super::super::signing::UrlSigner;

/// What a Xet token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Reconstructions, dedupe queries.
    Read,
    /// Everything, plus xorb and shard uploads.
    Write,
}

impl Scope {
    /// The Hub's word for it, as in `xet-read-token`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// A checked token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XetToken {
    /// Read or write.
    pub(crate) scope: Scope,
    /// The repo it was issued for, `{type}/{id}`.
    pub(crate) repo: String,
    /// When it expires, Unix seconds.
    pub(crate) expires: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token this emulator signed.
    Invalid,
    /// Past its expiry.
    Expired,
}

impl Refusal {
    /// The message the CAS answers with.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::Missing => "Missing Xet access token",
            Refusal::Invalid => "Invalid Xet access token",
            Refusal::Expired => "Xet access token expired",
        }
    }
}

const KIND: &str = "xet-token";

/// How tokens and registered files name a repo: `{type}/{id}`, as in `model/alice/x`.
pub(crate) fn repo_scope(key: &RepoKey) -> String {
    format!("{}/{}", key.repo_type.singular(), key.repo_id)
}

/// A token for `repo` with `scope`, expiring at `expires` (Unix seconds).
pub(crate) fn mint(signer: &UrlSigner, scope: Scope, repo: &str, expires: i64) -> String {
    let signature = signer.sign(&[KIND, scope.as_str(), repo], expires);
    format!("xet_{}_{expires}_{}_{signature}", scope.as_str(), hex(repo.as_bytes()))
}

/// The token of an `Authorization` header value, checked against `now` (Unix seconds).
pub(crate) fn check(signer: &UrlSigner, authorization: Option<&str>, now: i64) -> Result<XetToken, Refusal> {
    let value = authorization.ok_or(Refusal::Missing)?.trim();
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(Refusal::Missing)?;
    let fields: Vec<&str> = token.split('_').collect();
    let ["xet", scope, expires, repo_hex, signature] = fields.as_slice() else {
        return Err(Refusal::Invalid);
    };
    let scope = Scope::parse(scope).ok_or(Refusal::Invalid)?;
    let repo = unhex(repo_hex).ok_or(Refusal::Invalid)?;
    // The signature is checked as of the beginning of time, the expiry on its own, so that
    // an expired token is told from a forged one.
    if !signer.verify(&[KIND, scope.as_str(), &repo], expires, signature, i64::MIN) {
        return Err(Refusal::Invalid);
    }
    let expires: i64 = expires.parse().map_err(|_| Refusal::Invalid)?;
    if expires < now {
        return Err(Refusal::Expired);
    }
    Ok(XetToken { scope, repo, expires })
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::{Refusal, Scope, check, mint};
    use crate::hub::signing::UrlSigner;

    #[test]
    fn tokens_carry_scope_repo_and_expiry() {
        let signer = UrlSigner::new();
        let token = mint(&signer, Scope::Write, "model/alice/x_y", 1000);
        let header = format!("Bearer {token}");
        let checked = check(&signer, Some(&header), 999).map_err(|e| e.message());
        assert_eq!(
            checked.map(|t| (t.scope, t.repo)),
            Ok((Scope::Write, "model/alice/x_y".to_string()))
        );
        assert_eq!(check(&signer, Some(&header), 1001), Err(Refusal::Expired));
        assert_eq!(check(&signer, None, 0), Err(Refusal::Missing));
        let forged = header.replace("_write_", "_read_");
        assert_eq!(check(&signer, Some(&forged), 0), Err(Refusal::Invalid));
        assert_eq!(check(&UrlSigner::new(), Some(&header), 0), Err(Refusal::Invalid));
    }
}
