//! The `hf-hub`-shaped entry point: one builder, a repo handle, and `get`,
//! `download`, `info` and `snapshot` through the same cache.

use hub_cache::api::ApiBuilder;
use hub_cache::{Endpoint, HubConfig, Revision, Token};
use hub_emulator::SeedRepo;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};

use super::TestResult;

#[test]
fn get_download_info_and_snapshot_through_one_api() -> TestResult {
    let hub = TestHub::start()?;
    let commit = hub.seed(
        &SeedRepo::model("alice/api")
            .file("config.json", br#"{"api": true}"#.to_vec())
            .file("sub/notes.txt", b"notes".to_vec()),
    )?;
    hub.seed(&SeedRepo::dataset("alice/data").file("rows.csv", b"a,b\n1,2\n".to_vec()))?;
    let home = tempfile::tempdir()?;
    let api = ApiBuilder::from_config(HubConfig::new(home.path()))
        .with_endpoint(Endpoint::new(&hub.endpoint())?)
        .with_token(Some(Token::new(ALICE_WRITE)))
        .with_user_agent("my-library", "1.2.3")
        .build()?;

    let repo = api.model("alice/api")?;
    let path = repo.get("config.json")?;
    assert!(path.starts_with(home.path().join("hub/models--alice--api/snapshots")));
    assert_eq!(std::fs::read(&path)?, br#"{"api": true}"#);
    let user_agents: Vec<String> = hub.log().records().into_iter().filter_map(|r| r.user_agent).collect();
    assert!(
        user_agents.iter().all(|ua| ua.starts_with("my-library/1.2.3;")),
        "{user_agents:?}"
    );

    // `get` of a pinned, cached file asks nothing; `download` fetches again.
    let pinned = api.model("alice/api")?.at(Revision::new(&commit)?);
    hub.log().clear();
    assert_eq!(pinned.get("config.json")?, path);
    assert!(hub.log().records().is_empty(), "a pinned cached file costs no request");
    pinned.download("config.json")?;
    assert!(
        hub.log().records().iter().any(|r| r.method == "GET"),
        "download fetches the bytes again"
    );

    let info = repo.info()?;
    assert_eq!(info.sha.as_deref(), Some(commit.as_str()));
    let folder = repo.snapshot()?;
    assert_eq!(std::fs::read(folder.join("sub/notes.txt"))?, b"notes");

    let rows = api.dataset("alice/data")?.get("rows.csv")?;
    assert!(rows.starts_with(home.path().join("hub/datasets--alice--data")));
    assert!(api.model("not a repo id").is_err(), "ids are checked");
    Ok(())
}
