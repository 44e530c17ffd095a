//! A large file's connections are found by trying: behind a per-connection
//! cap, each doubling pays, and the file ends up on many; on a link one
//! stream keeps up with, it stays on one or two.

use std::collections::BTreeSet;

use hub_api::HubClient;
use hub_cache::{DownloadOptions, hf_hub_download};
use hub_emulator::SeedRepo;
use hub_emulator::test_hub::TestHub;
use hub_url::{Endpoint, RepoId};

use super::{TestResult, asked_bytes, cdn_connections};

/// Downloads a file of `mib` MiB in 256 KiB ranges (up to 8 connections)
/// and returns how many connections its ranges came over.
fn connections_used(hub: &TestHub, repo: &str, mib: u32) -> Result<usize, Box<dyn std::error::Error>> {
    let bytes: Vec<u8> = (0..mib * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    hub.seed(&SeedRepo::model(repo).file("weights.safetensors", bytes.clone()))?;
    let client = HubClient::builder().endpoint(Endpoint::new(&hub.endpoint())?).build()?;
    let cache = tempfile::tempdir()?;
    let mut options = DownloadOptions::new(cache.path());
    options.fetch.transfer.connections = 8;
    options.fetch.transfer.chunk_size = 256 * 1024;
    options.fetch.transfer.parallel_threshold = 1024 * 1024;
    hub.log().clear();
    let path = hf_hub_download(&client, &RepoId::new(repo)?, "weights.safetensors", &options)?;
    assert_eq!(std::fs::read(path)?, bytes);
    let connections: BTreeSet<u64> = cdn_connections(hub).into_iter().collect();
    Ok(connections.len())
}

#[test]
fn connections_double_while_each_doubling_pays() -> TestResult {
    // 2 MB/s a connection: one alone would take 4 s for 8 MiB.
    let hub = TestHub::start_with(|mut config| {
        config.per_connection_bytes_per_sec = Some(2_000_000);
        config
    })?;
    let connections = connections_used(&hub, "alice/capped", 8)?;
    assert!(connections >= 4, "the ramp doubled past 2 connections: {connections}");
    // The first connection asked for the whole file at once; once more were
    // let in, every connection took single ranges, each asked for once.
    let ranges: Vec<String> = hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .filter_map(|r| r.range)
        .collect();
    assert_eq!(ranges.first().map(String::as_str), Some("bytes=0-8388607"));
    // In file order, so that the sha256 thread follows every connection:
    // the first of them asked for a range before the last one's.
    let start = |range: &str| asked_bytes(range).map(|(start, _)| start);
    let (first, last) = (ranges.get(1), ranges.last());
    assert!(first.and_then(|r| start(r)) < last.and_then(|r| start(r)), "{ranges:?}");
    let others: BTreeSet<&String> = ranges[1..].iter().collect();
    assert_eq!(others.len(), ranges.len() - 1, "no range asked twice: {ranges:?}");
    for range in others {
        let (start, end) = asked_bytes(range)
            .and_then(|(start, end)| Some((start, end?)))
            .ok_or("a range request")?;
        assert_eq!((start % (256 * 1024), end - start + 1), (0, 256 * 1024), "{range}");
    }
    Ok(())
}

#[test]
fn a_link_one_stream_keeps_up_with_is_not_split_over_eight() -> TestResult {
    // Loopback brings 4 MiB (16 ranges) within the first 150 ms window, even
    // a loaded machine's debug build: the ramp has not doubled yet, where a
    // fixed count would have opened all eight.
    let connections = connections_used(&TestHub::start()?, "alice/fast", 4)?;
    assert!(connections <= 2, "{connections} connections");
    Ok(())
}
