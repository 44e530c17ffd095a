//! The transfer agent against the emulator: real batch answers, real part URLs.

mod proptests;

use hub_api::{CreateRepoOptions, HubClient, HubRequest, Method, RetryPolicy};
use hub_emulator::EmulatorConfig;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_lfs::{AgentOptions, AgentOutcome, Error, run_agent};
use hub_url::{Endpoint, RepoId, Token};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type BoxError = Box<dyn std::error::Error>;

const PART_SIZE: u64 = 40_000;

fn small_parts(mut config: EmulatorConfig) -> EmulatorConfig {
    config.multipart_threshold = 100_000;
    config.multipart_part_size = PART_SIZE;
    config
}

fn client(hub: &TestHub, token: Option<&str>) -> Result<HubClient, BoxError> {
    Ok(HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .token(token.map(Token::new))
        .retry(RetryPolicy {
            base_delay: std::time::Duration::from_millis(10),
            max_delay: std::time::Duration::from_millis(40),
            ..RetryPolicy::default()
        })
        .build()?)
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

/// A repo of Alice's and a file in a temp folder, with the upload action the
/// batch API gives for it, as git-lfs would pass it on.
struct Upload {
    oid: String,
    bytes: Vec<u8>,
    path: std::path::PathBuf,
    action: Value,
}

fn prepare(hub: &TestHub, dir: &tempfile::TempDir, repo: &str, bytes: Vec<u8>) -> Result<Upload, BoxError> {
    let alice = client(hub, Some(ALICE_WRITE))?;
    let repo_id = RepoId::new(repo)?;
    alice.create_repo(&repo_id, &CreateRepoOptions::default().exist_ok(true))?;
    let oid = sha256_hex(&bytes);
    let path = dir.path().join(&oid);
    std::fs::write(&path, &bytes)?;
    let batch = json!({
        "operation": "upload",
        "transfers": ["basic", "multipart"],
        "objects": [{ "oid": oid, "size": bytes.len() }],
        "hash_algo": "sha256",
    });
    let request = HubRequest::new(
        Method::Post,
        format!("{}/{repo}.git/info/lfs/objects/batch", hub.endpoint()),
    )
    .json_body(&batch)
    .header("accept", "application/vnd.git-lfs+json")
    .header("content-type", "application/vnd.git-lfs+json");
    let answer: Value = alice.send(&request)?.json()?;
    assert_eq!(answer["transfer"], "multipart", "{answer}");
    let action = answer["objects"][0]["actions"]["upload"].clone();
    assert!(action["header"]["chunk_size"].is_string(), "{action}");
    Ok(Upload {
        oid,
        bytes,
        path,
        action,
    })
}

fn upload_line(upload: &Upload) -> String {
    json!({
        "event": "upload",
        "oid": upload.oid,
        "size": upload.bytes.len(),
        "path": upload.path,
        "action": upload.action,
    })
    .to_string()
}

const INIT: &str =
    r#"{"event":"init","operation":"upload","remote":"origin","concurrent":true,"concurrenttransfers":3}"#;
const TERMINATE: &str = r#"{"event":"terminate"}"#;

/// Runs the agent (without a token) on these lines, with a progress message
/// every 16 KiB; returns its outcome and answers.
fn run(hub: &TestHub, lines: &[String]) -> Result<(AgentOutcome, Vec<Value>), BoxError> {
    let options = AgentOptions::default().progress_step(16_384);
    run_with(hub, lines, &options)
}

fn run_with(hub: &TestHub, lines: &[String], options: &AgentOptions) -> Result<(AgentOutcome, Vec<Value>), BoxError> {
    let input = lines.join("\n") + "\n";
    let mut output = Vec::new();
    let outcome = run_agent(&client(hub, None)?, input.as_bytes(), &mut output, options)?;
    let answers = String::from_utf8(output)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    Ok((outcome, answers))
}

#[test]
fn uploads_every_part_and_reports_progress_to_the_whole_size() -> TestResult {
    let hub = TestHub::start_with(small_parts)?;
    let dir = tempfile::tempdir()?;
    let upload = prepare(&hub, &dir, "alice/huge", binary(190_000, 1))?;
    hub.log().clear();

    let (outcome, answers) = run(&hub, &[INIT.into(), upload_line(&upload), TERMINATE.into()])?;

    assert_eq!(outcome.uploaded, 1);
    assert_eq!(outcome.failed, 0);
    assert_eq!(answers[0], json!({}), "init is confirmed with an empty object");
    let last = answers.last().ok_or("no answers")?;
    assert_eq!(last, &json!({ "event": "complete", "oid": upload.oid }));
    let progress: Vec<&Value> = answers[1..answers.len() - 1].iter().collect();
    assert!(progress.len() >= 2, "progress is reported as parts go: {answers:?}");
    let mut so_far = 0;
    for event in &progress {
        assert_eq!(event["event"], "progress");
        assert_eq!(event["oid"], upload.oid.as_str());
        let since = event["bytesSinceLast"].as_u64().ok_or("bytesSinceLast")?;
        assert!(since > 0);
        so_far += since;
        assert_eq!(event["bytesSoFar"].as_u64(), Some(so_far));
    }
    assert_eq!(
        so_far,
        upload.bytes.len() as u64,
        "the last progress is the whole object"
    );

    assert_eq!(std::fs::read(hub.lfs_object_path(&upload.oid))?, upload.bytes);
    let records = hub.log().records();
    let parts: Vec<_> = records.iter().filter(|r| r.path.contains("/lfs-part/")).collect();
    assert_eq!(parts.len(), 5, "190 kB in parts of 40 kB");
    assert!(parts.iter().all(|r| r.method == "PUT" && r.status == 200));
    let completions = records
        .iter()
        .filter(|r| r.path.ends_with("/complete_multipart"))
        .count();
    assert_eq!(completions, 1);
    assert!(
        records.iter().all(|r| r.authorization.is_none()),
        "presigned URLs get no token"
    );
    Ok(())
}

#[test]
fn the_first_bytes_are_reported_at_once_so_git_lfs_starts_its_other_agents() -> TestResult {
    let hub = TestHub::start_with(small_parts)?;
    let dir = tempfile::tempdir()?;
    let upload = prepare(&hub, &dir, "alice/early", binary(190_000, 5))?;
    // One message a MiB would otherwise mean a single message, at the very end.
    let options = AgentOptions::default();
    assert!(options.progress_step > upload.bytes.len() as u64);

    let (_, answers) = run_with(&hub, &[INIT.into(), upload_line(&upload), TERMINATE.into()], &options)?;

    let progress: Vec<u64> = answers
        .iter()
        .filter(|a| a["event"] == "progress")
        .filter_map(|a| a["bytesSoFar"].as_u64())
        .collect();
    assert_eq!(progress.len(), 2, "{answers:?}");
    assert!(
        progress[0] > 0 && progress[0] < upload.bytes.len() as u64,
        "{progress:?}"
    );
    assert_eq!(progress[1], upload.bytes.len() as u64);
    Ok(())
}

#[test]
fn a_failing_part_is_retried_without_restarting_the_object() -> TestResult {
    let hub = TestHub::start_with(small_parts)?;
    let dir = tempfile::tempdir()?;
    let upload = prepare(&hub, &dir, "alice/retried", binary(120_000, 2))?;
    hub.log().clear();
    let fault = FaultAction::Status {
        status: 503,
        retry_after: None,
    };
    hub.faults()
        .push(Fault::new("/lfs-part/", fault).method("PUT").times(2));

    let (outcome, answers) = run(&hub, &[INIT.into(), upload_line(&upload), TERMINATE.into()])?;

    assert_eq!((outcome.uploaded, outcome.failed), (1, 0), "{answers:?}");
    assert_eq!(std::fs::read(hub.lfs_object_path(&upload.oid))?, upload.bytes);
    let puts = hub.log().records().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 3 + 2, "3 parts, and the 2 failed tries sent again");
    let last_progress = answers
        .iter()
        .rev()
        .find(|a| a["event"] == "progress")
        .ok_or("no progress")?;
    assert_eq!(
        last_progress["bytesSoFar"].as_u64(),
        Some(upload.bytes.len() as u64),
        "retried bytes are not counted twice"
    );
    Ok(())
}

