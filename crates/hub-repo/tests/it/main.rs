//! `Repository` with real git and git-lfs against the emulator's smart HTTP.

use std::ffi::OsString;
use std::path::Path;

use hub_emulator::git_sandbox::GitSandbox;
use hub_emulator::test_hub::{ALICE_READ, ALICE_WRITE, TestHub};
use hub_emulator::{EmulatorConfig, SeedRepo};
use hub_repo::{
    CloneOptions, CommitScope, Error, GitProgram, LfsTracking, OpenOptions, PullOptions, Repository, TagKind,
    TagLocation, Upstream, WhenClean,
};
use hub_url::{Endpoint, RepoId, Revision, Token};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type BoxError = Box<dyn std::error::Error>;

/// The emulator's LFS threshold and the clone's large-file threshold: 8 KiB
/// (the Hub's are 10 MiB), room for `.gitattributes` to grow.
const THRESHOLD: u64 = 8192;

/// An emulator, a private git home, and Alice's repo with a text file and an LFS file.
struct Fixture {
    hub: TestHub,
    sandbox: GitSandbox,
    weights: Vec<u8>,
}

fn fixture(repo: &str, private: bool) -> Result<Fixture, BoxError> {
    let hub = TestHub::start_with(|mut config: EmulatorConfig| {
        config.lfs_threshold = THRESHOLD;
        config
    })?;
    let weights = binary(20_000, 1);
    let mut seed = SeedRepo::model(repo)
        .file("config.json", br#"{"hidden": 8}"#.to_vec())
        .file("weights.safetensors", weights.clone());
    if private {
        seed = seed.private();
    }
    hub.seed(&seed)?;
    Ok(Fixture {
        hub,
        sandbox: GitSandbox::new()?,
        weights,
    })
}

impl Fixture {
    fn endpoint(&self) -> Result<Endpoint, BoxError> {
        Ok(Endpoint::new(&self.hub.endpoint())?)
    }

    /// git with the sandbox's home and config.
    fn git(&self) -> GitProgram {
        let home = self.sandbox.home();
        GitProgram {
            env: vec![
                ("HOME".into(), OsString::from(home)),
                ("GIT_CONFIG_GLOBAL".into(), home.join(".gitconfig").into()),
                ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ],
            ..GitProgram::default()
        }
    }

    fn options(&self, token: Option<&str>) -> CloneOptions {
        let options = CloneOptions::default().large_file_threshold(THRESHOLD).git(self.git());
        match token {
            Some(token) => options.token(Token::new(token)),
            None => options,
        }
    }

    fn clone(&self, repo: &str, dir: &str, token: Option<&str>) -> Result<Repository, BoxError> {
        let repo = Repository::clone_from(
            &self.endpoint()?,
            &RepoId::new(repo)?,
            self.sandbox.dir(dir),
            &self.options(token),
        )?;
        Ok(repo)
    }

    fn main_of(&self, repo: &str) -> Result<String, BoxError> {
        Ok(self.hub.resolve_revision("model", repo, "main")?)
    }
}

/// Deterministic bytes that look binary.
fn binary(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Result<Vec<u8>, BoxError> {
    Ok(std::fs::read(path)?)
}

#[test]
fn clone_fetches_lfs_content_and_keeps_the_token_out_of_the_config() -> TestResult {
    let f = fixture("alice/private-model", true)?;
    let repo = f.clone("alice/private-model", "work", Some(ALICE_WRITE))?;

    assert_eq!(read(&repo.local_dir().join("weights.safetensors"))?, f.weights);
    assert_eq!(read(&repo.local_dir().join("config.json"))?, br#"{"hidden": 8}"#);
    assert_eq!(repo.current_branch()?, "main");
    assert_eq!(repo.git_head_hash()?, f.main_of("alice/private-model")?);
    assert_eq!(
        repo.git_remote_url()?,
        format!("{}/alice/private-model", f.hub.endpoint())
    );
    let config = std::fs::read_to_string(repo.local_dir().join(".git/config"))?;
    assert!(!config.contains(ALICE_WRITE), "the token is not in .git/config");
    assert!(
        !config.contains("credential"),
        "no credential helper is stored: {config}"
    );
    assert!(
        config.contains("[filter \"lfs\"]"),
        "git-lfs is set up in the clone: {config}"
    );
    let global = std::fs::read_to_string(f.sandbox.home().join(".gitconfig"))?;
    assert!(!global.contains("lfs"), "the global config is not touched: {global}");
    assert!(repo.is_repo_clean()?);
    Ok(())
}

#[test]
fn a_private_repo_without_a_token_is_refused_and_the_folder_stays_empty() -> TestResult {
    let f = fixture("alice/hidden", true)?;
    let err = f.clone("alice/hidden", "anon", None).expect_err("private");
    let err = err.downcast::<Error>()?;
    assert!(matches!(*err, Error::GitFailed { .. }), "{err:?}");
    assert_eq!(
        std::fs::read_dir(f.sandbox.dir("anon"))?.count(),
        0,
        "nothing left behind"
    );
    // A token without access to it fails the same way and is never shown.
    let err = f
        .clone("alice/hidden", "bob", Some(hub_emulator::test_hub::BOB_WRITE))
        .expect_err("not bob's");
    assert!(!err.to_string().contains(hub_emulator::test_hub::BOB_WRITE), "{err}");
    Ok(())
}

#[test]
fn skipped_lfs_files_are_pointers_until_pulled() -> TestResult {
    let f = fixture("alice/skip", false)?;
    let options = f.options(None).skip_lfs_files(true);
    let repo = Repository::clone_from(
        &f.endpoint()?,
        &RepoId::new("alice/skip")?,
        f.sandbox.dir("work"),
        &options,
    )?;
    let pointer = std::fs::read_to_string(repo.local_dir().join("weights.safetensors"))?;
    assert!(
        pointer.starts_with("version https://git-lfs.github.com/spec/v1"),
        "{pointer}"
    );
    assert!(pointer.contains(&sha256_hex(&f.weights)));

    repo.git_pull(&PullOptions::default().lfs(true))?;
    assert_eq!(read(&repo.local_dir().join("weights.safetensors"))?, f.weights);
    Ok(())
}

#[test]
fn the_commit_scope_tracks_large_and_binary_files_with_lfs_and_pushes() -> TestResult {
    let f = fixture("alice/scoped", false)?;
    let repo = f.clone("alice/scoped", "work", Some(ALICE_WRITE))?;
    let big = "[1, 2, 3]\n".repeat(1000);
    let image = binary(300, 7);

    let value = repo.commit("Add data", &CommitScope::tracked(), |repo| {
        std::fs::write(repo.local_dir().join("big.json"), &big)?;
        std::fs::create_dir(repo.local_dir().join("img"))?;
        std::fs::write(repo.local_dir().join("img/cat [1].dat"), &image)?;
        std::fs::write(repo.local_dir().join("notes.md"), "small text\n")?;
        Ok::<_, BoxError>(42)
    })?;

    assert_eq!(value, 42);
    let head = repo.git_head_hash()?;
    assert_eq!(f.main_of("alice/scoped")?, head, "pushed");
    assert!(repo.is_repo_clean()?);
    let attributes = std::fs::read_to_string(repo.local_dir().join(".gitattributes"))?;
    assert!(attributes.contains("big.json filter=lfs"), "{attributes}");
    assert!(attributes.contains("cat"), "{attributes}");
    assert!(!attributes.contains("notes.md"), "small text stays in git");
    // On the Hub: the LFS objects are stored, the files read back whole.
    assert_eq!(
        read(&f.hub.lfs_object_path(&sha256_hex(big.as_bytes())))?,
        big.as_bytes()
    );
    assert_eq!(read(&f.hub.lfs_object_path(&sha256_hex(&image)))?, image);
    assert_eq!(
        f.hub.file_content("model", "alice/scoped", "main", "img/cat [1].dat")?,
        image
    );
    assert_eq!(
        f.hub.file_content("model", "alice/scoped", "main", "notes.md")?,
        b"small text\n"
    );
    assert_eq!(
        repo.git_head_commit_url()?,
        format!("{}/alice/scoped/commit/{head}", f.hub.endpoint())
    );
    Ok(())
}

#[test]
fn without_lfs_tracking_the_hub_refuses_the_push_and_says_why() -> TestResult {
    let f = fixture("alice/untracked", false)?;
    let repo = f.clone("alice/untracked", "work", Some(ALICE_WRITE))?;
    let before = f.main_of("alice/untracked")?;
    let scope = CommitScope::default().track_large_files(false);
    let err = repo
        .commit("Big text", &scope, |repo| {
            std::fs::write(repo.local_dir().join("big.json"), "[1]\n".repeat(3000))?;
            Ok::<_, BoxError>(())
        })
        .expect_err("refused by the Hub");
    let text = err.to_string();
    assert!(
        text.contains("larger than 8 KiB") && text.contains("big.json"),
        "{text}"
    );
    assert!(!text.contains(ALICE_WRITE));
    assert_eq!(f.main_of("alice/untracked")?, before, "nothing reached the Hub");
    Ok(())
}

#[test]
fn failed_work_commits_nothing_and_loses_nothing() -> TestResult {
    let f = fixture("alice/careful", false)?;
    let repo = f.clone("alice/careful", "work", Some(ALICE_WRITE))?;
    let before = repo.git_head_hash()?;

    let result: Result<(), BoxError> = repo.commit("Half done", &CommitScope::tracked(), |repo| {
        std::fs::write(repo.local_dir().join("draft.md"), "half of it\n")?;
        Err("the training diverged".into())
    });

    assert_eq!(result.expect_err("work failed").to_string(), "the training diverged");
    assert_eq!(repo.git_head_hash()?, before, "no commit");
    assert_eq!(f.main_of("alice/careful")?, before, "no push");
    assert_eq!(
        read(&repo.local_dir().join("draft.md"))?,
        b"half of it\n",
        "the work is still there"
    );
    assert!(!repo.is_repo_clean()?);
    Ok(())
}

#[test]
fn nothing_to_commit_is_not_an_error() -> TestResult {
    let f = fixture("alice/clean", false)?;
    let repo = f.clone("alice/clean", "work", Some(ALICE_WRITE))?;
    let before = repo.git_head_hash()?;
    assert_eq!(repo.git_commit("Nothing")?, None);
    assert_eq!(repo.push_to_hub("Nothing", WhenClean::Skip)?, None);
    repo.commit("Nothing either", &CommitScope::tracked(), |_| Ok::<_, BoxError>(()))?;
    assert_eq!(repo.git_head_hash()?, before);
    assert_eq!(f.main_of("alice/clean")?, before);
    Ok(())
}

#[test]
fn a_branch_scope_creates_and_pushes_the_branch() -> TestResult {
    let f = fixture("alice/branchy", false)?;
    let repo = f.clone("alice/branchy", "work", Some(ALICE_WRITE))?;
    let main = f.main_of("alice/branchy")?;
    let scope = CommitScope::tracked().branch(Revision::new("dev")?);
    repo.commit("On dev", &scope, |repo| {
        std::fs::write(repo.local_dir().join("dev.md"), "dev\n")?;
        Ok::<_, BoxError>(())
    })?;
    assert_eq!(repo.current_branch()?, "dev");
    assert_eq!(
        f.hub.resolve_revision("model", "alice/branchy", "dev")?,
        repo.git_head_hash()?
    );
    assert_eq!(f.main_of("alice/branchy")?, main, "main is untouched");
    Ok(())
}

#[test]
fn the_commit_scope_pulls_what_others_pushed_first() -> TestResult {
    let f = fixture("alice/shared", false)?;
    let mine = f.clone("alice/shared", "mine", Some(ALICE_WRITE))?;
    let theirs = f.clone("alice/shared", "theirs", Some(ALICE_WRITE))?;
    theirs.commit("Theirs", &CommitScope::tracked(), |repo| {
        std::fs::write(repo.local_dir().join("theirs.md"), "theirs\n")?;
        Ok::<_, BoxError>(())
    })?;

    mine.commit("Mine", &CommitScope::tracked(), |repo| {
        std::fs::write(repo.local_dir().join("mine.md"), "mine\n")?;
        Ok::<_, BoxError>(())
    })?;

    assert_eq!(f.main_of("alice/shared")?, mine.git_head_hash()?);
    assert_eq!(
        f.hub.file_content("model", "alice/shared", "main", "theirs.md")?,
        b"theirs\n"
    );
    assert_eq!(
        f.hub.file_content("model", "alice/shared", "main", "mine.md")?,
        b"mine\n"
    );
    Ok(())
}

#[test]
fn clone_targets_are_checked() -> TestResult {
    let f = fixture("alice/target", false)?;
    f.hub.seed(&SeedRepo::model("alice/other").file("a.md", "a"))?;
    let busy = f.sandbox.dir("busy");
    std::fs::create_dir(&busy)?;
    std::fs::write(busy.join("mine.txt"), "keep me")?;
    let err = f.clone("alice/target", "busy", None).expect_err("not empty");
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::NotEmpty { .. })),
        "{err}"
    );
    assert_eq!(read(&busy.join("mine.txt"))?, b"keep me");

    let first = f.clone("alice/target", "work", None)?;
    let again = f.clone("alice/target", "work", None)?;
    assert_eq!(
        again.git_head_hash()?,
        first.git_head_hash()?,
        "an existing clone is opened"
    );
    let err = f.clone("alice/other", "work", None).expect_err("another repo's clone");
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::UnrelatedClone { .. })),
        "{err}"
    );

    let opened = Repository::open(first.local_dir().join("."), &OpenOptions::default().git(f.git()))?;
    assert_eq!(opened.local_dir(), first.local_dir());
    // Opened clones track large files by the threshold they are given.
    let opened = opened.with_large_file_threshold(100);
    std::fs::write(
        first.local_dir().join("notes.md"),
        "a line of text, over 100 bytes. ".repeat(8),
    )?;
    assert_eq!(opened.auto_track_large_files(".")?, ["notes.md"]);
    assert_eq!(first.auto_track_large_files(".")?, Vec::<String>::new(), "now tracked");
    let outside = tempfile::tempdir()?;
    let err = Repository::open(outside.path(), &OpenOptions::default().git(f.git())).expect_err("no repo");
    assert!(matches!(err, Error::NotARepository { .. }), "{err}");
    Ok(())
}

