//! The test suites of the hardening work, run through cargo and counted.

use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use super::Row;
use crate::workspace::{cargo, describe};

/// Each suite: its category, the cargo test arguments that pick the test
/// binaries, and the name filter that picks the tests.
const SUITES: [(&str, &[&str], &str); 7] = [
    ("property tests of every parser", &["--workspace"], "proptests"),
    (
        "lying hub, library calls",
        &["-p", "hub-cache", "--test", "it"],
        "lying_hub",
    ),
    ("SIGKILL during downloads and uploads", CLI_TESTS, "kill_safety"),
    (
        "concurrent Rust and Python processes",
        CLI_TESTS,
        "concurrent_processes",
    ),
    ("full disk and read-only cache", CLI_TESTS, "disk_faults"),
    ("secrets in server messages and HF_HOME's mode", CLI_TESTS, "secrets::"),
    (
        "secrets in outputs, Debug, URLs, .git and arguments",
        CLI_TESTS,
        "token_secrecy",
    ),
];

/// The CLI's end-to-end test binary.
const CLI_TESTS: &[&str] = &["-p", "huggingface-cli", "--test", "cli"];

pub(super) fn run_all() -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (category, binaries, filter) in SUITES {
        let mut cmd = cargo();
        cmd.arg("test").args(binaries).args(["--", filter, "--nocapture"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        eprintln!("$ {}", describe(&cmd));
        let output = run(&mut cmd)?;
        let mut row = Row::new(category);
        row.figures = output
            .text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("figure: "))
            // A test that runs itself again in a child passes the child's figures on.
            .map(|figure| figure.trim_start_matches("figure: ").to_string())
            .collect();
        let (passed, failed) = count(&output);
        row.tried = passed + failed;
        row.passed = passed;
        if failed > 0 || !output.status_ok {
            row.failures
                .push(format!("{category}: `{}` failed:\n{}", describe(&cmd), output.tail()));
        }
        if row.tried == 0 {
            row.failures
                .push(format!("{category}: `{}` ran no test", describe(&cmd)));
        }
        rows.push(row);
    }
    Ok(rows)
}

struct Output {
    status_ok: bool,
    text: String,
}

impl Output {
    fn tail(&self) -> String {
        let lines: Vec<&str> = self.text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn run(cmd: &mut Command) -> Result<Output> {
    let output = cmd
        .output()
        .with_context(|| format!("failed to start {}", describe(cmd)))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(Output {
        status_ok: output.status.success(),
        text,
    })
}

/// Sums `test result: … N passed; M failed` over every test binary.
fn count(output: &Output) -> (usize, usize) {
    let mut passed = 0;
    let mut failed = 0;
    for line in output.text.lines().filter(|l| l.starts_with("test result:")) {
        let number_before = |word: &str| {
            line.split(';')
                .find(|part| part.trim_end().ends_with(word))
                .and_then(|part| part.split_whitespace().rev().nth(1))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        };
        passed += number_before("passed");
        failed += number_before("failed");
    }
    (passed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_binary() {
        let output = Output {
            status_ok: true,
            text:
                "test result: ok. 3 passed; 0 failed; 1 ignored\nx\ntest result: FAILED. 2 passed; 1 failed; 0 ignored"
                    .into(),
        };
        assert_eq!(count(&output), (5, 1));
    }
}
