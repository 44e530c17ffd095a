//! Presigned URLs: an expiry and a signature over it made with a per-process secret,
//! so URLs handed to clients (CDN downloads) authorise themselves without a token.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::lfs_store::hex;
use super::paging::encode_component;

/// How long a presigned URL stays valid.
pub(crate) const DEFAULT_TTL_SECS: i64 = 3600;

/// Signs and checks presigned URLs.
pub(crate) struct UrlSigner {
    secret: [u8; 32],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner { .. }")
    }
}

impl UrlSigner {
    /// A signer with a fresh random secret.
    pub(crate) fn new() -> Self {
        UrlSigner {
            secret: random_secret(),
        }
    }

    /// The signature of `parts` (for example an LFS oid) valid until `expires` (Unix seconds).
    pub(crate) fn sign(&self, parts: &[&str], expires: i64) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        for part in parts {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        hasher.update(expires.to_string().as_bytes());
        hex(&hasher.finalize())
    }

    /// Whether `signature` signs `parts` with `expires`, and `expires` is not past.
    pub(crate) fn verify(&self, parts: &[&str], expires: &str, signature: &str, now_secs: i64) -> bool {
        let Ok(expires) = expires.parse::<i64>() else {
            return false;
        };
        let expected = self.sign(parts, expires);
        // Compare without an early exit so timing says nothing about the secret.
        let same = expected.len() == signature.len()
            && expected
                .bytes()
                .zip(signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same && expires >= now_secs
    }

    /// The query string `expires=…&signature=…` for `parts`, valid for `ttl_secs`.
    pub(crate) fn query(&self, parts: &[&str], ttl_secs: i64) -> String {
        let expires = now_secs() + ttl_secs;
        format!("expires={expires}&signature={}", self.sign(parts, expires))
    }

    /// A query string `name=value&…&expires=…&signature=…` whose signature covers
    /// `kind` and every field, valid for `ttl_secs`: a URL that authorises exactly one
    /// action on exactly these values.
    pub(crate) fn signed_query(&self, kind: &str, fields: &[(&str, &str)], ttl_secs: i64) -> String {
        let mut parts = vec![kind];
        let mut query = String::new();
        for (name, value) in fields {
            parts.extend([*name, *value]);
            query.push_str(&format!("{}={}&", encode_component(name), encode_component(value)));
        }
        query.push_str(&self.query(&parts, ttl_secs));
        query
    }

    /// The values of `names` in `query` (decoded pairs) when it was made by
    /// [`UrlSigner::signed_query`] for `kind` and has not expired.
    pub(crate) fn check_query(&self, kind: &str, names: &[&str], query: &[(String, String)]) -> Option<Vec<String>> {
        let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let values: Vec<&str> = names.iter().map(|name| param(name)).collect::<Option<_>>()?;
        let mut parts = vec![kind];
        for (name, value) in names.iter().zip(&values) {
            parts.extend([*name, *value]);
        }
        let expires = param("expires")?;
        let signature = param("signature")?;
        self.verify(&parts, expires, signature, now_secs())
            .then(|| values.into_iter().map(str::to_string).collect())
    }
}

/// A fresh unpredictable id of 32 hex digits.
pub(crate) fn random_id() -> String {
    hex(&random_secret()[..16])
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 32 unpredictable bytes from the standard library's randomly keyed hasher.
fn random_secret() -> [u8; 32] {
    let mut hasher = Sha256::new();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for i in 0u32..8 {
        let state = RandomState::new();
        hasher.update(state.hash_one((i, nanos, std::process::id())).to_le_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::UrlSigner;

    #[test]
    fn signatures_check_content_expiry_and_secret() {
        let signer = UrlSigner::new();
        let sig = signer.sign(&["oid"], 1000);
        assert!(signer.verify(&["oid"], "1000", &sig, 999));
        assert!(!signer.verify(&["oid"], "1000", &sig, 1001), "expired");
        assert!(!signer.verify(&["other"], "1000", &sig, 999), "other object");
        assert!(!signer.verify(&["oid"], "1001", &sig, 999), "other expiry");
        assert!(!UrlSigner::new().verify(&["oid"], "1000", &sig, 999), "other secret");
    }

    #[test]
    fn signed_queries_cover_kind_and_every_field() {
        let signer = UrlSigner::new();
        let query = signer.signed_query("part", &[("oid", "abc"), ("n", "1 2")], 60);
        let pairs = |q: &str| -> Vec<(String, String)> {
            q.split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), crate::http::percent_decode(v, true)))
                .collect()
        };
        assert_eq!(
            signer.check_query("part", &["oid", "n"], &pairs(&query)),
            Some(vec!["abc".to_string(), "1 2".to_string()])
        );
        assert_eq!(signer.check_query("upload", &["oid", "n"], &pairs(&query)), None);
        let forged = query.replace("oid=abc", "oid=abd");
        assert_eq!(signer.check_query("part", &["oid", "n"], &pairs(&forged)), None);
        assert_eq!(signer.check_query("part", &["oid", "n", "x"], &pairs(&query)), None);
    }
}
