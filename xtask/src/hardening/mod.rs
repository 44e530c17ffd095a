//! `cargo xtask hardening`: the release `huggingface-cli` against a hub that
//! lies, case by case, then the test suites that keep it safe (property
//! tests, kills, concurrent processes, full disks, secrets); prints one table
//! of cases tried and passed per category, with the figures that say how
//! bounded each failure is.

mod cases;
mod cli_run;
mod suites;

use anyhow::{Result, bail};

use crate::workspace::{cargo, run_command, target_dir};

/// Runs everything and prints the report; fails when any case failed.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let cases_only = args.iter().any(|a| a == "--cases-only");
    if let Some(unknown) = args.iter().find(|a| !matches!(a.as_str(), "--quick" | "--cases-only")) {
        bail!("unknown argument {unknown:?}: usage: cargo xtask hardening [--quick] [--cases-only]");
    }
    run_command(cargo().args(["build", "--release", "--quiet", "--package", "huggingface-cli"]))?;
    let cli = target_dir().join("release").join("huggingface-cli");
    let mut rows = cases::run_all(&cli, quick)?;
    if !cases_only {
        rows.extend(suites::run_all()?);
    }

    println!();
    println!("| category | cases tried | passed | figures |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} |",
            row.category,
            row.tried,
            row.passed,
            row.figures.join("; ")
        );
    }
    let failures: Vec<&String> = rows.iter().flat_map(|r| &r.failures).collect();
    if !failures.is_empty() {
        println!();
        for failure in &failures {
            println!("FAILED: {failure}");
        }
        bail!("{} hardening case(s) failed", failures.len());
    }
    Ok(())
}

/// One line of the report.
#[derive(Debug, Default)]
pub(crate) struct Row {
    pub(crate) category: &'static str,
    pub(crate) tried: usize,
    pub(crate) passed: usize,
    pub(crate) figures: Vec<String>,
    pub(crate) failures: Vec<String>,
}

impl Row {
    pub(crate) fn new(category: &'static str) -> Row {
        Row {
            category,
            ..Row::default()
        }
    }

    /// Counts a case, keeping the reason it failed.
    pub(crate) fn record(&mut self, case: &str, outcome: Result<()>) {
        self.tried += 1;
        match outcome {
            Ok(()) => self.passed += 1,
            Err(error) => self.failures.push(format!("{}: {case}: {error:#}", self.category)),
        }
    }
}
