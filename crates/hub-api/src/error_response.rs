//! Turns an HTTP error response into a typed [`Error`], the way the Hub means it.

use std::io::Read;
use std::time::Duration;

use hub_url::{Origin, Token};

use crate::error::{Error, UnauthorizedReason};
use crate::target::RequestTarget;

/// How much of an error body is read to find the server's message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// The message the Hub sends with a 401 when the token itself is wrong.
const INVALID_CREDENTIALS: &str = "Invalid credentials in Authorization header";

/// The facts of an error response, read before it is classified.
#[derive(Debug, Default)]
pub(crate) struct ErrorResponse {
    pub(crate) status: u16,
    pub(crate) url: String,
    pub(crate) error_code: Option<String>,
    pub(crate) server_message: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) repo_commit: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

impl ErrorResponse {
    /// Reads the headers and (a bounded part of) the body of a failed response;
    /// `held` are the tokens the client holds, cut from whatever is shown
    /// whatever their form.
    pub(crate) fn read(url: &str, response: ureq::http::Response<ureq::Body>, held: &[Token]) -> ErrorResponse {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .filter(|v| !v.is_empty())
        };
        let status = response.status().as_u16();
        let error_code = header("x-error-code");
        let header_message = header("x-error-message");
        let request_id = header("x-request-id");
        // It names a `.no_exist/{commit}` folder: anything but a commit id is dropped.
        let repo_commit = header("x-repo-commit").filter(|c| hub_url::is_commit_id(c));
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let mut body = Vec::new();
        // A body that fails to arrive leaves only the headers to go by.
        let _ = response
            .into_body()
            .into_reader()
            .take(ERROR_BODY_LIMIT)
            .read_to_end(&mut body);
        // What the server says is shown to people, and it may echo the token it was sent.
        let shown = |text: String| hub_url::redact_tokens(&text, held).into_owned();
        let server_message = header_message.or_else(|| message_from_body(&body)).map(shown);
        ErrorResponse {
            status,
            url: shown(url.to_string()),
            error_code,
            server_message,
            request_id: request_id.map(shown),
            repo_commit,
            retry_after,
        }
    }

    /// Classifies the response into the error a caller can act on.
    pub(crate) fn into_error(self, target: &RequestTarget, endpoint: &str, sent_token: bool) -> Error {
        let repo = target.repo_label().unwrap_or_else(|| self.url.clone());
        let revision = target.revision.clone().unwrap_or_else(|| "main".to_string());
        match self.error_code.as_deref() {
            Some("RepoNotFound") => {
                return Error::RepoNotFound {
                    repo,
                    endpoint: endpoint.to_string(),
                    request_id: self.request_id,
                };
            }
            Some("RevisionNotFound") => {
                return Error::RevisionNotFound {
                    repo,
                    revision,
                    request_id: self.request_id,
                };
            }
            Some("EntryNotFound") => {
                return Error::EntryNotFound {
                    repo,
                    revision,
                    path: target.path.clone().unwrap_or_default(),
                    commit: self.repo_commit,
                    request_id: self.request_id,
                };
            }
            Some("GatedRepo") => {
                return Error::GatedRepo {
                    repo,
                    server_message: self.server_message.unwrap_or_default(),
                    request_id: self.request_id,
                };
            }
            _ => {}
        }
        let invalid_credentials = self.server_message.as_deref() == Some(INVALID_CREDENTIALS);
        // Another host (a presigned storage URL) refuses for its own reasons, such as
        // an expired signature: the Hub token has nothing to do with it.
        let on_hub = matches!((Origin::parse(&self.url), Origin::parse(endpoint)), (Ok(url), Ok(hub)) if url == hub);
        match self.status {
            401 | 403 if !on_hub => Error::Http {
                status: self.status,
                url: self.url,
                server_message: self.server_message,
                request_id: self.request_id,
            },
            401 if invalid_credentials => Error::Unauthorized {
                url: self.url,
                reason: UnauthorizedReason::InvalidToken,
                request_id: self.request_id,
            },
            // On a repo URL the Hub answers 401 both for "missing" and "private".
            401 if target.repo.is_some() => Error::RepoNotFound {
                repo,
                endpoint: endpoint.to_string(),
                request_id: self.request_id,
            },
            401 => Error::Unauthorized {
                url: self.url,
                reason: if sent_token {
                    UnauthorizedReason::InvalidToken
                } else {
                    UnauthorizedReason::MissingToken
                },
                request_id: self.request_id,
            },
            403 => Error::Unauthorized {
                url: self.url,
                reason: if sent_token {
                    UnauthorizedReason::Forbidden
                } else {
                    UnauthorizedReason::MissingToken
                },
                request_id: self.request_id,
            },
            429 => Error::RateLimited {
                url: self.url,
                retry_after: self.retry_after,
                request_id: self.request_id,
            },
            status => Error::Http {
                status,
                url: self.url,
                server_message: self.server_message,
                request_id: self.request_id,
            },
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare on the Hub and is ignored).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The `error` field of a JSON body (a string, or a list of strings), else a short plain-text body.
fn message_from_body(body: &[u8]) -> Option<String> {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        return match value.get("error") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Array(items)) => {
                Some(items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join("; "))
            }
            _ => None,
        };
    }
    let text = std::str::from_utf8(body).ok()?.trim();
    let looks_like_html = text.starts_with('<');
    (!text.is_empty() && text.len() <= 500 && !looks_like_html).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_field_is_the_message() {
        assert_eq!(
            message_from_body(br#"{"error":"Repository not found"}"#).as_deref(),
            Some("Repository not found")
        );
        assert_eq!(message_from_body(br#"{"error":["a","b"]}"#).as_deref(), Some("a; b"));
        assert_eq!(message_from_body(b"<html>oops</html>"), None);
        assert_eq!(message_from_body(b"plain words").as_deref(), Some("plain words"));
    }

    #[test]
    fn tokens_the_server_echoes_are_redacted() -> Result<(), Box<dyn std::error::Error>> {
        let token = "hf_abcdefghijklmnopqrstuvwxyz123456";
        let response = ureq::http::Response::builder()
            .status(400)
            .header("x-error-message", format!("bad token {token}"))
            .header("x-request-id", format!("id-{token}"))
            .body(ureq::Body::builder().data(format!(r#"{{"error":"{token}"}}"#)))?;
        let read = ErrorResponse::read(&format!("http://hub/x?t={token}"), response, &[]);
        let shown = format!("{read:?}");
        assert!(!shown.contains(&token[3..]), "{shown}");
        assert_eq!(read.server_message.as_deref(), Some("bad token hf_***"));
        Ok(())
    }

    #[test]
    fn the_clients_own_token_is_redacted_whatever_its_form() -> Result<(), Box<dyn std::error::Error>> {
        let held = Token::new("plain-secret-without-prefix");
        let response = ureq::http::Response::builder()
            .status(400)
            .header(
                "x-error-message",
                "you sent plain-secret-without-prefix, which is wrong",
            )
            .body(ureq::Body::builder().data(""))?;
        let read = ErrorResponse::read("http://hub/x", response, std::slice::from_ref(&held));
        let shown = read.server_message.unwrap_or_default();
        assert!(!shown.contains("plain-secret-without-prefix"), "{shown}");
        assert!(
            shown.starts_with("you sent ") && shown.ends_with(", which is wrong"),
            "{shown}"
        );
        Ok(())
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    fn response(status: u16, code: Option<&str>, message: Option<&str>) -> ErrorResponse {
        ErrorResponse {
            status,
            url: "http://hub/x".into(),
            error_code: code.map(str::to_string),
            server_message: message.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn refusals_from_other_hosts_are_not_about_the_token() {
        let mut refused = response(403, None, Some("Request has expired"));
        refused.url = "https://storage.example/part/1?signature=x".into();
        let e = refused.into_error(&RequestTarget::default(), "https://hub.example", false);
        assert!(matches!(e, Error::Http { status: 403, .. }), "{e:?}");
        assert!(e.to_string().contains("Request has expired"), "{e}");
        let on_hub = response(403, None, None).into_error(&RequestTarget::default(), "http://hub", false);
        assert!(matches!(on_hub, Error::Unauthorized { .. }), "{on_hub:?}");
    }

    #[test]
    fn classification_follows_the_hub() {
        let repo = hub_url::RepoId::new("org/model").expect("valid id");
        let target = RequestTarget::repo(hub_url::RepoType::Model, &repo)
            .at("main")
            .file("a.bin");
        let e = response(404, Some("EntryNotFound"), None).into_error(&target, "http://hub", true);
        assert!(matches!(e, Error::EntryNotFound { ref path, .. } if path == "a.bin"));
        let e = response(401, None, Some("whatever")).into_error(&target, "http://hub", false);
        assert!(matches!(e, Error::RepoNotFound { .. }), "{e}");
        let e = response(401, None, Some(INVALID_CREDENTIALS)).into_error(&target, "http://hub", true);
        assert!(matches!(
            e,
            Error::Unauthorized {
                reason: UnauthorizedReason::InvalidToken,
                ..
            }
        ));
        let e = response(401, None, None).into_error(&RequestTarget::default(), "http://hub", false);
        assert!(matches!(
            e,
            Error::Unauthorized {
                reason: UnauthorizedReason::MissingToken,
                ..
            }
        ));
        let e = response(503, None, Some("down")).into_error(&target, "http://hub", false);
        assert_eq!(e.to_string(), "HTTP 503 from http://hub/x: down");
    }

    proptest::proptest! {
        #[test]
        fn retry_after_is_whole_seconds_or_nothing(value in "\\PC{0,12}|[ \t]{0,2}[+-]?[0-9]{1,22}[ \t]{0,2}") {
            if let Some(wait) = parse_retry_after(&value) {
                let digits = value.trim().trim_start_matches('+');
                proptest::prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{:?}", value);
                proptest::prop_assert_eq!(digits.parse::<u64>().ok(), Some(wait.as_secs()));
            }
        }

        #[test]
        fn any_error_body_is_read(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = message_from_body(&body);
        }
    }
}
