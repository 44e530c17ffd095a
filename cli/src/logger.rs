//! `-v`: the libraries' log lines on stderr, with every token cut out.

use std::io::Write;

use hub_url::{Token, redact_tokens};
use log::{LevelFilter, Log, Metadata, Record};

/// The crates of this workspace, whose debug lines `-v` shows.
const OWN_CRATES: [&str; 7] = [
    "huggingface_cli",
    "hub_url",
    "hub_api",
    "hub_cache",
    "hub_repo",
    "hub_lfs",
    "hub_xet",
];

/// Writes each enabled record as one line on stderr.
struct StderrLogger {
    /// The level of this workspace's crates.
    own: LevelFilter,
    /// The level of the others (ureq, rustls).
    others: LevelFilter,
    /// The tokens this process holds: cut out of every line, whoever wrote it.
    held: Vec<Token>,
}

impl StderrLogger {
    fn limit(&self, target: &str) -> LevelFilter {
        let krate = target.split("::").next().unwrap_or(target);
        match OWN_CRATES.contains(&krate) {
            true => self.own,
            false => self.others,
        }
    }
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.limit(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!("{}", record.args());
        let line = redact_tokens(&line, &self.held);
        // A log line that cannot be written is not worth failing the command for.
        let _ = writeln!(
            std::io::stderr().lock(),
            "[{} {}] {line}",
            record.level(),
            record.target()
        );
    }

    fn flush(&self) {}
}

/// Shows log lines on stderr: none without `-v`; with `-v` the debug lines of
/// this workspace's crates and the warnings of the others; with `-vv` this
/// workspace's trace lines (which a release build compiles out) and the HTTP
/// stack's debug lines. Never the HTTP stack's trace: it dumps raw request
/// bytes, headers included, and shows presigned URLs whole.
pub(crate) fn init(verbosity: u8, held: Vec<Token>) {
    let (own, others) = match verbosity {
        0 => return,
        1 => (LevelFilter::Debug, LevelFilter::Warn),
        _ => (LevelFilter::Trace, LevelFilter::Debug),
    };
    let logger = Box::leak(Box::new(StderrLogger { own, others, held }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(own.max(others));
    }
}
