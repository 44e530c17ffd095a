//! git's smart HTTP protocol, served by running `git http-backend` as a CGI program.
//!
//! The request body goes to the process's stdin (git inflates gzip-encoded bodies
//! itself when told the encoding); its output goes to an anonymous temp file, so a
//! large pack never sits in memory, and the response is served from that file after
//! the CGI head.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Stdio;

use super::git::base_command;
use crate::EmulatorError;

/// The most bytes a CGI head may take.
const MAX_HEAD: usize = 64 * 1024;

/// One request for `git http-backend`.
#[derive(Debug)]
pub(crate) struct CgiRequest<'a> {
    /// The folder holding the repository (`GIT_PROJECT_ROOT`).
    pub(crate) project_root: &'a Path,
    /// The path below it: `/{name}.git/info/refs`, `/{name}.git/git-upload-pack`, ...
    pub(crate) path_info: String,
    /// `GET` or `POST`.
    pub(crate) method: &'a str,
    /// The raw query string.
    pub(crate) query: &'a str,
    /// The request's `Content-Type`.
    pub(crate) content_type: Option<&'a str>,
    /// The request's `Content-Encoding` (`gzip` for compressed bodies).
    pub(crate) content_encoding: Option<&'a str>,
    /// The request's `Git-Protocol` header (`version=2`).
    pub(crate) git_protocol: Option<&'a str>,
    /// The authenticated user, required by git for pushes.
    pub(crate) remote_user: Option<&'a str>,
    /// The request body as received.
    pub(crate) body: &'a [u8],
}

/// What `git http-backend` answered.
#[derive(Debug)]
pub(crate) struct CgiResponse {
    /// From its `Status:` header; 200 without one.
    pub(crate) status: u16,
    /// Its other headers.
    pub(crate) headers: Vec<(String, String)>,
    /// The file holding its whole output.
    pub(crate) file: File,
    /// Where the body starts in `file`.
    pub(crate) body_offset: u64,
    /// The body's length.
    pub(crate) body_len: u64,
}

/// Runs `git http-backend` for one request and waits for it.
pub(crate) fn run(request: &CgiRequest<'_>) -> Result<CgiResponse, EmulatorError> {
    let spawn_error = |source: io::Error| EmulatorError::GitSpawn {
        command: "http-backend".into(),
        git_dir: request.project_root.to_path_buf(),
        source,
    };
    let output = tempfile::tempfile().map_err(spawn_error)?;
    let mut cmd = base_command();
    cmd.args(["http-backend"])
        .env("GIT_PROJECT_ROOT", request.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", &request.path_info)
        .env("REQUEST_METHOD", request.method)
        .env("QUERY_STRING", request.query)
        .env("CONTENT_TYPE", request.content_type.unwrap_or(""))
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(output.try_clone().map_err(spawn_error)?))
        .stderr(Stdio::piped());
    for (var, value) in [
        ("REMOTE_USER", request.remote_user),
        ("GIT_PROTOCOL", request.git_protocol),
        ("HTTP_CONTENT_ENCODING", request.content_encoding),
    ] {
        match value {
            Some(value) => cmd.env(var, value),
            None => cmd.env_remove(var),
        };
    }
    let mut child = cmd.spawn().map_err(spawn_error)?;
    let stdin = child.stdin.take();
    let finished = std::thread::scope(|scope| {
        if let Some(mut pipe) = stdin {
            scope.spawn(move || {
                // git stops reading early on a bad request; its output says why.
                let _ = pipe.write_all(request.body);
            });
        }
        child.wait_with_output()
    })
    .map_err(spawn_error)?;
    let mut file = output;
    let total = file
        .seek(SeekFrom::End(0))
        .map_err(|e| EmulatorError::io(request.project_root, e))?;
    if total == 0 {
        return Err(EmulatorError::Git {
            command: "http-backend".into(),
            git_dir: request.project_root.to_path_buf(),
            status: finished.status.to_string(),
            stderr: String::from_utf8_lossy(&finished.stderr).trim().to_string(),
        });
    }
    let head = read_head(&mut file).map_err(|e| EmulatorError::io(request.project_root, e))?;
    let bad_output = || EmulatorError::GitOutput {
        command: "http-backend".into(),
        git_dir: request.project_root.to_path_buf(),
    };
    let head = parse_head(&head).ok_or_else(bad_output)?;
    Ok(CgiResponse {
        status: head.status,
        headers: head.headers,
        file,
        body_offset: head.len,
        body_len: total.saturating_sub(head.len),
    })
}

/// The first bytes of the output, enough to hold the CGI head.
fn read_head(file: &mut File) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut head = Vec::new();
    file.take(MAX_HEAD as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A parsed CGI head.
#[derive(Debug, PartialEq, Eq)]
struct CgiHead {
    status: u16,
    headers: Vec<(String, String)>,
    /// Its length in bytes, up to and including the empty line.
    len: u64,
}

/// Splits a CGI head (lines ended by `\n` or `\r\n`, then an empty line) into the
/// status, the other headers and the head's length.
fn parse_head(output: &[u8]) -> Option<CgiHead> {
    let mut status = 200;
    let mut headers = Vec::new();
    let mut pos = 0;
    loop {
        let end = pos + output[pos..].iter().position(|b| *b == b'\n')?;
        let line = &output[pos..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = end + 1;
        if line.is_empty() {
            return Some(CgiHead {
                status,
                headers,
                len: pos as u64,
            });
        }
        let line = std::str::from_utf8(line).ok()?;
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            status = value.split(' ').next()?.parse().ok()?;
        } else {
            headers.push((name.trim().to_string(), value.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_head;

    #[test]
    fn cgi_heads_parse_with_either_line_end() {
        let head = parse_head(b"Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno").expect("parses");
        assert_eq!(head.status, 403);
        assert_eq!(head.headers, [("Content-Type".to_string(), "text/plain".to_string())]);
        assert_eq!(head.len, 51);
        let head = parse_head(b"Expires: x\nCache-Control: no-cache\n\nPACK").expect("parses");
        assert_eq!((head.status, head.headers.len(), head.len), (200, 2, 36));
        assert!(parse_head(b"Content-Type: x\r\n").is_none(), "no end of head");
    }
}
