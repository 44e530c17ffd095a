//! The CAS client against the emulator's Xet storage: token exchange, uploads, the
//! reconstruction (v2 falling back to v1), dedupe queries, and tokens refreshed after the
//! CAS refuses them.

use std::sync::Arc;

use hub_api::{HubClient, RetryPolicy};
use hub_emulator::SeedRepo;
pub(crate) use hub_emulator::pseudo_random;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_emulator::xet_objects::{Xorb, file_id, file_shard, terms_shard};
use hub_url::{Endpoint, RepoId, RepoType, Token};
use hub_xet::{CasClient, ChunkIndex, ReconstructOptions, XetHash, XetScope, XetTokenSource, reconstruct_file};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) fn client(hub: &TestHub) -> Result<HubClient, Box<dyn std::error::Error>> {
    Ok(HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .token(Some(Token::new(ALICE_WRITE)))
        .retry(RetryPolicy {
            base_delay: std::time::Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()?)
}

pub(crate) fn cas(client: &HubClient, repo: &str, scope: XetScope) -> Result<CasClient, Box<dyn std::error::Error>> {
    let tokens = XetTokenSource::new(client, RepoType::Model, &RepoId::new(repo)?, "main", scope);
    Ok(CasClient::new(client, Arc::new(tokens)))
}

#[test]
fn uploads_and_reconstructions_go_through_the_cas_with_the_xet_token_only() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let client = client(&hub)?;
    let cas = cas(&client, "alice/x", XetScope::Write)?;

    let content = pseudo_random(150_000, 3);
    let xorb = Xorb::new(&content.chunks(40_000).collect::<Vec<_>>());
    let xorb_hash: XetHash = xorb.hash.parse()?;
    assert!(cas.upload_xorb(&xorb_hash, xorb.bytes.clone())?.was_inserted);
    assert!(!cas.upload_xorb(&xorb_hash, xorb.bytes.clone())?.was_inserted);
    cas.upload_shard(file_shard(&[&xorb], &Sha256::digest(&content).into()))?;

    let file: XetHash = file_id(&[&xorb]).parse()?;
    let answer = cas.reconstruction(&file, None)?.ok_or("the file is known")?;
    assert_eq!(answer.terms.len(), 1);
    assert_eq!(answer.terms[0].unpacked_len as usize, content.len());
    let fetches = &answer.xorbs[&xorb_hash];
    let ranges: Vec<_> = fetches[0].ranges.iter().collect();
    let mut fetched = Vec::new();
    cas.fetch_ranges(&fetches[0], &ranges, &mut |_, body| {
        body.read_to_end(&mut fetched)
            .map(drop)
            .map_err(|source| hub_xet::Error::Read { source })
    })?;
    assert_eq!(fetched, xorb.bytes);
    assert!(cas.reconstruction(&XetHash::from_bytes([9; 32]), None)?.is_none());

    let first_chunk = hub_xet::chunk_hash(&content[..40_000]);
    assert!(cas.query_dedupe(&first_chunk)?.is_some());
    assert!(cas.query_dedupe(&XetHash::from_bytes([1; 32]))?.is_none());

    // The Hub token went to the token route only, never to the CAS or the CDN.
    for record in hub.log().records() {
        let hub_token = record.authorization.as_deref().is_some_and(|a| a.contains(ALICE_WRITE));
        if record.path.starts_with("/~cas") || record.path.starts_with("/cdn/") {
            assert!(!hub_token, "{} {}", record.method, record.path);
        } else if record.path.contains("xet-write-token") {
            assert!(hub_token);
        }
    }
    // One token for all those calls.
    let exchanges = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.contains("xet-write-token"))
        .count();
    assert_eq!(exchanges, 1);
    Ok(())
}

#[test]
fn an_expired_xet_token_is_refreshed() -> TestResult {
    // Tokens that are already expired: each call is refused once, then sent again with a
    // new one (which the emulator refuses too, so the call fails after one refresh).
    let hub = TestHub::start_with(|mut config| {
        config.xet_token_ttl_secs = -60;
        config
    })?;
    hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let client = client(&hub)?;
    let cas = cas(&client, "alice/x", XetScope::Read)?;
    let refused = cas.reconstruction(&XetHash::from_bytes([9; 32]), None);
    assert_eq!(
        refused.as_ref().err().and_then(hub_xet::Error::status),
        Some(401),
        "{refused:?}"
    );
    let exchanges = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.contains("xet-read-token"))
        .count();
    assert!(exchanges >= 2, "{exchanges} token requests");
    Ok(())
}

/// Uploads `content` as xorbs of `per_xorb` chunks of 40 000 bytes and registers the file;
/// its Xet hash.
fn upload(cas: &CasClient, content: &[u8], per_xorb: usize) -> Result<XetHash, Box<dyn std::error::Error>> {
    let chunks: Vec<&[u8]> = content.chunks(40_000).collect();
    let xorbs: Vec<Xorb> = chunks.chunks(per_xorb).map(Xorb::new).collect();
    for xorb in &xorbs {
        cas.upload_xorb(&xorb.hash.parse()?, xorb.bytes.clone())?;
    }
    let refs: Vec<&Xorb> = xorbs.iter().collect();
    cas.upload_shard(file_shard(&refs, &Sha256::digest(content).into()))?;
    Ok(file_id(&refs).parse()?)
}

