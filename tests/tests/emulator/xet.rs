//! Xet storage: the token routes, the CAS's checks and refusals, reconstructions and
//! their presigned xorb ranges, Xet-backed repo files, and the LFS-only setting.

use hub_emulator::SeedRepo;
use hub_emulator::xet_objects::{Xorb, file_id, file_shard, terms_shard};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::commit_api::{commit, lfs_file, summary};
use crate::lfs_api::{batch, upload_lfs};
use crate::{ALICE, ALICE_READ, BOB, Fixture, Reply, TestResult, get_as, pseudo_random, request, send};

/// The Xet token of `kind` (`read` or `write`) for a repo at `main`, as `token`.
fn xet_token(f: &Fixture, repo: &str, kind: &str, token: Option<&str>) -> Result<Reply, Box<dyn std::error::Error>> {
    let url = f.url(&format!("/api/models/{repo}/xet-{kind}-token/main"));
    match token {
        Some(token) => get_as(&url, token),
        None => request("GET", &url, &[]),
    }
}

/// The CAS URL and access token a successful token answer carries.
fn cas_credentials(reply: &Reply) -> Result<(String, String), Box<dyn std::error::Error>> {
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));
    let body = reply.json()?;
    let cas = body["casUrl"].as_str().ok_or("casUrl")?.to_string();
    let token = body["accessToken"].as_str().ok_or("accessToken")?.to_string();
    Ok((cas, token))
}

/// A call to the CAS with `token` (none when `None`).
fn cas_call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
    range: Option<&str>,
) -> Result<Reply, Box<dyn std::error::Error>> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    if let Some(range) = range {
        headers.push(("Range", range));
    }
    send(method, url, &headers, body)
}

fn chunks_of(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.chunks(40_000).collect()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[test]
fn token_routes_follow_repo_access_and_answer_json_and_headers() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/open").file("a.txt", "a"))?;
    f.hub
        .seed(&SeedRepo::model("alice/secret").file("a.txt", "a").private())?;

    let reply = xet_token(&f, "alice/open", "write", Some(ALICE))?;
    let (cas, token) = cas_credentials(&reply)?;
    assert_eq!(cas, f.url("/~cas"));
    assert_eq!(reply.header("x-xet-cas-url"), Some(cas.as_str()));
    assert_eq!(reply.header("x-xet-access-token"), Some(token.as_str()));
    let exp = reply.json()?["exp"].as_i64().ok_or("exp")?;
    assert_eq!(reply.header("x-xet-token-expiration"), Some(exp.to_string().as_str()));

    // Read tokens follow the repo's visibility, write tokens need write access.
    assert_eq!(xet_token(&f, "alice/open", "read", None)?.status, 200);
    assert_eq!(xet_token(&f, "alice/open", "write", None)?.status, 401);
    assert_eq!(xet_token(&f, "alice/open", "write", Some(ALICE_READ))?.status, 403);
    assert_eq!(xet_token(&f, "alice/open", "write", Some(BOB))?.status, 403);
    let hidden = xet_token(&f, "alice/secret", "read", Some(BOB))?;
    assert_eq!((hidden.status, hidden.error_code()), (404, Some("RepoNotFound")));
    assert_eq!(xet_token(&f, "alice/secret", "read", None)?.status, 401);
    assert_eq!(xet_token(&f, "alice/secret", "read", Some(ALICE_READ))?.status, 200);
    let missing = get_as(&f.url("/api/models/alice/open/xet-read-token/nope"), ALICE)?;
    assert_eq!((missing.status, missing.error_code()), (404, Some("RevisionNotFound")));
    Ok(())
}

