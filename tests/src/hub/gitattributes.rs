//! The `.gitattributes` the Hub writes into new repos, and matching paths against its
//! `filter=lfs` patterns.

const COMMON: &str = "\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
";

const MODEL_MIDDLE: &str = "\
*.mlmodel filter=lfs diff=lfs merge=lfs -text
";

const DATASET_MIDDLE: &str = "\
*.lz4 filter=lfs diff=lfs merge=lfs -text
*.mds filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
";

const COMMON_TAIL: &str = "\
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
";

const DATASET_MEDIA: &str = "\
# Audio files - uncompressed
*.pcm filter=lfs diff=lfs merge=lfs -text
*.sam filter=lfs diff=lfs merge=lfs -text
*.raw filter=lfs diff=lfs merge=lfs -text
# Audio files - compressed
*.aac filter=lfs diff=lfs merge=lfs -text
*.flac filter=lfs diff=lfs merge=lfs -text
*.mp3 filter=lfs diff=lfs merge=lfs -text
*.ogg filter=lfs diff=lfs merge=lfs -text
*.wav filter=lfs diff=lfs merge=lfs -text
# Image files - uncompressed
*.bmp filter=lfs diff=lfs merge=lfs -text
*.gif filter=lfs diff=lfs merge=lfs -text
*.png filter=lfs diff=lfs merge=lfs -text
*.tiff filter=lfs diff=lfs merge=lfs -text
# Image files - compressed
*.jpg filter=lfs diff=lfs merge=lfs -text
*.jpeg filter=lfs diff=lfs merge=lfs -text
*.webp filter=lfs diff=lfs merge=lfs -text
# Video files - compressed
*.mp4 filter=lfs diff=lfs merge=lfs -text
*.webm filter=lfs diff=lfs merge=lfs -text
";

/// The `.gitattributes` the Hub commits into a new repo of this type
/// (`model`, `dataset` or `space`): datasets also track audio, images and video.
pub(crate) fn default_for(repo_type_singular: &str) -> String {
    if repo_type_singular == "dataset" {
        [COMMON, DATASET_MIDDLE, COMMON_TAIL, DATASET_MEDIA].concat()
    } else {
        [COMMON, MODEL_MIDDLE, COMMON_TAIL].concat()
    }
}

/// The `filter` rules of a root `.gitattributes`, in file order.
#[derive(Debug, Default, Clone)]
pub(crate) struct LfsPatterns {
    /// `(pattern, is_lfs)`: the last matching rule wins, as in git.
    rules: Vec<(String, bool)>,
}

impl LfsPatterns {
    /// Reads the patterns that set or unset `filter=lfs`.
    pub(crate) fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('"') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let Some(pattern) = parts.next() else { continue };
            for attr in parts {
                if attr == "filter=lfs" {
                    rules.push((pattern.to_string(), true));
                } else if attr == "-filter" || attr == "!filter" || attr.starts_with("filter=") {
                    rules.push((pattern.to_string(), false));
                }
            }
        }
        LfsPatterns { rules }
    }

    /// Whether git-lfs would store `path` (relative to the repo root, `/`-separated).
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|(pattern, _)| pattern_matches(pattern, path))
            .is_some_and(|(_, lfs)| *lfs)
    }
}

/// gitattributes pattern semantics: a pattern without `/` matches the basename at any
/// depth; a pattern with `/` matches the whole path from the root, `**` spanning folders.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.strip_prefix('/').map_or(pattern, |p| p);
    if pattern.contains('/') {
        glob(pattern.as_bytes(), path.as_bytes())
    } else {
        let name = path.rsplit('/').next().unwrap_or(path);
        glob(pattern.as_bytes(), name.as_bytes())
    }
}

/// fnmatch with `FNM_PATHNAME` plus git's `**`.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            if let Some(after_slash) = rest.strip_prefix(b"/") {
                // `**/`: zero or more whole folders.
                if glob(after_slash, s) {
                    return true;
                }
                s.iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b'/')
                    .any(|(i, _)| glob(after_slash, &s[i + 1..]))
            } else {
                (0..=s.len()).any(|i| glob(rest, &s[i..]))
            }
        }
        Some(b'*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if s.get(i) == Some(&b'/') {
                    break;
                }
            }
            false
        }
        Some(b'?') => matches!(s.first(), Some(c) if *c != b'/') && glob(&p[1..], &s[1..]),
        Some(b'[') => match (class_end(p), s.first()) {
            (Some(end), Some(c)) if *c != b'/' => class_matches(&p[1..end], *c) && glob(&p[end + 1..], &s[1..]),
            (Some(_), _) => false,
            (None, Some(b'[')) => glob(&p[1..], &s[1..]),
            (None, _) => false,
        },
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob(&p[2..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

/// The index of the `]` closing the class that opens at `p[0]`.
fn class_end(p: &[u8]) -> Option<usize> {
    let mut i = 1;
    if matches!(p.get(i), Some(b'!' | b'^')) {
        i += 1;
    }
    if p.get(i) == Some(&b']') {
        i += 1;
    }
    while i < p.len() {
        if p[i] == b']' {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn class_matches(class: &[u8], c: u8) -> bool {
    let (negated, class) = match class.first() {
        Some(b'!' | b'^') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == b'-' {
            if class[i] <= c && c <= class[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if class[i] == c {
                found = true;
            }
            i += 1;
        }
    }
    found != negated
}

#[cfg(test)]
mod tests {
    use super::{LfsPatterns, default_for};

    #[test]
    fn default_model_patterns_match_weights_not_text() {
        let patterns = LfsPatterns::parse(&default_for("model"));
        for lfs in [
            "pytorch_model.bin",
            "sub/dir/model.safetensors",
            "archive.tar.gz",
            "saved_model/variables/data",
            "runs/events.out.tfevents.123",
            "x.lfs.txt",
        ] {
            assert!(patterns.matches(lfs), "{lfs} should be lfs");
        }
        for regular in [
            "config.json",
            "README.md",
            "bin",
            "saved_model",
            "model.binx",
            "photo.png",
        ] {
            assert!(!patterns.matches(regular), "{regular} should be regular");
        }
    }

    #[test]
    fn dataset_patterns_add_media() {
        let patterns = LfsPatterns::parse(&default_for("dataset"));
        assert!(patterns.matches("images/cat.png"));
        assert!(patterns.matches("data/train.parquet"));
        assert!(!patterns.matches("data/train.csv"));
    }

    #[test]
    fn later_rules_win_and_anchored_patterns_use_the_full_path() {
        let patterns = LfsPatterns::parse("*.txt filter=lfs\nkeep.txt -filter\n/data/*.csv filter=lfs\n");
        assert!(patterns.matches("a/b.txt"));
        assert!(!patterns.matches("keep.txt"));
        assert!(patterns.matches("data/x.csv"));
        assert!(!patterns.matches("data/sub/x.csv"));
        assert!(!patterns.matches("other/data/x.csv"));
        let classes = LfsPatterns::parse("*.[ch]5 filter=lfs\nfile?.dat filter=lfs\n");
        assert!(classes.matches("w.h5"));
        assert!(!classes.matches("w.x5"));
        assert!(classes.matches("file1.dat"));
        assert!(!classes.matches("file12.dat"));
    }
}
