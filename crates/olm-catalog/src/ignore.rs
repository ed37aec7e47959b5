//! `.indexignore` files: gitignore-style patterns, each file applying below its own directory.

/// One pattern of one `.indexignore` file.
#[derive(Debug, Clone)]
struct Pattern {
    /// Directory holding the `.indexignore` (`""` for the root), without trailing slash.
    base: String,
    negated: bool,
    dir_only: bool,
    /// Matched against the whole path relative to `base` (pattern had a slash).
    anchored: bool,
    segments: Vec<String>,
}

/// All patterns of a catalog, in the order they apply (shallower files first, then line order).
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

impl IgnoreRules {
    /// Adds the patterns of the `.indexignore` found in directory `base`.
    pub fn add_file(&mut self, base: &str, text: &str) {
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            // Trailing spaces are ignored unless escaped.
            let mut line = line.to_owned();
            while line.ends_with(' ') && !line.ends_with("\\ ") {
                line.pop();
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.to_owned()),
                None => (
                    false,
                    line.strip_prefix('\\').map_or(line.clone(), str::to_owned),
                ),
            };
            let dir_only = body.ends_with('/');
            let body = body.trim_end_matches('/');
            if body.is_empty() {
                continue;
            }
            let anchored = body.contains('/');
            let body = body.strip_prefix('/').unwrap_or(body);
            self.patterns.push(Pattern {
                base: base.trim_end_matches('/').to_owned(),
                negated,
                dir_only,
                anchored,
                segments: body.split('/').map(str::to_owned).collect(),
            });
        }
        // Keep shallower directories first so that deeper files override them.
        self.patterns.sort_by_key(|p| {
            if p.base.is_empty() {
                0
            } else {
                p.base.matches('/').count() + 1
            }
        });
    }

    /// Whether `path` (relative to the root, `/`-separated) is ignored, either itself or
    /// through one of its parent directories.
    pub fn is_ignored(&self, path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let parts: Vec<&str> = path.split('/').collect();
        for end in 1..parts.len() {
            if self.matches(&parts[..end], true) {
                return true;
            }
        }
        self.matches(&parts, false)
    }

    fn matches(&self, parts: &[&str], is_dir: bool) -> bool {
        let mut ignored = false;
        for p in &self.patterns {
            if p.dir_only && !is_dir {
                continue;
            }
            let base_parts: Vec<&str> = if p.base.is_empty() {
                Vec::new()
            } else {
                p.base.split('/').collect()
            };
            if parts.len() <= base_parts.len() || parts[..base_parts.len()] != base_parts[..] {
                continue;
            }
            let rel = &parts[base_parts.len()..];
            let hit = if p.anchored {
                match_segments(&p.segments, rel)
            } else {
                rel.last().is_some_and(|name| glob(&p.segments[0], name))
            };
            if hit {
                ignored = !p.negated;
            }
        }
        ignored
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => {
            !path.is_empty() && glob(first, path[0]) && match_segments(rest, &path[1..])
        }
    }
}

/// Wildcard match of one path segment: `*`, `?`, `[...]` (with `!`/`^` negation and ranges),
/// `\` escapes.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
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
                    if let Some((matched, next)) = class(p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
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
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`; `None` if unterminated.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = p[i];
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if lo <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*.md", "README.md"));
        assert!(!glob("*.md", "README.mdx"));
        assert!(glob("a?c", "abc"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[!a-c]x", "bx"));
        assert!(glob("\\*", "*"));
        assert!(glob("*", ""));
    }

    #[test]
    fn gitignore_semantics() {
        let mut r = IgnoreRules::default();
        r.add_file("", "# comment\n*.md\n/build/\ndocs/**/draft*\n!keep.md\n");
        r.add_file("pkg", "local.json\n");
        assert!(r.is_ignored("README.md"));
        assert!(r.is_ignored("a/b/notes.md"));
        assert!(!r.is_ignored("keep.md"), "negation re-includes");
        assert!(
            r.is_ignored("build/catalog.json"),
            "a directory pattern covers its files"
        );
        assert!(
            !r.is_ignored("x/build/catalog.json"),
            "anchored to the root"
        );
        assert!(r.is_ignored("docs/a/b/draft1.json"));
        assert!(r.is_ignored("docs/draft.json"));
        assert!(r.is_ignored("pkg/local.json"));
        assert!(r.is_ignored("pkg/sub/local.json"));
        assert!(
            !r.is_ignored("other/local.json"),
            "patterns apply below their own directory"
        );
        assert!(!r.is_ignored("pkg/catalog.json"));
    }
}
