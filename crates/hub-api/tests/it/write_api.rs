//! The write side against the emulator: login, repos, refs and uploads.

use std::collections::BTreeMap;

use hub_api::{
    AddSource, CommitOperation, CommitOptions, CreateBranchOptions, CreateRepoOptions, CreateTagOptions,
    DeleteRepoOptions, Error, HubClient, ListRefsOptions, Logout, LogoutFrom, RepoOptions, RevisionOptions, TokenStore,
    UnauthorizedReason, UploadFolderOptions, Visibility,
};
use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_READ, ALICE_WRITE, BOB_WRITE, TestHub};
use hub_url::{RepoId, RepoType, Revision, Token};

use crate::{TestResult, client};

/// Deterministic bytes that look binary.
fn binary(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn small_multipart(hub_config: hub_emulator::EmulatorConfig) -> hub_emulator::EmulatorConfig {
    let mut config = hub_config;
    config.multipart_threshold = 100_000;
    config.multipart_part_size = 40_000;
    config
}

fn content(hub: &TestHub, repo: &str, path: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(hub.file_content("model", repo, "main", path)?)
}

#[test]
fn login_saves_a_valid_token_and_refuses_a_bad_one() -> TestResult {
    let hub = TestHub::start()?;
    let home = tempfile::tempdir()?;
    let store = TokenStore::new(home.path().join("token"), home.path().join("stored_tokens"));
    let client = client(&hub, None)?;
    let err = client.login(&store, Token::new("hf_bogus")).expect_err("bad token");
    assert!(
        matches!(
            err,
            Error::Unauthorized {
                reason: UnauthorizedReason::InvalidToken,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!store.token_path().exists(), "nothing saved for a bad token");

    let outcome = client.login(&store, Token::new(ALICE_WRITE))?;
    assert_eq!(outcome.user.name, "alice");
    assert_eq!(store.active()?, Some(Token::new(ALICE_WRITE)));
    assert_eq!(store.stored()?.len(), 1);
    assert!(matches!(store.logout(LogoutFrom::All)?, Logout::All));
    assert_eq!(store.active()?, None);
    Ok(())
}

#[test]
fn create_and_delete_repos() -> TestResult {
    let hub = TestHub::start()?;
    let alice = client(&hub, Some(ALICE_WRITE))?;
    let repo = RepoId::new("alice/new-model")?;
    let url = alice.create_repo(&repo, &CreateRepoOptions::default())?;
    assert_eq!(url, format!("{}/alice/new-model", hub.endpoint()));
    assert!(alice.repo_exists(&repo, &RepoOptions::default())?);

    let err = alice
        .create_repo(&repo, &CreateRepoOptions::default())
        .expect_err("exists");
    assert!(matches!(err, Error::Http { status: 409, .. }), "{err:?}");
    assert!(err.to_string().contains("exist_ok"), "{err}");
    alice.create_repo(&repo, &CreateRepoOptions::default().exist_ok(true))?;

    let private = RepoId::new("acme/secret-data")?;
    let options = CreateRepoOptions::default()
        .repo_type(RepoType::Dataset)
        .visibility(Visibility::Private);
    assert_eq!(
        alice.create_repo(&private, &options)?,
        format!("{}/datasets/acme/secret-data", hub.endpoint())
    );
    assert!(
        !client(&hub, Some(BOB_WRITE))?.repo_exists(&private, &RepoOptions::default().repo_type(RepoType::Dataset))?,
        "private to bob"
    );

    let err = client(&hub, Some(BOB_WRITE))?.create_repo(&RepoId::new("alice/bobs")?, &CreateRepoOptions::default());
    assert!(err.is_err(), "bob cannot create in alice's namespace");
    let err = client(&hub, Some(ALICE_READ))?.create_repo(&RepoId::new("alice/ro")?, &CreateRepoOptions::default());
    assert!(err.is_err(), "a read token cannot create");

    alice.delete_repo(&repo, &DeleteRepoOptions::default())?;
    assert!(!alice.repo_exists(&repo, &RepoOptions::default())?);
    let err = alice
        .delete_repo(&repo, &DeleteRepoOptions::default())
        .expect_err("gone");
    assert!(matches!(err, Error::RepoNotFound { .. }), "{err:?}");
    alice.delete_repo(&repo, &DeleteRepoOptions::default().missing_ok(true))?;
    Ok(())
}

#[test]
fn upload_regular_and_lfs_files_and_read_them_back() -> TestResult {
    let hub = TestHub::start_with(small_multipart)?;
    let alice = client(&hub, Some(ALICE_WRITE))?;
    let repo = RepoId::new("alice/uploads")?;
    alice.create_repo(&repo, &CreateRepoOptions::default())?;
    let dir = tempfile::tempdir()?;
    let basic = binary(50_000, 1);
    let multipart = binary(250_000, 2);
    std::fs::write(dir.path().join("basic.bin"), &basic)?;
    std::fs::write(dir.path().join("multi.bin"), &multipart)?;

    let options = CommitOptions::new("Add files");
    let commit = alice.create_commit(
        &repo,
        &[
            CommitOperation::add_bytes("config.json", br#"{"a": 1}"#.to_vec()),
            CommitOperation::add_file("weights/basic.bin", dir.path().join("basic.bin")),
            CommitOperation::add_file("weights/multi.bin", dir.path().join("multi.bin")),
            CommitOperation::add_bytes("empty.txt", Vec::new()),
            CommitOperation::add_bytes("dir with space/é.txt", b"unicode".to_vec()),
        ],
        &options,
    )?;
    assert_eq!(commit.commit_oid.len(), 40);
    assert!(commit.commit_url.contains("alice/uploads"), "{}", commit.commit_url);
    assert_eq!(content(&hub, "alice/uploads", "config.json")?, br#"{"a": 1}"#);
    assert_eq!(content(&hub, "alice/uploads", "weights/basic.bin")?, basic);
    assert_eq!(content(&hub, "alice/uploads", "weights/multi.bin")?, multipart);
    assert_eq!(content(&hub, "alice/uploads", "empty.txt")?, b"");
    assert_eq!(content(&hub, "alice/uploads", "dir with space/é.txt")?, b"unicode");

    let records = hub.log().records();
    let part_puts = records
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("part"))
        .count();
    assert!(part_puts >= 7, "250 kB in 40 kB parts: {part_puts} part uploads");
    assert!(
        records
            .iter()
            .filter(|r| r.method == "PUT")
            .all(|r| r.authorization.is_none()),
        "presigned PUTs carry no token"
    );

    // The same bytes again: nothing is uploaded twice.
    hub.log().clear();
    alice.upload_file(
        &repo,
        AddSource::File(dir.path().join("multi.bin")),
        "copy/multi.bin",
        &options,
    )?;
    assert!(
        hub.log().records().iter().all(|r| r.method != "PUT"),
        "LFS objects already stored are not sent"
    );
    assert_eq!(content(&hub, "alice/uploads", "copy/multi.bin")?, multipart);
    Ok(())
}

#[test]
fn a_failing_part_is_retried_alone() -> TestResult {
    let hub = TestHub::start_with(small_multipart)?;
    let alice = client(&hub, Some(ALICE_WRITE))?;
    let repo = RepoId::new("alice/retry")?;
    alice.create_repo(&repo, &CreateRepoOptions::default())?;
    let bytes = binary(200_000, 3);
    hub.faults().push(
        Fault::new(
            "part",
            FaultAction::Status {
                status: 500,
                retry_after: None,
            },
        )
        .method("PUT")
        .times(2),
    );
    alice.upload_file(
        &repo,
        AddSource::Bytes(bytes.clone()),
        "w.bin",
        &CommitOptions::new("w"),
    )?;
    assert_eq!(content(&hub, "alice/retry", "w.bin")?, bytes);
    let puts = hub.log().records().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 5 + 2, "5 parts, 2 of the tries failed and were sent again");
    Ok(())
}

#[test]
fn writes_without_rights_commit_nothing() -> TestResult {
    let hub = TestHub::start()?;
    let commit = hub.seed(&SeedRepo::model("alice/guarded").file("a.txt", b"a".to_vec()))?;
    let repo = RepoId::new("alice/guarded")?;
    for token in [Some(BOB_WRITE), Some(ALICE_READ), None] {
        let err = client(&hub, token)?
            .upload_file(
                &repo,
                AddSource::Bytes(b"evil".to_vec()),
                "a.txt",
                &CommitOptions::new("x"),
            )
            .expect_err("no right to write");
        assert!(
            matches!(
                err,
                Error::Unauthorized { .. } | Error::RepoNotFound { .. } | Error::Http { status: 403, .. }
            ),
            "{token:?}: {err:?}"
        );
    }
    assert_eq!(
        hub.resolve_revision("model", "alice/guarded", "main")?,
        commit,
        "nothing was committed"
    );
    Ok(())
}

#[test]
fn a_stale_parent_commit_is_refused() -> TestResult {
    let hub = TestHub::start()?;
    let first = hub.seed(&SeedRepo::model("alice/cas").file("a.txt", b"1".to_vec()))?;
    hub.seed(&SeedRepo::model("alice/cas").file("a.txt", b"2".to_vec()))?;
    let mut options = CommitOptions::new("based on the old head");
    options.parent_commit = Some(first);
    let err = client(&hub, Some(ALICE_WRITE))?
        .upload_file(
            &RepoId::new("alice/cas")?,
            AddSource::Bytes(b"3".to_vec()),
            "a.txt",
            &options,
        )
        .expect_err("stale parent");
    assert!(matches!(err, Error::Http { status: 409 | 412, .. }), "{err:?}");
    assert_eq!(content(&hub, "alice/cas", "a.txt")?, b"2");
    Ok(())
}

#[test]
fn a_folder_of_2000_files_is_one_commit_with_batched_calls() -> TestResult {
    let hub = TestHub::start()?;
    let alice = client(&hub, Some(ALICE_WRITE))?;
    let repo = RepoId::new("alice/many")?;
    alice.create_repo(&repo, &CreateRepoOptions::default())?;
    let dir = tempfile::tempdir()?;
    let mut expected = BTreeMap::new();
    for i in 0..2000 {
        let sub = format!("part{}", i % 7);
        std::fs::create_dir_all(dir.path().join(&sub))?;
        let name = format!("{sub}/file{i:04}.{}", if i % 10 == 0 { "bin" } else { "txt" });
        let bytes = if i % 10 == 0 {
            binary(2000, i)
        } else {
            format!("line {i}\n").into_bytes()
        };
        std::fs::write(dir.path().join(&name), &bytes)?;
        expected.insert(name, bytes);
    }
    std::fs::create_dir_all(dir.path().join(".git"))?;
    std::fs::write(dir.path().join(".git/config"), "never uploaded")?;
    hub.log().clear();
    let info = alice.upload_folder(
        &repo,
        dir.path(),
        &UploadFolderOptions::default(),
        &CommitOptions::new("many"),
    )?;
    let records = hub.log().records();
    let count = |needle: &str| records.iter().filter(|r| r.path.contains(needle)).count();
    assert_eq!(count("/commit/"), 1, "one commit");
    assert_eq!(
        count("/preupload/"),
        2000usize.div_ceil(256),
        "preupload in batches of 256"
    );
    assert!(count("/info/lfs/objects/batch") <= 1, "200 LFS files fit one batch");
    let files = alice.list_repo_files(
        &repo,
        &RevisionOptions::default().revision(Revision::new(&info.commit_oid)?),
    )?;
    assert_eq!(files.len(), 2001, "2000 files and .gitattributes");
    assert!(!files.iter().any(|f| f.starts_with(".git/")));
    for (name, bytes) in expected.iter().step_by(97) {
        assert_eq!(&content(&hub, "alice/many", name)?, bytes, "{name}");
    }
    Ok(())
}

#[test]
fn upload_folder_deletes_what_delete_patterns_name() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(
        &SeedRepo::model("alice/sync")
            .file("docs/old.md", b"old".to_vec())
            .file("docs/keep.txt", b"keep".to_vec())
            .file("root.md", b"outside the folder".to_vec()),
    )?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("new.md"), "new")?;
    let folder = UploadFolderOptions::default()
        .path_in_repo("docs")
        .delete_patterns(["*.md"]);
    let alice = client(&hub, Some(ALICE_WRITE))?;
    let repo = RepoId::new("alice/sync")?;
    alice.upload_folder(&repo, dir.path(), &folder, &CommitOptions::new("sync docs"))?;
    let mut files = alice.list_repo_files(&repo, &RevisionOptions::default())?;
    files.sort();
    assert_eq!(files, vec![".gitattributes", "docs/keep.txt", "docs/new.md", "root.md"]);
    Ok(())
}

#[test]
fn branches_tags_commits_and_pull_requests() -> TestResult {
    let hub = TestHub::start()?;
    let first = hub.seed(
        &SeedRepo::model("alice/refs")
            .file("a.txt", b"1".to_vec())
            .message("first"),
    )?;
    let alice = client(&hub, Some(ALICE_WRITE))?;
    let repo = RepoId::new("alice/refs")?;
    let from_first = CreateBranchOptions::default().starting_point(Revision::new(&first)?);
    alice.create_branch(&repo, "dev", &from_first)?;
    alice.create_branch(&repo, "dev", &CreateBranchOptions::default().exist_ok(true))?;
    alice.create_tag(&repo, "v1", &CreateTagOptions::default().message("first release"))?;
    let refs = alice.list_repo_refs(&repo, &ListRefsOptions::default())?;
    let branches: Vec<_> = refs.branches.iter().map(|b| b.name.as_str()).collect();
    assert!(branches.contains(&"main") && branches.contains(&"dev"), "{branches:?}");
    assert_eq!(
        refs.tags.iter().map(|t| t.target_commit.as_str()).collect::<Vec<_>>(),
        vec![first.as_str()]
    );

    let options = CommitOptions::new("second").revision(Revision::new("dev")?);
    alice.upload_file(&repo, AddSource::Bytes(b"2".to_vec()), "b.txt", &options)?;
    let history: Vec<_> = alice
        .list_repo_commits(&repo, &RevisionOptions::default().revision(Revision::new("dev")?))
        .collect::<Result<_, _>>()?;
    assert_eq!(history.first().map(|c| c.title.as_str()), Some("second"));
    assert!(history.iter().any(|c| c.id == first));

    let pr = CommitOptions::new("proposal").create_pr(true);
    let info = alice.upload_file(&repo, AddSource::Bytes(b"3".to_vec()), "c.txt", &pr)?;
    let pr_url = info.pull_request_url.expect("a pull request");
    assert!(pr_url.contains("discussions") || pr_url.contains("pr"), "{pr_url}");
    assert!(
        !alice.file_exists(&repo, "c.txt", &RevisionOptions::default())?,
        "main is untouched"
    );
    let at_pr = RevisionOptions::default().revision(Revision::new("refs/pr/1")?);
    assert!(alice.file_exists(&repo, "c.txt", &at_pr)?);

    alice.delete_tag(&repo, "v1", &RepoOptions::default())?;
    alice.delete_branch(&repo, "dev", &RepoOptions::default())?;
    assert!(!alice.revision_exists(&repo, &Revision::new("dev")?, &RepoOptions::default())?);
    Ok(())
}

#[test]
fn delete_and_copy_operations() -> TestResult {
    let hub = TestHub::start()?;
    let weights = binary(5000, 9);
    hub.seed(
        &SeedRepo::model("alice/ops")
            .file("a.txt", b"a".to_vec())
            .file("folder/x.txt", b"x".to_vec())
            .file("folder/y.txt", b"y".to_vec())
            .file("w.bin", weights.clone()),
    )?;
    let alice = client(&hub, Some(ALICE_WRITE))?;
    let repo = RepoId::new("alice/ops")?;
    alice.create_commit(
        &repo,
        &[
            CommitOperation::Copy {
                src_path_in_repo: "w.bin".into(),
                path_in_repo: "w2.bin".into(),
                src_revision: None,
            },
            CommitOperation::Copy {
                src_path_in_repo: "a.txt".into(),
                path_in_repo: "b.txt".into(),
                src_revision: None,
            },
        ],
        &CommitOptions::new("copies"),
    )?;
    alice.delete_folder(&repo, "folder", &CommitOptions::new("drop folder"))?;
    alice.delete_file(&repo, "a.txt", &CommitOptions::new("drop a"))?;
    let mut files = alice.list_repo_files(&repo, &RevisionOptions::default())?;
    files.sort();
    assert_eq!(files, vec![".gitattributes", "b.txt", "w.bin", "w2.bin"]);
    assert_eq!(content(&hub, "alice/ops", "w2.bin")?, weights);
    assert_eq!(content(&hub, "alice/ops", "b.txt")?, b"a");
    let err = alice
        .create_commit(
            &repo,
            &[CommitOperation::add_bytes("../escape", b"x".to_vec())],
            &CommitOptions::new("x"),
        )
        .expect_err("bad path");
    assert!(err.to_string().contains("../escape"), "{err}");
    Ok(())
}

#[test]
fn clients_without_a_token_and_with_one_agree_on_what_exists() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/exists").file("a.txt", b"a".to_vec()))?;
    let anyone: HubClient = client(&hub, None)?;
    let repo = RepoId::new("alice/exists")?;
    let main = RevisionOptions::default();
    assert!(anyone.file_exists(&repo, "a.txt", &main)?);
    assert!(!anyone.file_exists(&repo, "b.txt", &main)?);
    let model = RepoOptions::default();
    assert!(anyone.revision_exists(&repo, &Revision::main(), &model)?);
    assert!(!anyone.revision_exists(&repo, &Revision::new("nope")?, &model)?);
    assert!(!anyone.repo_exists(&RepoId::new("alice/none")?, &model)?);
    Ok(())
}