#[test]
fn cas_checks_the_token_on_every_call() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let (cas, write) = cas_credentials(&xet_token(&f, "alice/x", "write", Some(ALICE))?)?;
    let (_, read) = cas_credentials(&xet_token(&f, "alice/x", "read", Some(ALICE))?)?;
    let xorb = Xorb::new(&[b"some chunk of data".as_slice()]);
    let url = format!("{cas}/v1/xorbs/default/{}", xorb.hash);

    assert_eq!(cas_call("POST", &url, None, Some(&xorb.bytes), None)?.status, 401);
    assert_eq!(
        cas_call("POST", &url, Some("xet_write_1_00_forged"), Some(&xorb.bytes), None)?.status,
        401
    );
    // The Hub token is not a Xet token.
    assert_eq!(
        cas_call("POST", &url, Some(ALICE), Some(&xorb.bytes), None)?.status,
        401
    );
    assert_eq!(
        cas_call("POST", &url, Some(&read), Some(&xorb.bytes), None)?.status,
        403
    );
    assert_eq!(
        cas_call("POST", &format!("{cas}/v1/shards"), Some(&read), Some(b"x"), None)?.status,
        403
    );
    let stored = cas_call("POST", &url, Some(&write), Some(&xorb.bytes), None)?;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json()?["was_inserted"], Value::Bool(true));
    let again = cas_call("POST", &url, Some(&write), Some(&xorb.bytes), None)?;
    assert_eq!(again.json()?["was_inserted"], Value::Bool(false));
    // Read calls take either scope, and nothing without a token.
    let reconstruction = format!("{cas}/v1/reconstructions/{}", "0".repeat(64));
    assert_eq!(cas_call("GET", &reconstruction, Some(&read), None, None)?.status, 404);
    assert_eq!(cas_call("GET", &reconstruction, None, None, None)?.status, 401);
    assert_eq!(f.hub.xet_stats().xorbs_stored, 1);
    Ok(())
}

#[test]
fn expired_xet_tokens_are_refused() -> TestResult {
    let f = Fixture::start_with(|mut config| {
        config.xet_token_ttl_secs = -60;
        config
    })?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let (cas, expired) = cas_credentials(&xet_token(&f, "alice/x", "write", Some(ALICE))?)?;
    let xorb = Xorb::new(&[b"data".as_slice()]);
    let reply = cas_call(
        "POST",
        &format!("{cas}/v1/xorbs/default/{}", xorb.hash),
        Some(&expired),
        Some(&xorb.bytes),
        None,
    )?;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("x-error-message"), Some("Xet access token expired"));
    assert_eq!(f.hub.xet_stats().xorb_uploads, 0);
    Ok(())
}

#[test]
fn cas_refuses_xorbs_that_do_not_match_their_hash() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let (cas, token) = cas_credentials(&xet_token(&f, "alice/x", "write", Some(ALICE))?)?;
    let content = pseudo_random(150_000, 1);
    let xorb = Xorb::new(&chunks_of(&content));
    let other = Xorb::new(&[b"other".as_slice()]);
    let post = |hash: &str, body: &[u8]| {
        cas_call(
            "POST",
            &format!("{cas}/v1/xorbs/default/{hash}"),
            Some(&token),
            Some(body),
            None,
        )
    };

    // Named by another hash, one flipped byte, cut short, not a xorb, a malformed name.
    assert_eq!(post(&other.hash, &xorb.bytes)?.status, 400);
    let mut flipped = xorb.bytes.clone();
    flipped[20] ^= 0x40;
    assert_eq!(post(&xorb.hash, &flipped)?.status, 400);
    assert_eq!(post(&xorb.hash, &xorb.bytes[..xorb.bytes.len() - 3])?.status, 400);
    assert_eq!(post(&xorb.hash, b"not a xorb at all")?.status, 400);
    assert_eq!(post("abc", &xorb.bytes)?.status, 400);
    let stats = f.hub.xet_stats();
    // The malformed name is refused before the body is looked at.
    assert_eq!((stats.xorb_uploads, stats.xorbs_stored), (4, 0));
    assert_eq!(post(&xorb.hash, &xorb.bytes)?.status, 200);
    assert_eq!(f.hub.xet_stats().xorbs_stored, 1);
    Ok(())
}

