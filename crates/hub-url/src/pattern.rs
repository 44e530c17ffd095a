//! `allow_patterns` and `ignore_patterns` with the Python client's semantics:
//! `fnmatch` globs over the whole path (`*` crosses `/`), and a pattern ending
//! in `/` means everything below that folder.

/// Whether `path` passes the filters: it matches one of `allow` (when any are
/// given) and none of `ignore`.
pub fn filter_path(path: &str, allow: &[String], ignore: &[String]) -> bool {
    let allowed = allow.is_empty() || allow.iter().any(|p| fnmatch(&folder_pattern(p), path));
    allowed && !ignore.iter().any(|p| fnmatch(&folder_pattern(p), path))
}

fn folder_pattern(pattern: &str) -> String {
    if pattern.ends_with('/') {
        format!("{pattern}*")
    } else {
        pattern.to_string()
    }
}

/// Python's `fnmatch.fnmatchcase`: `*` any run of characters, `?` one
/// character, `[abc]`, `[a-z]` and `[!abc]` a set; everything else literal.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_set(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        // An unclosed `[` is a literal.
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((star_pi, star_ti)) => {
                pi = star_pi + 1;
                ti = star_ti + 1;
                star = Some((star_pi, star_ti + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the set starting at `p[start] == '['`; returns whether
/// it matched and the index after the set, or `None` when the set is unclosed.
fn match_set(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = p.get(i) == Some(&'!');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (first || p[i] != ']') {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= p.len() {
        return None;
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_like_python() {
        let cases = [
            ("*.json", "config.json", true),
            ("*.json", "sub/config.json", true),
            ("*.json", "config.json.bak", false),
            ("sub/*", "sub/a/b.txt", true),
            ("?.txt", "a.txt", true),
            ("?.txt", "ab.txt", false),
            ("[ab].txt", "b.txt", true),
            ("[!ab].txt", "b.txt", false),
            ("[!ab].txt", "c.txt", true),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("[]]", "]", true),
            ("[x", "[x", true),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("model-*.safetensors", "model-00001-of-00002.safetensors", true),
            ("*.JSON", "a.json", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(fnmatch(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    /// Every way to match, by memoised recursion over (pattern, text)
    /// positions: slow but plainly right, for the one-backtrack loop to agree with.
    fn fnmatch_by_search(pattern: &str, text: &str) -> bool {
        fn matches(p: &[char], t: &[char], pi: usize, ti: usize, seen: &mut [Option<bool>]) -> bool {
            let key = pi * (t.len() + 1) + ti;
            if let Some(known) = seen[key] {
                return known;
            }
            let result = match (p.get(pi), t.get(ti)) {
                (None, _) => ti == t.len(),
                (Some('*'), _) => matches(p, t, pi + 1, ti, seen) || (ti < t.len() && matches(p, t, pi, ti + 1, seen)),
                (Some(_), None) => false,
                (Some('?'), Some(_)) => matches(p, t, pi + 1, ti + 1, seen),
                (Some('['), Some(&c)) => match match_set(p, pi, c) {
                    Some((matched, next)) => matched && matches(p, t, next, ti + 1, seen),
                    None => c == '[' && matches(p, t, pi + 1, ti + 1, seen),
                },
                (Some(&literal), Some(&c)) => literal == c && matches(p, t, pi + 1, ti + 1, seen),
            };
            seen[key] = Some(result);
            result
        }
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let mut seen = vec![None; (p.len() + 1) * (t.len() + 1)];
        matches(&p, &t, 0, 0, &mut seen)
    }

    proptest::proptest! {
        #[test]
        fn one_backtrack_point_finds_every_match(
            pattern in "[ab*?\\[\\]!-]{0,10}",
            text in "[ab\\[\\]!-]{0,10}",
        ) {
            proptest::prop_assert_eq!(fnmatch(&pattern, &text), fnmatch_by_search(&pattern, &text));
        }
    }

    #[test]
    fn folders_and_filters() {
        let allow = vec!["tokenizer/".to_string(), "*.json".to_string()];
        let ignore = vec!["*secret*".to_string()];
        assert!(filter_path("tokenizer/vocab.txt", &allow, &ignore));
        assert!(filter_path("config.json", &allow, &ignore));
        assert!(!filter_path("model.bin", &allow, &ignore));
        assert!(!filter_path("secret.json", &allow, &ignore));
        assert!(filter_path("anything", &[], &[]));
    }
}