#[test]
fn a_refused_object_is_reported_and_the_next_one_still_goes_up() -> TestResult {
    let hub = TestHub::start_with(small_parts)?;
    let dir = tempfile::tempdir()?;
    let mut refused = prepare(&hub, &dir, "alice/two", binary(150_000, 3))?;
    // A part URL whose signature no longer matches: the store answers 403.
    let url = refused.action["header"]["00002"]
        .as_str()
        .ok_or("part 2")?
        .replace("signature=", "signature=0");
    refused.action["header"]["00002"] = json!(url);
    let accepted = prepare(&hub, &dir, "alice/two", binary(110_000, 4))?;

    let lines = [
        INIT.into(),
        upload_line(&refused),
        upload_line(&accepted),
        TERMINATE.into(),
    ];
    let (outcome, answers) = run(&hub, &lines)?;

    assert_eq!((outcome.uploaded, outcome.failed), (1, 1));
    let completes: Vec<&Value> = answers.iter().filter(|a| a["event"] == "complete").collect();
    assert_eq!(completes.len(), 2);
    assert_eq!(completes[0]["oid"], refused.oid.as_str());
    assert_eq!(completes[0]["error"]["code"], 403, "{}", completes[0]);
    assert!(completes[0]["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(completes[1], &json!({ "event": "complete", "oid": accepted.oid }));
    assert!(
        !hub.lfs_object_path(&refused.oid).exists(),
        "nothing stored for the refused object"
    );
    assert_eq!(std::fs::read(hub.lfs_object_path(&accepted.oid))?, accepted.bytes);
    Ok(())
}

#[test]
fn downloads_are_refused_at_init() -> TestResult {
    let hub = TestHub::start()?;
    let init = r#"{"event":"init","operation":"download","remote":"origin","concurrent":true,"concurrenttransfers":3}"#;
    let download = r#"{"event":"download","oid":"aa","size":3,"action":{"href":"http://x/y"}}"#;
    let (outcome, answers) = run(&hub, &[init.into(), download.into(), TERMINATE.into()])?;
    assert_eq!(outcome, AgentOutcome::default());
    assert_eq!(answers[0]["error"]["code"], 32, "{answers:?}");
    assert_eq!(answers[1]["event"], "complete");
    assert_eq!(answers[1]["oid"], "aa");
    assert!(answers[1]["error"]["message"].is_string());
    Ok(())
}

#[test]
fn lines_outside_the_protocol_stop_the_agent() -> TestResult {
    let hub = TestHub::start()?;
    let client = client(&hub, None)?;
    let options = AgentOptions::default();
    let mut out = Vec::new();
    let early = r#"{"event":"upload","oid":"aa","size":1,"path":"/x"}"#;
    match run_agent(&client, early.as_bytes(), &mut out, &options) {
        Err(Error::NotInitialised {
            event: "upload",
            line: 1,
        }) => {}
        other => return Err(format!("expected NotInitialised, got {other:?}").into()),
    }
    let garbage = format!("{INIT}\n\nnot json\n");
    match run_agent(&client, garbage.as_bytes(), &mut out, &options) {
        Err(Error::Protocol { line: 3, .. }) => {}
        other => return Err(format!("expected a protocol error on line 3, got {other:?}").into()),
    }
    // The end of input without terminate is a clean stop.
    let outcome = run_agent(&client, INIT.as_bytes(), Vec::new(), &options)?;
    assert_eq!(outcome, AgentOutcome::default());
    Ok(())
}