#[test]
fn cas_refuses_shards_naming_unknown_xorbs_or_wrong_content() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let (cas, token) = cas_credentials(&xet_token(&f, "alice/x", "write", Some(ALICE))?)?;
    let content = pseudo_random(100_000, 2);
    let xorb = Xorb::new(&chunks_of(&content));
    let shards = format!("{cas}/v1/shards");
    let post = |body: &[u8]| cas_call("POST", &shards, Some(&token), Some(body), None);

    // The xorb is not uploaded yet.
    assert_eq!(post(&file_shard(&[&xorb], &sha256(&content)))?.status, 400);
    let xorb_url = format!("{cas}/v1/xorbs/default/{}", xorb.hash);
    assert_eq!(
        cas_call("POST", &xorb_url, Some(&token), Some(&xorb.bytes), None)?.status,
        200
    );
    // A sha256 that is not the content's, a truncated shard, garbage.
    assert_eq!(post(&file_shard(&[&xorb], &sha256(b"something else")))?.status, 400);
    let good = file_shard(&[&xorb], &sha256(&content));
    assert_eq!(post(&good[..good.len() - 10])?.status, 400);
    assert_eq!(post(b"HFRepoMetaData")?.status, 400);
    assert_eq!(f.hub.xet_stats().files_registered, 0);

    let accepted = post(&good)?;
    assert_eq!(accepted.status, 200);
    assert_eq!(accepted.json()?["result"], 1);
    assert_eq!(f.hub.xet_stats().files_registered, 1);
    Ok(())
}

/// Uploads `content` as one xorb and registers it; returns the CAS URL, a write token and
/// the file's Xet hash.
fn upload_file(
    f: &Fixture,
    repo: &str,
    content: &[u8],
) -> Result<(String, String, String), Box<dyn std::error::Error>> {
    let (cas, token) = cas_credentials(&xet_token(f, repo, "write", Some(ALICE))?)?;
    let file = send_to_cas(&cas, &token, content)?;
    Ok((cas, token, file))
}

/// Sends `content` as one xorb to the CAS at `cas` with `token`, and registers it with a
/// shard; returns the file's Xet hash.
fn send_to_cas(cas: &str, token: &str, content: &[u8]) -> Result<String, Box<dyn std::error::Error>> {
    let xorb = Xorb::new(&chunks_of(content));
    let xorb_url = format!("{cas}/v1/xorbs/default/{}", xorb.hash);
    assert_eq!(
        cas_call("POST", &xorb_url, Some(token), Some(&xorb.bytes), None)?.status,
        200
    );
    let shard = file_shard(&[&xorb], &sha256(content));
    assert_eq!(
        cas_call("POST", &format!("{cas}/v1/shards"), Some(token), Some(&shard), None)?.status,
        200
    );
    Ok(file_id(&[&xorb]))
}

/// Commits `content` as `w.bin` to `alice/x`, named by its sha256, and checks it is there.
fn commit_weights(f: &Fixture, content: &[u8]) -> TestResult {
    let reply = commit(
        f,
        "/api/models/alice/x/commit/main",
        Some(ALICE),
        summary("Add weights"),
        &[lfs_file("w.bin", content)],
    )?;
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));
    assert_eq!(f.hub.file_content("model", "alice/x", "main", "w.bin")?, content);
    Ok(())
}

/// Follows a reconstruction: every term's chunks from its presigned range, decoded by
/// the test's own reading of the xorb format.
fn rebuild(reconstruction: &Value) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for term in reconstruction["terms"].as_array().ok_or("terms")? {
        let hash = term["hash"].as_str().ok_or("hash")?;
        let fetch = reconstruction["fetch_info"][hash]
            .as_array()
            .ok_or("fetch_info")?
            .iter()
            .find(|f| f["range"] == term["range"])
            .ok_or("a fetch entry for the term")?;
        let (start, end) = (
            fetch["url_range"]["start"].as_u64().ok_or("start")?,
            fetch["url_range"]["end"].as_u64().ok_or("end")?,
        );
        let url = fetch["url"].as_str().ok_or("url")?;
        let reply = cas_call("GET", url, None, None, Some(&format!("bytes={start}-{end}")))?;
        assert_eq!(reply.status, 206);
        out.extend(decode_chunks(&reply.body)?);
    }
    let skip = usize::try_from(reconstruction["offset_into_first_range"].as_u64().ok_or("offset")?)?;
    Ok(out.split_off(skip))
}

