//! `scan-cache` and `delete-cache` on a cache the CLI filled.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use hub_emulator::SeedRepo;
use hub_url::RepoType;
use serde_json::json;

use crate::support::{BoxError, Env, TestResult, pattern_bytes, stderr, stdout};

const MODEL: &str = "alice/scan";
const DATASET: &str = "alice/table";

struct Filled {
    env: Env,
    main: String,
    v2: String,
    dataset: String,
}

/// A model with `main` and `v2` (sharing the weights, not the config) and a
/// dataset, all downloaded by the CLI.
fn filled() -> Result<Filled, BoxError> {
    let env = Env::empty()?;
    let main = env.hub.seed(
        &SeedRepo::model(MODEL)
            .file("config.json", br#"{"v": 1}"#.to_vec())
            .file("model.safetensors", pattern_bytes(120_000, 4)),
    )?;
    let v2 = env.hub.seed(
        &SeedRepo::model(MODEL)
            .branch("v2")
            .file("config.json", br#"{"v": 2, "more": true}"#.to_vec()),
    )?;
    let dataset = env
        .hub
        .seed(&SeedRepo::dataset(DATASET).file("train.csv", pattern_bytes(2_500, 6)))?;
    env.cli_ok(&["download", MODEL], &[])?;
    env.cli_ok(&["download", MODEL, "--revision", "v2"], &[])?;
    env.cli_ok(&["download", DATASET, "--repo-type", "dataset"], &[])?;
    Ok(Filled { env, main, v2, dataset })
}

/// The Python client's size format: powers of 1000, one decimal.
fn python_size(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["", "K", "M", "G"] {
        if value < 1000.0 {
            return format!("{value:.1}{unit}");
        }
        value /= 1000.0;
    }
    format!("{value:.1}T")
}

/// A printed table as rows of trimmed cells, cut at the columns its rule line marks.
fn parse_table(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>), BoxError> {
    let lines: Vec<&str> = text.lines().collect();
    let rule = lines.get(1).ok_or("a rule line")?;
    let mut columns = Vec::new();
    let mut start = 0;
    for dashes in rule.split(' ') {
        columns.push((start, start + dashes.len()));
        start += dashes.len() + 1;
    }
    let cut = |line: &str| -> Vec<String> {
        let chars: Vec<char> = line.chars().collect();
        columns
            .iter()
            .map(|&(a, b)| {
                chars[a.min(chars.len())..b.min(chars.len())]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let header = cut(lines[0]);
    let rows = lines[2..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| cut(l))
        .collect();
    Ok((header, rows))
}

#[test]
fn scan_cache_prints_a_row_per_repo_and_the_total() -> TestResult {
    let f = filled()?;
    let e = &f.env;
    let out = e.cli_ok(&["scan-cache"], &[])?;
    let text = stdout(&out);
    let (header, rows) = parse_table(&text)?;
    assert_eq!(
        header,
        [
            "REPO ID",
            "REPO TYPE",
            "SIZE ON DISK",
            "NB FILES",
            "LAST_ACCESSED",
            "LAST_MODIFIED",
            "REFS",
            "LOCAL PATH"
        ]
    );
    let main = e.remote_files(RepoType::Model, MODEL, "main")?;
    let v2 = e.remote_files(RepoType::Model, MODEL, "v2")?;
    let model_size: u64 = main.values().map(|f| f.size).sum::<u64>() + v2["config.json"].size;
    let dataset_size: u64 = e
        .remote_files(RepoType::Dataset, DATASET, "main")?
        .values()
        .map(|f| f.size)
        .sum();
    let by_id: BTreeMap<&str, &Vec<String>> = rows.iter().map(|r| (r[0].as_str(), r)).collect();
    assert_eq!(by_id.len(), 2, "{text}");
    let model = by_id[MODEL];
    assert_eq!(model[1], "model");
    assert_eq!(model[2], python_size(model_size));
    assert_eq!(model[3], "4", "three blobs of main and v2's config: {text}");
    assert_eq!(model[4], "a few seconds ago");
    assert_eq!(model[6], "main, v2");
    assert_eq!(PathBuf::from(&model[7]), e.cache().join("models--alice--scan"));
    let dataset = by_id[DATASET];
    assert_eq!(dataset[1], "dataset");
    assert_eq!(dataset[2], python_size(dataset_size));
    assert_eq!(dataset[3], "2");
    assert_eq!(dataset[6], "main");
    let total = text.lines().find(|l| l.starts_with("Done in ")).ok_or("a total line")?;
    assert!(
        total.ends_with(&format!(
            "Scanned 2 repo(s) for a total of {}.",
            python_size(model_size + dataset_size)
        )),
        "{total}"
    );
    assert!(!text.contains("warning"), "{text}");

    // -v: one row a revision.
    let out = e.cli_ok(&["scan-cache", "-v"], &[])?;
    let text = stdout(&out);
    let (header, rows) = parse_table(&text)?;
    assert_eq!(header[2], "REVISION");
    let by_commit: BTreeMap<&str, &Vec<String>> = rows.iter().map(|r| (r[2].as_str(), r)).collect();
    assert_eq!(by_commit.len(), 3, "{text}");
    let row = by_commit[f.main.as_str()];
    assert_eq!((row[0].as_str(), row[6].as_str()), (MODEL, "main"));
    assert_eq!(row[3], python_size(main.values().map(|f| f.size).sum()));
    assert_eq!(row[4], "3");
    assert_eq!(
        PathBuf::from(&row[7]),
        e.cache().join("models--alice--scan/snapshots").join(&f.main)
    );
    let row = by_commit[f.v2.as_str()];
    assert_eq!((row[0].as_str(), row[6].as_str()), (MODEL, "v2"));
    assert_eq!(row[4], "3");
    let row = by_commit[f.dataset.as_str()];
    assert_eq!((row[0].as_str(), row[1].as_str()), (DATASET, "dataset"));
    Ok(())
}

#[test]
fn scan_cache_counts_warnings_and_shows_them_when_asked() -> TestResult {
    let f = filled()?;
    let e = &f.env;
    std::fs::create_dir_all(e.cache().join("not-a-repo"))?;
    let out = e.cli_ok(&["scan-cache"], &[])?;
    assert!(
        stdout(&out).contains("Got 1 warning(s) while scanning."),
        "{}",
        stdout(&out)
    );
    let out = e.cli_ok(&["scan-cache", "-vv"], &[])?;
    assert!(stdout(&out).contains("not-a-repo"), "{}", stdout(&out));
    let out = e.cli(&["scan-cache", "--dir", "/no/such/cache"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/cache"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn delete_cache_dry_run_lists_and_deletes_nothing() -> TestResult {
    let f = filled()?;
    let e = &f.env;
    let before = crate::support::tree(&e.cache())?;
    let out = e.command(&["delete-cache", &f.v2], &[]).stdin(Stdio::null()).output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let v2_config = e.remote_files(RepoType::Model, MODEL, "v2")?["config.json"].size;
    assert!(
        text.contains(&format!(
            "Will delete 1 revision(s), freeing {}",
            python_size(v2_config)
        )),
        "{text}"
    );
    assert!(text.contains(&f.v2), "{text}");
    assert!(text.contains("Dry run: nothing deleted"), "{text}");
    assert_eq!(crate::support::tree(&e.cache())?, before, "nothing changed");
    Ok(())
}

#[test]
fn delete_cache_keeps_blobs_a_kept_revision_uses() -> TestResult {
    let f = filled()?;
    let e = &f.env;
    let main = e.remote_files(RepoType::Model, MODEL, "main")?;
    let v2 = e.remote_files(RepoType::Model, MODEL, "v2")?;
    let repo = e.cache().join("models--alice--scan");
    let out = e.cli_ok(&["delete-cache", "--yes", &f.v2], &[])?;
    assert!(stdout(&out).contains("Deleted"), "{}", stdout(&out));
    assert!(!repo.join("snapshots").join(&f.v2).exists());
    assert!(!repo.join("refs/v2").exists());
    assert!(
        !repo.join("blobs").join(&v2["config.json"].etag).exists(),
        "v2's own blob"
    );
    for file in main.values() {
        assert!(repo.join("blobs").join(&file.etag).exists(), "main keeps {file:?}");
    }
    assert_eq!(
        std::fs::read(repo.join("snapshots").join(&f.main).join("model.safetensors"))?,
        pattern_bytes(120_000, 4)
    );
    // The cache is still one the Python client reads without complaint.
    let scan = e.python(&[json!({"op": "scan_cache_dir"})], &[])?;
    assert_eq!(scan[0]["warnings"], json!([]), "{}", scan[0]);
    assert_eq!(scan[0]["repos"].as_array().map(Vec::len), Some(2));
    Ok(())
}

#[test]
fn delete_cache_with_a_repo_id_deletes_all_its_revisions() -> TestResult {
    let f = filled()?;
    let e = &f.env;
    let out = e.cli_ok(&["delete-cache", "--yes", MODEL], &[])?;
    assert!(stdout(&out).contains("Will delete 2 revision(s)"), "{}", stdout(&out));
    assert!(!e.cache().join("models--alice--scan").exists());
    assert!(e.cache().join("datasets--alice--table").exists());
    let out = e.cli_ok(&["delete-cache", "--yes", "dataset/alice/table"], &[])?;
    assert!(stdout(&out).contains("Will delete 1 revision(s)"), "{}", stdout(&out));
    assert!(!e.cache().join("datasets--alice--table").exists());
    let scan = hub_cache::scan_cache(&e.cache())?;
    assert!(scan.repos.is_empty() && scan.warnings.is_empty(), "{scan:?}");

    let out = e.cli(&["delete-cache", "--yes", "alice/never-cached"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("alice/never-cached"), "{}", stderr(&out));
    let out = e.cli(&["delete-cache"], &[])?;
    assert_eq!(out.status.code(), Some(2), "a target is required");
    Ok(())
}
