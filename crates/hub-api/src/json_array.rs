//! The elements of a JSON array, parsed one at a time as a body arrives.
//!
//! serde_json's `StreamDeserializer` parses whitespace-separated values from a
//! reader. The array's own brackets and commas are turned into spaces on the
//! way in, by a scanner that knows strings and nesting and nothing else, so
//! each element is parsed straight from the connection: memory holds one
//! element and the read buffer, never the body's text or the whole array.

use std::fmt;
use std::io::{self, BufReader, Read};

use serde::de::DeserializeOwned;
use serde_json::de::IoRead;

use crate::error::{Error, Result};
use crate::request::{body_error, json_error};

/// The buffer between the connection and the JSON parser, which reads a byte at a time.
pub(crate) const JSON_BUFFER: usize = 64 * 1024;

/// The elements of the JSON array in a body, in order; an error ends them.
pub(crate) struct JsonArray<T> {
    url: String,
    limit: u64,
    what: &'static str,
    elements: serde_json::StreamDeserializer<'static, IoRead<BufReader<Separators>>, T>,
    ended: bool,
}

impl<T: DeserializeOwned> JsonArray<T> {
    /// The elements of the array `body` holds, read from `url` within `limit`
    /// bytes; errors name the body as `what` ("listing page").
    pub(crate) fn new(url: String, body: Box<dyn Read + Send>, limit: u64, what: &'static str) -> Self {
        let reader = BufReader::with_capacity(JSON_BUFFER, Separators::new(body));
        JsonArray {
            url,
            limit,
            what,
            elements: serde_json::Deserializer::from_reader(reader).into_iter(),
            ended: false,
        }
    }

    fn error(&self, error: serde_json::Error) -> Error {
        if !error.is_io() {
            return json_error(self.url.clone(), error, self.limit, self.what);
        }
        let source = io::Error::from(error);
        match source.get_ref().and_then(|inner| inner.downcast_ref::<NotAnArray>()) {
            Some(not_an_array) => Error::InvalidResponse {
                url: self.url.clone(),
                reason: format!("invalid JSON in the {}: {not_an_array}", self.what),
            },
            None => body_error(self.url.clone(), source, self.limit, self.what),
        }
    }
}

impl<T: DeserializeOwned> Iterator for JsonArray<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.ended {
            return None;
        }
        match self.elements.next() {
            Some(Ok(element)) => Some(Ok(element)),
            Some(Err(error)) => {
                self.ended = true;
                Some(Err(self.error(error)))
            }
            None => {
                self.ended = true;
                None
            }
        }
    }
}

impl<T> fmt::Debug for JsonArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonArray")
            .field("url", &self.url)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Where the scanner is in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before the `[`.
    Start,
    /// After the `[`: the first element or the `]`.
    First,
    /// After a `,`: an element.
    Next,
    /// Inside an object, an array or a string that is an element.
    Nested,
    /// Inside a number, `true`, `false` or `null` that is an element.
    Scalar,
    /// After an element: a `,` or the `]`.
    After,
    /// After the `]`: only whitespace.
    End,
}

