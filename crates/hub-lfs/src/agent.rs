//! The transfer agent's loop: git-lfs's messages in, uploads through
//! [`HubClient::upload_lfs_object`], answers and progress out.

use std::io::{BufRead, Write};
use std::sync::Mutex;

use hub_api::{DEFAULT_PART_WORKERS, HubClient, LfsAction, LfsContent, LfsObject, Progress, ProgressEvent};

use crate::error::{Error, Result};
use crate::protocol::{Answer, Message, TRANSFER_ERROR_CODE};

/// How the agent uploads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentOptions {
    /// Parts of one object sent at once ([`DEFAULT_PART_WORKERS`] by default, as commits).
    pub part_workers: usize,
    /// Bytes between two progress messages of an object; the last message
    /// always says the whole object is sent.
    pub progress_step: u64,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            part_workers: DEFAULT_PART_WORKERS,
            progress_step: 1 << 20,
        }
    }
}

impl AgentOptions {
    /// Parts of one object sent at once.
    pub fn part_workers(mut self, workers: usize) -> Self {
        self.part_workers = workers;
        self
    }

    /// Bytes between two progress messages of an object.
    pub fn progress_step(mut self, bytes: u64) -> Self {
        self.progress_step = bytes;
        self
    }
}

/// What the agent did before git-lfs told it to stop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentOutcome {
    /// Objects uploaded.
    pub uploaded: usize,
    /// Objects whose upload failed (each reported to git-lfs with its reason).
    pub failed: usize,
}

/// Runs the custom transfer protocol: reads git-lfs's messages from `input`
/// and writes the answers to `output` until `terminate` or the end of input.
///
/// Each object is uploaded as its action says: the parts of a `multipart`
/// action in parallel ([`AgentOptions::part_workers`] at once, each retried
/// on its own) then the completion, or one PUT when the action has no
/// `chunk_size`. The URLs are presigned, so `client` needs no token. A failed
/// object is reported to git-lfs and the agent goes on; only a broken stream
/// or a line outside the protocol ends it with an error.
///
/// ```no_run
/// use hub_api::HubClient;
/// use hub_lfs::{AgentOptions, run_agent};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // git-lfs speaks on stdin and stdout; the URLs it hands over are presigned.
/// let client = HubClient::builder().build()?;
/// let stdin = std::io::stdin().lock();
/// let outcome = run_agent(&client, stdin, std::io::stdout(), &AgentOptions::default().part_workers(4))?;
/// eprintln!("{} uploaded, {} failed", outcome.uploaded, outcome.failed);
/// # Ok(())
/// # }
/// ```
pub fn run_agent(
    client: &HubClient,
    input: impl BufRead,
    output: impl Write + Send,
    options: &AgentOptions,
) -> Result<AgentOutcome> {
    let output = Mutex::new(output);
    let mut outcome = AgentOutcome::default();
    // `None` until init; then whether this process may upload.
    let mut uploads_allowed: Option<bool> = None;
    for (index, line) in input.lines().enumerate() {
        let line = line.map_err(|source| Error::Stream { action: "read", source })?;
        if line.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let message: Message = serde_json::from_str(&line).map_err(|source| Error::Protocol {
            line: number,
            source: Box::new(source),
        })?;
        let answer_result = match (&message, uploads_allowed) {
            (Message::Terminate, _) => break,
            (Message::Init { operation }, _) => {
                let upload = operation == "upload";
                uploads_allowed = Some(upload);
                if upload {
                    answer(&output, &Answer::Ready)
                } else {
                    let message = format!(
                        "this agent only uploads (multipart uploads to the Hub); git-lfs asked it to {operation}"
                    );
                    answer(&output, &Answer::Refused { message: &message })
                }
            }
            (_, None) => {
                return Err(Error::NotInitialised {
                    event: message.event(),
                    line: number,
                });
            }
            (Message::Download { oid }, Some(_)) => answer(
                &output,
                &Answer::Failed {
                    oid,
                    code: TRANSFER_ERROR_CODE,
                    message: "this agent only uploads; downloads use git-lfs's basic transfer",
                },
            ),
            (Message::Upload { oid, .. }, Some(false)) => answer(
                &output,
                &Answer::Failed {
                    oid,
                    code: TRANSFER_ERROR_CODE,
                    message: "this process was started for downloads",
                },
            ),
            (
                Message::Upload {
                    oid,
                    size,
                    path,
                    action,
                },
                Some(true),
            ) => {
                let object = LfsObject {
                    oid,
                    size: *size,
                    content: LfsContent::File(path.clone()),
                    label: oid,
                };
                match upload(client, &object, action.as_ref(), &output, options) {
                    Ok(()) => {
                        outcome.uploaded += 1;
                        answer(&output, &Answer::Complete { oid })
                    }
                    Err(UploadFailure::Hub(error)) => {
                        outcome.failed += 1;
                        let message = error_chain(&error);
                        let code = error.status().unwrap_or(TRANSFER_ERROR_CODE);
                        answer(
                            &output,
                            &Answer::Failed {
                                oid,
                                code,
                                message: &message,
                            },
                        )
                    }
                    Err(UploadFailure::Stream(source)) => Err(source),
                }
            }
        };
        answer_result.map_err(|source| Error::Stream {
            action: "write",
            source,
        })?;
    }
    Ok(outcome)
}

