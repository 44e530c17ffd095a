//! The lies, one run of the CLI each, grouped by what they attack.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use hub_emulator::hostile_hub::{HostileHub, LFS_FILE, Lie, MISSING_FILE, REPO, SMALL_FILE};

use super::Row;
use super::cli_run::{Outcome, Sandbox, TOKEN};

/// An environment variable given to one run.
type Setting = (&'static str, &'static str);

/// No case may take longer: past it, the CLI hangs.
const LIMIT: Duration = Duration::from_secs(180);

/// An LFS file large enough for parallel ranges (32 MiB and up).
const RANGED_SIZE: usize = 40 * 1024 * 1024;

/// Server-chosen ids and paths that would leave the cache if joined to a path.
const CLIMBING: [&str; 4] = [
    "../../../../../../escaped",
    "/tmp/hub-hardening-escaped",
    "..",
    "0123456789abcdef0123456789abcdef0123/../",
];

pub(super) fn run_all(cli: &Path, quick: bool) -> Result<Vec<Row>> {
    let rows = vec![
        server_ids(cli)?,
        hangs(cli)?,
        unbounded(cli, quick)?,
        wrong_bytes(cli)?,
        names(cli)?,
        secrets(cli)?,
    ];
    Ok(rows)
}

/// Runs `download evil/repo {args}` against a hub telling `lie`, in a fresh
/// sandbox, and checks the invariants every case keeps.
fn download(cli: &Path, hub: &HostileHub, args: &[&str], env: &[(&str, &str)]) -> Result<(Sandbox, Outcome)> {
    let sandbox = Sandbox::new()?;
    let mut full = vec!["download", REPO];
    full.extend_from_slice(args);
    let outcome = sandbox.run(cli, &hub.url(), &full, env, LIMIT)?;
    sandbox.check_nothing_outside()?;
    sandbox.check_snapshots(&[hub.small_bytes(), hub.lfs_bytes()])?;
    if Path::new("/tmp/hub-hardening-escaped").exists() {
        bail!("a file was written at /tmp/hub-hardening-escaped");
    }
    Ok((sandbox, outcome))
}

fn server_ids(cli: &Path) -> Result<Row> {
    let mut row = Row::new("server ids and paths that would leave the cache");
    for bad in CLIMBING {
        let cases: Vec<(Lie, Vec<&str>, &str)> = vec![
            (Lie::RepoCommit(bad.into()), vec![SMALL_FILE], "X-Repo-Commit"),
            (Lie::RepoCommit(bad.into()), vec![], "sha"),
            (Lie::Etag(bad.into()), vec![SMALL_FILE], "ETag"),
            (Lie::LinkedEtag(bad.into()), vec![LFS_FILE], "X-Linked-Etag"),
            (Lie::TreeOid(bad.into()), vec![], "oid"),
            (Lie::TreeLfsOid(bad.into()), vec![], "lfs.oid"),
            (Lie::TreePath(bad.into()), vec![], "refusing the path"),
        ];
        for (lie, files, says) in cases {
            for local_dir in [false, true] {
                let hub = HostileHub::start_with_lfs_size(lie.clone(), 4096)?;
                let mut args = files.clone();
                if local_dir {
                    args.extend(["--local-dir", "local"]);
                }
                let outcome = download(cli, &hub, &args, &[]).and_then(|(_, outcome)| outcome.refused(says));
                row.record(&format!("{lie:?} local_dir={local_dir}"), outcome);
            }
        }
        let hub = HostileHub::start(Lie::MissingCommit(bad.into()))?;
        let outcome = download(cli, &hub, &[MISSING_FILE], &[]).and_then(|(sandbox, outcome)| {
            outcome.refused(MISSING_FILE)?;
            if sandbox
                .cache()
                .join(format!("models--{}", REPO.replace('/', "--")))
                .join(".no_exist")
                .exists()
            {
                bail!("a .no_exist marker was made from a lying commit");
            }
            Ok(())
        });
        row.record(&format!("MissingCommit({bad:?})"), outcome);
    }
    row.figures.push(format!(
        "{} climbing values × 8 fields, cache and --local-dir",
        CLIMBING.len()
    ));
    Ok(row)
}