/// Passes a body through with the array's own `[`, `,` and `]` turned into
/// spaces, and fails on what is no array (the parser checks the elements).
struct Separators {
    inner: Box<dyn Read + Send>,
    place: Place,
    /// Open brackets inside the current element.
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Separators {
    fn new(inner: Box<dyn Read + Send>) -> Self {
        Separators {
            inner,
            place: Place::Start,
            depth: 0,
            in_string: false,
            escaped: false,
        }
    }

    /// Reads one byte, blanking it when it is the array's own.
    fn step(&mut self, byte: &mut u8) -> Result<(), NotAnArray> {
        let is_space = matches!(*byte, b' ' | b'\t' | b'\n' | b'\r');
        match self.place {
            Place::Nested => self.within_element(*byte),
            Place::Scalar | Place::After if is_space => self.place = Place::After,
            Place::Scalar | Place::After if *byte == b',' => {
                *byte = b' ';
                self.place = Place::Next;
            }
            Place::Scalar | Place::After if *byte == b']' => {
                *byte = b' ';
                self.place = Place::End;
            }
            // An object, array or string right after a number or a literal.
            Place::Scalar if matches!(*byte, b'{' | b'[' | b'"') => {
                return Err(NotAnArray("a ',' is missing between elements"));
            }
            Place::Scalar => {}
            Place::After => return Err(NotAnArray("a ',' is missing between elements")),
            _ if is_space => {}
            Place::Start if *byte == b'[' => {
                *byte = b' ';
                self.place = Place::First;
            }
            Place::Start => return Err(NotAnArray("expected an array")),
            Place::First if *byte == b']' => {
                *byte = b' ';
                self.place = Place::End;
            }
            Place::First | Place::Next if matches!(*byte, b',' | b']') => {
                return Err(NotAnArray("an element is missing"));
            }
            Place::First | Place::Next => self.begin_element(*byte),
            Place::End => return Err(NotAnArray("something follows the array")),
        }
        Ok(())
    }

    fn begin_element(&mut self, byte: u8) {
        self.place = Place::Nested;
        match byte {
            b'{' | b'[' => self.depth = 1,
            b'"' => self.in_string = true,
            _ => self.place = Place::Scalar,
        }
    }

    fn within_element(&mut self, byte: u8) {
        if self.in_string {
            match byte {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                // A bracket of the wrong kind is left to the parser, which sees it.
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        if !self.in_string && self.depth == 0 {
            self.place = Place::After;
        }
    }
}

impl Read for Separators {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && !buf.is_empty() && self.place != Place::End {
            let what = if self.place == Place::Start {
                "expected an array"
            } else {
                "the array ends before its ']'"
            };
            return Err(io::Error::new(io::ErrorKind::InvalidData, NotAnArray(what)));
        }
        for byte in &mut buf[..read] {
            self.step(byte)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        }
        Ok(read)
    }
}

/// A body that is no JSON array, or an array cut short.
#[derive(Debug)]
struct NotAnArray(&'static str);

impl fmt::Display for NotAnArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NotAnArray {}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(body: &str) -> Vec<std::result::Result<serde_json::Value, String>> {
        let array = JsonArray::new(
            "http://hub/x".into(),
            Box::new(io::Cursor::new(body.to_owned())),
            1 << 20,
            "page",
        );
        array.map(|element| element.map_err(|e| e.to_string())).collect()
    }

    fn values(body: &str) -> Vec<serde_json::Value> {
        elements(body).into_iter().map_while(|e| e.ok()).collect()
    }

    #[test]
    fn elements_of_every_kind_come_out_in_order() {
        let body = r#" [ {"a": [1, {"b": "],[,"}]}, "x,]\"y" ,[ ], 12 ,true,null,-1.5e3, {} ] "#;
        assert_eq!(
            values(body),
            serde_json::from_str::<Vec<serde_json::Value>>(body).expect("valid JSON")
        );
        assert!(elements("[]").is_empty());
        assert!(elements(" [\n]\n").is_empty());
    }

    #[test]
    fn what_is_no_array_is_refused() {
        for (body, says) in [
            ("", "expected an array"),
            ("  ", "expected an array"),
            (r#"{"error": "x"}"#, "expected an array"),
            ("[1, 2", "the array ends before its ']'"),
            (r#"[{"a": 1}"#, "the array ends before its ']'"),
            ("[1,,2]", "an element is missing"),
            ("[,1]", "an element is missing"),
            ("[1,]", "an element is missing"),
            ("[{} {}]", "a ',' is missing between elements"),
            ("[1] [2]", "something follows the array"),
        ] {
            let last = elements(body).pop();
            let message = match &last {
                Some(Err(message)) => message.as_str(),
                _ => "",
            };
            assert!(
                message.starts_with("unexpected response from http://hub/x: invalid JSON in the page: ")
                    && message.ends_with(says),
                "{body:?}: {last:?}"
            );
        }
    }

    #[test]
    fn malformed_elements_are_the_parsers_to_refuse() {
        for body in ["[{]", "[{\"a\" 1}]", "[tru]", "[1 2]", "[[}]", "[1{}]", "[\"a\"\"b\"]"] {
            assert!(
                matches!(elements(body).pop(), Some(Err(_))),
                "{body:?} ends in an error"
            );
        }
    }
}
