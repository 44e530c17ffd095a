//! The printed report: the measurements table, the targets and the notes.

use std::fmt::Write as _;

use super::results::{Outcome, Results};
use super::targets::{Status, Verdict, reference_tool};

/// The whole report as text.
pub(crate) fn render(results: &Results, verdicts: &[Verdict], notes: &[String]) -> String {
    let mut out = String::new();
    let header = [
        "tool",
        "workload",
        "condition",
        "wall s",
        "MB/s",
        "CPU s",
        "CPU s/GiB",
        "RSS MB",
        "server CPU s",
        "vs ref",
        "ref",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for row in &results.rows {
        let reference = reference_tool(row.condition, row.workload);
        let mut cells = vec![
            row.tool.label().to_string(),
            row.workload_label.clone(),
            row.condition.label().to_string(),
        ];
        match &row.outcome {
            Outcome::Measured(stats) => {
                let ratio = results
                    .stats(row.condition, row.workload, reference)
                    .map_or("-".to_string(), |r| format!("{:.2}x", stats.wall_secs / r.wall_secs));
                cells.extend([
                    format!("{:.2}", stats.wall_secs),
                    format!("{:.0}", row.bytes as f64 / 1e6 / stats.wall_secs),
                    stats.cpu_secs.map_or("-".into(), |c| format!("{c:.2}")),
                    stats.cpu_secs.map_or("-".into(), |c| {
                        format!("{:.2}", c / (row.bytes as f64 / f64::from(1u32 << 30)))
                    }),
                    stats.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1}")),
                    stats.server_cpu_secs.map_or("-".into(), |c| format!("{c:.2}")),
                    ratio,
                    reference.label().to_string(),
                ]);
            }
            Outcome::Skipped(why) | Outcome::Failed(why) => {
                let word = if matches!(row.outcome, Outcome::Failed(_)) {
                    "failed"
                } else {
                    "skipped"
                };
                cells.push(format!("{word}: {why}"));
            }
        }
        table.push(cells);
    }
    out.push_str(&format_table(&table));

    out.push_str("\nTargets (issue 3, Performance; issue 10, Transfer efficiency)\n");
    let mut targets: Vec<Vec<String>> = vec![vec!["".into(), "target".into(), "measured".into()]];
    for verdict in verdicts {
        let mut measured = verdict.measured.clone();
        if let Status::NotMeasured(why) = &verdict.status {
            let _ = write!(measured, " [{why}]");
        }
        targets.push(vec![
            verdict.status.label().to_string(),
            verdict.name.to_string(),
            measured,
        ]);
    }
    out.push_str(&format_table(&targets));

    out.push_str("\nNotes\n");
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

/// Left-aligned text columns, two spaces apart; a row with fewer cells ends early.
pub(crate) fn format_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        // The last cell of a short row (a skip reason) does not widen its column.
        let full = row.len() == columns;
        for (i, cell) in row.iter().enumerate() {
            if full || i + 1 < row.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A Xet target's line: `ours` seconds against the Python client's (with hf_xet), met when
/// no slower.
pub(crate) fn against_python_line(what: &str, ours: f64, python: f64) -> String {
    let ratio = ours / python;
    let verdict = if ratio <= 1.0 { "met" } else { "MISSED" };
    format!(
        "- {what} <= 1.0 x the Python client with hf_xet: {ratio:.2} x ({ours:.2} s against {python:.2} s): {verdict}\n"
    )
}
