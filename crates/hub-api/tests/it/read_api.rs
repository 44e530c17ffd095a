//! The read API against the emulator: whoami, info, trees, listings.

use hub_api::{Gated, ListReposOptions, ListTreeOptions, RepoInfoOptions, RepoTreeEntry, RevisionOptions};
use hub_emulator::SeedRepo;
use hub_emulator::test_hub::{ALICE_READ, ALICE_WRITE, TestHub};
use hub_url::{RepoId, RepoType, Revision};

use crate::{TestResult, client};

fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("config.json", br#"{"a": 1}"#.to_vec()),
        ("README.md", b"# hi\n".to_vec()),
        ("weights.bin", vec![7u8; 3000]),
        ("nested/dir/deep.txt", b"deep".to_vec()),
        ("nested/top.txt", b"top".to_vec()),
        ("with space/é.txt", b"unicode".to_vec()),
        ("big.safetensors", vec![1u8; 5000]),
    ]
}

fn seeded() -> Result<TestHub, Box<dyn std::error::Error>> {
    let hub = TestHub::start()?;
    let mut repo = SeedRepo::model("alice/tree").tag("pytorch");
    for (path, content) in files() {
        repo = repo.file(path, content);
    }
    hub.seed(&repo)?;
    Ok(hub)
}

#[test]
fn whoami_names_the_user_orgs_and_token_role() -> TestResult {
    let hub = TestHub::start()?;
    let me = client(&hub, Some(ALICE_WRITE))?.whoami()?;
    assert_eq!(me.name, "alice");
    assert_eq!(
        me.orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        vec!["acme"]
    );
    assert_eq!(me.token_role(), Some("write"));
    assert_eq!(client(&hub, Some(ALICE_READ))?.whoami()?.token_role(), Some("read"));
    Ok(())
}

#[test]
fn model_info_lists_files_with_lfs_metadata() -> TestResult {
    let hub = seeded()?;
    let repo = RepoId::new("alice/tree")?;
    let info = client(&hub, None)?.repo_info(&repo, &RepoInfoOptions::default().files_metadata(true))?;
    assert_eq!(info.id, "alice/tree");
    assert_eq!(info.sha.as_deref().map(str::len), Some(40));
    assert_eq!(info.gated, Gated::No);
    assert!(info.tags.iter().any(|t| t == "pytorch"));
    let mut names: Vec<_> = info.siblings.iter().map(|s| s.rfilename.clone()).collect();
    names.sort();
    let mut expected: Vec<_> = files().iter().map(|(p, _)| p.to_string()).collect();
    expected.push(".gitattributes".into());
    expected.sort();
    assert_eq!(names, expected);
    let weights = info
        .siblings
        .iter()
        .find(|s| s.rfilename == "weights.bin")
        .expect("weights");
    assert_eq!(weights.size, Some(3000));
    let lfs = weights.lfs.as_ref().expect("weights.bin is in LFS");
    assert_eq!(lfs.size, 3000);
    assert_eq!(lfs.sha256.len(), 64);
    let config = info
        .siblings
        .iter()
        .find(|s| s.rfilename == "config.json")
        .expect("config");
    assert!(config.lfs.is_none());
    assert_eq!(config.size, Some(8));
    Ok(())
}

#[test]
fn info_at_a_revision_and_for_each_repo_type() -> TestResult {
    let hub = TestHub::start()?;
    let first = hub.seed(&SeedRepo::dataset("alice/data").file("a.csv", b"x\n1\n".to_vec()))?;
    let second = hub.seed(&SeedRepo::dataset("alice/data").file("b.csv", b"y\n2\n".to_vec()))?;
    assert_ne!(first, second);
    hub.seed(&SeedRepo::space("alice/app").file("app.py", b"print(1)\n".to_vec()))?;
    let client = client(&hub, None)?;
    let data = RepoId::new("alice/data")?;
    let at_first = RepoInfoOptions::default()
        .repo_type(RepoType::Dataset)
        .revision(Revision::new(&first)?);
    let old = client.repo_info(&data, &at_first)?;
    assert_eq!(old.sha.as_deref(), Some(first.as_str()));
    assert!(old.siblings.iter().all(|s| s.rfilename != "b.csv"));
    let new = client.dataset_info(&data)?;
    assert_eq!(new.sha.as_deref(), Some(second.as_str()));
    let space = client.space_info(&RepoId::new("alice/app")?)?;
    assert_eq!(space.id, "alice/app");
    Ok(())
}

