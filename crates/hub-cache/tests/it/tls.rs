//! Downloads and uploads over HTTPS, through the client's own TLS transport:
//! records decrypted in place, connections kept for the next range, and a
//! connection cut mid-body resumed.

use hub_api::{AddSource, CommitOptions, HubClient};
use hub_cache::{DownloadOptions, hf_hub_download};
use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_url::{Endpoint, RepoId, Token};

use super::TestResult;

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
fn large_files_come_over_tls_in_ranges_on_kept_connections() -> TestResult {
    let (hub, client, _bundle) = https_hub()?;
    let first = noise(12 * 1024 * 1024 + 4321, 1);
    let second = noise(3 * 1024 * 1024, 3);
    hub.seed(
        &SeedRepo::model("alice/tls")
            .file("weights.safetensors", first.clone())
            .file("more.safetensors", second.clone()),
    )?;
    let cache = tempfile::tempdir()?;
    let options = ranged_options(cache.path());
    hub.log().clear();
    let repo = RepoId::new("alice/tls")?;
    let path = hf_hub_download(&client, &repo, "weights.safetensors", &options)?;
    assert!(std::fs::read(path)? == first, "the first file arrived intact");
    let path = hf_hub_download(&client, &repo, "more.safetensors", &options)?;
    assert!(std::fs::read(path)? == second, "the second file arrived intact");
    let cdn: Vec<_> = hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .collect();
    // Each file's first request asks for all its ranges at once; the second
    // file's comes over a connection the first file's ranges came over.
    let second_from = cdn
        .iter()
        .position(|r| r.range.as_deref() == Some("bytes=0-3145727"))
        .ok_or("the second file asked in one request")?;
    assert_eq!(cdn[0].range.as_deref(), Some("bytes=0-12587232"));
    assert!(
        cdn[..second_from]
            .iter()
            .any(|r| r.connection == cdn[second_from].connection),
        "the TLS connection is kept once a request's ranges are read"
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
