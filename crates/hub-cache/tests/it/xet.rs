//! Xet-backed files: hf_hub_download and snapshot_download rebuild them from the CAS's
//! reconstructions (no plain-HTTP bridge), into the blob and snapshot names every other file
//! has; damaged xorb bytes never reach `blobs/`; tokens are refreshed; the Hub token never
//! goes to the CAS or the CDN; HF_HUB_DISABLE_XET and an LFS-only hub take the plain path;
//! a new revision fetches only the chunks it does not share; a broken download completes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hub_api::{CommitOperation, CommitOptions, HubClient, RetryPolicy};
use hub_cache::{DownloadOptions, SnapshotOptions, hf_hub_download, snapshot_download};
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_emulator::xet_objects::{Xorb, terms_shard};
use hub_emulator::{EmulatorConfig, SeedRepo, pseudo_random};
use hub_url::{Endpoint, RepoId, RepoType, Token};
use hub_xet::{CasClient, XetHash, XetScope, XetTokenSource, chunk_boundaries, chunk_hash};
use sha2::{Digest, Sha256};

use crate::{TestResult, hex};

const REPO: &str = "alice/xet";

fn client_of(hub: &TestHub) -> Result<HubClient, Box<dyn std::error::Error>> {
    Ok(HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .token(Some(Token::new(ALICE_WRITE)))
        .retry(RetryPolicy {
            base_delay: std::time::Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()?)
}

/// Uploads files to the emulator's CAS as an uploader does: content-defined chunks, chunks
/// known from earlier files referenced where they are, new ones packed into new xorbs of at
/// most `chunks_per_xorb` chunks; then commits each file by its sha256.
struct Seeder {
    client: HubClient,
    cas: CasClient,
    xorbs: Vec<Xorb>,
    known: HashMap<XetHash, (usize, u32)>,
    chunks_per_xorb: usize,
}

impl Seeder {
    fn new(hub: &TestHub, chunks_per_xorb: usize) -> Result<Self, Box<dyn std::error::Error>> {
        hub.seed(&SeedRepo::model(REPO).file("README.md", "# Xet\n"))?;
        let client = client_of(hub)?;
        let tokens = XetTokenSource::new(&client, RepoType::Model, &RepoId::new(REPO)?, "main", XetScope::Write);
        let cas = CasClient::new(&client, Arc::new(tokens));
        Ok(Seeder {
            client,
            cas,
            xorbs: Vec::new(),
            known: HashMap::new(),
            chunks_per_xorb,
        })
    }

    /// Uploads `content` to the CAS and commits it as `path`; its Xet hash.
    fn add(&mut self, path: &str, content: &[u8]) -> Result<String, Box<dyn std::error::Error>> {
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        for end in chunk_boundaries(content) {
            pieces.push(&content[start..end]);
            start = end;
        }
        // New chunks go into new xorbs, in order.
        let new: Vec<&[u8]> = pieces
            .iter()
            .filter(|chunk| !self.known.contains_key(&chunk_hash(chunk)))
            .copied()
            .collect();
        for group in new.chunks(self.chunks_per_xorb.max(1)) {
            let xorb = Xorb::new(group);
            self.cas.upload_xorb(&xorb.hash.parse()?, xorb.bytes.clone())?;
            for (i, chunk) in group.iter().enumerate() {
                self.known.insert(chunk_hash(chunk), (self.xorbs.len(), i as u32));
            }
            self.xorbs.push(xorb);
        }
        // Terms: runs of consecutive chunks of one xorb.
        let mut terms: Vec<(usize, u32, u32)> = Vec::new();
        for chunk in &pieces {
            let (xorb, index) = self.known[&chunk_hash(chunk)];
            match terms.last_mut() {
                Some((x, _, end)) if *x == xorb && *end == index => *end += 1,
                _ => terms.push((xorb, index, index + 1)),
            }
        }
        let terms: Vec<(&Xorb, u32, u32)> = terms.iter().map(|&(x, s, e)| (&self.xorbs[x], s, e)).collect();
        let (shard, file) = terms_shard(&terms, &Sha256::digest(content).into());
        self.cas.upload_shard(shard)?;
        self.client.create_commit(
            &RepoId::new(REPO)?,
            &[CommitOperation::add_bytes(path, content.to_vec())],
            &CommitOptions::new(format!("Add {path}")),
        )?;
        Ok(file)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The requests of the emulator's log whose path starts with `prefix`.
fn requests(hub: &TestHub, prefix: &str) -> usize {
    hub.log()
        .records()
        .iter()
        .filter(|r| r.path.starts_with(prefix))
        .count()
}

/// No request to the CAS or the CDN carried the Hub token.
fn assert_hub_token_stayed_home(hub: &TestHub) {
    for record in hub.log().records() {
        let hub_token = record.authorization.as_deref().is_some_and(|a| a.contains(ALICE_WRITE));
        if record.path.starts_with("/~cas") || record.path.starts_with("/cdn/") {
            assert!(!hub_token, "the Hub token went to {} {}", record.method, record.path);
        }
    }
}

fn options(cache: &Path) -> DownloadOptions<'static> {
    DownloadOptions::new(cache.join("hub")).xet_chunk_index(cache.join("xet-chunks"))
}

#[test]
fn hf_hub_download_rebuilds_a_xet_file_from_reconstructions() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 20)?;
    let content = pseudo_random(3_000_000, 1);
    seeder.add("weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    hub.log().clear();

    let path = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()))?;
    assert_eq!(std::fs::read(&path)?, content);
    // The Python client's layout: blobs/{sha256}, and a relative link to it.
    let sha = sha256_hex(&content);
    let repo_dir = cache.path().join("hub").join("models--alice--xet");
    let commit = std::fs::read_to_string(repo_dir.join("refs/main"))?;
    assert_eq!(path, repo_dir.join("snapshots").join(&commit).join("weights.bin"));
    let link = std::fs::read_link(&path)?;
    assert_eq!(link, Path::new("../../blobs").join(&sha));
    assert!(repo_dir.join("blobs").join(&sha).is_file());
    assert!(
        std::fs::read_dir(repo_dir.join("blobs"))?
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".incomplete"))
    );

    assert!(
        requests(&hub, "/~cas/v2/reconstructions/") == 1,
        "one v2 reconstruction"
    );
    assert_eq!(hub.xet_stats().bridge_bytes_served, 0, "no plain-HTTP bridge");
    assert_eq!(requests(&hub, "/cdn/xet/"), 0);
    assert!(hub.xet_stats().xorb_bytes_served >= content.len() as u64);
    assert_hub_token_stayed_home(&hub);
    Ok(())
}

