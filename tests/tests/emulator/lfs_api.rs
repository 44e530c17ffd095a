//! The git-lfs batch API: `basic` and `multipart` uploads to presigned URLs, verify,
//! downloads, and who may do what.

use hub_emulator::SeedRepo;
use serde_json::{Value, json};

use crate::{ALICE, ALICE_READ, BOB, Fixture, Reply, TestResult, base64, pseudo_random, send, sha256_hex};

/// POSTs a git-lfs batch request with these `Authorization` header value.
pub(crate) fn batch(
    f: &Fixture,
    repo: &str,
    auth: Option<&str>,
    body: &Value,
) -> Result<Reply, Box<dyn std::error::Error>> {
    let mut headers = vec![
        ("Accept", "application/vnd.git-lfs+json"),
        ("Content-Type", "application/vnd.git-lfs+json"),
    ];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    send(
        "POST",
        &f.url(&format!("/{repo}.git/info/lfs/objects/batch")),
        &headers,
        Some(body.to_string().as_bytes()),
    )
}

/// Uploads `content` to the LFS store the way clients do: batch, then the `basic` PUT.
pub(crate) fn upload_lfs(f: &Fixture, repo: &str, content: &[u8]) -> TestResult {
    let reply = batch(f, repo, Some(&bearer(ALICE)), &upload_request(&[content], &["basic"]))?.json()?;
    if let Some(href) = reply["objects"][0]["actions"]["upload"]["href"].as_str() {
        let put = send("PUT", href, &[], Some(content))?;
        assert_eq!(put.status, 200);
    }
    Ok(())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn upload_request(objects: &[&[u8]], transfers: &[&str]) -> Value {
    let objects: Vec<Value> = objects
        .iter()
        .map(|o| json!({ "oid": sha256_hex(o), "size": o.len() }))
        .collect();
    json!({ "operation": "upload", "transfers": transfers, "objects": objects, "hash_algo": "sha256", "ref": { "name": "refs/heads/main" } })
}

#[test]
fn basic_upload_goes_to_a_presigned_cdn_url_then_verifies() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/up").file("a.txt", "a"))?;
    let content = pseudo_random(5000, 11);
    let oid = sha256_hex(&content);
    let reply = batch(
        &f,
        "alice/up",
        Some(&bearer(ALICE)),
        &upload_request(&[&content], &["basic", "multipart"]),
    )?;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), Some("application/vnd.git-lfs+json"));
    let json = reply.json()?;
    assert_eq!(
        json["transfer"], "basic",
        "small objects go basic even when multipart is offered"
    );
    let object = &json["objects"][0];
    assert_eq!(
        (object["oid"].as_str(), object["size"].as_u64()),
        (Some(oid.as_str()), Some(5000))
    );
    let href = object["actions"]["upload"]["href"]
        .as_str()
        .ok_or("upload href")?
        .to_string();
    let verify = object["actions"]["verify"]["href"]
        .as_str()
        .ok_or("verify href")?
        .to_string();
    assert!(href.starts_with(&format!("{}/", f.hub.cdn_origin())), "{href}");
    assert!(
        verify.starts_with(&format!("{}/alice/up.git/info/lfs/objects/verify?", f.hub.endpoint())),
        "{verify}"
    );
    assert!(object["actions"]["upload"].get("header").is_none());

    // Verify before the upload: not there yet.
    let body = json!({ "oid": oid, "size": 5000 }).to_string();
    assert_eq!(send("POST", &verify, &[], Some(body.as_bytes()))?.status, 404);

    // Wrong bytes, a tampered URL: refused, nothing stored.
    let mut wrong = content.clone();
    wrong[10] ^= 1;
    assert_eq!(send("PUT", &href, &[], Some(&wrong))?.status, 400);
    assert_eq!(send("PUT", &href, &[], Some(&content[..4999]))?.status, 400);
    assert_eq!(
        send(
            "PUT",
            &href.replace("size=5000", "size=4999"),
            &[],
            Some(&content[..4999])
        )?
        .status,
        403
    );
    assert_eq!(
        send("PUT", &href.replace("signature=", "signature=0"), &[], Some(&content))?.status,
        403
    );
    assert!(!f.hub.lfs_object_path(&oid).exists());

    // The real thing, with no token: the URL authorises itself.
    assert_eq!(send("PUT", &href, &[], Some(&content))?.status, 200);
    assert_eq!(std::fs::read(f.hub.lfs_object_path(&oid))?, content);
    assert_eq!(send("POST", &verify, &[], Some(body.as_bytes()))?.status, 200);
    let wrong_size = json!({ "oid": oid, "size": 4 }).to_string();
    assert_eq!(send("POST", &verify, &[], Some(wrong_size.as_bytes()))?.status, 422);
    // Without the signature, verify needs a writer's token.
    let plain_verify = f.url("/alice/up.git/info/lfs/objects/verify");
    assert_eq!(send("POST", &plain_verify, &[], Some(body.as_bytes()))?.status, 401);
    assert_eq!(
        send(
            "POST",
            &plain_verify,
            &[("Authorization", &bearer(ALICE))],
            Some(body.as_bytes())
        )?
        .status,
        200
    );

    // Stored objects need no upload: no actions.
    let again = batch(
        &f,
        "alice/up",
        Some(&bearer(ALICE)),
        &upload_request(&[&content], &["basic"]),
    )?
    .json()?;
    assert!(again["objects"][0].get("actions").is_none(), "{again}");
    assert!(
        f.hub.root().join("lfs/tmp").read_dir()?.next().is_none(),
        "no temp file left"
    );
    Ok(())
}

