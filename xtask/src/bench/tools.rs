//! The clients compared: ours, curl (one connection and parallel), aria2c, the
//! Python client and the hf-hub crate, how each fetches a workload, how each is
//! told to trust the test CA over HTTPS, and where each puts the files.

use std::ffi::OsString;
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
    /// The same with `--no-verify`: sizes checked, sha256 and git blob ids not
    /// (for the targets set for a client that does not verify).
    OursNoVerify,
    /// `curl -o`, every file in turn over one connection.
    CurlOne,
    /// `curl --parallel --parallel-max 8`.
    CurlParallel,
    /// `aria2c -x8 -s8 -k1M`: eight ranges of one file at once.
    Aria2c,
    /// `huggingface_hub` (Python), `hf_hub_download` or `snapshot_download`.
    Python,
    /// The `hf-hub` crate 1.0 (`HFClientSync`), `download_file` or
    /// `snapshot_download`, through the driver in `xtask/drivers/hf-hub-driver`.
    HfHub,
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
            Tool::HfHub => "hf-hub 1.0",
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
                Tool::HfHub,
            ],
            // Many files: curl also with parallel transfers.
            WorkloadKind::SmallFiles | WorkloadKind::ModelRepo => &[
                Tool::Ours,
                Tool::OursNoVerify,
                Tool::CurlOne,
                Tool::CurlParallel,
                Tool::Python,
                Tool::HfHub,
            ],
        }
    }
}

/// What the runs of one condition share: where the Hub is, the programs, the URLs.
pub(crate) struct Clients {
    pub(crate) cli: PathBuf,
    pub(crate) python: Option<PathBuf>,
    /// The hf-hub driver's release binary, when it could be built.
    pub(crate) hf_hub: Option<PathBuf>,
    pub(crate) aria2c: bool,
    pub(crate) endpoint: String,
    /// Over HTTPS: the test CA's PEM file, which every client is told to trust.
    pub(crate) ca_bundle: Option<PathBuf>,
}

/// The URL curl and aria2c fetch a file from: the `resolve` URL at the commit for
/// regular files, the CDN URL (one redirect followed beforehand) for LFS files.
pub(crate) struct FileUrl {
    pub(crate) path: String,
    pub(crate) url: String,
}

/// Follows each LFS file's redirect once; the CDN URLs stay signed for an hour.
/// `ca_bundle`: the CA to trust over HTTPS.
pub(crate) fn file_urls(
    endpoint: &str,
    workload: &Workload,
    commit: &str,
    ca_bundle: Option<&Path>,
) -> Result<Vec<FileUrl>> {
    workload
        .files
        .iter()
        .map(|file| {
            let resolve = format!("{endpoint}/{}/resolve/{commit}/{}", workload.repo_id, file.path);
            let url = if file.lfs {
                redirect_target(&resolve, ca_bundle)?
            } else {
                resolve
            };
            Ok(FileUrl {
                path: file.path.clone(),
                url,
            })
        })
        .collect()
}

/// Where `url` redirects to, asked with one `HEAD` by curl (trusting `ca_bundle`).
pub(crate) fn redirect_target(url: &str, ca_bundle: Option<&Path>) -> Result<String> {
    let out = Command::new("curl")
        .args(curl_trust(ca_bundle))
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
    let ca_bundle = clients.ca_bundle.as_deref();
    // A Hub client, told to trust the test CA through the variables its users set.
    let hub_client = |invocation: Invocation, trust_variables: &[&str]| match ca_bundle {
        Some(ca) => trust_variables
            .iter()
            .fold(hub_env(invocation), |invocation, variable| {
                invocation.env(*variable, ca)
            }),
        None => hub_env(invocation),
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
            hub_client(invocation, &["REQUESTS_CA_BUNDLE"])
        }
        Tool::Python => {
            let Some(python) = &clients.python else {
                return Ok(None);
            };
            let fetch = Invocation::new(python)
                .args(["-c", PYTHON_FETCH, workload.repo_id.as_str()])
                .args(files);
            // httpx reads SSL_CERT_FILE; REQUESTS_CA_BUNDLE is what requests-era users set.
            hub_client(fetch, &["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
        }
        Tool::HfHub => {
            let Some(driver) = &clients.hf_hub else {
                return Ok(None);
            };
            let fetch = Invocation::new(driver)
                .arg("--endpoint")
                .arg(&clients.endpoint)
                .arg("--cache-dir")
                .arg(out_dir.join("hub"))
                .arg(workload.repo_id.as_str())
                .args(files);
            // hf-hub takes no CA bundle; its reqwest verifies with the
            // platform's roots, which rustls-native-certs reads from SSL_CERT_FILE.
            hub_client(fetch, &["SSL_CERT_FILE"])
        }
        Tool::CurlOne | Tool::CurlParallel => {
            let list = config_dir.join(format!("{}-urls.txt", workload.repo_id.replace('/', "--")));
            write_curl_list(&list, urls, out_dir)?;
            let mut invocation =
                Invocation::new("curl")
                    .args(curl_trust(ca_bundle))
                    .args(["-s", "-S", "-f", "--create-dirs"]);
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
            let mut invocation = Invocation::new("aria2c");
            if let Some(ca) = ca_bundle {
                invocation = invocation.arg(format!("--ca-certificate={}", ca.display()));
            }
            invocation
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
pub(crate) fn warm_up(urls: &[FileUrl], config_dir: &Path, ca_bundle: Option<&Path>) -> Result<()> {
    let list = config_dir.join("warm-up-urls.txt");
    let mut text = String::new();
    for file in urls {
        let _ = writeln!(text, "url = \"{}\"", file.url);
        let _ = writeln!(text, "output = \"/dev/null\"");
    }
    std::fs::write(&list, text).with_context(|| format!("failed to write {}", list.display()))?;
    let status = Command::new("curl")
        .args(curl_trust(ca_bundle))
        .args(["-s", "-S", "-f", "--parallel", "--parallel-max", "8", "-K"])
        .arg(&list)
        .status()
        .context("failed to run curl")?;
    if !status.success() {
        bail!("the warm-up fetch failed: {status}");
    }
    Ok(())
}

/// curl's arguments to trust `ca_bundle`, if any.
pub(crate) fn curl_trust(ca_bundle: Option<&Path>) -> Vec<OsString> {
    match ca_bundle {
        Some(ca) => vec!["--cacert".into(), ca.into()],
        None => Vec::new(),
    }
}

/// Where `tool`, run into `out_dir`, puts `file` of `workload`: the snapshot
/// path in the Hub cache `out_dir/hub` (the Hub clients, at `commit`), or the
/// file's repo path under `out_dir` (curl and aria2c).
pub(crate) fn output_path(tool: Tool, out_dir: &Path, workload: &Workload, commit: &str, file: &str) -> PathBuf {
    match tool {
        Tool::Ours | Tool::OursNoVerify | Tool::Python | Tool::HfHub => out_dir
            .join("hub")
            .join(format!("models--{}", workload.repo_id.replace('/', "--")))
            .join("snapshots")
            .join(commit)
            .join(file),
        Tool::CurlOne | Tool::CurlParallel | Tool::Aria2c => out_dir.join(file),
    }
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
