//! `Range: bytes=…` requests and the 200/206/416 answers to them.

use crate::http::{Body, Response};

/// What part of a resource a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// The whole resource (no `Range`, or one the server ignores).
    Full,
    /// Bytes `start..=end`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// A range starting past the end.
    Unsatisfiable,
}

/// Reads a single-range `Range` header for a resource of `size` bytes. Multiple ranges
/// and malformed headers are ignored, as servers may.
pub(crate) fn parse(header: Option<&str>, size: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    match (first.trim(), last.trim()) {
        ("", "") => ByteRange::Full,
        ("", suffix) => match suffix.parse::<u64>() {
            Ok(0) => ByteRange::Unsatisfiable,
            Ok(_) if size == 0 => ByteRange::Unsatisfiable,
            Ok(n) => ByteRange::Partial {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            Err(_) => ByteRange::Full,
        },
        (start, end) => {
            let Ok(start) = start.parse::<u64>() else {
                return ByteRange::Full;
            };
            let end = if end.is_empty() {
                u64::MAX
            } else {
                match end.parse::<u64>() {
                    Ok(end) if end >= start => end,
                    _ => return ByteRange::Full,
                }
            };
            if start >= size {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial {
                    start,
                    end: end.min(size - 1),
                }
            }
        }
    }
}

/// Answers a content request of `size` bytes: 200 with the whole body, 206 with
/// `Content-Range`, or 416. `body(offset, len)` makes the bytes to send.
pub(crate) fn respond<E>(
    range: ByteRange,
    size: u64,
    body: impl FnOnce(u64, u64) -> Result<Body, E>,
) -> Result<Response, E> {
    let (status, offset, len) = match range {
        ByteRange::Full => (200, 0, size),
        ByteRange::Partial { start, end } => (206, start, end - start + 1),
        ByteRange::Unsatisfiable => {
            return Ok(Response::empty(416)
                .with_header("Content-Range", format!("bytes */{size}"))
                .with_header("Accept-Ranges", "bytes"));
        }
    };
    let mut response = Response {
        status,
        headers: Vec::new(),
        body: body(offset, len)?,
    };
    response.headers.push(("Accept-Ranges".into(), "bytes".into()));
    if status == 206 {
        response.headers.push((
            "Content-Range".into(),
            format!("bytes {offset}-{}/{size}", offset + len - 1),
        ));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::{ByteRange, parse};

    #[test]
    fn parses_the_range_forms() {
        assert_eq!(parse(None, 10), ByteRange::Full);
        assert_eq!(parse(Some("bytes=2-5"), 10), ByteRange::Partial { start: 2, end: 5 });
        assert_eq!(parse(Some("bytes=2-"), 10), ByteRange::Partial { start: 2, end: 9 });
        assert_eq!(parse(Some("bytes=5-100"), 10), ByteRange::Partial { start: 5, end: 9 });
        assert_eq!(parse(Some("bytes=-3"), 10), ByteRange::Partial { start: 7, end: 9 });
        assert_eq!(parse(Some("bytes=-30"), 10), ByteRange::Partial { start: 0, end: 9 });
        assert_eq!(parse(Some("bytes=10-"), 10), ByteRange::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-1,3-4"), 10), ByteRange::Full);
        assert_eq!(parse(Some("bytes=5-2"), 10), ByteRange::Full);
        assert_eq!(parse(Some("items=1-2"), 10), ByteRange::Full);
    }
}
