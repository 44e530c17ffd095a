//! Progress bars for downloads: one a file and one for the total, on stderr,
//! only when stderr is a terminal and bars are not disabled.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use hub_cache::{Progress, ProgressEvent};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws download progress.
pub(crate) struct ProgressBars {
    multi: MultiProgress,
    total: ProgressBar,
    files: Mutex<HashMap<String, ProgressBar>>,
}

impl ProgressBars {
    /// Bars on stderr, or `None` when they would not be seen (piped, quiet, disabled).
    pub(crate) fn for_terminal(quiet: bool, disabled: bool) -> Option<ProgressBars> {
        if quiet || disabled || !std::io::stderr().is_terminal() {
            return None;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = multi.add(ProgressBar::new(0));
        total.set_style(style(
            "{prefix:>30} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        ));
        total.set_prefix("Total");
        Some(ProgressBars {
            multi,
            total,
            files: Mutex::new(HashMap::new()),
        })
    }

    /// Clears the bars.
    pub(crate) fn finish(&self) {
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The last characters of a path, to fit the bar's label.
fn short_name(path: &str) -> String {
    let chars: Vec<char> = path.chars().collect();
    match chars.len() {
        n if n <= 30 => path.to_string(),
        n => format!("…{}", chars[n - 29..].iter().collect::<String>()),
    }
}

impl Progress for ProgressBars {
    fn event(&self, event: &ProgressEvent) {
        let Ok(mut files) = self.files.lock() else { return };
        match event {
            ProgressEvent::Started { path, total } => {
                let bar = self
                    .multi
                    .insert_before(&self.total, ProgressBar::new(total.unwrap_or(0)));
                bar.set_style(style(
                    "{prefix:>30} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
                ));
                bar.set_prefix(short_name(path));
                self.total.inc_length(total.unwrap_or(0));
                files.insert(path.clone(), bar);
            }
            ProgressEvent::Advanced { path, bytes } => {
                if let Some(bar) = files.get(path) {
                    bar.inc(*bytes);
                }
                self.total.inc(*bytes);
            }
            ProgressEvent::Finished { path } => {
                if let Some(bar) = files.remove(path) {
                    bar.finish_and_clear();
                }
            }
            _ => {}
        }
    }
}
