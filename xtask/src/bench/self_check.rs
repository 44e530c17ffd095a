//! The checks before the clients are compared: that the emulator is not what is
//! measured, how fast our CLI starts, and how fast the verifying code hashes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hub_emulator::http::TlsIdentity;
use sha2::{Digest, Sha256};

use super::keep_alive;
use super::measure::median;
use super::nginx::Nginx;
use super::page_reporting;
use super::tools::curl_trust;
use super::workloads::pseudo_random;

/// Runs of a plain `curl -o /dev/null` of the large file, per server.
const SERVE_RUNS: usize = 3;
/// Runs of `huggingface-cli --version`.
const VERSION_RUNS: usize = 20;
/// The buffer hashed over and over to time sha256 without holding gigabytes.
const HASH_BUFFER: usize = 256 << 20;
/// The buffer written over and over to time page-cache writes.
const WRITE_BUFFER: usize = 128 << 10;
/// Runs of the hash and write timings.
const HASH_RUNS: usize = 3;

/// Median seconds for `curl -s -o /dev/null URL`, one connection, trusting
/// `ca_bundle` when given.
pub(crate) fn curl_to_null_secs(url: &str, expected: u64, ca_bundle: Option<&Path>) -> Result<f64> {
    let mut secs = Vec::with_capacity(SERVE_RUNS);
    for _ in 0..SERVE_RUNS {
        let started = Instant::now();
        let out = Command::new("curl")
            .args(curl_trust(ca_bundle))
            .args(["-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}", url])
            .output()
            .context("failed to run curl")?;
        let elapsed = started.elapsed().as_secs_f64();
        let got: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        if !out.status.success() || got != expected {
            bail!(
                "curl got {got} of {expected} bytes from {url}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        secs.push(elapsed);
    }
    Ok(median(secs))
}

/// The same file from nginx, over HTTPS with `tls` (the emulator's identity,
/// and the bundle that trusts it): median seconds, or why nginx could not serve it.
pub(crate) fn nginx_secs(file: &Path, dir: &Path, expected: u64, tls: Option<(&TlsIdentity, &Path)>) -> Result<f64> {
    let nginx = Nginx::serve_file(file, dir, tls.map(|(identity, _)| identity))?;
    curl_to_null_secs(&nginx.url, expected, tls.map(|(_, ca_bundle)| ca_bundle))
}

/// Requests a second for each URL, and what measured them.
pub(crate) fn keep_alive_rate(url: &str, wrk: bool) -> Result<(f64, &'static str)> {
    keep_alive::requests_per_sec(url, wrk)
}

/// Median wall time of `cli --version`, output discarded.
pub(crate) fn version_time(cli: &Path) -> Result<Duration> {
    let mut secs = Vec::with_capacity(VERSION_RUNS);
    for _ in 0..VERSION_RUNS {
        let started = Instant::now();
        let status = Command::new(cli)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("failed to run {}", cli.display()))?;
        let elapsed = started.elapsed();
        if !status.success() {
            bail!("`{} --version` failed with {status}", cli.display());
        }
        secs.push(elapsed.as_secs_f64());
    }
    Ok(Duration::from_secs_f64(median(secs)))
}

/// Median seconds for one thread to write `bytes` bytes into a new file in
/// `dir` (128 KiB writes from one buffer, the file removed after each run):
/// what putting the bytes into that file system's page cache costs on this
/// machine, which every client pays and hashing from memory does not.
pub(crate) fn write_secs(dir: &Path, bytes: u64) -> Result<f64> {
    let buffer = pseudo_random(WRITE_BUFFER, 5);
    let path = dir.join("write-floor.tmp");
    let mut secs = Vec::with_capacity(HASH_RUNS);
    for _ in 0..HASH_RUNS {
        secs.push(write_and_remove(&path, &buffer, bytes)?);
    }
    Ok(median(secs))
}

/// Seconds for the same write once the memory it goes into is back with the
/// hypervisor (free page reporting): a file as large is written and removed
/// first, then, once its memory has gone back, the timed one. Also says how
/// long it waited for that.
pub(crate) fn write_secs_into_returned_memory(dir: &Path, bytes: u64) -> Result<(f64, String)> {
    let buffer = pseudo_random(WRITE_BUFFER, 7);
    let path = dir.join("write-floor.tmp");
    write_new_file(&path, &buffer, bytes)?;
    let before = page_reporting::reported_kib();
    std::fs::remove_file(&path).with_context(|| format!("failed to remove {}", path.display()))?;
    let waited = page_reporting::wait_for_return(before, bytes);
    Ok((write_and_remove(&path, &buffer, bytes)?, waited))
}

/// Writes `bytes` into a new file in `dir`, as the write floor does, and
/// removes it: run before each client's run where freed memory goes back to
/// the hypervisor, so that each one follows the same writer. Without it, a
/// client that followed hf-hub took 2.81 s for the loopback TLS 2 GiB file,
/// and the same binary after itself 1.80 s (six interleaved runs).
pub(crate) fn reset_memory(dir: &Path, bytes: u64) -> Result<()> {
    write_and_remove(&dir.join("memory-reset.tmp"), &pseudo_random(WRITE_BUFFER, 9), bytes).map(|_| ())
}

/// [`write_new_file`], then the file removed: the seconds of the write.
fn write_and_remove(path: &Path, buffer: &[u8], bytes: u64) -> Result<f64> {
    let secs = write_new_file(path, buffer, bytes)?;
    std::fs::remove_file(path).with_context(|| format!("failed to remove {}", path.display()))?;
    Ok(secs)
}

/// Seconds to write `bytes` into a new file at `path`, `buffer` after `buffer`.
fn write_new_file(path: &Path, buffer: &[u8], bytes: u64) -> Result<f64> {
    use std::io::Write;
    let started = Instant::now();
    let mut file = std::fs::File::create(path).with_context(|| format!("failed to create {}", path.display()))?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buffer.len() as u64) as usize;
        file.write_all(&buffer[..n])
            .with_context(|| format!("failed to write {}", path.display()))?;
        left -= n as u64;
    }
    drop(file);
    Ok(started.elapsed().as_secs_f64())
}

/// Median seconds the client's sha256 code (the `sha2` crate, release build)
/// takes over `bytes` bytes from memory: a 256 MiB buffer hashed over and over.
pub(crate) fn sha256_secs(bytes: u64) -> f64 {
    let buffer = pseudo_random(HASH_BUFFER, 3);
    let mut secs = Vec::with_capacity(HASH_RUNS);
    for _ in 0..HASH_RUNS {
        let started = Instant::now();
        let mut hasher = Sha256::new();
        let mut left = bytes;
        while left > 0 {
            let n = left.min(HASH_BUFFER as u64) as usize;
            hasher.update(&buffer[..n]);
            left -= n as u64;
        }
        std::hint::black_box(hasher.finalize());
        secs.push(started.elapsed().as_secs_f64());
    }
    median(secs)
}
