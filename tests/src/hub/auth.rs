//! Who is calling: tokens, users, organisations, and what they may see.

use std::collections::HashMap;

use crate::http::{Request, Response};
use crate::{Org, TokenGrant};

/// The Hub's message for a token it does not know.
pub(crate) const INVALID_CREDENTIALS: &str = "Invalid credentials in Authorization header";

/// The users and organisations the emulator knows.
#[derive(Debug, Default)]
pub(crate) struct Users {
    tokens: HashMap<String, TokenGrant>,
    orgs: Vec<Org>,
}

/// The caller of one request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caller<'a> {
    /// No `Authorization` header.
    Anonymous,
    /// A known token.
    User(&'a TokenGrant),
}

impl<'a> Caller<'a> {
    /// The token's grant, when authenticated.
    pub(crate) fn grant(&self) -> Option<&'a TokenGrant> {
        match self {
            Caller::Anonymous => None,
            Caller::User(grant) => Some(grant),
        }
    }

    /// The user name, when authenticated.
    pub(crate) fn user(&self) -> Option<&'a str> {
        match self {
            Caller::Anonymous => None,
            Caller::User(grant) => Some(grant.user.as_str()),
        }
    }
}

impl Users {
    /// The users of these token grants and organisations.
    pub(crate) fn new(tokens: &[TokenGrant], orgs: &[Org]) -> Self {
        Users {
            tokens: tokens.iter().map(|t| (t.token.clone(), t.clone())).collect(),
            orgs: orgs.to_vec(),
        }
    }

    /// Identifies the caller from `Authorization: Bearer <token>` (or HTTP Basic with the
    /// token as password, as git sends it). A token the emulator does not know is refused
    /// with the Hub's 401.
    pub(crate) fn caller(&self, request: &Request) -> Result<Caller<'_>, Response> {
        let Some(value) = request.header("authorization") else {
            return Ok(Caller::Anonymous);
        };
        let token = bearer_or_basic_token(value).unwrap_or_default();
        match self.tokens.get(&token) {
            Some(grant) => Ok(Caller::User(grant)),
            None => Err(Response::hub_error(401, None, INVALID_CREDENTIALS)),
        }
    }

    /// The organisations `user` belongs to.
    pub(crate) fn orgs_of(&self, user: &str) -> Vec<&Org> {
        self.orgs
            .iter()
            .filter(|o| o.members.iter().any(|m| m == user))
            .collect()
    }

    /// Whether `user` is `namespace` itself or a member of the organisation `namespace`.
    pub(crate) fn acts_for(&self, user: &str, namespace: &str) -> bool {
        user == namespace
            || self
                .orgs
                .iter()
                .any(|o| o.name == namespace && o.members.iter().any(|m| m == user))
    }

    /// Whether `caller` owns (directly or through an organisation) a repo of `owner`.
    pub(crate) fn is_owner(&self, caller: Caller<'_>, owner: Option<&str>) -> bool {
        match (caller.user(), owner) {
            (Some(user), Some(owner)) => self.acts_for(user, owner),
            _ => false,
        }
    }
}

/// The token in an `Authorization` header value.
fn bearer_or_basic_token(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = super::base64::decode(rest)?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        Some(password.to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_or_basic_token;

    #[test]
    fn reads_bearer_and_basic_tokens() {
        assert_eq!(bearer_or_basic_token("Bearer hf_abc").as_deref(), Some("hf_abc"));
        // "user:hf_abc"
        assert_eq!(
            bearer_or_basic_token("Basic dXNlcjpoZl9hYmM=").as_deref(),
            Some("hf_abc")
        );
        assert_eq!(bearer_or_basic_token("Token x"), None);
    }
}