/// Why one object's upload stopped.
enum UploadFailure {
    /// The Hub or the file: reported to git-lfs, the agent goes on.
    Hub(hub_api::Error),
    /// The answer stream broke: the agent stops.
    Stream(std::io::Error),
}

fn upload(
    client: &HubClient,
    object: &LfsObject<'_>,
    action: Option<&LfsAction>,
    output: &Mutex<impl Write + Send>,
    options: &AgentOptions,
) -> Result<(), UploadFailure> {
    let Some(action) = action else {
        return Err(UploadFailure::Hub(hub_api::Error::InvalidResponse {
            url: "the LFS batch answer".into(),
            reason: format!("no upload action for {}", object.oid),
        }));
    };
    let progress = ProgressLines {
        oid: object.oid,
        size: object.size,
        step: options.progress_step.max(1),
        output,
        state: Mutex::new(ProgressState::default()),
    };
    client
        .upload_lfs_object(object, action, None, options.part_workers, &progress)
        .map_err(UploadFailure::Hub)?;
    progress.finish().map_err(UploadFailure::Stream)
}

/// Writes one answer under the output's lock.
fn answer(output: &Mutex<impl Write + Send>, answer: &Answer<'_>) -> std::io::Result<()> {
    let mut out = output
        .lock()
        .map_err(|_| std::io::Error::other("the output lock was poisoned"))?;
    answer.write_to(&mut *out)
}

/// An error with its causes, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Default)]
struct ProgressState {
    /// Bytes sent, never counted past the object's size (a retried part is sent twice).
    so_far: u64,
    /// `so_far` when the last progress message was written.
    reported: u64,
    /// The first failure to write a progress message.
    broken: Option<std::io::Error>,
}

/// Turns the upload's progress events into the protocol's progress messages:
/// the first bytes at once, then at most one message per `step` bytes.
struct ProgressLines<'a, W: Write + Send> {
    oid: &'a str,
    size: u64,
    step: u64,
    output: &'a Mutex<W>,
    state: Mutex<ProgressState>,
}

impl<W: Write + Send> ProgressLines<'_, W> {
    /// Writes a message for the bytes not reported yet, if any.
    fn report(&self, state: &mut ProgressState) {
        if state.so_far == state.reported || state.broken.is_some() {
            return;
        }
        let message = Answer::Progress {
            oid: self.oid,
            so_far: state.so_far,
            since_last: state.so_far - state.reported,
        };
        match answer(self.output, &message) {
            Ok(()) => state.reported = state.so_far,
            Err(e) => state.broken = Some(e),
        }
    }

    /// After a successful upload: the last message says everything is sent.
    fn finish(self) -> std::io::Result<()> {
        let mut state = self
            .state
            .into_inner()
            .map_err(|_| std::io::Error::other("the progress lock was poisoned"))?;
        if let Some(broken) = state.broken.take() {
            return Err(broken);
        }
        let message = Answer::Progress {
            oid: self.oid,
            so_far: self.size,
            since_last: self.size - state.reported,
        };
        if state.reported < self.size {
            answer(self.output, &message)
        } else {
            Ok(())
        }
    }
}

impl<W: Write + Send> Progress for ProgressLines<'_, W> {
    fn event(&self, event: &ProgressEvent) {
        let ProgressEvent::Advanced { bytes, .. } = event else {
            return;
        };
        let Ok(mut state) = self.state.lock() else { return };
        state.so_far = (state.so_far + bytes).min(self.size);
        // The first bytes are reported at once: git-lfs starts its other agent
        // processes only once one has reported progress above zero.
        let first = state.reported == 0;
        if first || state.so_far - state.reported >= self.step || state.so_far == self.size {
            self.report(&mut state);
        }
    }
}