#[test]
fn files_are_rebuilt_from_xorb_ranges_and_then_from_the_files_the_chunk_index_knows() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let client = client(&hub)?;
    let cas = cas(&client, "alice/x", XetScope::Write)?;
    let content = pseudo_random(1_000_000, 8);
    let file = upload(&cas, &content, 5)?;
    let len = content.len() as u64;

    let dir = tempfile::tempdir()?;
    let index = ChunkIndex::new(dir.path().join("index"));
    let open = |path: &std::path::Path| {
        std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    };
    let out_path = dir.path().join("out");
    // Whatever the output held is not kept.
    std::fs::write(&out_path, vec![7u8; 2_000_000])?;
    let options = ReconstructOptions::default().workers(3).chunk_index(&index);
    let first = reconstruct_file(&cas, &file, len, &open(&out_path)?, &out_path, &options)?;
    assert_eq!(std::fs::read(&out_path)?, content);
    assert_eq!((first.bytes_found_locally, first.fetches), (0, 5));
    assert_eq!(first.xorb_bytes_fetched, hub.xet_stats().xorb_bytes_served);
    assert_eq!(first.spans.iter().map(|s| s.len()).sum::<u64>(), len);

    // The file goes where it stays; another file of the same chunks takes them from it.
    let blob = dir.path().join("blob");
    std::fs::rename(&out_path, &blob)?;
    index.moved(&out_path, &blob, &first.spans)?;
    let copy_path = dir.path().join("copy");
    let copy = reconstruct_file(&cas, &file, len, &open(&copy_path)?, &copy_path, &options)?;
    assert_eq!(std::fs::read(&copy_path)?, content);
    assert_eq!((copy.bytes_found_locally, copy.xorb_bytes_fetched), (len, 0));

    // A byte of the blob changed: the chunks around it come from the network again, the
    // others from the disk.
    let mut damaged = std::fs::read(&blob)?;
    damaged[500_000] ^= 1;
    std::fs::write(&blob, &damaged)?;
    std::fs::remove_file(&copy_path)?;
    index.forget(&copy_path, &copy.spans);
    let third_path = dir.path().join("third");
    let third = reconstruct_file(&cas, &file, len, &open(&third_path)?, &third_path, &options)?;
    assert_eq!(std::fs::read(&third_path)?, content);
    // Five xorbs of 200 000 bytes, one term each: the damaged one's is fetched.
    assert_eq!(third.bytes_found_locally, len - 200_000);
    assert_eq!(third.fetches, 1);

    // The same file rebuilt again in place (a rebuild cut short, taken up again): its own
    // chunks are read and checked where they are, nothing is fetched.
    let again = reconstruct_file(&cas, &file, len, &open(&third_path)?, &third_path, &options)?;
    assert_eq!(std::fs::read(&third_path)?, content);
    assert_eq!((again.bytes_found_locally, again.xorb_bytes_fetched), (len, 0));

    // A wrong size or hash is refused.
    assert!(reconstruct_file(&cas, &file, 5, &open(&third_path)?, &third_path, &options).is_err());
    Ok(())
}

/// The file rebuilt into a new temporary file with the default options, and what it took.
fn rebuild(
    cas: &CasClient,
    file: &XetHash,
    len: usize,
) -> Result<(Vec<u8>, hub_xet::ReconstructOutcome), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out");
    let out = std::fs::File::create(&path)?;
    let outcome = reconstruct_file(cas, file, len as u64, &out, &path, &ReconstructOptions::default())?;
    Ok((std::fs::read(&path)?, outcome))
}

/// A file made of chunk ranges of one xorb (several ranges, a chunk used twice); its
/// content and Xet hash.
fn upload_ranges(cas: &CasClient) -> Result<(Vec<u8>, XetHash), Box<dyn std::error::Error>> {
    let data = pseudo_random(400_000, 12);
    let chunks: Vec<&[u8]> = data.chunks(40_000).collect();
    let xorb = Xorb::new(&chunks);
    cas.upload_xorb(&xorb.hash.parse()?, xorb.bytes.clone())?;
    let terms = [(&xorb, 0, 2), (&xorb, 4, 7), (&xorb, 1, 2), (&xorb, 8, 10)];
    let content: Vec<u8> = terms
        .iter()
        .flat_map(|&(_, s, e)| chunks[s as usize..e as usize].concat())
        .collect();
    let (shard, file) = terms_shard(&terms, &Sha256::digest(&content).into());
    cas.upload_shard(shard)?;
    Ok((content, file.parse()?))
}

