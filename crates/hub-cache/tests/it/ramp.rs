//! A large file's connections are found by trying: behind a per-connection
//! cap, each doubling pays, and the file ends up on many.

use std::collections::BTreeSet;

use hub_api::HubClient;
use hub_cache::{DownloadOptions, hf_hub_download};
use hub_emulator::SeedRepo;
use hub_emulator::test_hub::TestHub;
use hub_url::{Endpoint, RepoId};

use super::TestResult;

#[test]
fn connections_double_while_each_doubling_pays() -> TestResult {
    // 2 MB/s a connection: one alone would take 4 s for 8 MiB.
    let hub = TestHub::start_with(|mut config| {
        config.per_connection_bytes_per_sec = Some(2_000_000);
        config
    })?;
    let bytes: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    hub.seed(&SeedRepo::model("alice/capped").file("weights.safetensors", bytes.clone()))?;
    let client = HubClient::builder().endpoint(Endpoint::new(&hub.endpoint())?).build()?;
    let cache = tempfile::tempdir()?;
    let mut options = DownloadOptions::new(cache.path());
    options.transfer.connections = 8;
    options.transfer.chunk_size = 256 * 1024;
    options.transfer.parallel_threshold = 1024 * 1024;
    hub.log().clear();
    let path = hf_hub_download(&client, &RepoId::new("alice/capped")?, "weights.safetensors", &options)?;
    assert_eq!(std::fs::read(path)?, bytes);
    let connections: BTreeSet<u64> = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .map(|r| r.connection)
        .collect();
    assert!(
        connections.len() >= 4,
        "the ramp doubled past 2 connections: {}",
        connections.len()
    );
    Ok(())
}

#[test]
fn a_link_one_stream_keeps_up_with_is_not_split_over_eight() -> TestResult {
    let hub = TestHub::start()?;
    let bytes: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    hub.seed(&SeedRepo::model("alice/fast").file("weights.safetensors", bytes.clone()))?;
    let client = HubClient::builder().endpoint(Endpoint::new(&hub.endpoint())?).build()?;
    let cache = tempfile::tempdir()?;
    let mut options = DownloadOptions::new(cache.path());
    options.transfer.connections = 8;
    options.transfer.chunk_size = 256 * 1024;
    options.transfer.parallel_threshold = 1024 * 1024;
    hub.log().clear();
    let path = hf_hub_download(&client, &RepoId::new("alice/fast")?, "weights.safetensors", &options)?;
    assert_eq!(std::fs::read(path)?, bytes);
    let connections: BTreeSet<u64> = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .map(|r| r.connection)
        .collect();
    // Loopback brings 4 MiB (16 ranges) within the first 150 ms window, even
    // a loaded machine's debug build: the ramp has not doubled yet, where a
    // fixed count would have opened all eight.
    assert!(connections.len() <= 2, "{} connections", connections.len());
    Ok(())
}
