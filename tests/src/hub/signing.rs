//! Presigned URLs: an expiry and a signature over it made with a per-process secret,
//! so URLs handed to clients (CDN downloads) authorise themselves without a token.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::lfs_store::hex;

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
}