#[test]
fn several_ranges_of_a_xorb_come_in_one_request_or_one_each_from_v1() -> TestResult {
    for v2 in [true, false] {
        let hub = TestHub::start_with(|mut config| {
            config.xet_v2_reconstructions = v2;
            config
        })?;
        hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
        let cas = cas(&client(&hub)?, "alice/x", XetScope::Write)?;
        let (content, file) = upload_ranges(&cas)?;
        let (rebuilt, outcome) = rebuild(&cas, &file, content.len())?;
        assert_eq!(rebuilt, content, "v2: {v2}");
        // v2: one request for the xorb's three ranges; v1: one a range.
        assert_eq!(outcome.fetches, if v2 { 1 } else { 3 }, "v2: {v2}");
        let records = hub.log().records();
        let asked = |version: &str| {
            records
                .iter()
                .any(|r| r.path.starts_with(&format!("/~cas/{version}/reconstructions/")) && r.status == 200)
        };
        assert_eq!((asked("v2"), asked("v1")), (v2, !v2));
    }
    Ok(())
}

#[test]
fn a_refused_presigned_url_is_asked_for_again() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let cas = cas(&client(&hub)?, "alice/x", XetScope::Write)?;
    let content = pseudo_random(300_000, 14);
    let file = upload(&cas, &content, 100)?;
    // The first xorb fetch is refused, as an expired URL is.
    hub.faults().push(hub_emulator::http::Fault::new(
        "/cdn/xorb/",
        hub_emulator::http::FaultAction::Status {
            status: 403,
            retry_after: None,
        },
    ));
    assert_eq!(rebuild(&cas, &file, content.len())?.0, content);
    let reconstructions = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.contains("/reconstructions/"))
        .count();
    assert_eq!(reconstructions, 2, "one more for the new URL");
    Ok(())
}

#[test]
fn a_token_the_cas_refuses_is_replaced_once_and_the_call_goes_through() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let cas = cas(&client(&hub)?, "alice/x", XetScope::Write)?;
    let content = pseudo_random(200_000, 16);
    let file = upload(&cas, &content, 100)?;
    // The CAS refuses the next call's token, as it does a token revoked or expired early.
    hub.faults().push(hub_emulator::http::Fault::new(
        "/~cas/v2/reconstructions/",
        hub_emulator::http::FaultAction::Status {
            status: 401,
            retry_after: None,
        },
    ));
    let exchanges = |hub: &TestHub| {
        hub.log()
            .records()
            .iter()
            .filter(|r| r.path.contains("xet-write-token"))
            .count()
    };
    let before = exchanges(&hub);
    assert_eq!(rebuild(&cas, &file, content.len())?.0, content);
    assert_eq!(exchanges(&hub), before + 1, "one new token");
    Ok(())
}

#[test]
fn xorb_ranges_are_fetched_in_parallel_on_kept_connections() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/x").file("a.txt", "a"))?;
    let client = client(&hub)?;
    let cas = cas(&client, "alice/x", XetScope::Write)?;
    // Twelve xorbs, one request each.
    let content = pseudo_random(2_400_000, 9);
    let file = upload(&cas, &content, 5)?;
    let dir = tempfile::tempdir()?;
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path)?;

    // The first three requests wait for each other (ten seconds at most): they meet only
    // if three workers are at their requests at once.
    let workers = 3;
    // (requests that came to the gate, requests waiting in it now)
    let state = std::sync::Mutex::new((0usize, 0usize));
    let changed = std::sync::Condvar::new();
    let met = std::sync::atomic::AtomicBool::new(false);
    let gate = |request: &mut dyn FnMut()| {
        let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        if guard.0 <= workers {
            guard.1 += 1;
            changed.notify_all();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while guard.1 < workers && !met.load(std::sync::atomic::Ordering::SeqCst) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                guard = changed.wait_timeout(guard, left).unwrap_or_else(|p| p.into_inner()).0;
            }
            if guard.1 >= workers {
                met.store(true, std::sync::atomic::Ordering::SeqCst);
                changed.notify_all();
            }
            guard.1 -= 1;
        }
        drop(guard);
        request();
    };
    hub.log().clear();
    let options = ReconstructOptions::default().workers(workers).connection_gate(&gate);
    let outcome = reconstruct_file(&cas, &file, content.len() as u64, &out, &out_path, &options)?;
    assert_eq!(std::fs::read(&out_path)?, content);
    assert_eq!(outcome.fetches, 12);
    assert!(
        met.load(std::sync::atomic::Ordering::SeqCst),
        "three xorb requests were never in flight at once"
    );
    // Each answer is read to its end, so its connection serves the next request.
    let records = hub.log().records();
    let connections: std::collections::BTreeSet<u64> = records
        .iter()
        .filter(|r| r.path.starts_with("/cdn/xorb/"))
        .map(|r| r.connection)
        .collect();
    assert!(
        connections.len() <= workers,
        "12 xorb requests over {} connections",
        connections.len()
    );
    Ok(())
}
