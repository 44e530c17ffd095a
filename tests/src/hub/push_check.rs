//! The Hub's check on `git push`: files over the LFS threshold, and binary
//! files, must reach it as LFS pointers. A `pre-receive` hook in every bare
//! repo refuses the push otherwise, with the Hub's message.

use std::fs;
use std::path::Path;

use crate::EmulatorError;

/// The hook: reads `old new ref` lines, lists the pushed blobs that no ref had
/// yet, and names those over the limit and those with a NUL byte in their
/// first 8000 bytes (git's own test for binary content).
const HOOK_TEMPLATE: &str = r#"#!/bin/sh
limit=@LIMIT@
zero=0000000000000000000000000000000000000000
large=""
binary=""
nl='
'
while read -r old new ref; do
    [ "$new" = "$zero" ] && continue
    found=$(git rev-list --objects "$new" --not --all |
        git cat-file --batch-check='%(objecttype) %(objectsize) %(objectname) %(rest)' |
        while read -r type size oid path; do
            [ "$type" = blob ] || continue
            if [ "$size" -gt "$limit" ]; then
                echo "large  - $path (ref: $ref)"
            elif [ "$size" -gt 0 ] && [ "$(git cat-file blob "$oid" | head -c 8000 | tr -dc '\000' | wc -c)" -gt 0 ]; then
                echo "binary  - $path (ref: $ref)"
            fi
        done)
    large="$large$(printf '%s\n' "$found" | sed -n 's/^large //p')$nl"
    binary="$binary$(printf '%s\n' "$found" | sed -n 's/^binary //p')$nl"
done
large=$(printf '%s' "$large" | sed '/^$/d')
binary=$(printf '%s' "$binary" | sed '/^$/d')
rule=-------------------------------------------------------------------------
if [ -n "$large" ]; then
    printf '%s\n' "$rule" "Your push was rejected because it contains files larger than @LIMIT_TEXT@." \
        "Please use https://git-lfs.github.com/ to store large files." \
        "See also: https://hf.co/docs/hub/repositories-getting-started#terminal" "" \
        "Offending files:" "$large" "$rule" >&2
    exit 1
fi
if [ -n "$binary" ]; then
    printf '%s\n' "$rule" "Your push was rejected because it contains binary files." \
        "Please use https://git-lfs.github.com/ to store binary files." \
        "See also: https://hf.co/docs/hub/repositories-getting-started#terminal" "" \
        "Offending files:" "$binary" "$rule" >&2
    exit 1
fi
exit 0
"#;

/// Installs the hook in the bare repo `git_dir` with files over `limit` bytes refused.
pub(crate) fn install_hook(git_dir: &Path, limit: u64) -> Result<(), EmulatorError> {
    let hooks = git_dir.join("hooks");
    fs::create_dir_all(&hooks).map_err(|e| EmulatorError::io(&hooks, e))?;
    let script = HOOK_TEMPLATE
        .replace("@LIMIT_TEXT@", &limit_text(limit))
        .replace("@LIMIT@", &limit.to_string());
    let path = hooks.join("pre-receive");
    fs::write(&path, script).map_err(|e| EmulatorError::io(&path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(|e| EmulatorError::io(&path, e))?;
    }
    Ok(())
}

/// The limit as the Hub says it: `10 MiB`.
fn limit_text(limit: u64) -> String {
    match limit {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::limit_text;

    #[test]
    fn the_limit_reads_as_the_hub_writes_it() {
        assert_eq!(limit_text(10 * 1024 * 1024), "10 MiB");
        assert_eq!(limit_text(1024), "1 KiB");
        assert_eq!(limit_text(1000), "1000 bytes");
    }
}