/// The decompressed bytes of consecutive serialized chunks.
fn decode_chunks(mut bytes: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use std::io::Read;
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let header = bytes.get(..8).ok_or("header")?;
        let stored = u32::from_le_bytes([header[1], header[2], header[3], 0]) as usize;
        let len = u32::from_le_bytes([header[5], header[6], header[7], 0]) as usize;
        let payload = bytes.get(8..8 + stored).ok_or("payload")?;
        let data = match header[4] {
            0 => payload.to_vec(),
            scheme => {
                let mut raw = Vec::new();
                lz4_flex::frame::FrameDecoder::new(payload).read_to_end(&mut raw)?;
                if scheme == 2 {
                    let mut plain = vec![0u8; len];
                    let (split, rem) = (len / 4, len % 4);
                    let mut from = 0;
                    for g in 0..4 {
                        let n = split + usize::from(g < rem);
                        for (i, byte) in raw[from..from + n].iter().enumerate() {
                            plain[i * 4 + g] = *byte;
                        }
                        from += n;
                    }
                    plain
                } else {
                    raw
                }
            }
        };
        assert_eq!(data.len(), len);
        out.extend(data);
        bytes = &bytes[8 + stored..];
    }
    Ok(out)
}

#[test]
fn reconstructions_point_at_presigned_xorb_ranges() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let content = pseudo_random(300_000, 3);
    let (cas, token, file) = upload_file(&f, "alice/x", &content)?;
    let (_, read) = cas_credentials(&xet_token(&f, "alice/x", "read", Some(ALICE))?)?;
    let url = format!("{cas}/v1/reconstructions/{file}");

    let whole = cas_call("GET", &url, Some(&read), None, None)?;
    assert_eq!(whole.status, 200);
    assert_eq!(rebuild(&whole.json()?)?, content);
    // A range starting inside a chunk: the offset into the first term says where.
    let part = cas_call("GET", &url, Some(&token), None, Some("bytes=50000-129999"))?.json()?;
    let rebuilt = rebuild(&part)?;
    assert_eq!(&rebuilt[..80_000], &content[50_000..130_000]);
    assert_eq!(
        part["terms"][0]["range"]["start"], 1,
        "chunks before the range are left out"
    );
    let past = cas_call("GET", &url, Some(&read), None, Some("bytes=300000-"))?;
    assert_eq!(past.status, 416);

    // A presigned URL authorises its own range only (the range query's starts past the
    // first chunk), and only its xorb.
    let (hash, entries) = part["fetch_info"]
        .as_object()
        .and_then(|m| m.iter().next())
        .ok_or("an entry")?;
    let signed = entries[0]["url"].as_str().ok_or("url")?;
    let start = entries[0]["url_range"]["start"].as_u64().ok_or("start")?;
    assert!(start > 0);
    let inside = format!("bytes={start}-{}", start + 10);
    assert_eq!(cas_call("GET", signed, None, None, Some(&inside))?.status, 206);
    assert_eq!(cas_call("GET", signed, None, None, Some("bytes=0-10"))?.status, 403);
    let forged = signed.replace(&format!("/cdn/xorb/{hash}"), &format!("/cdn/xorb/{}", "1".repeat(64)));
    assert_eq!(cas_call("GET", &forged, None, None, Some(&inside))?.status, 403);
    let tampered = signed.replace(&format!("bytes={start}-"), "bytes=0-");
    assert_ne!(tampered, signed);
    assert_eq!(cas_call("GET", &tampered, None, None, Some("bytes=0-10"))?.status, 403);
    Ok(())
}

