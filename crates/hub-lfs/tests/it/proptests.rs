//! Arbitrary git-lfs messages into the agent: it never panics, and every line
//! it writes is one protocol message.

use std::collections::BTreeMap;

use hub_api::{HubClient, RetryPolicy};
use hub_lfs::{AgentOptions, run_agent};
use hub_url::Endpoint;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Where part and completion URLs point: nothing listens on port 1, so each
/// upload fails at once, as it would against a dead store.
const DEAD_URL: &str = "http://127.0.0.1:1/part";

fn action() -> impl Strategy<Value = Value> {
    let href = prop::sample::select(vec![DEAD_URL, "", "not a url", "ftp://store/x"]);
    let key = prop_oneof!["[0-9]{1,3}", Just("chunk_size".to_owned()), any::<String>()];
    let value = prop_oneof![
        Just(json!(DEAD_URL)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n.to_string())),
        any::<String>().prop_map(|s| json!(s)),
    ];
    (href, prop::collection::btree_map(key, value, 0..4))
        .prop_map(|(href, header): (&str, BTreeMap<String, Value>)| json!({ "href": href, "header": header }))
}

/// A file that exists, for uploads that get as far as the network.
const SOME_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");

/// One line from git-lfs: the protocol's messages with arbitrary fields, or anything.
fn line() -> impl Strategy<Value = String> {
    let operation = prop_oneof![Just("upload".to_owned()), Just("download".to_owned()), any::<String>()];
    let path = prop_oneof![
        Just(SOME_FILE.to_owned()),
        Just("/no/such/file".to_owned()),
        any::<String>()
    ];
    // Weighted towards uploads, which run the most code; a line outside the
    // protocol or `terminate` ends the run.
    prop_oneof![
        1 => operation.prop_map(|operation| json!({ "event": "init", "operation": operation }).to_string()),
        6 => (any::<String>(), 0u64..16, path, proptest::option::of(action())).prop_map(|(oid, size, path, action)| {
            json!({ "event": "upload", "oid": oid, "size": size, "path": path, "action": action }).to_string()
        }),
        1 => any::<String>().prop_map(|oid| json!({ "event": "download", "oid": oid }).to_string()),
        1 => Just(String::new()),
        1 => Just(json!({ "event": "terminate" }).to_string()),
        1 => any::<String>().prop_filter("one line", |s| !s.contains(['\n', '\r'])),
    ]
}

/// A client for the dead store that never waits to retry.
fn client() -> Result<HubClient, TestCaseError> {
    let endpoint = Endpoint::new("http://127.0.0.1:1").map_err(|e| TestCaseError::fail(e.to_string()))?;
    HubClient::builder()
        .endpoint(endpoint)
        .retry(RetryPolicy::none())
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    // Each upload opens (and fails) a connection: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_messages_get_protocol_answers(
        lines in prop::collection::vec(line(), 0..8),
        init_first in prop::bool::weighted(0.8),
    ) {
        let init = json!({ "event": "init", "operation": "upload" }).to_string();
        let input = init_first.then_some(init).into_iter().chain(lines).collect::<Vec<_>>().join("\n");
        let mut output = Vec::new();
        let options = AgentOptions::default().part_workers(2);
        let _ = run_agent(&client()?, input.as_bytes(), &mut output, &options);
        let text = String::from_utf8(output).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for answer in text.lines() {
            let value: Value = serde_json::from_str(answer).map_err(|e| TestCaseError::fail(format!("{e}: {answer}")))?;
            let event = value.get("event").and_then(Value::as_str);
            prop_assert!(
                value.as_object().is_some_and(|o| o.is_empty() || o.contains_key("error"))
                    || matches!(event, Some("progress" | "complete")),
                "{}",
                answer
            );
        }
    }
}