#[test]
fn snapshot_download_rebuilds_xet_files_with_one_token() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 16)?;
    let first = pseudo_random(1_500_000, 2);
    let second = pseudo_random(700_000, 3);
    seeder.add("a.bin", &first)?;
    seeder.add("nested/b.bin", &second)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    hub.log().clear();

    let options = SnapshotOptions::new(cache.path().join("hub")).xet_chunk_index(cache.path().join("xet-chunks"));
    let folder = snapshot_download(&client, &RepoId::new(REPO)?, &options)?;
    assert_eq!(std::fs::read(folder.join("a.bin"))?, first);
    assert_eq!(std::fs::read(folder.join("nested/b.bin"))?, second);
    assert_eq!(std::fs::read(folder.join("README.md"))?, b"# Xet\n");
    assert_eq!(requests(&hub, "/~cas/v2/reconstructions/"), 2);
    assert_eq!(
        requests(&hub, "/api/models/alice/xet/xet-read-token/"),
        1,
        "one token for the snapshot"
    );
    assert_eq!(hub.xet_stats().bridge_bytes_served, 0);
    assert_eq!(requests(&hub, "/cdn/xet/"), 0);
    assert_hub_token_stayed_home(&hub);
    Ok(())
}

#[test]
fn damaged_xorb_bytes_never_reach_the_blobs() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 100)?;
    let content = pseudo_random(1_000_000, 4);
    seeder.add("weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    // Every answer of the CDN's xorb ranges has a byte flipped inside its first chunk's data.
    hub.faults()
        .push(Fault::new("/cdn/xorb/", FaultAction::Corrupt { offset: 5_000 }).times(100));

    let result = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()));
    assert!(result.is_err(), "{result:?}");
    let blobs = cache.path().join("hub/models--alice--xet/blobs");
    let complete: Vec<_> = std::fs::read_dir(&blobs)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|name| !name.ends_with(".incomplete") && !name.starts_with(".staging"))
        .collect();
    assert!(complete.is_empty(), "{complete:?}");
    // Nothing damaged stays in the chunk cache either: once the CDN is healthy the file comes.
    hub.faults().clear();
    let path = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()))?;
    assert_eq!(std::fs::read(path)?, content);
    Ok(())
}

#[test]
fn xet_tokens_near_their_expiry_are_refreshed() -> TestResult {
    // Tokens that live 30 s are within a minute of expiry as they arrive: each use asks for
    // a new one, and the download still goes through.
    let hub = TestHub::start_with(|mut config: EmulatorConfig| {
        config.xet_token_ttl_secs = 30;
        config
    })?;
    let mut seeder = Seeder::new(&hub, 10)?;
    let content = pseudo_random(1_200_000, 5);
    seeder.add("weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    hub.log().clear();
    let path = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()))?;
    assert_eq!(std::fs::read(path)?, content);
    assert!(requests(&hub, "/api/models/alice/xet/xet-read-token/") >= 2);
    assert_hub_token_stayed_home(&hub);
    Ok(())
}