#[test]
fn xet_tokens_read_the_files_of_their_repo_only() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    f.hub.seed(&SeedRepo::model("alice/other").file("a.txt", "a"))?;
    let content = pseudo_random(60_000, 8);
    let (cas, _, file) = upload_file(&f, "alice/x", &content)?;
    let url = format!("{cas}/v1/reconstructions/{file}");
    let (_, own) = cas_credentials(&xet_token(&f, "alice/x", "read", Some(ALICE))?)?;
    let (_, other) = cas_credentials(&xet_token(&f, "alice/other", "read", Some(ALICE))?)?;
    assert_eq!(cas_call("GET", &url, Some(&own), None, None)?.status, 200);
    assert_eq!(cas_call("GET", &url, Some(&other), None, None)?.status, 404);
    // The same content stored with LFS in the other repo is not offered through Xet there.
    f.hub
        .seed(&SeedRepo::model("alice/other").file("seeded.bin", content.clone()))?;
    let seeded = request("HEAD", &f.url("/alice/other/resolve/main/seeded.bin"), &[])?;
    assert_eq!(seeded.status, 302);
    assert!(seeded.header("x-xet-hash").is_none());
    // Committed into the other repo by sha256, the file is that repo's too.
    let reply = commit(
        &f,
        "/api/models/alice/other/commit/main",
        Some(ALICE),
        summary("Reuse"),
        &[lfs_file("w.bin", &content)],
    )?;
    assert_eq!(reply.status, 200);
    assert_eq!(cas_call("GET", &url, Some(&other), None, None)?.status, 200);
    let committed = request("HEAD", &f.url("/alice/other/resolve/main/w.bin"), &[])?;
    assert_eq!(committed.header("x-xet-hash"), Some(file.as_str()));
    Ok(())
}

#[test]
fn expired_presigned_xorb_urls_are_refused() -> TestResult {
    let f = Fixture::start_with(|mut config| {
        config.xet_url_ttl_secs = -60;
        config
    })?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let content = pseudo_random(50_000, 4);
    let (cas, token, file) = upload_file(&f, "alice/x", &content)?;
    let reconstruction = cas_call(
        "GET",
        &format!("{cas}/v1/reconstructions/{file}"),
        Some(&token),
        None,
        None,
    )?;
    let fetch = reconstruction.json()?["fetch_info"]
        .as_object()
        .and_then(|m| m.values().next().cloned())
        .ok_or("a fetch entry")?;
    let url = fetch[0]["url"].as_str().ok_or("url")?;
    let end = fetch[0]["url_range"]["end"].as_u64().ok_or("end")?;
    let reply = cas_call("GET", url, None, None, Some(&format!("bytes=0-{end}")))?;
    assert_eq!(reply.status, 403);
    assert_eq!(f.hub.xet_stats().xorb_bytes_served, 0);
    Ok(())
}

#[test]
fn newer_cas_routes_answer_404_so_clients_use_v1() -> TestResult {
    let f = Fixture::start_with(|mut config| {
        config.xet_v2_reconstructions = false;
        config
    })?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let (cas, token) = cas_credentials(&xet_token(&f, "alice/x", "write", Some(ALICE))?)?;
    let hash = "2".repeat(64);
    for (method, path) in [
        ("POST", format!("/v1/xorb-grants/default/{hash}")),
        ("POST", "/v2/shards".to_string()),
        ("GET", format!("/v2/reconstructions/{hash}")),
    ] {
        let reply = cas_call(method, &format!("{cas}{path}"), Some(&token), Some(b"{}"), None)?;
        assert_eq!(reply.status, 404, "{method} {path}");
    }
    // Telemetry is taken at the CAS and at the origin's root.
    assert_eq!(
        cas_call("POST", &format!("{cas}/v1/telemetry"), None, Some(b"{}"), None)?.status,
        200
    );
    assert_eq!(
        cas_call("POST", &f.url("/v1/telemetry"), None, Some(b"{}"), None)?.status,
        200
    );
    Ok(())
}

