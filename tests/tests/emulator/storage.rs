//! Seeding writes real git commits, LFS pointers and store objects.

use std::sync::Arc;

use hub_emulator::{EmulatorError, SeedRepo};

use crate::{Fixture, TestResult, git, git_text, pseudo_random, sha256_hex};

#[test]
fn seed_writes_git_commits_with_lfs_pointers_and_store_objects() -> TestResult {
    let f = Fixture::start()?;
    let big = pseudo_random(2000, 1);
    let weights = b"tiny but matched by *.bin".to_vec();
    let commit = f.hub.seed(
        &SeedRepo::model("alice/store")
            .file("config.json", br#"{"a": 1}"#.to_vec())
            .file("big.dat", big.clone())
            .file("weights.bin", weights.clone())
            .file("dir/sub/ünï côdé.txt", b"unicode".to_vec())
            .message("Add files"),
    )?;
    let git_dir = f.hub.git_dir("model", "alice/store")?;
    assert!(
        git_dir.ends_with("repos/models/alice/store.git"),
        "{}",
        git_dir.display()
    );
    assert_eq!(git_text(&git_dir, &["rev-parse", "refs/heads/main"])?, commit);
    assert_eq!(
        git_text(&git_dir, &["log", "--format=%s", "main"])?,
        "Add files\ninitial commit"
    );
    assert_eq!(git_text(&git_dir, &["symbolic-ref", "HEAD"])?, "refs/heads/main");

    let files = git(&git_dir, &["ls-tree", "-r", "-z", "--name-only", "main"])?;
    let mut names: Vec<String> = files
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".gitattributes",
            "big.dat",
            "config.json",
            "dir/sub/ünï côdé.txt",
            "weights.bin"
        ]
    );

    // The Hub's default attributes come with the repo's first commit.
    let attributes = git_text(&git_dir, &["cat-file", "blob", "main:.gitattributes"])?;
    assert!(attributes.contains("*.safetensors filter=lfs diff=lfs merge=lfs -text"));
    assert!(attributes.contains("saved_model/**/* filter=lfs diff=lfs merge=lfs -text"));

    // Over the threshold: a pointer in git, the bytes in the store.
    let pointer = git_text(&git_dir, &["cat-file", "blob", "main:big.dat"])?;
    let oid = sha256_hex(&big);
    assert_eq!(
        pointer,
        format!("version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 2000")
    );
    assert_eq!(std::fs::read(f.hub.lfs_object_path(&oid))?, big);
    assert!(
        f.hub
            .lfs_object_path(&oid)
            .ends_with(format!("lfs/objects/{}/{}/{oid}", &oid[..2], &oid[2..4]))
    );

    // Under the threshold but matched by `*.bin`: LFS too.
    let pointer = git_text(&git_dir, &["cat-file", "blob", "main:weights.bin"])?;
    assert!(
        pointer.contains(&format!("oid sha256:{}", sha256_hex(&weights))),
        "{pointer}"
    );

    // Small and unmatched: the bytes themselves.
    assert_eq!(
        git(&git_dir, &["cat-file", "blob", "main:config.json"])?,
        br#"{"a": 1}"#
    );
    assert_eq!(
        git(&git_dir, &["cat-file", "blob", "main:dir/sub/ünï côdé.txt"])?,
        b"unicode"
    );

    // What the library reads back is the content, whatever the storage.
    assert_eq!(f.hub.file_content("model", "alice/store", "main", "big.dat")?, big);
    assert_eq!(
        f.hub.file_content("model", "alice/store", &commit, "weights.bin")?,
        weights
    );
    Ok(())
}

#[test]
fn file_from_path_streams_into_the_store() -> TestResult {
    let f = Fixture::start()?;
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("weights.safetensors");
    let content = pseudo_random(3 * 1024 * 1024 + 17, 2);
    std::fs::write(&source, &content)?;
    f.hub
        .seed(&SeedRepo::model("alice/big").file_from_path("model.safetensors", &source))?;
    let oid = sha256_hex(&content);
    assert_eq!(std::fs::read(f.hub.lfs_object_path(&oid))?, content);
    let git_dir = f.hub.git_dir("model", "alice/big")?;
    let pointer = git_text(&git_dir, &["cat-file", "blob", "main:model.safetensors"])?;
    assert!(pointer.ends_with(&format!("size {}", content.len())), "{pointer}");
    // No temp file is left behind in the store.
    let temp = f.hub.root().join("lfs/tmp");
    assert_eq!(std::fs::read_dir(temp)?.count(), 0);
    Ok(())
}

