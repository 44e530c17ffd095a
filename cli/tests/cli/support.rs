//! What the tests share: an emulator, a temporary `HF_HOME`, the CLI and the
//! real Python client run as processes, and views of the cache and the traffic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hub_api::{HubClient, ListTreeOptions, RepoTreeEntry};
use hub_emulator::SeedRepo;
use hub_emulator::http::RequestRecord;
use hub_emulator::test_hub::TestHub;
use hub_url::{Endpoint, RepoId, RepoType, Revision};

pub(crate) type BoxError = Box<dyn std::error::Error>;
pub(crate) type TestResult = Result<(), BoxError>;

/// An emulator and a fresh `HF_HOME` for the CLI (and the Python client) to use.
pub(crate) struct Env {
    pub(crate) hub: TestHub,
    pub(crate) home: tempfile::TempDir,
}

impl Env {
    /// An emulator with nothing seeded.
    pub(crate) fn empty() -> Result<Env, BoxError> {
        Ok(Env {
            hub: TestHub::start()?,
            home: tempfile::tempdir()?,
        })
    }

    /// An emulator started with these settings, with nothing seeded.
    pub(crate) fn start_with(
        adjust: impl FnOnce(hub_emulator::EmulatorConfig) -> hub_emulator::EmulatorConfig,
    ) -> Result<Env, BoxError> {
        Ok(Env {
            hub: TestHub::start_with(adjust)?,
            home: tempfile::tempdir()?,
        })
    }

    /// `$HF_HOME/hub`, the cache the CLI uses.
    pub(crate) fn cache(&self) -> PathBuf {
        self.home.path().join("hub")
    }

    /// `huggingface-cli` with a clean environment pointing at the emulator and this home.
    #[allow(clippy::disallowed_methods)] // PATH is passed on to the child.
    pub(crate) fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_huggingface-cli"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HF_HOME", self.home.path())
            .env("HF_ENDPOINT", self.hub.endpoint())
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `huggingface-cli` to the end.
    pub(crate) fn cli(&self, args: &[&str], extra: &[(&str, &str)]) -> Result<Output, std::io::Error> {
        self.command(args, extra).output()
    }

    /// Runs `huggingface-cli` with `input` on its standard input (a pipe, not a terminal).
    pub(crate) fn cli_with_input(&self, args: &[&str], input: &str) -> Result<Output, std::io::Error> {
        let mut child = self
            .command(args, &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, input.as_bytes())?;
        }
        child.wait_with_output()
    }

    /// Runs `huggingface-cli`, failing the test with its stderr unless it succeeds.
    pub(crate) fn cli_ok(&self, args: &[&str], extra: &[(&str, &str)]) -> Result<Output, BoxError> {
        let out = self.cli(args, extra)?;
        if !out.status.success() {
            return Err(format!("huggingface-cli {args:?} failed: {}", stderr(&out)).into());
        }
        Ok(out)
    }

    /// Runs the Python client's steps (see `tests/python/cache_side.py`) with
    /// this home and endpoint, and returns one result a step.
    pub(crate) fn python(
        &self,
        steps: &[serde_json::Value],
        extra: &[(&str, &str)],
    ) -> Result<Vec<serde_json::Value>, BoxError> {
        let (mut cmd, _work) = self.python_command(steps, extra)?;
        python_results(&cmd.output()?)
    }

    /// The Python client's process for these steps, and the folder holding
    /// its plan (to keep until it ends).
    pub(crate) fn python_command(
        &self,
        steps: &[serde_json::Value],
        extra: &[(&str, &str)],
    ) -> Result<(Command, tempfile::TempDir), BoxError> {
        let python = python();
        if !python.exists() {
            return Err(format!(
                "the Python client is needed at {}: run `cargo xtask ci` (it creates .venv) or set HUB_TEST_PYTHON",
                python.display()
            )
            .into());
        }
        let work = tempfile::tempdir()?;
        let plan = work.path().join("plan.json");
        std::fs::write(&plan, serde_json::json!({ "steps": steps }).to_string())?;
        let mut cmd = Command::new(&python);
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/cache_side.py"))
            .arg(&plan)
            .env_clear()
            .env("HOME", work.path())
            .env("HF_HOME", self.home.path())
            .env("HF_ENDPOINT", self.hub.endpoint())
            .env("HF_HUB_DISABLE_XET", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .env("HF_HUB_DISABLE_SYMLINKS_WARNING", "1");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Ok((cmd, work))
    }

    /// The files of a revision as the emulator lists them: path → (blob name in
    /// the cache, size).
    pub(crate) fn remote_files(
        &self,
        repo_type: RepoType,
        repo: &str,
        revision: &str,
    ) -> Result<BTreeMap<String, RemoteFile>, BoxError> {
        let client = HubClient::builder()
            .endpoint(Endpoint::new(&self.hub.endpoint())?)
            .build()?;
        let options = ListTreeOptions::default()
            .repo_type(repo_type)
            .revision(Revision::new(revision)?)
            .recursive(true);
        let mut files = BTreeMap::new();
        for entry in client.list_repo_tree(&RepoId::new(repo)?, &options) {
            if let RepoTreeEntry::File {
                path, size, oid, lfs, ..
            } = entry?
            {
                let etag = match lfs {
                    Some(lfs) => lfs.sha256,
                    None => oid,
                };
                files.insert(path, RemoteFile { etag, size });
            }
        }
        Ok(files)
    }

    /// Requests that moved file bytes: `GET`s of `resolve` URLs and of the CDN.
    pub(crate) fn transfers(&self) -> Vec<RequestRecord> {
        self.hub
            .log()
            .records()
            .into_iter()
            .filter(|r| r.method == "GET" && (r.path.contains("/resolve/") || r.path.starts_with("/cdn/")))
            .collect()
    }

    /// Requests to the CDN.
    pub(crate) fn cdn(&self) -> Vec<RequestRecord> {
        self.hub
            .log()
            .records()
            .into_iter()
            .filter(|r| r.path.starts_with("/cdn/"))
            .collect()
    }
}

