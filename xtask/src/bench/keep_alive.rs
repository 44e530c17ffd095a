//! Small requests a second over keep-alive: `wrk` when installed, else two
//! threads of a minimal HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long each measurement lasts.
const DURATION: Duration = Duration::from_secs(4);

/// Requests a second answered for `url` (`http://host:port/path?query`) over
/// keep-alive connections, and what measured it.
pub(crate) fn requests_per_sec(url: &str, wrk: bool) -> Result<(f64, &'static str)> {
    if wrk {
        return Ok((with_wrk(url)?, "wrk -t2 -c8"));
    }
    Ok((with_threads(url)?, "2 keep-alive client threads"))
}

fn with_wrk(url: &str) -> Result<f64> {
    let secs = format!("{}s", DURATION.as_secs());
    let out = Command::new("wrk")
        .args(["-t2", "-c8", "-d", &secs, url])
        .output()
        .context("failed to run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Non-2xx") {
        bail!("wrk failed or got errors: {}", text.trim());
    }
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {}", text.trim()))
}

fn with_threads(url: &str) -> Result<f64> {
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = format!("GET {target} HTTP/1.1\r\nHost: {authority}\r\n\r\n").into_bytes();
    let started = Instant::now();
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| client_loop(authority, &request, started + DURATION)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client thread panicked")))
            })
            .collect::<Result<Vec<u64>>>()
    })?;
    Ok(counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64())
}

/// Sends `request` over one connection until `until`; returns how many 200s came back.
fn client_loop(authority: &str, request: &[u8], until: Instant) -> Result<u64> {
    let stream = TcpStream::connect(authority).with_context(|| format!("failed to connect to {authority}"))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    let mut body = Vec::new();
    let mut done = 0;
    while Instant::now() < until {
        writer.write_all(request)?;
        line.clear();
        reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            bail!("unexpected answer: {}", line.trim());
        }
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().context("bad content-length")?;
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        done += 1;
    }
    Ok(done)
}
