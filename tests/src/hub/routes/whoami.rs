//! `GET /api/whoami-v2`: the token's user, organisations and token facts.

use serde_json::{Value, json};

use super::{Caller, Hub, Response};
use crate::hub::auth::INVALID_CREDENTIALS;
use crate::hub::lfs_store::hex;

/// A stable 24-hex id for a user or organisation name.
fn account_id(kind: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(format!("{kind}:{name}"))[..12])
}

fn avatar(name: &str) -> String {
    format!("https://huggingface.co/avatars/{}.svg", account_id("avatar", name))
}

/// Answers whoami: 401 without a token.
pub(super) fn whoami(hub: &Hub, caller: Caller<'_>) -> Response {
    let Caller::User(grant) = caller else {
        return Response::hub_error(401, None, INVALID_CREDENTIALS);
    };
    let user = grant.user.as_str();
    let orgs: Vec<Value> = hub
        .users
        .orgs_of(user)
        .iter()
        .map(|org| {
            json!({
                "type": "org",
                "id": account_id("org", &org.name),
                "name": org.name,
                "fullname": org.name,
                "email": null,
                "canPay": false,
                "periodEnd": null,
                "avatarUrl": avatar(&org.name),
                "roleInOrg": if grant.role == crate::Role::Write { "write" } else { "read" },
                "isEnterprise": false,
            })
        })
        .collect();
    Response::json(
        200,
        &json!({
            "type": "user",
            "id": account_id("user", user),
            "name": user,
            "fullname": user,
            "email": format!("{user}@users.hub.localhost"),
            "emailVerified": true,
            "canPay": false,
            "isPro": false,
            "periodEnd": null,
            "avatarUrl": avatar(user),
            "orgs": orgs,
            "auth": {
                "type": "access_token",
                "accessToken": {
                    "displayName": format!("{user}-token"),
                    "role": grant.role.as_str(),
                    "createdAt": "2026-01-01T00:00:00.000Z",
                },
            },
        }),
    )
}