/// The results the Python script printed, one a step.
pub(crate) fn python_results(out: &Output) -> Result<Vec<serde_json::Value>, BoxError> {
    if !out.status.success() {
        return Err(format!("the Python client failed:\n{}\n{}", stdout(out), stderr(out)).into());
    }
    let text = stdout(out);
    let last = text.lines().last().unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(last)?;
    match parsed.get("results").and_then(|r| r.as_array()) {
        Some(results) => Ok(results.clone()),
        None => Err(format!("no results from the Python client: {text}").into()),
    }
}

/// A file of a revision on the Hub.
#[derive(Debug, Clone)]
pub(crate) struct RemoteFile {
    /// Its blob's name in the cache: the sha256 for LFS files, the git blob id otherwise.
    pub(crate) etag: String,
    pub(crate) size: u64,
}

/// The Python with the pinned client: `HUB_TEST_PYTHON`, else the workspace's `.venv`.
#[allow(clippy::disallowed_methods)]
pub(crate) fn python() -> PathBuf {
    std::env::var_os("HUB_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python")))
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The last line of stdout: the path `download` prints.
pub(crate) fn last_line(out: &Output) -> PathBuf {
    PathBuf::from(stdout(out).lines().last().unwrap_or_default())
}

/// Bytes that are not all alike, so that a misplaced range shows.
pub(crate) fn pattern_bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

/// The repo the interop tests share: regular, LFS, nested and unicode paths on
/// `main`; a `v2` branch changing one file and adding another; `refs/pr/1`
/// adding a README.
pub(crate) struct RichRepo {
    pub(crate) main: String,
    pub(crate) v2: String,
    pub(crate) pr: String,
}

pub(crate) const RICH_MAIN_FILES: [&str; 6] = [
    ".gitattributes",
    "config.json",
    "model.safetensors",
    "nested/a/b/c.txt",
    "sub dir/é and space.txt",
    "tokenizer/vocab.txt",
];

pub(crate) fn model_bytes() -> Vec<u8> {
    pattern_bytes(300_000, 1)
}

pub(crate) fn seed_rich(hub: &TestHub, id: &'static str) -> Result<RichRepo, BoxError> {
    let main = hub.seed(
        &SeedRepo::model(id)
            .file("config.json", br#"{"hidden_size": 8}"#.to_vec())
            .file("model.safetensors", model_bytes())
            .file("nested/a/b/c.txt", b"deep".to_vec())
            .file("sub dir/\u{e9} and space.txt", b"unicode path".to_vec())
            .file("tokenizer/vocab.txt", b"a\nb\n".to_vec()),
    )?;
    let v2 = hub.seed(
        &SeedRepo::model(id)
            .branch("v2")
            .file("config.json", br#"{"hidden_size": 16}"#.to_vec())
            .file("extra.bin", pattern_bytes(5_000, 2)),
    )?;
    let pr = hub.seed(
        &SeedRepo::model(id)
            .branch("refs/pr/1")
            .file("README.md", b"# proposed\n".to_vec()),
    )?;
    Ok(RichRepo { main, v2, pr })
}

/// One entry of a folder tree, for comparing caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Folder,
    /// A regular file: its size, and its content when small.
    File {
        size: u64,
        content: Option<Vec<u8>>,
    },
    /// A symlink and its target as written.
    Link(PathBuf),
}

/// Every entry below `dir`, by relative path.
pub(crate) fn tree(dir: &Path) -> Result<BTreeMap<String, Node>, BoxError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            let name = path.strip_prefix(dir)?.to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&path)?;
            let node = if meta.file_type().is_symlink() {
                Node::Link(std::fs::read_link(&path)?)
            } else if meta.is_dir() {
                stack.push(path.clone());
                Node::Folder
            } else {
                let content = (meta.len() <= 4096).then(|| std::fs::read(&path)).transpose()?;
                Node::File {
                    size: meta.len(),
                    content,
                }
            };
            out.insert(name, node);
        }
    }
    Ok(out)
}

/// The files directly in a folder (none when it does not exist), sorted.
pub(crate) fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Waits until `condition` holds, checking often, for at most `limit`.
pub(crate) fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    condition()
}

/// A small seeded random generator (SplitMix64): a failing run is replayed by
/// setting `HUB_TEST_SEED` to the seed it printed.
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// Seeded from `HUB_TEST_SEED` when set, else from the clock; prints the seed.
    #[allow(clippy::disallowed_methods, clippy::print_stderr)] // A test's own knob, and its one line of output.
    pub(crate) fn from_env(test: &str) -> Rng {
        let seed = std::env::var("HUB_TEST_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: HUB_TEST_SEED={seed}");
        Rng { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One of `items` (not empty).
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A line of figures for whoever runs the tests (shown with `--nocapture`).
#[allow(clippy::print_stderr)]
pub(crate) fn report(text: &str) {
    // `cargo xtask hardening` collects these lines, with --nocapture, as its figures.
    eprintln!("figure: {text}");
}