#[test]
fn multipart_completion_checks_every_etag() -> TestResult {
    let f = Fixture::start_with(|mut config| {
        config.multipart_threshold = 8000;
        config.multipart_part_size = 4096;
        config
    })?;
    f.hub.seed(&SeedRepo::model("alice/mp").file("a.txt", "a"))?;
    let content = pseudo_random(10_000, 12);
    let oid = sha256_hex(&content);

    // Offered only basic, a large object still goes basic.
    let basic = batch(
        &f,
        "alice/mp",
        Some(&bearer(ALICE)),
        &upload_request(&[&content], &["basic"]),
    )?
    .json()?;
    assert_eq!(basic["transfer"], "basic");

    let reply = batch(
        &f,
        "alice/mp",
        Some(&bearer(ALICE)),
        &upload_request(&[&content], &["basic", "multipart"]),
    )?;
    let json = reply.json()?;
    assert_eq!(json["transfer"], "multipart");
    let upload = &json["objects"][0]["actions"]["upload"];
    let header = upload["header"].as_object().ok_or("header")?;
    assert_eq!(header["chunk_size"], "4096");
    let keys: Vec<&String> = header.keys().filter(|k| *k != "chunk_size").collect();
    assert_eq!(keys, ["00001", "00002", "00003"], "zero-padded part numbers");
    let completion = upload["href"].as_str().ok_or("completion href")?.to_string();
    assert!(
        completion.starts_with(&format!("{}/api/complete_multipart?", f.hub.endpoint())),
        "{completion}"
    );

    // Parts go to the CDN without a token; each answer carries an ETag.
    let mut etags = Vec::new();
    for (i, chunk) in content.chunks(4096).enumerate() {
        let url = header[&format!("{:05}", i + 1)].as_str().ok_or("part url")?;
        assert!(url.starts_with(&format!("{}/", f.hub.cdn_origin())), "{url}");
        let part = send("PUT", url, &[], Some(chunk))?;
        assert_eq!(part.status, 200);
        etags.push(part.header("etag").ok_or("part etag")?.to_string());
    }
    assert!(etags.iter().all(|e| e.starts_with('"') && e.ends_with('"')));
    // A part of the wrong length, another upload's URL: refused.
    let first = header["00001"].as_str().ok_or("part url")?;
    assert_eq!(send("PUT", first, &[], Some(&content[..100]))?.status, 400);
    assert_eq!(
        send("PUT", &first.replace("/1?", "/2?"), &[], Some(&content[4096..8192]))?.status,
        403
    );

    let complete = |parts: &[(usize, &str)]| {
        let parts: Vec<Value> = parts
            .iter()
            .map(|(n, etag)| json!({ "partNumber": n, "etag": etag }))
            .collect();
        let body = json!({ "oid": oid, "parts": parts }).to_string();
        send(
            "POST",
            &completion,
            &[("Content-Type", "application/vnd.git-lfs+json")],
            Some(body.as_bytes()),
        )
    };
    let wrong = complete(&[(1, &etags[0]), (2, "\"0000\""), (3, &etags[2])])?;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.json()?["error"].as_str().is_some_and(|m| m.contains("part 2")),
        "{:?}",
        wrong.json()
    );
    assert!(
        !f.hub.lfs_object_path(&oid).exists(),
        "nothing stored after a wrong etag"
    );
    let missing = complete(&[(1, &etags[0]), (3, &etags[2])])?;
    assert_eq!(missing.status, 400);
    let tampered = send("POST", &completion.replace("size=10000", "size=9999"), &[], Some(b"{}"))?;
    assert_eq!(tampered.status, 403);

    let right = complete(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])])?;
    assert_eq!(right.status, 200, "{}", String::from_utf8_lossy(&right.body));
    assert_eq!(std::fs::read(f.hub.lfs_object_path(&oid))?, content);
    let verify = json["objects"][0]["actions"]["verify"]["href"]
        .as_str()
        .ok_or("verify")?;
    let body = json!({ "oid": oid, "size": 10_000 }).to_string();
    assert_eq!(send("POST", verify, &[], Some(body.as_bytes()))?.status, 200);
    assert!(
        f.hub.root().join("lfs/uploads").read_dir()?.next().is_none(),
        "the parts are gone"
    );
    Ok(())
}