fn hangs(cli: &Path) -> Result<Row> {
    let mut row = Row::new("hangs");
    let hub = HostileHub::start_with_lfs_size(Lie::ShortBody(1000), 1024 * 1024)?;
    let outcome = download(cli, &hub, &[LFS_FILE], &[]).and_then(|(_, o)| o.refused("ended"));
    row.record("a body ending short of X-Linked-Size", outcome);

    let hub = HostileHub::start_with_lfs_size(Lie::Trickle(Duration::from_millis(50)), 1024 * 1024)?;
    let mut stalled_after = None;
    let outcome = download(cli, &hub, &[LFS_FILE], &[("HF_HUB_DOWNLOAD_TIMEOUT", "2")]).and_then(|(_, o)| {
        stalled_after = Some(o.wall);
        o.refused("stalled")
    });
    row.record("a body trickling a byte every 50 ms", outcome);
    if let Some(wall) = stalled_after {
        row.figures.push(format!(
            "a trickling body fails after {:.1} s (HF_HUB_DOWNLOAD_TIMEOUT=2: 6 tries of one 2 s window)",
            wall.as_secs_f64()
        ));
    }

    let hub = HostileHub::start(Lie::RedirectLoop)?;
    let outcome = download(cli, &hub, &[SMALL_FILE], &[]).and_then(|(_, o)| o.refused("redirect"));
    row.record("a redirect to itself", outcome);
    Ok(row)
}

fn unbounded(cli: &Path, quick: bool) -> Result<Row> {
    let mut row = Row::new("unbounded bodies, listings and headers");
    let hub = HostileHub::start(Lie::EndlessBody)?;
    let mut written = None;
    let outcome = download(cli, &hub, &[LFS_FILE], &[]).and_then(|(sandbox, o)| {
        written = Some(sandbox.blob_bytes());
        o.refused("announced 17 bytes")?;
        match sandbox.blob_bytes() {
            0..=17 => Ok(()),
            n => bail!("{n} bytes written for a file announced as 17"),
        }
    });
    row.record("an endless body announced as 17 bytes", outcome);
    row.figures.push(format!(
        "endless body: {} bytes written, {} KiB sent by the server before the client hung up",
        written.unwrap_or(0),
        hub.body_bytes_sent() / 1024
    ));

    for (lie, label) in [
        (Lie::SelfLink, "self-pointing listing"),
        (Lie::EmptyPages, "endless empty pages"),
    ] {
        let hub = HostileHub::start(lie)?;
        let outcome = download(cli, &hub, &[], &[]).and_then(|(_, o)| o.refused("page"));
        let requests = tree_requests(&hub);
        row.record(label, outcome);
        row.figures.push(format!("{label}: {requests} listing requests"));
    }

    let entries = if quick { 250_000 } else { 2_500_000 };
    let hub = HostileHub::start(Lie::HugeListing(entries))?;
    let mut figure = String::new();
    let outcome = download(cli, &hub, &["--include", "nothing-matches-this"], &[]).and_then(|(_, o)| {
        figure = format!(
            "listing of {entries} files ({} MB) in one page: peak RSS {} MB, {:.1} s ({})",
            listing_mb(entries),
            o.peak_rss_kib
                .map(|k| (k / 1024).to_string())
                .unwrap_or_else(|| "?".into()),
            o.wall.as_secs_f64(),
            if o.success { "listed" } else { "refused" }
        );
        match o.peak_rss_kib {
            Some(kib) if kib > 200 * 1024 => bail!("peak RSS {} MB for the listing", kib / 1024),
            _ => Ok(()),
        }
    });
    row.record("a listing of hundreds of MB", outcome);
    row.figures.push(figure);

    let hub = HostileHub::start(Lie::HugeHeader(4 * 1024 * 1024))?;
    let outcome = download(cli, &hub, &[SMALL_FILE], &[]).and_then(|(_, o)| o.refused("error"));
    row.record("a 4 MB header", outcome);
    Ok(row)
}