#[test]
fn tree_listing_follows_pagination_to_the_end() -> TestResult {
    let hub = seeded()?;
    let repo = RepoId::new("alice/tree")?;
    let client = client(&hub, None)?;
    hub.log().clear();
    let mut files = client.list_repo_files(&repo, &RevisionOptions::default())?;
    files.sort();
    let mut expected: Vec<_> = files_paths();
    expected.sort();
    assert_eq!(files, expected);
    let pages = hub.log().records().iter().filter(|r| r.path.contains("/tree/")).count();
    assert!(pages >= 3, "8 files at 3 a page take several pages, got {pages}");

    let options = ListTreeOptions::default().path_in_repo("nested");
    let entries: Vec<_> = client.list_repo_tree(&repo, &options).collect::<Result<_, _>>()?;
    let mut shallow: Vec<_> = entries
        .iter()
        .map(|e| (e.path().to_string(), matches!(e, RepoTreeEntry::Directory { .. })))
        .collect();
    shallow.sort();
    assert_eq!(
        shallow,
        vec![("nested/dir".to_string(), true), ("nested/top.txt".to_string(), false)]
    );
    Ok(())
}

fn files_paths() -> Vec<String> {
    let mut paths: Vec<_> = files().iter().map(|(p, _)| p.to_string()).collect();
    paths.push(".gitattributes".into());
    paths
}

#[test]
fn listing_models_filters_and_stops_at_the_limit() -> TestResult {
    let hub = TestHub::start()?;
    for name in [
        "alice/bert-small",
        "alice/bert-large",
        "alice/gpt",
        "bob/bert-tiny",
        "acme/bert-org",
    ] {
        let mut repo = SeedRepo::model(name).file("config.json", b"{}".to_vec());
        if name.contains("bert") {
            repo = repo.tag("bert");
        }
        hub.seed(&repo)?;
    }
    hub.seed(
        &SeedRepo::model("alice/bert-hidden")
            .file("config.json", b"{}".to_vec())
            .private(),
    )?;
    let client = client(&hub, None)?;
    let ids = |options: &ListReposOptions| -> Result<Vec<String>, hub_api::Error> {
        let mut ids: Vec<String> = client
            .list_models(options)
            .map(|m| m.map(|m| m.id))
            .collect::<Result<_, _>>()?;
        ids.sort();
        Ok(ids)
    };
    let search = ListReposOptions::default().search("bert");
    assert_eq!(
        ids(&search)?,
        vec!["acme/bert-org", "alice/bert-large", "alice/bert-small", "bob/bert-tiny"]
    );
    let by_author = ListReposOptions::default().author("alice");
    assert_eq!(
        ids(&by_author)?,
        vec!["alice/bert-large", "alice/bert-small", "alice/gpt"]
    );
    let filtered = ListReposOptions::default().author("alice").filter("bert");
    assert_eq!(ids(&filtered)?, vec!["alice/bert-large", "alice/bert-small"]);

    hub.log().clear();
    let limited = ListReposOptions::default().limit(2);
    assert_eq!(client.list_models(&limited).count(), 2);
    let pages = hub.log().records().iter().filter(|r| r.path == "/api/models").count();
    assert_eq!(pages, 1, "no page past the limit is fetched");

    let everything: Vec<_> = client
        .list_models(&ListReposOptions::default())
        .collect::<Result<_, _>>()?;
    assert_eq!(everything.len(), 5, "the private model stays hidden from others");
    Ok(())
}

#[test]
fn user_agent_names_library_hub_and_rust() -> TestResult {
    let hub = TestHub::start()?;
    let client = hub_api::HubClient::builder()
        .endpoint(hub_url::Endpoint::new(&hub.endpoint())?)
        .token(Some(hub_url::Token::new(ALICE_WRITE)))
        .library("candle", "0.9.1")
        .build()?;
    client.whoami()?;
    let ua = hub
        .log()
        .records()
        .last()
        .and_then(|r| r.user_agent.clone())
        .expect("user agent");
    assert_eq!(
        ua,
        format!(
            "candle/0.9.1; hf_hub/{}; rust/{}",
            hub_api::HF_HUB_VERSION,
            hub_api::RUST_VERSION
        )
    );
    Ok(())
}