#[test]
fn without_xet_the_plain_path_serves_xet_files() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 20)?;
    let content = pseudo_random(1_000_000, 6);
    seeder.add("weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    hub.log().clear();
    // HF_HUB_DISABLE_XET=1, through the configuration.
    let config = hub_url::HubConfig::from_vars(|name| match name {
        "HF_HOME" => Some(cache.path().display().to_string()),
        "HF_HUB_DISABLE_XET" => Some("1".into()),
        _ => None,
    })?;
    let options = DownloadOptions::from_config(&config);
    assert!(!options.fetch.xet);
    let path = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options)?;
    assert_eq!(std::fs::read(path)?, content);
    assert_eq!(requests(&hub, "/~cas/"), 0);
    // Plain HTTP: the bridge, or the LFS object the commit uploaded too.
    let plain = requests(&hub, "/cdn/xet/") + requests(&hub, "/cdn/lfs/");
    assert!(plain >= 1, "the CDN served it over plain HTTP");
    Ok(())
}

#[test]
fn an_lfs_only_hub_serves_large_files_over_plain_http() -> TestResult {
    let hub = TestHub::start_with(|mut config: EmulatorConfig| {
        config.xet = false;
        config
    })?;
    let content = pseudo_random(500_000, 7);
    hub.seed(&SeedRepo::model(REPO).file("weights.bin", content.clone()))?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    let path = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()))?;
    assert_eq!(std::fs::read(path)?, content);
    assert_eq!(requests(&hub, "/~cas/"), 0);
    assert!(requests(&hub, "/cdn/lfs/") >= 1);
    Ok(())
}

#[test]
fn a_new_revision_fetches_only_the_chunks_it_does_not_share() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 8)?;
    let first = pseudo_random(8 << 20, 8);
    seeder.add("weights.bin", &first)?;
    // Revision 2: 300 KB rewritten in the middle of 8 MiB.
    let mut second = first.clone();
    second[4_000_000..4_300_000].copy_from_slice(&pseudo_random(300_000, 9));
    seeder.add("weights.bin", &second)?;
    let client = client_of(&hub)?;
    let repo = RepoId::new(REPO)?;
    let commits = hub_url::Revision::main();
    let cache = tempfile::tempdir()?;
    let history: Vec<_> = client
        .list_repo_commits(&repo, &Default::default())
        .collect::<Result<_, _>>()?;
    let old = history.get(1).map(|c| c.id.clone()).ok_or("two commits")?;

    let before = hub.xet_stats().xorb_bytes_served;
    let path = hf_hub_download(
        &client,
        &repo,
        "weights.bin",
        &options(cache.path()).revision(hub_url::Revision::new(&old)?),
    )?;
    assert_eq!(std::fs::read(path)?, first);
    let first_fetch = hub.xet_stats().xorb_bytes_served - before;
    assert!(first_fetch >= first.len() as u64);

    let before = hub.xet_stats().xorb_bytes_served;
    let path = hf_hub_download(&client, &repo, "weights.bin", &options(cache.path()).revision(commits))?;
    assert_eq!(std::fs::read(path)?, second);
    let second_fetch = hub.xet_stats().xorb_bytes_served - before;
    assert!(
        second_fetch * 100 <= second.len() as u64 * 15,
        "revision 2 fetched {second_fetch} bytes of {}",
        second.len()
    );
    Ok(())
}

#[test]
fn a_broken_download_completes_from_what_it_had() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 10)?;
    let content = pseudo_random(3_000_000, 10);
    seeder.add("weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    // The last xorb's bytes break off every time; the others arrive.
    let last = seeder.xorbs.last().map(|x| x.hash.clone()).ok_or("xorbs")?;
    hub.faults()
        .push(Fault::new(&format!("/cdn/xorb/{last}"), FaultAction::DropAfter { bytes: 1000 }).times(100));
    let first = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()));
    assert!(first.is_err());
    hub.faults().clear();

    // The partial file holds what arrived; a byte of the first xorb's part is then damaged
    // (nothing in a partial file is trusted).
    let blobs = cache.path().join("hub/models--alice--xet/blobs");
    let partial = blobs.join(format!("{}.incomplete", sha256_hex(&content)));
    let mut bytes = std::fs::read(&partial)?;
    assert_eq!(bytes.len(), content.len());
    bytes[10] ^= 1;
    std::fs::write(&partial, &bytes)?;
    let before = hub.xet_stats().xorb_bytes_served;
    let path = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()))?;
    assert_eq!(std::fs::read(path)?, content);
    let fetched = hub.xet_stats().xorb_bytes_served - before;
    let first_len = seeder.xorbs.first().map_or(0, |x| x.bytes.len() as u64);
    let last_len = seeder.xorbs.last().map_or(0, |x| x.bytes.len() as u64);
    assert!(
        fetched > last_len && fetched <= first_len + last_len,
        "only the xorb that broke off and the damaged one are fetched again: {fetched} > {first_len} + {last_len}"
    );
    assert!(!partial.exists());
    Ok(())
}