#[test]
fn seeds_delete_files_and_commit_on_other_branches() -> TestResult {
    let f = Fixture::start()?;
    let main = f.hub.seed(
        &SeedRepo::model("alice/branches")
            .file("keep.txt", "keep")
            .file("dir/a.txt", "a")
            .file("dir/b/c.txt", "c"),
    )?;
    let dev = f.hub.seed(
        &SeedRepo::model("alice/branches")
            .branch("dev")
            .delete("dir")
            .file("new.txt", "new"),
    )?;
    let git_dir = f.hub.git_dir("model", "alice/branches")?;
    assert_eq!(git_text(&git_dir, &["rev-parse", "main"])?, main, "main did not move");
    assert_eq!(
        git_text(&git_dir, &["rev-parse", "dev^"])?,
        main,
        "dev starts from main"
    );
    assert_eq!(
        git_text(&git_dir, &["ls-tree", "-r", "--name-only", &dev])?,
        ".gitattributes\nkeep.txt\nnew.txt"
    );

    // Deleting what is not there is an error, and moves nothing.
    let missing = f.hub.seed(&SeedRepo::model("alice/branches").delete("nope.txt"));
    assert!(
        matches!(missing, Err(EmulatorError::EntryNotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(git_text(&git_dir, &["rev-parse", "main"])?, main);

    // A seed with nothing to commit only makes sure the branch exists.
    let empty = f.hub.seed(&SeedRepo::model("alice/branches").branch("empty"))?;
    assert_eq!(empty, main);
    Ok(())
}

#[test]
fn dataset_repos_track_media_with_lfs() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(
        &SeedRepo::dataset("alice/pics")
            .file("img/cat.png", "not really a png")
            .file("train.csv", "a,b\n"),
    )?;
    let git_dir = f.hub.git_dir("dataset", "alice/pics")?;
    assert!(git_dir.ends_with("repos/datasets/alice/pics.git"));
    assert!(git_text(&git_dir, &["cat-file", "blob", "main:img/cat.png"])?.starts_with("version https://git-lfs"));
    assert_eq!(git_text(&git_dir, &["cat-file", "blob", "main:train.csv"])?, "a,b");
    Ok(())
}

#[test]
fn invalid_names_are_refused() -> TestResult {
    let f = Fixture::start()?;
    for bad in ["a/b/c", "-x", "x--y", "x.git"] {
        let result = f.hub.seed(&SeedRepo::model(bad).file("f", "x"));
        assert!(
            matches!(result, Err(EmulatorError::InvalidRepoId { .. })),
            "{bad}: {result:?}"
        );
    }
    let result = f.hub.seed(&SeedRepo::model("alice/ok").file("../escape", "x"));
    assert!(matches!(result, Err(EmulatorError::InvalidPath { .. })), "{result:?}");
    let result = f.hub.seed(&SeedRepo::model("alice/ok").branch("bad..name"));
    assert!(
        matches!(result, Err(EmulatorError::InvalidRefName { .. })),
        "{result:?}"
    );
    let mut odd = SeedRepo::model("alice/ok");
    odd.repo_type = "notebook".into();
    assert!(matches!(f.hub.seed(&odd), Err(EmulatorError::InvalidRepoType { .. })));
    Ok(())
}

#[test]
fn concurrent_seeds_of_one_repo_all_land() -> TestResult {
    let f = Arc::new(Fixture::start()?);
    f.hub.seed(&SeedRepo::model("alice/busy"))?;
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let f = Arc::clone(&f);
            std::thread::spawn(move || {
                f.hub
                    .seed(&SeedRepo::model("alice/busy").file(&format!("f{i}.txt"), "x"))
            })
        })
        .collect();
    for thread in threads {
        thread.join().map_err(|_| "seed thread panicked")??;
    }
    let git_dir = f.hub.git_dir("model", "alice/busy")?;
    let files = git_text(&git_dir, &["ls-tree", "--name-only", "main"])?;
    for i in 0..6 {
        assert!(files.contains(&format!("f{i}.txt")), "{files}");
    }
    assert_eq!(git_text(&git_dir, &["rev-list", "--count", "main"])?, "7");
    Ok(())
}