#[test]
fn a_slow_completion_is_waited_for_not_sent_again() -> TestResult {
    let hub = TestHub::start_with(small_multipart)?;
    // Reads time out after 300 ms; the store takes a second to assemble the object.
    let alice = HubClient::builder()
        .endpoint(hub_url::Endpoint::new(&hub.endpoint())?)
        .token(Some(Token::new(ALICE_WRITE)))
        .read_timeout(std::time::Duration::from_millis(300))
        .retry(crate::fast_retries())
        .build()?;
    let repo = RepoId::new("alice/slow-store")?;
    alice.create_repo(&repo, &CreateRepoOptions::default())?;
    // Every try is slow: a client that gives up at its read timeout never completes.
    hub.faults().push(
        Fault::new("complete_multipart", FaultAction::Delay { millis: 1000 })
            .method("POST")
            .times(10),
    );
    let bytes = binary(150_000, 9);

    alice.upload_file(
        &repo,
        AddSource::Bytes(bytes.clone()),
        "w.bin",
        &CommitOptions::new("w"),
    )?;

    assert_eq!(content(&hub, "alice/slow-store", "w.bin")?, bytes);
    let completions = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.ends_with("/complete_multipart"))
        .count();
    assert_eq!(completions, 1, "the completion was not sent again");
    Ok(())
}