#[test]
fn a_calls_own_authorization_header_stays_at_the_hub_too() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 20)?;
    let content = pseudo_random(600_000, 11);
    seeder.add("weights.bin", &content)?;
    let anonymous = client_of(&hub)?.with_token(None);
    let cache = tempfile::tempdir()?;
    hub.log().clear();
    let mut call = hub_api::CallSettings::default();
    call.headers
        .push(("Authorization".into(), format!("Bearer {ALICE_WRITE}")));
    let path = hf_hub_download(
        &anonymous,
        &RepoId::new(REPO)?,
        "weights.bin",
        &options(cache.path()).call(call),
    )?;
    assert_eq!(std::fs::read(path)?, content);
    assert!(requests(&hub, "/~cas/v2/reconstructions/") >= 1);
    assert_hub_token_stayed_home(&hub);
    Ok(())
}

#[test]
fn a_token_route_answering_404_means_plain_http() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 20)?;
    let content = pseudo_random(600_000, 12);
    seeder.add("weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    hub.log().clear();
    // The file has a Xet hash, but the Hub hands out no Xet token, as a mirror without Xet.
    hub.faults().push(
        Fault::new(
            "/xet-read-token/",
            FaultAction::Status {
                status: 404,
                retry_after: None,
            },
        )
        .times(100),
    );
    let path = hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options(cache.path()))?;
    assert_eq!(std::fs::read(path)?, content);
    assert!(requests(&hub, "/api/models/alice/xet/xet-read-token/") >= 1);
    assert_eq!(requests(&hub, "/~cas/"), 0);
    Ok(())
}

#[test]
fn a_local_dir_download_rebuilds_xet_files_too() -> TestResult {
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 20)?;
    let content = pseudo_random(700_000, 13);
    seeder.add("deep/weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    let target = cache.path().join("local");
    hub.log().clear();
    let options = SnapshotOptions::new(cache.path().join("hub"))
        .xet_chunk_index(cache.path().join("xet-chunks"))
        .local_dir(&target);
    snapshot_download(&client, &RepoId::new(REPO)?, &options)?;
    assert_eq!(std::fs::read(target.join("deep/weights.bin"))?, content);
    assert_eq!(requests(&hub, "/~cas/v2/reconstructions/"), 1);
    assert_eq!(requests(&hub, "/cdn/xet/") + requests(&hub, "/cdn/lfs/"), 0);
    Ok(())
}

/// Progress events, as they arrive.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<hub_cache::ProgressEvent>>);

impl hub_cache::Progress for Recorded {
    fn event(&self, event: &hub_cache::ProgressEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event.clone());
        }
    }
}

#[test]
fn a_xet_download_reports_progress_as_any_download() -> TestResult {
    use hub_cache::ProgressEvent;
    let hub = TestHub::start()?;
    let mut seeder = Seeder::new(&hub, 10)?;
    let content = pseudo_random(1_500_000, 15);
    seeder.add("weights.bin", &content)?;
    let client = client_of(&hub)?;
    let cache = tempfile::tempdir()?;
    let recorded = Recorded::default();
    let options = options(cache.path()).progress(&recorded);
    hf_hub_download(&client, &RepoId::new(REPO)?, "weights.bin", &options)?;
    let events = recorded.0.lock().map_err(|_| "poisoned")?.clone();
    assert_eq!(
        events.first(),
        Some(&ProgressEvent::Started {
            path: "weights.bin".into(),
            total: Some(content.len() as u64)
        })
    );
    assert_eq!(
        events.last(),
        Some(&ProgressEvent::Finished {
            path: "weights.bin".into()
        })
    );
    let advanced: u64 = events
        .iter()
        .map(|e| match e {
            ProgressEvent::Advanced { bytes, .. } => *bytes,
            _ => 0,
        })
        .sum();
    assert_eq!(advanced, content.len() as u64);
    assert!(requests(&hub, "/~cas/v2/reconstructions/") == 1);
    Ok(())
}