#[test]
fn v2_reconstructions_fetch_the_ranges_of_a_xorb_in_one_multipart_request() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let (cas, token) = cas_credentials(&xet_token(&f, "alice/x", "write", Some(ALICE))?)?;
    let data = pseudo_random(240_000, 11);
    let chunks = chunks_of(&data);
    let xorb = Xorb::new(&chunks);
    let xorb_url = format!("{cas}/v1/xorbs/default/{}", xorb.hash);
    assert_eq!(
        cas_call("POST", &xorb_url, Some(&token), Some(&xorb.bytes), None)?.status,
        200
    );
    // Chunks 0..2, 3..5, then 1..2 again: two ranges of the xorb, the second term's chunk
    // inside the first range.
    let terms = [(&xorb, 0, 2), (&xorb, 3, 5), (&xorb, 1, 2)];
    let content: Vec<u8> = [&chunks[0..2], &chunks[3..5], &chunks[1..2]].concat().concat();
    let (shard, file) = terms_shard(&terms, &sha256(&content));
    assert_eq!(
        cas_call("POST", &format!("{cas}/v1/shards"), Some(&token), Some(&shard), None)?.status,
        200
    );

    let answer = cas_call(
        "GET",
        &format!("{cas}/v2/reconstructions/{file}"),
        Some(&token),
        None,
        None,
    )?;
    assert_eq!(answer.status, 200, "{:?}", String::from_utf8_lossy(&answer.body));
    let answer = answer.json()?;
    assert_eq!(answer["terms"].as_array().map(Vec::len), Some(3));
    let fetches = answer["xorbs"][&xorb.hash].as_array().ok_or("xorbs")?;
    assert_eq!(fetches.len(), 1, "one URL for the xorb");
    let ranges = fetches[0]["ranges"].as_array().ok_or("ranges")?;
    let chunk_ranges: Vec<(u64, u64)> = ranges
        .iter()
        .map(|r| {
            (
                r["chunks"]["start"].as_u64().unwrap_or(99),
                r["chunks"]["end"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(chunk_ranges, [(0, 2), (3, 5)]);
    let bytes: Vec<(u64, u64)> = ranges
        .iter()
        .map(|r| {
            (
                r["bytes"]["start"].as_u64().unwrap_or(0),
                r["bytes"]["end"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let url = fetches[0]["url"].as_str().ok_or("url")?;
    let header = format!("bytes={}-{},{}-{}", bytes[0].0, bytes[0].1, bytes[1].0, bytes[1].1);
    let reply = cas_call("GET", url, None, None, Some(&header))?;
    assert_eq!(reply.status, 206);
    let content_type = reply.header("content-type").ok_or("content type")?.to_string();
    let boundary = content_type.split("boundary=").nth(1).ok_or("boundary")?;
    // Each part: its headers, a blank line, exactly the range's bytes.
    let mut parts = Vec::new();
    let mut rest = reply.body.as_slice();
    for &(start, end) in &bytes {
        let delimiter = format!("--{boundary}\r\n");
        assert!(rest.starts_with(delimiter.as_bytes()));
        let blank = rest.windows(4).position(|w| w == b"\r\n\r\n").ok_or("part headers")?;
        let headers = String::from_utf8_lossy(&rest[..blank]).to_string();
        assert!(
            headers.contains(&format!("Content-Range: bytes {start}-{end}/{}", xorb.bytes.len())),
            "{headers}"
        );
        let body_start = blank + 4;
        let len = usize::try_from(end - start + 1)?;
        parts.push(rest[body_start..body_start + len].to_vec());
        assert_eq!(&rest[body_start + len..body_start + len + 2], b"\r\n");
        rest = &rest[body_start + len + 2..];
    }
    assert_eq!(rest, format!("--{boundary}--\r\n").as_bytes());
    let first = decode_chunks(&parts[0])?;
    let second = decode_chunks(&parts[1])?;
    assert_eq!(first, [chunks[0], chunks[1]].concat());
    assert_eq!(second, [chunks[3], chunks[4]].concat());
    assert_eq!(
        f.hub.xet_stats().xorb_bytes_served,
        (parts[0].len() + parts[1].len()) as u64
    );

    // One of the signed ranges alone is a plain 206; bytes between them are not signed.
    let single = cas_call(
        "GET",
        url,
        None,
        None,
        Some(&format!("bytes={}-{}", bytes[1].0, bytes[1].1)),
    )?;
    assert_eq!((single.status, single.body.as_slice()), (206, parts[1].as_slice()));
    let between = format!("bytes={}-{}", bytes[0].1 + 1, bytes[1].0 - 1);
    assert_eq!(cas_call("GET", url, None, None, Some(&between))?.status, 403);
    Ok(())
}

#[test]
fn dedupe_queries_answer_a_shard_for_known_chunks_only() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let content = pseudo_random(90_000, 5);
    let (cas, token, _) = upload_file(&f, "alice/x", &content)?;
    let first_chunk = Xorb::new(&[&content[..40_000]]).hash;
    let unknown = Xorb::new(&[b"never uploaded".as_slice()]).hash;
    for prefix in ["default-merkledb", "default"] {
        let hit = cas_call(
            "GET",
            &format!("{cas}/v1/chunks/{prefix}/{first_chunk}"),
            Some(&token),
            None,
            None,
        )?;
        assert_eq!(hit.status, 200);
        assert!(hit.body.starts_with(b"HFRepoMetaData"), "a shard");
        let miss = cas_call(
            "GET",
            &format!("{cas}/v1/chunks/{prefix}/{unknown}"),
            Some(&token),
            None,
            None,
        )?;
        assert_eq!(miss.status, 404);
    }
    assert_eq!(f.hub.xet_stats().dedupe_hits, 2);
    Ok(())
}

#[test]
fn commits_name_xet_files_by_sha256_and_plain_clients_get_them_through_the_bridge() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let content = pseudo_random(120_000, 6);
    let (_, _, file) = upload_file(&f, "alice/x", &content)?;
    commit_weights(&f, &content)?;

    let head = request("HEAD", &f.url("/alice/x/resolve/main/w.bin"), &[])?;
    assert_eq!(head.status, 302);
    assert_eq!(head.header("x-xet-hash"), Some(file.as_str()));
    let commit = head.header("x-repo-commit").ok_or("commit")?;
    assert_eq!(
        head.header("link"),
        Some(
            format!(
                "<{}>; rel=\"xet-auth\"",
                f.url(&format!("/api/models/alice/x/xet-read-token/{commit}"))
            )
            .as_str()
        )
    );
    let location = head.header("location").ok_or("location")?;
    assert!(location.contains("/cdn/xet/"), "{location}");
    let whole = request("GET", location, &[])?;
    assert_eq!(whole.body, content);
    let part = request("GET", location, &[("Range", "bytes=1000-1999")])?;
    assert_eq!((part.status, part.body.as_slice()), (206, &content[1000..2000]));

    // git-lfs asks the batch API, and is sent to the bridge too.
    let oid = crate::sha256_hex(&content);
    let answer = batch(
        &f,
        "alice/x",
        None,
        &json!({ "operation": "download", "objects": [{ "oid": oid, "size": content.len() }] }),
    )?
    .json()?;
    let href = answer["objects"][0]["actions"]["download"]["href"]
        .as_str()
        .ok_or("a download action")?;
    assert_eq!(request("GET", href, &[])?.body, content);

    let tree = get_as(&f.url("/api/models/alice/x/tree/main"), ALICE)?.json()?;
    let entry = tree
        .as_array()
        .and_then(|items| items.iter().find(|i| i["path"] == "w.bin"))
        .ok_or("w.bin listed")?;
    assert_eq!(entry["xetHash"], file.as_str());
    // Files uploaded by LFS stay as they were.
    let a = tree
        .as_array()
        .and_then(|items| items.iter().find(|i| i["path"] == "a.txt"))
        .ok_or("a.txt listed")?;
    assert!(a.get("xetHash").is_none());
    Ok(())
}

/// An upload batch offering `transfers`, of these contents.
fn upload_batch(contents: &[&[u8]], transfers: &[&str]) -> Value {
    let objects: Vec<Value> = contents
        .iter()
        .map(|c| json!({ "oid": crate::sha256_hex(c), "size": c.len() }))
        .collect();
    json!({ "operation": "upload", "transfers": transfers, "objects": objects, "hash_algo": "sha256" })
}

#[test]
fn upload_batches_offering_xet_send_the_content_to_the_cas_with_a_write_token() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let content = pseudo_random(120_000, 8);
    let in_lfs = pseudo_random(5000, 9);
    upload_lfs(&f, "alice/x", &in_lfs)?;
    let alice = format!("Bearer {ALICE}");
    let offer = upload_batch(&[&content, &in_lfs], &["basic", "multipart", "xet"]);

    let answer = batch(&f, "alice/x", Some(&alice), &offer)?.json()?;
    assert_eq!(answer["transfer"], "xet", "{answer}");
    let header = &answer["objects"][0]["actions"]["upload"]["header"];
    let cas = header["X-Xet-Cas-Url"].as_str().ok_or("a CAS URL header")?;
    assert_eq!(Some(cas), f.hub.cas_url().as_deref());
    let token = header["X-Xet-Access-Token"].as_str().ok_or("a token header")?;
    // The expiry is a string of Unix seconds, in the future.
    let expires: u64 = header["X-Xet-Token-Expiration"]
        .as_str()
        .ok_or("an expiry string")?
        .parse()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    assert!(expires > now, "{expires} <= {now}");
    // Content the Hub has already needs nothing.
    assert_eq!(answer["objects"][1].get("actions"), None, "{answer}");

    // The token writes to the CAS; once the shard names the file, its oid needs nothing
    // either, and a commit may name it.
    send_to_cas(cas, token, &content)?;
    let again = batch(&f, "alice/x", Some(&alice), &offer)?.json()?;
    assert_eq!(again["objects"][0].get("actions"), None, "{again}");
    commit_weights(&f, &content)?;

    // Not offered, or a download: the transfers of before.
    let other = pseudo_random(7000, 10);
    let basic = batch(&f, "alice/x", Some(&alice), &upload_batch(&[&other], &["basic"]))?.json()?;
    assert_eq!(basic["transfer"], "basic");
    let download = json!({ "operation": "download", "transfers": ["basic", "xet"], "objects": [
        { "oid": crate::sha256_hex(&in_lfs), "size": in_lfs.len() }] });
    assert_eq!(
        batch(&f, "alice/x", Some(&alice), &download)?.json()?["transfer"],
        "basic"
    );
    // A caller who may only read gets no write token.
    let refused = batch(&f, "alice/x", Some(&format!("Bearer {ALICE_READ}")), &offer)?;
    assert_eq!(refused.status, 403);
    assert!(!String::from_utf8_lossy(&refused.body).contains("xet_"));
    Ok(())
}

#[test]
fn an_lfs_only_emulator_has_no_xet_routes() -> TestResult {
    let f = Fixture::start_with(|mut config| {
        config.xet = false;
        config
    })?;
    f.hub
        .seed(&SeedRepo::model("alice/x").file("w.bin", pseudo_random(5000, 7)))?;
    assert_eq!(xet_token(&f, "alice/x", "read", Some(ALICE))?.status, 404);
    assert_eq!(xet_token(&f, "alice/x", "write", Some(ALICE))?.status, 404);
    let offer = upload_batch(&[b"w".as_slice()], &["basic", "xet"]);
    let answer = batch(&f, "alice/x", Some(&format!("Bearer {ALICE}")), &offer)?.json()?;
    assert_eq!(answer["transfer"], "basic", "{answer}");
    let xorb = Xorb::new(&[b"data".as_slice()]);
    let url = f.url(&format!("/~cas/v1/xorbs/default/{}", xorb.hash));
    assert_eq!(
        cas_call("POST", &url, Some("xet_anything"), Some(&xorb.bytes), None)?.status,
        404
    );
    let head = request("HEAD", &f.url("/alice/x/resolve/main/w.bin"), &[])?;
    assert_eq!(head.status, 302);
    assert!(head.header("x-xet-hash").is_none() && head.header("link").is_none());
    assert_eq!(f.hub.cas_url(), None);
    Ok(())
}
