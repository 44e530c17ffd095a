//! The messages of git-lfs's custom transfer protocol (git-lfs
//! `docs/custom-transfers.md`): one JSON object a line each way.

use std::io::Write;
use std::path::PathBuf;

use hub_api::LfsAction;
use serde::Deserialize;
use serde_json::{Value, json};

/// The error code of a refused `init`, as the protocol's examples use it.
pub(crate) const INIT_ERROR_CODE: u16 = 32;

/// The error code of a failed transfer when the Hub gave no HTTP status.
pub(crate) const TRANSFER_ERROR_CODE: u16 = 2;

/// A message from git-lfs.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub(crate) enum Message {
    /// The first message: which direction this process serves.
    Init {
        /// `upload` or `download`.
        operation: String,
    },
    /// Send one object.
    Upload {
        /// Its sha256.
        oid: String,
        /// Its size.
        size: u64,
        /// The file holding its bytes.
        path: PathBuf,
        /// The batch API's upload action, passed on as is.
        #[serde(default)]
        action: Option<LfsAction>,
    },
    /// Fetch one object (refused: this agent only uploads).
    Download {
        /// Its sha256.
        oid: String,
    },
    /// Everything is done.
    Terminate,
}

impl Message {
    /// The message's event name, for errors.
    pub(crate) fn event(&self) -> &'static str {
        match self {
            Message::Init { .. } => "init",
            Message::Upload { .. } => "upload",
            Message::Download { .. } => "download",
            Message::Terminate => "terminate",
        }
    }
}

/// An answer to git-lfs.
pub(crate) enum Answer<'a> {
    /// `init` accepted.
    Ready,
    /// `init` refused.
    Refused {
        /// Why.
        message: &'a str,
    },
    /// More bytes of `oid` are sent.
    Progress {
        /// The object.
        oid: &'a str,
        /// Bytes sent so far.
        so_far: u64,
        /// Bytes since the last progress message.
        since_last: u64,
    },
    /// `oid` is uploaded.
    Complete {
        /// The object.
        oid: &'a str,
    },
    /// `oid` could not be transferred.
    Failed {
        /// The object.
        oid: &'a str,
        /// An HTTP status, or [`TRANSFER_ERROR_CODE`].
        code: u16,
        /// Why.
        message: &'a str,
    },
}

impl Answer<'_> {
    fn to_json(&self) -> Value {
        match self {
            Answer::Ready => json!({}),
            Answer::Refused { message } => json!({ "error": { "code": INIT_ERROR_CODE, "message": message } }),
            Answer::Progress {
                oid,
                so_far,
                since_last,
            } => {
                json!({ "event": "progress", "oid": oid, "bytesSoFar": so_far, "bytesSinceLast": since_last })
            }
            Answer::Complete { oid } => json!({ "event": "complete", "oid": oid }),
            Answer::Failed { oid, code, message } => {
                json!({ "event": "complete", "oid": oid, "error": { "code": code, "message": message } })
            }
        }
    }

    /// Writes the answer as one line and flushes it, as git-lfs waits for it.
    pub(crate) fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut line = self.to_json().to_string();
        line.push('\n');
        out.write_all(line.as_bytes())?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Answer, Message};

    #[test]
    fn upload_messages_carry_the_action_as_given() -> Result<(), Box<dyn std::error::Error>> {
        let line = r#"{"event":"upload","oid":"ab","size":7,"path":"/tmp/x","action":{"href":"https://h/c","header":{"chunk_size":"4","00002":"https://h/2","00001":"https://h/1"}}}"#;
        let Message::Upload {
            oid,
            size,
            path,
            action,
        } = serde_json::from_str(line)?
        else {
            return Err("not an upload".into());
        };
        assert_eq!((oid.as_str(), size, path.to_str()), ("ab", 7, Some("/tmp/x")));
        let action = action.ok_or("no action")?;
        assert_eq!(action.chunk_size(), Some(4));
        assert_eq!(action.part_urls(), ["https://h/1", "https://h/2"]);
        Ok(())
    }

    #[test]
    fn unknown_events_are_refused() {
        assert!(serde_json::from_str::<Message>(r#"{"event":"dance"}"#).is_err());
        assert!(matches!(
            serde_json::from_str::<Message>(r#"{"event":"terminate"}"#),
            Ok(Message::Terminate)
        ));
    }

    #[test]
    fn answers_are_single_json_lines() -> Result<(), Box<dyn std::error::Error>> {
        let mut out = Vec::new();
        Answer::Ready.write_to(&mut out)?;
        Answer::Progress {
            oid: "ab",
            so_far: 10,
            since_last: 4,
        }
        .write_to(&mut out)?;
        Answer::Failed {
            oid: "ab",
            code: 403,
            message: "no\nway",
        }
        .write_to(&mut out)?;
        let text = String::from_utf8(out)?;
        let lines: Vec<serde_json::Value> = text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], serde_json::json!({}));
        assert_eq!(lines[1]["bytesSoFar"], 10);
        assert_eq!(lines[1]["bytesSinceLast"], 4);
        assert_eq!(lines[2]["error"]["code"], 403);
        assert_eq!(lines[2]["error"]["message"], "no\nway");
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn any_line_is_read_or_refused(line in proptest::prelude::any::<String>()) {
            let _ = serde_json::from_str::<Message>(&line);
        }

        #[test]
        fn upload_messages_keep_their_fields(
            oid in proptest::prelude::any::<String>(),
            size in proptest::prelude::any::<u64>(),
            path in proptest::prelude::any::<String>(),
            header in proptest::collection::btree_map(
                proptest::prelude::any::<String>(),
                proptest::prelude::any::<String>(),
                0..4,
            ),
        ) {
            let line = serde_json::json!({
                "event": "upload", "oid": oid, "size": size, "path": path,
                "action": { "href": "https://h/c", "header": header },
            })
            .to_string();
            let message = serde_json::from_str::<Message>(&line);
            let Ok(Message::Upload { oid: read_oid, size: read_size, path: read_path, action }) = message else {
                return Err(proptest::test_runner::TestCaseError::fail(format!("not read back: {line}")));
            };
            proptest::prop_assert_eq!((read_oid, read_size, read_path), (oid, size, PathBuf::from(path)));
            proptest::prop_assert_eq!(action.map(|a| a.header.len()), Some(header.len()));
        }

        #[test]
        fn every_answer_is_one_json_line(
            oid in proptest::prelude::any::<String>(),
            message in proptest::prelude::any::<String>(),
            code in proptest::prelude::any::<u16>(),
        ) {
            let mut out = Vec::new();
            for answer in [
                Answer::Refused { message: &message },
                Answer::Complete { oid: &oid },
                Answer::Failed { oid: &oid, code, message: &message },
            ] {
                answer.write_to(&mut out)?;
            }
            let text = String::from_utf8(out).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let lines: Vec<&str> = text.lines().collect();
            proptest::prop_assert_eq!(lines.len(), 3, "{:?}", text);
            proptest::prop_assert_eq!(text.matches('\n').count(), 3);
            let failed: serde_json::Value = serde_json::from_str(lines[2])
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(&failed["oid"], &serde_json::Value::from(oid));
            proptest::prop_assert_eq!(&failed["error"]["message"], &serde_json::Value::from(message));
        }
    }
}
