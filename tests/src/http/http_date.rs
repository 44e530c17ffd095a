//! The `Date` header value (RFC 9110 IMF-fixdate), formatted at most once a second.

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The current date, cached per connection for the second it was formatted in.
pub(crate) struct HttpDate {
    second: u64,
    text: String,
}

impl HttpDate {
    pub(crate) fn new() -> Self {
        HttpDate {
            second: u64::MAX,
            text: String::with_capacity(29),
        }
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for now.
    pub(crate) fn now(&mut self) -> &str {
        let second = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.text = format_http_date(second);
        }
        &self.text
    }
}

/// Formats seconds since the Unix epoch as an IMF-fixdate.
pub(crate) fn format_http_date(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let in_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01
/// (the proleptic Gregorian calendar, after Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::format_http_date;

    #[test]
    fn formats_known_dates() {
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format_http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format_http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(format_http_date(1_767_225_599), "Wed, 31 Dec 2025 23:59:59 GMT");
    }
}
