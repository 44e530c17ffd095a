//! The clients compared: ours, curl (one connection and parallel), aria2c and the
//! Python client, and how each fetches a workload.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::measure::Invocation;
use super::workloads::{Workload, WorkloadKind};

/// A client in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    /// `huggingface-cli download`, release build.
    Ours,
    /// The same with `--no-verify`: sizes checked, sha256 not (for the targets
    /// set for a client that does not verify).
    OursNoVerify,
    /// `curl -o`, every file in turn over one connection.
    CurlOne,
    /// `curl --parallel --parallel-max 8`.
    CurlParallel,
    /// `aria2c -x8 -s8 -k1M`: eight ranges of one file at once.
    Aria2c,
    /// `huggingface_hub` (Python), `hf_hub_download` or `snapshot_download`.
    Python,
}

impl Tool {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Tool::Ours => "huggingface-cli",
            Tool::OursNoVerify => "huggingface-cli --no-verify",
            Tool::CurlOne => "curl -o",
            Tool::CurlParallel => "curl --parallel 8",
            Tool::Aria2c => "aria2c -x8 -s8",
            Tool::Python => "python huggingface_hub",
        }
    }

    /// The clients that fetch `kind`, ours first.
    pub(crate) fn for_workload(kind: WorkloadKind) -> &'static [Tool] {
        match kind {
            WorkloadKind::LargeFile => &[
                Tool::Ours,
                Tool::OursNoVerify,
                Tool::CurlOne,
                Tool::Aria2c,
                Tool::Python,
            ],
            WorkloadKind::SmallFiles => &[Tool::Ours, Tool::CurlOne, Tool::CurlParallel, Tool::Python],
            WorkloadKind::ModelRepo => &[
                Tool::Ours,
                Tool::OursNoVerify,
                Tool::CurlOne,
                Tool::CurlParallel,
                Tool::Python,
            ],
        }
    }
}

/// What the runs of one condition share: where the Hub is, the programs, the URLs.
pub(crate) struct Clients {
    pub(crate) cli: PathBuf,
    pub(crate) python: Option<PathBuf>,
    pub(crate) aria2c: bool,
    pub(crate) endpoint: String,
}

/// The URL curl and aria2c fetch a file from: the `resolve` URL at the commit for
/// regular files, the CDN URL (one redirect followed beforehand) for LFS files.
pub(crate) struct FileUrl {
    pub(crate) path: String,
    pub(crate) url: String,
}

/// Follows each LFS file's redirect once; the CDN URLs stay signed for an hour.
pub(crate) fn file_urls(endpoint: &str, workload: &Workload, commit: &str) -> Result<Vec<FileUrl>> {
    workload
        .files
        .iter()
        .map(|file| {
            let resolve = format!("{endpoint}/{}/resolve/{commit}/{}", workload.repo_id, file.path);
            let url = if file.lfs { redirect_target(&resolve)? } else { resolve };
            Ok(FileUrl {
                path: file.path.clone(),
                url,
            })
        })
        .collect()
}

/// Where `url` redirects to, asked with one `HEAD` by curl.
pub(crate) fn redirect_target(url: &str) -> Result<String> {
    let out = Command::new("curl")
        .args(["-sS", "-I", "-o", "/dev/null", "-w", "%{redirect_url}", url])
        .output()
        .context("failed to run curl")?;
    let location = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || location.is_empty() {
        bail!(
            "no redirect from {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(location)
}

/// The invocation of `tool` fetching `workload` into `out_dir` (an empty folder;
/// `HF_HOME` for the Hub clients), or `None` when the tool is not available.
/// `config_dir` holds curl's URL lists.
pub(crate) fn invocation(
    tool: Tool,
    clients: &Clients,
    workload: &Workload,
    urls: &[FileUrl],
    out_dir: &Path,
    config_dir: &Path,
) -> Result<Option<Invocation>> {
    let hub_env = |invocation: Invocation| {
        invocation
            .env("HF_HOME", out_dir)
            .env("HF_ENDPOINT", &clients.endpoint)
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env("HF_HUB_DISABLE_XET", "1")
    };
    let files: Vec<&str> = if workload.single_file {
        workload.files.iter().map(|f| f.path.as_str()).collect()
    } else {
        Vec::new()
    };
    let invocation = match tool {
        Tool::Ours | Tool::OursNoVerify => {
            let mut invocation = Invocation::new(&clients.cli)
                .args(["download", workload.repo_id.as_str()])
                .args(files)
                .arg("--quiet");
            if tool == Tool::OursNoVerify {
                invocation = invocation.arg("--no-verify");
            }
            hub_env(invocation)
        }
        Tool::Python => {
            let Some(python) = &clients.python else {
                return Ok(None);
            };
            hub_env(
                Invocation::new(python)
                    .args(["-c", PYTHON_FETCH, workload.repo_id.as_str()])
                    .args(files),
            )
        }
        Tool::CurlOne | Tool::CurlParallel => {
            let list = config_dir.join(format!("{}-urls.txt", workload.repo_id.replace('/', "--")));
            write_curl_list(&list, urls, out_dir)?;
            let mut invocation = Invocation::new("curl").args(["-s", "-S", "-f", "--create-dirs"]);
            if tool == Tool::CurlParallel {
                invocation = invocation.args(["--parallel", "--parallel-max", "8"]);
            }
            invocation.arg("-K").arg(list)
        }
        Tool::Aria2c => {
            let [url] = urls else {
                return Ok(None);
            };
            if !clients.aria2c {
                return Ok(None);
            }
            Invocation::new("aria2c")
                .args([
                    "-x8",
                    "-s8",
                    "-k1M",
                    "-q",
                    "--allow-overwrite=true",
                    "--auto-file-renaming=false",
                ])
                .arg("-d")
                .arg(out_dir)
                .arg("-o")
                .arg(&url.path)
                .arg(&url.url)
        }
    };
    Ok(Some(invocation))
}

/// Fetches every file once, untimed, into `/dev/null`: the emulator's caches
/// are then as warm for the first client measured as for the last.
pub(crate) fn warm_up(urls: &[FileUrl], config_dir: &Path) -> Result<()> {
    let list = config_dir.join("warm-up-urls.txt");
    let mut text = String::new();
    for file in urls {
        let _ = writeln!(text, "url = \"{}\"", file.url);
        let _ = writeln!(text, "output = \"/dev/null\"");
    }
    std::fs::write(&list, text).with_context(|| format!("failed to write {}", list.display()))?;
    let status = Command::new("curl")
        .args(["-s", "-S", "-f", "--parallel", "--parallel-max", "8", "-K"])
        .arg(&list)
        .status()
        .context("failed to run curl")?;
    if !status.success() {
        bail!("the warm-up fetch failed: {status}");
    }
    Ok(())
}

/// A curl config listing every URL with its output path.
fn write_curl_list(list: &Path, urls: &[FileUrl], out_dir: &Path) -> Result<()> {
    let mut text = String::new();
    for file in urls {
        let output = out_dir.join(&file.path);
        let _ = writeln!(text, "url = \"{}\"", file.url);
        let _ = writeln!(text, "output = \"{}\"", output.display());
    }
    std::fs::write(list, text).with_context(|| format!("failed to write {}", list.display()))
}

/// `python -c` this, then the repo id and the file names (none: the whole repo).
const PYTHON_FETCH: &str = "\
import sys
from huggingface_hub import hf_hub_download, snapshot_download
repo, files = sys.argv[1], sys.argv[2:]
if files:
    for name in files:
        hf_hub_download(repo, name)
else:
    snapshot_download(repo)
";