#[test]
fn batch_needs_write_access_to_upload_and_read_access_to_download() -> TestResult {
    let f = Fixture::start()?;
    let secret = pseudo_random(3000, 13);
    f.hub
        .seed(&SeedRepo::model("alice/hidden").file("w.bin", secret.clone()).private())?;
    f.hub.seed(&SeedRepo::model("alice/open").file("a.txt", "a"))?;
    let content = pseudo_random(2000, 14);
    let request = upload_request(&[&content], &["basic"]);

    let anonymous = batch(&f, "alice/open", None, &request)?;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("lfs-authenticate").is_some() && anonymous.header("www-authenticate").is_some());
    assert!(anonymous.json()?["message"].is_string(), "git-lfs shows `message`");
    assert_eq!(
        batch(&f, "alice/open", Some(&bearer(ALICE_READ)), &request)?.status,
        403
    );
    assert_eq!(batch(&f, "alice/open", Some(&bearer(BOB)), &request)?.status, 403);
    // git-lfs sends Basic `user:token`.
    let basic = format!("Basic {}", base64(format!("alice:{ALICE}").as_bytes()));
    assert_eq!(batch(&f, "alice/open", Some(&basic), &request)?.status, 200);

    let download = json!({ "operation": "download", "transfers": ["basic"], "objects": [
        { "oid": sha256_hex(&secret), "size": 3000 },
        { "oid": sha256_hex(b"never stored"), "size": 12 },
        { "oid": "not-a-sha", "size": 1 },
    ] });
    assert_eq!(batch(&f, "alice/hidden", None, &download)?.status, 401);
    assert_eq!(batch(&f, "alice/hidden", Some(&bearer(BOB)), &download)?.status, 404);
    let reply = batch(&f, "alice/hidden", Some(&bearer(ALICE_READ)), &download)?;
    assert_eq!(reply.status, 200);
    let objects = reply.json()?["objects"].clone();
    let href = objects[0]["actions"]["download"]["href"]
        .as_str()
        .ok_or("download href")?;
    assert!(href.starts_with(&format!("{}/cdn/lfs/", f.hub.cdn_origin())));
    assert_eq!(send("GET", href, &[], None)?.body, secret);
    assert_eq!(objects[1]["error"]["code"], 404);
    assert_eq!(objects[2]["error"]["code"], 422);
    let unknown = json!({ "operation": "upload", "objects": [], "hash_algo": "md5" });
    assert_eq!(batch(&f, "alice/open", Some(&bearer(ALICE)), &unknown)?.status, 409);
    Ok(())
}

#[test]
fn large_uploads_are_spooled_and_moved_into_the_store() -> TestResult {
    // Parts and basic bodies over the server's 8 MiB spool threshold.
    let part_size: usize = 9 << 20;
    let f = Fixture::start_with(|mut config| {
        config.multipart_threshold = 16 << 20;
        config.multipart_part_size = part_size as u64;
        config
    })?;
    f.hub.seed(&SeedRepo::model("alice/big").file("a.txt", "a"))?;

    let content = pseudo_random(part_size + 12_345, 21);
    let oid = sha256_hex(&content);
    let reply = batch(
        &f,
        "alice/big",
        Some(&bearer(ALICE)),
        &upload_request(&[&content], &["basic"]),
    )?
    .json()?;
    let href = reply["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .ok_or("upload href")?
        .to_string();
    let mut wrong = content.clone();
    wrong[part_size] ^= 1;
    assert_eq!(
        send("PUT", &href, &[], Some(&wrong))?.status,
        400,
        "checked by its hash"
    );
    assert!(!f.hub.lfs_object_path(&oid).exists());
    assert_eq!(send("PUT", &href, &[], Some(&content))?.status, 200);
    assert!(std::fs::read(f.hub.lfs_object_path(&oid))? == content);

    let content = pseudo_random(2 * part_size + 999, 22);
    let oid = sha256_hex(&content);
    let json = batch(
        &f,
        "alice/big",
        Some(&bearer(ALICE)),
        &upload_request(&[&content], &["basic", "multipart"]),
    )?
    .json()?;
    assert_eq!(json["transfer"], "multipart");
    let upload = &json["objects"][0]["actions"]["upload"];
    let header = upload["header"].as_object().ok_or("header")?;
    let mut parts = Vec::new();
    for (i, chunk) in content.chunks(part_size).enumerate() {
        let url = header[&format!("{:05}", i + 1)].as_str().ok_or("part url")?;
        let reply = send("PUT", url, &[], Some(chunk))?;
        assert_eq!(reply.status, 200);
        let etag = reply.header("etag").ok_or("etag")?.to_string();
        assert_eq!(etag, format!("\"{}\"", sha256_hex(chunk)));
        parts.push(json!({ "partNumber": i + 1, "etag": etag }));
    }
    let body = json!({ "oid": oid, "parts": parts }).to_string();
    let completion = upload["href"].as_str().ok_or("completion href")?;
    let done = send("POST", completion, &[], Some(body.as_bytes()))?;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert!(std::fs::read(f.hub.lfs_object_path(&oid))? == content);
    assert!(
        f.hub.root().join("lfs/tmp").read_dir()?.next().is_none(),
        "no temp file left"
    );
    Ok(())
}
