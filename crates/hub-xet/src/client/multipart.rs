//! Reading a `multipart/byteranges` answer as it arrives: one part at a time, each a reader
//! that ends with the part's announced length. Lines are bounded, bodies never buffered.

use std::io::{BufRead, BufReader, Read, Take};

use crate::reconstruction::HttpRange;

/// The longest line (boundary or part header) read.
const MAX_LINE: u64 = 8 * 1024;
/// The most header lines of one part.
const MAX_HEADERS: usize = 32;
/// The most lines before the first boundary.
const MAX_PREAMBLE_LINES: usize = 32;

/// Parses `bytes a-b/n` (or `bytes a-b/*`) into its range.
pub(crate) fn parse_content_range(value: &str) -> Option<HttpRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, _total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let range = HttpRange {
        start: start.trim().parse().ok()?,
        end: end.trim().parse().ok()?,
    };
    (range.start <= range.end).then_some(range)
}

/// The boundary a `Content-Type: multipart/byteranges; boundary=…` names.
fn boundary_of(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/byteranges") {
        return None;
    }
    params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("boundary") && !value.is_empty() && value.len() <= 200)
            .then(|| value.to_string())
    })
}

/// The parts of a `multipart/byteranges` body, read in order.
pub(crate) struct RangeParts<R: Read> {
    reader: Option<BufReader<R>>,
    delimiter: String,
    started: bool,
}

impl<R: Read> RangeParts<R> {
    /// A reader of the parts of `body`, whose content type is `content_type`.
    pub(crate) fn new(content_type: &str, body: R) -> Result<Self, String> {
        let boundary =
            boundary_of(content_type).ok_or_else(|| format!("not a multipart/byteranges answer: {content_type:?}"))?;
        Ok(RangeParts {
            reader: Some(BufReader::with_capacity(64 * 1024, body)),
            delimiter: format!("--{boundary}"),
            started: false,
        })
    }

    /// What is left of the body after the parts read (the closing delimiter), to read to
    /// its end.
    pub(crate) fn into_rest(self) -> Option<BufReader<R>> {
        self.reader
    }

    /// The next part, which must hold exactly `expected`; a reader of its bytes.
    pub(crate) fn next_part(&mut self, expected: HttpRange) -> Result<PartReader<'_, R>, String> {
        let reader = self.reader.as_mut().ok_or("the multipart body ended")?;
        if self.started {
            // The line break that ends the previous part's bytes.
            let line = read_line(reader)?;
            if !line.is_empty() {
                return Err("a part is longer than its Content-Range".into());
            }
        }
        let mut skipped = 0;
        loop {
            let line = read_line(reader)?;
            if line == self.delimiter {
                break;
            }
            if line.starts_with(&self.delimiter) && line[self.delimiter.len()..].starts_with("--") {
                return Err("the multipart body ended before every range".into());
            }
            skipped += 1;
            if skipped > MAX_PREAMBLE_LINES || self.started && !line.is_empty() {
                return Err("no part boundary where one was expected".into());
            }
        }
        self.started = true;
        let mut range = None;
        for _ in 0..=MAX_HEADERS {
            let line = read_line(reader)?;
            if line.is_empty() {
                let range: HttpRange = range.ok_or("a part has no Content-Range")?;
                if range != expected {
                    return Err(format!(
                        "a part holds bytes {}-{}, not the {}-{} asked for next",
                        range.start, range.end, expected.start, expected.end
                    ));
                }
                return Ok(PartReader {
                    inner: reader.take(expected.len()),
                });
            }
            if let Some((name, value)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-range")
            {
                range = Some(parse_content_range(value).ok_or_else(|| format!("bad Content-Range {value:?}"))?);
            }
        }
        Err("a part has too many header lines".into())
    }
}

/// The bytes of one part.
pub(crate) struct PartReader<'a, R: Read> {
    inner: Take<&'a mut BufReader<R>>,
}

impl<R: Read> Read for PartReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let before = self.inner.limit();
        let n = self.inner.read(buf)?;
        if n == 0 && before > 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the multipart body ended inside a part",
            ));
        }
        Ok(n)
    }
}

/// One line without its line break; refused past [`MAX_LINE`] or at the end of the body.
fn read_line<R: Read>(reader: &mut BufReader<R>) -> Result<String, String> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|err| format!("failed to read the multipart body: {err}"))?;
    if line.last() != Some(&b'\n') {
        return Err("the multipart body ended, or a line is too long".into());
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| "a multipart line is not text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = b"\r\n".to_vec();
        for (start, data) in parts {
            out.extend_from_slice(b"--XYZ\r\nContent-Type: application/octet-stream\r\n");
            out.extend_from_slice(
                format!(
                    "Content-Range: bytes {}-{}/1000\r\n\r\n",
                    start,
                    start + data.len() as u64 - 1
                )
                .as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XYZ--\r\n");
        out
    }

    fn read_all(parts: &mut RangeParts<&[u8]>, ranges: &[HttpRange]) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        for &range in ranges {
            let mut data = Vec::new();
            parts
                .next_part(range)?
                .read_to_end(&mut data)
                .map_err(|e| e.to_string())?;
            out.push(data);
        }
        Ok(out)
    }

    #[test]
    fn parts_come_out_in_order() -> Result<(), String> {
        let bytes = body(&[(0, b"hello"), (10, b"wo\r\n--XYZ\r\nrld")]);
        let mut parts = RangeParts::new("multipart/byteranges; boundary=XYZ", &bytes[..])?;
        let ranges = [HttpRange { start: 0, end: 4 }, HttpRange { start: 10, end: 23 }];
        let got = read_all(&mut parts, &ranges)?;
        assert_eq!(got, vec![b"hello".to_vec(), b"wo\r\n--XYZ\r\nrld".to_vec()]);
        Ok(())
    }

    #[test]
    fn wrong_or_short_parts_are_refused() -> Result<(), String> {
        let bytes = body(&[(0, b"hello")]);
        let mut parts = RangeParts::new("multipart/byteranges; boundary=\"XYZ\"", &bytes[..])?;
        assert!(parts.next_part(HttpRange { start: 1, end: 5 }).is_err());
        let cut = &bytes[..bytes.len() - 15];
        let mut parts = RangeParts::new("multipart/byteranges; boundary=XYZ", cut)?;
        let mut data = Vec::new();
        let short = parts
            .next_part(HttpRange { start: 0, end: 4 })?
            .read_to_end(&mut data)
            .is_err();
        assert!(short || data.len() < 5 || parts.next_part(HttpRange { start: 9, end: 9 }).is_err());
        let mut parts = RangeParts::new("multipart/byteranges; boundary=XYZ", &bytes[..])?;
        assert!(
            read_all(
                &mut parts,
                &[HttpRange { start: 0, end: 4 }, HttpRange { start: 6, end: 7 }]
            )
            .is_err()
        );
        assert!(RangeParts::new("text/plain", &bytes[..]).is_err());
        Ok(())
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_content_range("bytes 5-9/100"),
            Some(HttpRange { start: 5, end: 9 })
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some(HttpRange { start: 5, end: 9 }));
        assert_eq!(parse_content_range("bytes 9-5/100"), None);
        assert_eq!(parse_content_range("bytes */100"), None);
    }
}