fn wrong_bytes(cli: &Path) -> Result<Row> {
    let mut row = Row::new("wrong bytes");
    let refusals: [(Lie, usize, &str, &str); 4] = [
        (Lie::ChangedContent, 1024 * 1024, LFS_FILE, "sha256"),
        (Lie::GzipBody, 4096, SMALL_FILE, "git blob"),
        (Lie::GzipBody, 4096, LFS_FILE, "announced"),
        (Lie::WrongContentRange, RANGED_SIZE, LFS_FILE, "range"),
    ];
    for (lie, size, file, says) in refusals {
        let hub = HostileHub::start_with_lfs_size(lie.clone(), size)?;
        let outcome = download(cli, &hub, &[file], &[]).and_then(|(_, o)| o.refused(says));
        row.record(&format!("{lie:?} on {file}"), outcome);
    }
    for (lie, size) in [
        (Lie::IgnoresRange, RANGED_SIZE),
        (Lie::RedirectWithoutSize, 1024 * 1024),
    ] {
        let hub = HostileHub::start_with_lfs_size(lie.clone(), size)?;
        let outcome = download(cli, &hub, &[LFS_FILE], &[]).and_then(|(sandbox, o)| succeeded(&o, &sandbox, &hub));
        row.record(&format!("{lie:?} (the real bytes still arrive)"), outcome);
    }
    Ok(row)
}

fn names(cli: &Path) -> Result<Row> {
    let mut row = Row::new("legal long names");
    let name = format!("{}.json", "n".repeat(245));
    let hub = HostileHub::start(Lie::FileName(name.clone()))?;
    let variants: [(&str, &[&str], &[Setting]); 3] = [
        ("symlinks", &[], &[]),
        ("copies", &[], &[("HF_HUB_DISABLE_SYMLINKS", "1")]),
        ("--local-dir", &["--local-dir", "local"], &[]),
    ];
    for (label, extra, env) in variants {
        let mut args = vec![name.as_str()];
        args.extend_from_slice(extra);
        let outcome = download(cli, &hub, &args, env).and_then(|(sandbox, o)| {
            if !o.success {
                bail!("{}", o.stderr.trim());
            }
            let placed = Path::new(o.stdout.trim());
            let placed = if placed.is_absolute() {
                placed.to_path_buf()
            } else {
                sandbox.home().join(placed)
            };
            if std::fs::read(&placed)? != hub.small_bytes() {
                bail!("{} does not hold the file", placed.display());
            }
            Ok(())
        });
        row.record(&format!("a 250-byte name, {label}"), outcome);
    }
    Ok(row)
}

fn secrets(cli: &Path) -> Result<Row> {
    let mut row = Row::new("secrets in what a server sends back");
    let hub = HostileHub::start(Lie::EchoToken)?;
    let outcome = download(cli, &hub, &[], &[]).and_then(|(_, o)| {
        o.refused("error")?;
        if o.stderr.contains(hub_emulator::hostile_hub::ECHOED_TOKEN) {
            bail!("an echoed token was printed: {}", o.stderr.trim());
        }
        Ok(())
    });
    row.record("an error message echoing tokens", outcome);

    let hub = HostileHub::start_with_lfs_size(Lie::LocationWithUserinfo, 1024 * 1024)?;
    let outcome = download(cli, &hub, &[LFS_FILE], &[]).and_then(|_| {
        let leaked = hub
            .server()
            .log()
            .records()
            .into_iter()
            .filter(|r| r.path.starts_with("/cdn/"))
            .any(|r| r.authorization.as_deref().is_some_and(|a| a.contains(TOKEN)));
        if leaked {
            bail!("the token went to a Location with userinfo");
        }
        Ok(())
    });
    row.record("a Location with userinfo naming another origin", outcome);
    Ok(row)
}

/// Fails unless the run succeeded and placed the LFS file, whole.
fn succeeded(outcome: &Outcome, sandbox: &Sandbox, hub: &HostileHub) -> Result<()> {
    if !outcome.success {
        bail!("it failed: {}", outcome.stderr.trim());
    }
    match sandbox.check_snapshots(&[hub.lfs_bytes()])? {
        0 => bail!("nothing was placed"),
        _ => Ok(()),
    }
}

fn tree_requests(hub: &HostileHub) -> usize {
    hub.server()
        .log()
        .records()
        .iter()
        .filter(|r| r.path.contains("/tree/"))
        .count()
}

/// The size of a huge listing's body in MB, from the length of one of its entries.
fn listing_mb(entries: usize) -> u64 {
    let entry = format!(
        r#",{{"type":"file","path":"filler/{:012}.txt","oid":"{:040x}","size":1}}"#,
        0, 1
    );
    entries as u64 * entry.len() as u64 / 1_000_000
}
