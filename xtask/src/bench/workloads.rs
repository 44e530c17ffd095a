//! The benchmark's repos: generated on disk, seeded into the emulator once,
//! reused by later runs over the same scratch folder.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hub_emulator::{Emulator, SeedRepo};

/// What a workload is in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    /// One large LFS file.
    LargeFile,
    /// Many small regular files.
    SmallFiles,
    /// A few large LFS shards and small JSON files.
    ModelRepo,
}

/// One file of a workload.
#[derive(Clone, Debug)]
pub(crate) struct WorkFile {
    pub(crate) path: String,
    pub(crate) size: u64,
    /// Stored with LFS, so served by the CDN route after a redirect.
    pub(crate) lfs: bool,
}

/// A repo to fetch, and what the report calls it.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub(crate) kind: WorkloadKind,
    pub(crate) label: String,
    pub(crate) repo_id: String,
    pub(crate) files: Vec<WorkFile>,
    /// Clients fetch one named file (`hf_hub_download`) rather than the whole repo.
    pub(crate) single_file: bool,
}

impl Workload {
    pub(crate) fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The bytes a verifying client hashes: those of the LFS files.
    pub(crate) fn lfs_bytes(&self) -> u64 {
        self.files.iter().filter(|f| f.lfs).map(|f| f.size).sum()
    }
}

/// The sizes of one benchmark mode.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    pub(crate) large_file: u64,
    pub(crate) small_files: usize,
    pub(crate) shard: u64,
    pub(crate) quick: bool,
}

impl Scale {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Scale {
                large_file: 256 << 20,
                small_files: 200,
                shard: 50_000_000,
                quick,
            }
        } else {
            Scale {
                large_file: 2 << 30,
                small_files: 1000,
                shard: 400_000_000,
                quick,
            }
        }
    }

    fn name(self) -> &'static str {
        if self.quick { "quick" } else { "full" }
    }
}

/// The repo of tiny files the keep-alive check asks for, over and over.
pub(crate) const PROBE_REPO: &str = "bench/probe";
/// Its LFS file (served by the CDN route) and its regular file (served from git).
pub(crate) const PROBE_LFS: &str = "probe.bin";
pub(crate) const PROBE_REGULAR: &str = "probe.txt";
const PROBE_SIZE: usize = 4096;

/// Bumped when the generated content changes, so that old scratch folders are reseeded.
const SEED_VERSION: &str = "bench-seed-v1";
const SHARDS: usize = 5;
const JSON_FILES: usize = 20;

/// The three workloads at this scale.
pub(crate) fn workloads(scale: Scale) -> Vec<Workload> {
    let large = Workload {
        kind: WorkloadKind::LargeFile,
        label: format!("1 x {}", human_size(scale.large_file)),
        repo_id: "bench/large-file".into(),
        files: vec![WorkFile {
            path: "model.bin".into(),
            size: scale.large_file,
            lfs: true,
        }],
        single_file: true,
    };
    let mut rng = XorShift::new(7);
    let small_files = (0..scale.small_files)
        .map(|i| WorkFile {
            path: format!("data/{:02}/part-{i:04}.txt", i % 10),
            size: 4096 + rng.next() % (60 * 1024 + 1),
            lfs: false,
        })
        .collect();
    let small = Workload {
        kind: WorkloadKind::SmallFiles,
        label: format!("{} x 4-64 KiB", scale.small_files),
        repo_id: "bench/small-files".into(),
        files: small_files,
        single_file: false,
    };
    let mut model_files: Vec<WorkFile> = (1..=SHARDS)
        .map(|i| WorkFile {
            path: format!("model-{i:05}-of-{SHARDS:05}.safetensors"),
            size: scale.shard,
            lfs: true,
        })
        .collect();
    let names = [
        "config.json",
        "generation_config.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "model.safetensors.index.json",
    ];
    model_files.extend((0..JSON_FILES).map(|i| {
        WorkFile {
            path: names
                .get(i)
                .map_or_else(|| format!("configs/variant-{i:02}.json"), |n| n.to_string()),
            size: 1024 + rng.next() % (15 * 1024),
            lfs: false,
        }
    }));
    let model = Workload {
        kind: WorkloadKind::ModelRepo,
        label: format!("{SHARDS} x {} + {JSON_FILES} json", human_size(scale.shard)),
        repo_id: "bench/model-repo".into(),
        files: model_files,
        single_file: false,
    };
    vec![large, small, model]
}

/// Seeds the workloads (and the probe repo) unless `hub_root` already holds them
/// at this scale. Content is generated into `data_dir`, streamed into the
/// emulator, then removed: the emulator's store keeps the only copy.
pub(crate) fn seed_once(emulator: &Emulator, scale: Scale, workloads: &[Workload], data_dir: &Path) -> Result<()> {
    let marker = emulator.root().join("bench-seeded");
    let stamp = format!("{SEED_VERSION} {}", scale.name());
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(stamp.as_str()) {
        eprintln!("reusing the repos seeded earlier in {}", emulator.root().display());
        return Ok(());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("failed to create {}", data_dir.display()))?;
    for (n, workload) in workloads.iter().enumerate() {
        eprintln!(
            "seeding {} ({}, {})",
            workload.repo_id,
            workload.label,
            human_size(workload.total_bytes())
        );
        let mut repo = SeedRepo::model(&workload.repo_id).message("Benchmark content");
        let mut sources = Vec::new();
        for (i, file) in workload.files.iter().enumerate() {
            let seed = ((n as u64) << 32) | i as u64;
            if file.lfs {
                let source = data_dir.join(format!("{n}-{i}.bin"));
                write_pseudo_random(&source, file.size, seed)?;
                repo = repo.file_from_path(&file.path, &source);
                sources.push(source);
            } else {
                repo = repo.file(&file.path, pseudo_random(file.size as usize, seed));
            }
        }
        emulator
            .seed(&repo)
            .with_context(|| format!("failed to seed {}", workload.repo_id))?;
        for source in sources {
            std::fs::remove_file(&source).with_context(|| format!("failed to remove {}", source.display()))?;
        }
    }
    emulator
        .seed(
            &SeedRepo::model(PROBE_REPO)
                .file(PROBE_LFS, pseudo_random(PROBE_SIZE, 1))
                .file(PROBE_REGULAR, pseudo_random(PROBE_SIZE, 2)),
        )
        .context("failed to seed the probe repo")?;
    std::fs::write(&marker, stamp).with_context(|| format!("failed to write {}", marker.display()))?;
    Ok(())
}

/// Bytes that do not compress, the same for the same seed.
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = XorShift::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

pub(crate) fn write_pseudo_random(path: &PathBuf, len: u64, seed: u64) -> Result<()> {
    let mut rng = XorShift::new(seed);
    let file = File::create(path).with_context(|| format!("failed to create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(8 << 20, file);
    let mut left = len;
    let mut block = Vec::with_capacity(1 << 20);
    while left > 0 {
        block.clear();
        let n = left.min(1 << 20) as usize;
        while block.len() < n {
            block.extend_from_slice(&rng.next().to_le_bytes());
        }
        block.truncate(n);
        out.write_all(&block)
            .with_context(|| format!("failed to write {}", path.display()))?;
        left -= n as u64;
    }
    out.flush()
        .with_context(|| format!("failed to write {}", path.display()))
}

struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `2 GiB`, `400 MB`, `34 MB`: binary units for powers of two, decimal otherwise.
pub(crate) fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1_000_000 {
        format!("{:.0} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.0} KB", bytes as f64 / 1e3)
    }
}
