//! `POST /api/validate-yaml` `{content, repoType}`: the Python client checks a
//! `README.md`'s front matter with it before committing the file.

use serde::Deserialize;
use serde_json::json;

use super::{Request, Response, json_body};

#[derive(Debug, Deserialize)]
struct ValidateRequest {
    #[serde(default)]
    content: String,
}

/// Accepts any card whose front matter, if it opens one, is closed; an unclosed
/// front matter is the one error reported.
pub(super) fn validate(request: &Request) -> Response {
    let body: ValidateRequest = match json_body(request) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    match front_matter_error(&body.content) {
        None => Response::json(200, &json!({ "errors": [], "warnings": [] })),
        Some(message) => Response::json(
            400,
            &json!({ "error": message, "errors": [{ "message": message }], "warnings": [] }),
        )
        .with_header("X-Error-Message", message),
    }
}

/// Why the card's YAML front matter is malformed, if it is.
fn front_matter_error(content: &str) -> Option<&'static str> {
    let mut lines = content.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return None;
    }
    if lines.any(|line| line.trim_end() == "---") {
        None
    } else {
        Some("The YAML front matter of README.md is not closed by a '---' line")
    }
}

#[cfg(test)]
mod tests {
    use super::front_matter_error;

    #[test]
    fn only_an_unclosed_front_matter_is_an_error() {
        assert_eq!(front_matter_error("# Title\n"), None);
        assert_eq!(front_matter_error("---\nlicense: mit\n---\n# Model\n"), None);
        assert!(front_matter_error("---\nlicense: mit\n# Model\n").is_some());
    }
}
