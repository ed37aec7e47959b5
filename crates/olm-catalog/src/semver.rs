//! Semantic versions and ranges with the syntax and messages of blang/semver v4, which upstream
//! uses for bundle versions and `skipRange` (`>=1.0.0 <1.4.2`, `||`, `1.2.x` wildcards).

use std::cmp::Ordering;
use std::fmt;

/// One pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pre {
    /// Numeric identifier.
    Num(u64),
    /// Alphanumeric identifier.
    Alpha(String),
}

/// A strict semantic version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release identifiers.
    pub pre: Vec<Pre>,
    /// Build metadata identifiers.
    pub build: Vec<String>,
}

fn only(s: &str, f: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(f)
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn number(s: &str, what: &str) -> Result<u64, String> {
    if !only(s, |b| b.is_ascii_digit()) {
        return Err(format!("Invalid character(s) found in {what} number {s:?}"));
    }
    if s.len() > 1 && s.starts_with('0') {
        let cap = format!("{}{}", what[..1].to_uppercase(), &what[1..]);
        return Err(format!(
            "{cap} number must not contain leading zeroes {s:?}"
        ));
    }
    s.parse()
        .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: invalid syntax"))
}

impl Version {
    /// Parses a version strictly (`MAJOR.MINOR.PATCH[-PRE][+BUILD]`, no leading `v`).
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("Version string empty".into());
        }
        let parts: Vec<&str> = s.splitn(3, '.').collect();
        if parts.len() != 3 {
            return Err("No Major.Minor.Patch elements found".into());
        }
        let major = number(parts[0], "major")?;
        let minor = number(parts[1], "minor")?;
        let mut patch_str = parts[2];
        let mut build = Vec::new();
        let mut pre = Vec::new();
        if let Some(i) = patch_str.find('+') {
            build = patch_str[i + 1..].split('.').map(str::to_owned).collect();
            patch_str = &patch_str[..i];
        }
        let mut pre_strs = Vec::new();
        if let Some(i) = patch_str.find('-') {
            pre_strs = patch_str[i + 1..].split('.').collect();
            patch_str = &patch_str[..i];
        }
        let patch = number(patch_str, "patch")?;
        for p in pre_strs {
            if p.is_empty() {
                return Err("Prerelease is empty".into());
            }
            if only(p, |b| b.is_ascii_digit()) {
                if p.len() > 1 && p.starts_with('0') {
                    return Err(format!(
                        "Numeric PreRelease version must not contain leading zeroes {p:?}"
                    ));
                }
                pre.push(Pre::Num(p.parse().map_err(|_| {
                    format!("strconv.ParseUint: parsing {p:?}: value out of range")
                })?));
            } else if only(p, alnum) {
                pre.push(Pre::Alpha(p.to_owned()));
            } else {
                return Err(format!("Invalid character(s) found in prerelease {p:?}"));
            }
        }
        for b in &build {
            if b.is_empty() {
                return Err("Build meta data is empty".into());
            }
            if !only(b, alnum) {
                return Err(format!(
                    "Invalid character(s) found in build meta data {b:?}"
                ));
            }
        }
        Ok(Self {
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    /// blang's `ParseTolerant` (how a CSV's `spec.version` is read): surrounding spaces and a
    /// leading `v` dropped, leading zeroes removed, missing minor/patch filled with 0.
    pub fn parse_tolerant(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts: Vec<String> = s.splitn(3, '.').map(str::to_owned).collect();
        for p in &mut parts {
            if p.len() > 1 {
                let trimmed = p.trim_start_matches('0');
                *p = if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
                    trimmed.to_owned()
                } else {
                    format!("0{trimmed}")
                };
            }
        }
        if parts.len() < 3 {
            if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
                return Err("Short version cannot contain PreRelease/Build meta data".into());
            }
            while parts.len() < 3 {
                parts.push("0".into());
            }
        }
        Self::parse(&parts.join("."))
    }

    /// Precedence order (build metadata ignored).
    pub fn compare(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a, b) {
                            (Pre::Num(x), Pre::Num(y)) => x.cmp(y),
                            (Pre::Num(_), Pre::Alpha(_)) => Ordering::Less,
                            (Pre::Alpha(_), Pre::Num(_)) => Ordering::Greater,
                            (Pre::Alpha(x), Pre::Alpha(y)) => x.cmp(y),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        for (i, p) in self.pre.iter().enumerate() {
            f.write_str(if i == 0 { "-" } else { "." })?;
            match p {
                Pre::Num(n) => write!(f, "{n}")?,
                Pre::Alpha(s) => f.write_str(s)?,
            }
        }
        for (i, b) in self.build.iter().enumerate() {
            f.write_str(if i == 0 { "+" } else { "." })?;
            f.write_str(b)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed range: OR of ANDs of comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    any_of: Vec<Vec<(Op, Version)>>,
}

impl Range {
    /// Parses blang range syntax.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts = split_and_trim(s);
        let mut or_parts: Vec<Vec<String>> = Vec::new();
        let mut last = 0;
        for (i, p) in parts.iter().enumerate() {
            if p == "||" {
                if i == 0 {
                    return Err("First element in range is '||'".into());
                }
                or_parts.push(parts[last..i].to_vec());
                last = i + 1;
            }
        }
        if last == parts.len() {
            return Err("Last element in range is '||'".into());
        }
        or_parts.push(parts[last..].to_vec());
        let mut any_of = Vec::new();
        for group in or_parts {
            let mut all_of = Vec::new();
            for ap in expand_wildcards(&group)? {
                let (op, v) = split_comparator(&ap)?;
                let op_v = match op {
                    "" | "=" | "==" => Op::Eq,
                    "!" | "!=" => Op::Ne,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    _ => {
                        return Err(format!(
                            "Could not parse Range {ap:?}: Could not parse comparator {op:?} in {ap:?}"
                        ));
                    }
                };
                let version = Version::parse(v).map_err(|e| {
                    format!(
                        "Could not parse Range {ap:?}: Could not parse version {v:?} in {ap:?}: {e}"
                    )
                })?;
                all_of.push((op_v, version));
            }
            any_of.push(all_of);
        }
        Ok(Self { any_of })
    }

    /// Whether `v` is in the range.
    pub fn contains(&self, v: &Version) -> bool {
        self.any_of.iter().any(|all| {
            all.iter().all(|(op, bound)| {
                let o = v.compare(bound);
                match op {
                    Op::Eq => o == Ordering::Equal,
                    Op::Ne => o != Ordering::Equal,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                }
            })
        })
    }
}

/// Splits on spaces, except spaces right after a comparator (`>= 1.0.0` is one part).
fn split_and_trim(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut last = 0usize;
    let mut last_char = 0u8;
    for i in 0..b.len() {
        if b[i] == b' ' && !matches!(last_char, b'>' | b'<' | b'=') {
            if last + 1 < i + 1 && last < i {
                out.push(s[last..i].to_owned());
            }
            last = i + 1;
        } else if b[i] != b' ' {
            last_char = b[i];
        }
    }
    if last < b.len() {
        out.push(s[last..].to_owned());
    }
    out.into_iter()
        .map(|p| p.replace(' ', ""))
        .filter(|p| !p.is_empty())
        .collect()
}

fn split_comparator(s: &str) -> Result<(&str, &str), String> {
    let i = s
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| format!("Could not get version from string: {s:?}"))?;
    Ok((s[..i].trim(), &s[i..]))
}

