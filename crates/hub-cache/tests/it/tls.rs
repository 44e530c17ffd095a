//! Downloads and uploads over HTTPS, through the client's own TLS transport:
//! records decrypted in place, connections kept for the next range, and a
//! connection cut mid-body resumed.

use std::collections::BTreeSet;

use hub_api::{AddSource, CommitOptions, HubClient};
use hub_cache::{DownloadOptions, hf_hub_download};
use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_url::{Endpoint, RepoId, Token};

use super::{TestResult, cdn_connections};

/// An emulator served over HTTPS, and a client trusting its CA.
fn https_hub() -> Result<(TestHub, HubClient, tempfile::NamedTempFile), Box<dyn std::error::Error>> {
    let (hub, bundle) = TestHub::start_https()?;
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .token(Some(Token::new(ALICE_WRITE)))
        .ca_bundle(Some(bundle.path().to_path_buf()))
        .build()?;
    Ok((hub, client, bundle))
}

/// Bytes no compression or deduplication shortens, `len` of them.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Ranges of 1 MiB on up to 4 connections.
fn ranged_options(cache: &std::path::Path) -> DownloadOptions<'static> {
    let mut options = DownloadOptions::new(cache);
    options.fetch.transfer.connections = 4;
    options.fetch.transfer.chunk_size = 1024 * 1024;
    options.fetch.transfer.parallel_threshold = 1024 * 1024;
    options
}

#[test]
fn a_large_file_comes_over_tls_in_ranges_on_kept_connections() -> TestResult {
    let (hub, client, _bundle) = https_hub()?;
    let bytes = noise(12 * 1024 * 1024 + 4321, 1);
    hub.seed(&SeedRepo::model("alice/tls").file("weights.safetensors", bytes.clone()))?;
    let cache = tempfile::tempdir()?;
    hub.log().clear();
    let path = hf_hub_download(
        &client,
        &RepoId::new("alice/tls")?,
        "weights.safetensors",
        &ranged_options(cache.path()),
    )?;
    assert!(std::fs::read(path)? == bytes, "the file arrived intact");
    let ranges = cdn_connections(&hub);
    let connections: BTreeSet<u64> = ranges.iter().copied().collect();
    assert!(ranges.len() >= 13, "{} range requests", ranges.len());
    assert!(
        connections.len() < ranges.len(),
        "TLS connections are kept for the next range: {} connections for {} ranges",
        connections.len(),
        ranges.len()
    );
    Ok(())
}

#[test]
fn a_tls_connection_cut_mid_body_is_resumed() -> TestResult {
    let (hub, client, _bundle) = https_hub()?;
    let bytes = noise(3 * 1024 * 1024, 2);
    hub.seed(&SeedRepo::model("alice/cut").file("weights.safetensors", bytes.clone()))?;
    hub.faults()
        .push(Fault::new("/cdn/", FaultAction::DropAfter { bytes: 100_000 }));
    let cache = tempfile::tempdir()?;
    hub.log().clear();
    let options = DownloadOptions::new(cache.path());
    let path = hf_hub_download(&client, &RepoId::new("alice/cut")?, "weights.safetensors", &options)?;
    assert!(std::fs::read(path)? == bytes, "the file arrived intact");
    let cdn_requests = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .count();
    assert!(cdn_requests >= 2, "the cut body was resumed: {cdn_requests} requests");
    Ok(())
}

#[test]
fn an_upload_larger_than_the_output_buffer_goes_over_tls() -> TestResult {
    let (hub, client, _bundle) = https_hub()?;
    let repo = RepoId::new("alice/up")?;
    hub.seed(&SeedRepo::model("alice/up").file("README.md", b"# up".to_vec()))?;
    // Several times ureq's 128 KiB output buffer, as a regular file (the
    // commit body) and as an LFS object (a PUT).
    let small = noise(700_000, 3);
    let large = noise(3 * 1024 * 1024, 4);
    client.upload_file(
        &repo,
        AddSource::Bytes(large.clone()),
        "big.bin",
        &CommitOptions::new("big"),
    )?;
    client.upload_file(
        &repo,
        AddSource::Bytes(small.clone()),
        "small.bin",
        &CommitOptions::new("small"),
    )?;
    assert!(hub.file_content("model", "alice/up", "main", "big.bin")? == large);
    assert!(hub.file_content("model", "alice/up", "main", "small.bin")? == small);
    Ok(())
}