#[test]
fn tags_are_made_pushed_and_deleted() -> TestResult {
    let f = fixture("alice/tagged", false)?;
    let repo = f.clone("alice/tagged", "work", Some(ALICE_WRITE))?;
    let origin = TagLocation::Remote("origin");
    repo.add_tag("v1.0", TagKind::Annotated("First release"), origin)?;
    assert!(repo.tag_exists("v1.0", TagLocation::Local)?);
    assert!(repo.tag_exists("v1.0", origin)?);
    assert_eq!(
        f.hub.resolve_revision("model", "alice/tagged", "v1.0")?,
        repo.git_head_hash()?
    );

    assert!(repo.delete_tag("v1.0", origin)?);
    assert!(!repo.tag_exists("v1.0", origin)?);
    assert!(!repo.delete_tag("v1.0", origin)?, "nothing left to delete");
    Ok(())
}

#[test]
fn a_read_token_cannot_push_and_is_never_shown() -> TestResult {
    let f = fixture("alice/read-only", false)?;
    let repo = f.clone("alice/read-only", "work", Some(ALICE_READ))?;
    std::fs::write(repo.local_dir().join("x.md"), "x\n")?;
    repo.git_add(".", LfsTracking::Automatic)?;
    repo.git_commit("X")?;
    let err = repo.git_push(Upstream::AsConfigured).expect_err("read token");
    assert!(matches!(err, Error::GitFailed { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(ALICE_READ));
    std::fs::remove_file(repo.local_dir().join("config.json"))?;
    assert_eq!(repo.list_deleted_files()?, ["config.json"]);
    Ok(())
}