fn expand_wildcards(parts: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for ap in parts {
        if !ap.contains('x') {
            out.push(ap.clone());
            continue;
        }
        let (op, v) = split_comparator(ap)?;
        let segs: Vec<&str> = v.split('.').collect();
        // 2 parts with a trailing x: minor wildcard (1.x); 3 parts: patch wildcard (1.2.x).
        let wildcard = match (segs.len(), segs.last()) {
            (2, Some(&"x")) => 2,
            (3, Some(&"x")) => 3,
            _ => 0,
        };
        let flat = {
            let v2 = v.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
            if v2.split('.').count() == 2 {
                format!("{v2}.0")
            } else {
                v2
            }
        };
        let bump = |idx: usize| -> String {
            let mut p: Vec<String> = flat.split('.').map(str::to_owned).collect();
            if let Some(n) = p.get(idx).and_then(|x| x.parse::<u64>().ok()) {
                p[idx] = (n + 1).to_string();
            }
            p.join(".")
        };
        let next = || match wildcard {
            3 => bump(1),
            2 => bump(0),
            _ => String::new(),
        };
        let (result_op, result_version) = match op {
            ">" => (">=", next()),
            ">=" => (">=", flat.clone()),
            "<" => ("<", flat.clone()),
            "<=" => ("<", next()),
            "" | "=" | "==" => {
                out.push(format!(">={flat}"));
                ("<", next())
            }
            "!=" | "!" => {
                out.push(format!("<{flat}"));
                (">=", next())
            }
            _ => ("", flat.clone()),
        };
        out.push(format!("{result_op}{result_version}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn strict_parsing_with_blang_messages() {
        assert_eq!(v("1.2.3-rc.1+b.5").to_string(), "1.2.3-rc.1+b.5");
        let cases = [
            ("", "Version string empty"),
            ("1.2", "No Major.Minor.Patch elements found"),
            (
                "v1.2.3",
                "Invalid character(s) found in major number \"v1\"",
            ),
            (
                "01.2.3",
                "Major number must not contain leading zeroes \"01\"",
            ),
            (
                "1.2.03",
                "Patch number must not contain leading zeroes \"03\"",
            ),
            ("1.2.3-", "Prerelease is empty"),
            (
                "1.2.3-01",
                "Numeric PreRelease version must not contain leading zeroes \"01\"",
            ),
            (
                "1.2.3-a_b",
                "Invalid character(s) found in prerelease \"a_b\"",
            ),
            ("1.2.3+", "Build meta data is empty"),
        ];
        for (input, msg) in cases {
            assert_eq!(Version::parse(input).unwrap_err(), msg, "{input}");
        }
    }

    #[test]
    fn tolerant_parsing() {
        assert_eq!(
            Version::parse_tolerant(" v1.02").unwrap().to_string(),
            "1.2.0"
        );
        assert_eq!(
            Version::parse_tolerant("0.9.4").unwrap().to_string(),
            "0.9.4"
        );
        assert!(Version::parse_tolerant("1-rc").is_err());
    }

    #[test]
    fn precedence() {
        let mut vs = [
            "1.0.0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta",
            "1.0.0-1",
            "0.9.9",
            "1.0.0-alpha.beta",
        ]
        .map(v)
        .to_vec();
        vs.sort_by(Version::compare);
        let s: Vec<String> = vs.iter().map(ToString::to_string).collect();
        assert_eq!(
            s,
            [
                "0.9.9",
                "1.0.0-1",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0"
            ]
        );
        assert_eq!(v("1.0.0+a").compare(&v("1.0.0+b")), Ordering::Equal);
    }

    #[test]
    fn ranges() {
        let r = Range::parse(">=1.0.0 <1.4.2").unwrap();
        assert!(r.contains(&v("1.0.0")) && r.contains(&v("1.4.1")));
        assert!(!r.contains(&v("1.4.2")) && !r.contains(&v("0.9.0")));
        let r = Range::parse(">= 1.0.0 < 2.0.0 || 3.0.0").unwrap();
        assert!(r.contains(&v("1.5.0")) && r.contains(&v("3.0.0")) && !r.contains(&v("2.5.0")));
        let r = Range::parse("1.2.x").unwrap();
        assert!(r.contains(&v("1.2.9")) && !r.contains(&v("1.3.0")));
        let r = Range::parse("<=1.x").unwrap();
        assert!(r.contains(&v("1.9.0")) && !r.contains(&v("2.0.0")));
        let r = Range::parse("!1.2.3").unwrap();
        assert!(!r.contains(&v("1.2.3")) && r.contains(&v("1.2.4")));
        assert_eq!(
            Range::parse("|| 1.0.0").unwrap_err(),
            "First element in range is '||'"
        );
        assert_eq!(
            Range::parse("1.0.0 ||").unwrap_err(),
            "Last element in range is '||'"
        );
        assert_eq!(
            Range::parse("~1.0.0").unwrap_err(),
            "Could not parse Range \"~1.0.0\": Could not parse comparator \"~\" in \"~1.0.0\""
        );
        assert_eq!(
            Range::parse("abc").unwrap_err(),
            "Could not get version from string: \"abc\""
        );
        assert!(
            Range::parse(">=1.0")
                .unwrap_err()
                .starts_with("Could not parse Range \">=1.0\": Could not parse version")
        );
    }
}
