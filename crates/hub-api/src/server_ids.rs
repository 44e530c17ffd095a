//! Ids that a server names and the cache turns into file names, checked where
//! they enter: commits (40 hex), blobs (40 or 64 hex) and LFS oids (64 hex).
//!
//! A value that fails is refused with its field and the value itself, rather
//! than ever reaching a `join` on a cache path.

use serde::{Deserialize, Deserializer, de::Error as _};

/// A commit id from a header or a field: 40 hex digits, or the reason it is refused.
pub(crate) fn check_commit_id(field: &str, value: &str) -> Result<(), String> {
    match hub_url::is_commit_id(value) {
        true => Ok(()),
        false => Err(format!("{field} {value:?} is not a commit id (40 hex digits)")),
    }
}

/// A blob id from a header or a field: 40 or 64 hex digits, or the reason it is refused.
pub(crate) fn check_blob_id(field: &str, value: &str) -> Result<(), String> {
    match hub_url::is_blob_id(value) {
        true => Ok(()),
        false => Err(format!("{field} {value:?} is not a blob id (40 or 64 hex digits)")),
    }
}

/// A Xet file hash (`X-Xet-Hash`, `xetHash`): 64 lowercase hex digits. Any
/// other value is dropped, so the file is fetched as if it had none.
pub(crate) fn xet_hash(field: &str, value: String) -> Option<String> {
    let valid = value.len() == 64 && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        log::debug!("{field} {value:?} is not a Xet hash (64 lowercase hex digits): ignored");
    }
    valid.then_some(value)
}

/// `xetHash` of a file in a tree listing, when it is a Xet hash.
pub(crate) fn optional_xet_hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.and_then(|value| xet_hash("xetHash", value)))
}

/// `oid` of a file in a tree listing: a git blob id or sha256.
pub(crate) fn blob_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = String::deserialize(deserializer)?;
    check_blob_id("oid", &value).map_err(D::Error::custom)?;
    Ok(value)
}

/// `lfs.oid` / `lfs.sha256`: the object's sha256.
pub(crate) fn sha256<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = String::deserialize(deserializer)?;
    match hub_url::is_sha256(&value) {
        true => Ok(value),
        false => Err(D::Error::custom(format!(
            "lfs.oid {value:?} is not a sha256 (64 hex digits)"
        ))),
    }
}

/// `commitOid` of a commit's answer.
pub(crate) fn commit_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = String::deserialize(deserializer)?;
    check_commit_id("commitOid", &value).map_err(D::Error::custom)?;
    Ok(value)
}

/// `sha` of a repo's info: the commit the revision resolved to, when given.
pub(crate) fn optional_commit_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    if let Some(sha) = &value {
        check_commit_id("sha", sha).map_err(D::Error::custom)?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Entry {
        #[serde(deserialize_with = "super::blob_id")]
        oid: String,
        #[serde(default, deserialize_with = "super::optional_commit_id")]
        sha: Option<String>,
    }

    #[test]
    fn ids_that_would_climb_out_are_refused_with_their_field() {
        let good = r#"{"oid": "0123456789abcdef0123456789abcdef01234567", "sha": null}"#;
        let entry = serde_json::from_str::<Entry>(good).expect("valid ids");
        assert_eq!((entry.oid.len(), entry.sha), (40, None));
        let err = serde_json::from_str::<Entry>(r#"{"oid": "../../../../tmp/x"}"#).expect_err("climbing oid");
        assert!(err.to_string().contains(r#"oid "../../../../tmp/x""#), "{err}");
        let err =
            serde_json::from_str::<Entry>(r#"{"oid": "0123456789abcdef0123456789abcdef01234567", "sha": "/etc"}"#)
                .expect_err("absolute sha");
        assert!(err.to_string().contains(r#"sha "/etc""#), "{err}");
    }

    #[test]
    fn xet_hashes_that_are_not_64_lowercase_hex_digits_are_left_out() {
        #[derive(Deserialize, Debug)]
        struct File {
            #[serde(default, rename = "xetHash", deserialize_with = "super::optional_xet_hash")]
            xet_hash: Option<String>,
        }
        let good = "0123456789abcdef".repeat(4);
        let parsed = serde_json::from_str::<File>(&format!(r#"{{"xetHash": "{good}"}}"#)).expect("a hash");
        assert_eq!(parsed.xet_hash.as_deref(), Some(good.as_str()));
        for bad in [
            good.to_uppercase(),
            format!("{good}0"),
            good[1..].to_string(),
            format!("../{}", &good[3..]),
            String::new(),
        ] {
            let parsed = serde_json::from_str::<File>(&format!(r#"{{"xetHash": "{bad}"}}"#)).expect("parsed");
            assert_eq!(parsed.xet_hash, None, "{bad}");
        }
        let absent = serde_json::from_str::<File>("{}").expect("parsed");
        assert_eq!(absent.xet_hash, None);
    }
}
