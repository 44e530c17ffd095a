//! Sizes and ages as people read them, the way the Python client prints them.

use std::time::{Duration, SystemTime};

/// `1.2K`, `3.4G`: powers of 1000, one decimal.
pub(crate) fn format_size(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["", "K", "M", "G", "T", "P", "E"] {
        if value.abs() < 1000.0 {
            return format!("{value:.1}{unit}");
        }
        value /= 1000.0;
    }
    format!("{value:.1}Z")
}

/// `a few seconds ago`, `3 days ago`, `2 weeks ago`.
pub(crate) fn format_time_since(time: Option<SystemTime>, now: SystemTime) -> String {
    let Some(time) = time else { return "never".to_string() };
    let delta = now.duration_since(time).unwrap_or(Duration::ZERO).as_secs_f64();
    if delta < 20.0 {
        return "a few seconds ago".to_string();
    }
    const CHUNKS: [(&str, f64, Option<f64>); 7] = [
        ("second", 1.0, Some(59.0)),
        ("minute", 60.0, Some(59.0)),
        ("hour", 3600.0, Some(23.0)),
        ("day", 86400.0, Some(6.0)),
        ("week", 604_800.0, Some(6.0)),
        ("month", 2_592_000.0, Some(11.0)),
        ("year", 31_536_000.0, None),
    ];
    let mut shown = (0.0, "second");
    for (label, divider, max) in CHUNKS {
        let value = (delta / divider).round();
        shown = (value, label);
        if max.is_some_and(|max| value <= max) {
            break;
        }
    }
    let (value, label) = shown;
    format!("{value} {label}{} ago", if value > 1.0 { "s" } else { "" })
}

/// Prints rows as left-aligned columns under a header and a rule.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join(" ").trim_end().to_string()
    };
    let mut out = vec![
        line(headers.iter().map(|h| h.to_string()).collect()),
        line(widths.iter().map(|w| "-".repeat(*w)).collect()),
    ];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_the_python_client() {
        assert_eq!(format_size(0), "0.0");
        assert_eq!(format_size(999), "999.0");
        assert_eq!(format_size(1_500), "1.5K");
        assert_eq!(format_size(3_400_000_000), "3.4G");
    }

    #[test]
    fn ages_like_the_python_client() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000_000);
        let ago = |s: u64| format_time_since(Some(now - Duration::from_secs(s)), now);
        assert_eq!(ago(5), "a few seconds ago");
        assert_eq!(ago(45), "45 seconds ago");
        assert_eq!(ago(3 * 3600), "3 hours ago");
        assert_eq!(ago(86400), "1 day ago");
        assert_eq!(ago(2 * 86400), "2 days ago");
        assert_eq!(ago(14 * 86400), "2 weeks ago");
        assert_eq!(format_time_since(None, now), "never");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A   BB\n--- --\nxxx y");
    }
}
