#![allow(clippy::format_push_string)] // a few short messages
//! PyYAML's implicit resolvers (YAML 1.1 regular expressions) and its scalar constructors,
//! including where they raise a Python exception.

use super::Yaml;
use super::pyint::BigInt;

pub(crate) const TAG_NULL: &str = "tag:yaml.org,2002:null";
pub(crate) const TAG_BOOL: &str = "tag:yaml.org,2002:bool";
pub(crate) const TAG_INT: &str = "tag:yaml.org,2002:int";
pub(crate) const TAG_FLOAT: &str = "tag:yaml.org,2002:float";
pub(crate) const TAG_STR: &str = "tag:yaml.org,2002:str";
pub(crate) const TAG_TIMESTAMP: &str = "tag:yaml.org,2002:timestamp";
pub(crate) const TAG_MERGE: &str = "tag:yaml.org,2002:merge";
pub(crate) const TAG_VALUE: &str = "tag:yaml.org,2002:value";
pub(crate) const TAG_YAML: &str = "tag:yaml.org,2002:yaml";
pub(crate) const TAG_BINARY: &str = "tag:yaml.org,2002:binary";
pub(crate) const TAG_SEQ: &str = "tag:yaml.org,2002:seq";
pub(crate) const TAG_MAP: &str = "tag:yaml.org,2002:map";
pub(crate) const TAG_OMAP: &str = "tag:yaml.org,2002:omap";
pub(crate) const TAG_PAIRS: &str = "tag:yaml.org,2002:pairs";
pub(crate) const TAG_SET: &str = "tag:yaml.org,2002:set";

// PyYAML's resolver patterns, matched by hand: compiling regular expressions would cost every
// `omps validate` process more CPU than the validation of a small package.

fn is_bool(v: &str) -> bool {
    matches!(
        v,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn is_null(v: &str) -> bool {
    matches!(v, "~" | "null" | "Null" | "NULL" | "")
}

fn strip_sign(v: &[u8]) -> &[u8] {
    match v.first() {
        Some(b'-' | b'+') => &v[1..],
        _ => v,
    }
}

fn all(v: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    v.iter().all(|&c| ok(c))
}

fn digit_or_underscore(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

/// `(:[0-5]?[0-9])+` covering all of `v`.
fn sexagesimal_groups(v: &[u8]) -> bool {
    if v.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < v.len() {
        if v[i] != b':' {
            return false;
        }
        let run = v[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let ok = match run {
            1 => true,
            2 => (b'0'..=b'5').contains(&v[i + 1]),
            _ => false,
        };
        if !ok {
            return false;
        }
        i += 1 + run;
    }
    true
}

/// `[1-9][0-9_]*` followed by sexagesimal groups; `rest` gets what follows the groups.
fn sexagesimal_prefix(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if !b.first().is_some_and(|c| (b'1'..=b'9').contains(c)) {
        return None;
    }
    let head = b.iter().take_while(|&&c| digit_or_underscore(c)).count();
    let tail = &b[head..];
    tail.first()
        .is_some_and(|&c| c == b':')
        .then_some((&b[..head], tail))
}

fn is_int(v: &str) -> bool {
    let b = strip_sign(v.as_bytes());
    if let Some(r) = b.strip_prefix(b"0b") {
        return !r.is_empty() && all(r, |c| matches!(c, b'0' | b'1' | b'_'));
    }
    if let Some(r) = b.strip_prefix(b"0x") {
        return !r.is_empty() && all(r, |c| c.is_ascii_hexdigit() || c == b'_');
    }
    if let Some(r) = b.strip_prefix(b"0") {
        return r.is_empty() || all(r, |c| matches!(c, b'0'..=b'7' | b'_'));
    }
    if !b.first().is_some_and(|c| (b'1'..=b'9').contains(c)) {
        return false;
    }
    if all(b, digit_or_underscore) {
        return true;
    }
    sexagesimal_prefix(b).is_some_and(|(_, groups)| sexagesimal_groups(groups))
}

/// `[eE][-+][0-9]+`, or nothing.
fn is_exponent(v: &[u8]) -> bool {
    v.is_empty()
        || (v.len() >= 3
            && matches!(v[0], b'e' | b'E')
            && matches!(v[1], b'-' | b'+')
            && all(&v[2..], |c| c.is_ascii_digit()))
}

fn is_float(v: &str) -> bool {
    let raw = v.as_bytes();
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let b = strip_sign(raw);
    if matches!(b, b".inf" | b".Inf" | b".INF") {
        return true;
    }
    // `\.[0-9][0-9_]*` with an optional exponent, only without a sign
    if b.len() == raw.len() && b.first() == Some(&b'.') {
        let body = &b[1..];
        let n = body.iter().take_while(|&&c| digit_or_underscore(c)).count();
        if n > 0 && body[0].is_ascii_digit() && is_exponent(&body[n..]) {
            return true;
        }
    }
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    // `[0-9][0-9_]*\.[0-9_]*` with an optional exponent
    let n = b.iter().take_while(|&&c| digit_or_underscore(c)).count();
    if b.get(n) == Some(&b'.') {
        let frac = &b[n + 1..];
        let m = frac.iter().take_while(|&&c| digit_or_underscore(c)).count();
        if is_exponent(&frac[m..]) {
            return true;
        }
    }
    // `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`
    if b.get(n) == Some(&b':') {
        if let Some(dot) = b.iter().rposition(|&c| c == b'.') {
            return dot > n
                && sexagesimal_groups(&b[n..dot])
                && all(&b[dot + 1..], digit_or_underscore);
        }
    }
    false
}

/// The groups of PyYAML's timestamp pattern.
struct TsParts<'a> {
    year: &'a str,
    month: &'a str,
    day: &'a str,
    time: Option<TimeParts<'a>>,
}

struct TimeParts<'a> {
    hour: &'a str,
    minute: &'a str,
    second: &'a str,
    fraction: Option<&'a str>,
    /// `Z`, or the sign, hours and minutes of an offset.
    tz: Option<(Option<char>, &'a str, Option<&'a str>)>,
}

/// A run of ASCII digits at `s[*i..]` of a length in `lens`.
fn digits<'a>(s: &'a str, i: &mut usize, lens: std::ops::RangeInclusive<usize>) -> Option<&'a str> {
    let n = s[*i..].bytes().take_while(u8::is_ascii_digit).count();
    if !lens.contains(&n) {
        return None;
    }
    let d = &s[*i..*i + n];
    *i += n;
    Some(d)
}

fn byte(s: &str, i: &mut usize, c: u8) -> Option<()> {
    (s.as_bytes().get(*i) == Some(&c)).then(|| *i += 1)
}

/// PyYAML's constructor pattern for timestamps, on the whole of `s`.
#[allow(clippy::many_single_char_names)] // a small scanner over `s`/`b` at `i`
fn ts_parts(s: &str) -> Option<TsParts<'_>> {
    let mut i = 0;
    let year = digits(s, &mut i, 4..=4)?;
    byte(s, &mut i, b'-')?;
    let month = digits(s, &mut i, 1..=2)?;
    byte(s, &mut i, b'-')?;
    let day = digits(s, &mut i, 1..=2)?;
    if i == s.len() {
        return Some(TsParts {
            year,
            month,
            day,
            time: None,
        });
    }
    let b = s.as_bytes();
    if matches!(b[i], b'T' | b't') {
        i += 1;
    } else {
        let n = s[i..]
            .bytes()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
        if n == 0 {
            return None;
        }
        i += n;
    }
    let hour = digits(s, &mut i, 1..=2)?;
    byte(s, &mut i, b':')?;
    let minute = digits(s, &mut i, 2..=2)?;
    byte(s, &mut i, b':')?;
    let second = digits(s, &mut i, 2..=2)?;
    let mut fraction = None;
    if byte(s, &mut i, b'.').is_some() {
        let n = s[i..].bytes().take_while(u8::is_ascii_digit).count();
        fraction = Some(&s[i..i + n]);
        i += n;
    }
    let mut tz = None;
    if i < s.len() {
        i += s[i..]
            .bytes()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
        match b.get(i) {
            Some(b'Z') => {
                i += 1;
                tz = Some((None, "", None));
            }
            Some(&c @ (b'-' | b'+')) => {
                i += 1;
                let h = digits(s, &mut i, 1..=2)?;
                let mut m = None;
                if byte(s, &mut i, b':').is_some() {
                    m = Some(digits(s, &mut i, 2..=2)?);
                }
                tz = Some((Some(char::from(c)), h, m));
            }
            _ => return None,
        }
    }
    (i == s.len()).then_some(TsParts {
        year,
        month,
        day,
        time: Some(TimeParts {
            hour,
            minute,
            second,
            fraction,
            tz,
        }),
    })
}

/// The resolver's pattern: a date with two-digit month and day, or a date and a time.
fn is_timestamp(v: &str) -> bool {
    ts_parts(v).is_some_and(|p| p.time.is_some() || (p.month.len() == 2 && p.day.len() == 2))
}

/// Python's `re.match` with `^...$`: `$` also matches just before a final newline.
fn py_match(matcher: Matcher, s: &str) -> bool {
    matcher(s) || s.strip_suffix('\n').is_some_and(matcher)
}

type Matcher = fn(&str) -> bool;

/// The tag PyYAML's resolver gives a plain (implicitly typed) scalar.
pub(crate) fn resolve_tag(value: &str) -> &'static str {
    let first = value.chars().next();
    #[allow(clippy::match_same_arms)] // one arm per first character, as PyYAML lists them
    let checks: &[(&str, Matcher)] = match first {
        None => &[(TAG_NULL, is_null)],
        Some('y' | 'Y' | 't' | 'T' | 'f' | 'F' | 'o' | 'O') => &[(TAG_BOOL, is_bool)],
        Some('n' | 'N') => &[(TAG_BOOL, is_bool), (TAG_NULL, is_null)],
        Some('~') => &[(TAG_NULL, is_null)],
        Some('-' | '+') => &[(TAG_FLOAT, is_float), (TAG_INT, is_int)],
        Some('.') => &[(TAG_FLOAT, is_float)],
        Some('0'..='9') => &[
            (TAG_FLOAT, is_float),
            (TAG_INT, is_int),
            (TAG_TIMESTAMP, is_timestamp),
        ],
        Some('<') => {
            return if value == "<<" || value == "<<\n" {
                TAG_MERGE
            } else {
                TAG_STR
            };
        }
        Some('=') => {
            return if value == "=" || value == "=\n" {
                TAG_VALUE
            } else {
                TAG_STR
            };
        }
        Some('!' | '&' | '*') => {
            return if value.len() == 1 || (value.len() == 2 && value.ends_with('\n')) {
                TAG_YAML
            } else {
                TAG_STR
            };
        }
        _ => &[],
    };
    for (tag, matcher) in checks {
        if py_match(*matcher, value) {
            return tag;
        }
    }
    TAG_STR
}

/// Why a scalar constructor failed: a `ConstructorError` (courier: invalid YAML) or another
/// Python exception (courier stops with a traceback).
#[derive(Debug, Clone)]
pub(crate) enum ConstructFail {
    Marked(String),
    Raised(String),
}

/// Python's `str.strip()` whitespace (ASCII part; enough for values a resolver let through).
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace())
}

/// `construct_yaml_bool`: the lower-cased text must be one of the six words.
pub(crate) fn construct_bool(v: &str) -> Result<Yaml, ConstructFail> {
    match v.to_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(Yaml::Bool(true)),
        "no" | "false" | "off" => Ok(Yaml::Bool(false)),
        other => Err(ConstructFail::Raised(format!("KeyError: {other:?}"))),
    }
}

/// Python's `int(text, base)` on ASCII digits (underscores already removed by the caller).
fn py_int(text: &str, base: u32) -> Result<BigInt, ConstructFail> {
    let bad = || {
        ConstructFail::Raised(format!(
            "ValueError: invalid literal for int() with base {base}: {text:?}"
        ))
    };
    let t = py_strip(text);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body = match base {
        16 => body
            .strip_prefix("0x")
            .or_else(|| body.strip_prefix("0X"))
            .unwrap_or(body),
        8 => body
            .strip_prefix("0o")
            .or_else(|| body.strip_prefix("0O"))
            .unwrap_or(body),
        2 => body
            .strip_prefix("0b")
            .or_else(|| body.strip_prefix("0B"))
            .unwrap_or(body),
        _ => body,
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(base)) {
        return Err(bad());
    }
    // Python 3.11 refuses decimal strings past 4300 digits (CVE-2020-10735).
    if base == 10 && body.trim_start_matches('0').len() > BigInt::MAX_DECIMAL_DIGITS {
        return Err(ConstructFail::Raised(
            "ValueError: Exceeds the limit (4300 digits) for integer string conversion".into(),
        ));
    }
    let mut n = BigInt::parse_radix(body, base).ok_or_else(|| {
        ConstructFail::Raised("integer too large for this loader (over 4300 decimal digits)".into())
    })?;
    if neg {
        n = n.neg();
    }
    Ok(n)
}

/// `construct_yaml_int`.
pub(crate) fn construct_int(v: &str) -> Result<Yaml, ConstructFail> {
    let v = v.replace('_', "");
    let Some(first) = v.chars().next() else {
        return Err(ConstructFail::Raised(
            "IndexError: string index out of range".into(),
        ));
    };
    let negative = first == '-';
    let body = if first == '-' || first == '+' {
        &v[1..]
    } else {
        &v[..]
    };
    let value = if body == "0" {
        BigInt::zero()
    } else if let Some(b) = body.strip_prefix("0b") {
        py_int(b, 2)?
    } else if let Some(h) = body.strip_prefix("0x") {
        py_int(h, 16)?
    } else if body.starts_with('0') {
        py_int(body, 8)?
    } else if body.contains(':') {
        let mut total = BigInt::zero();
        for part in body.split(':') {
            let d = py_int(part, 10)?;
            total = total
                .mul_small(60)
                .add(&d)
                .ok_or_else(|| ConstructFail::Raised("integer too large".into()))?;
        }
        total
    } else if body.is_empty() {
        // `int('')` after a lone sign.
        return Err(ConstructFail::Raised(
            "ValueError: invalid literal for int() with base 10: ''".into(),
        ));
    } else {
        py_int(body, 10)?
    };
    let value = if negative { value.neg() } else { value };
    Ok(value.into_yaml())
}

/// Python's `float()` of a string (after PyYAML lower-cased it and removed underscores).
fn py_float(text: &str) -> Result<f64, ConstructFail> {
    let t = py_strip(text);
    let bad = || {
        ConstructFail::Raised(format!(
            "ValueError: could not convert string to float: {text:?}"
        ))
    };
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = match body {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            let ok = !body.is_empty()
                && body
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
                && body.chars().any(|c| c.is_ascii_digit());
            if !ok {
                return Err(bad());
            }
            body.parse::<f64>().map_err(|_| bad())?
        }
    };
    Ok(if neg { -v } else { v })
}

/// `construct_yaml_float`.
pub(crate) fn construct_float(v: &str) -> Result<Yaml, ConstructFail> {
    let v = v.replace('_', "").to_lowercase();
    let Some(first) = v.chars().next() else {
        return Err(ConstructFail::Raised(
            "IndexError: string index out of range".into(),
        ));
    };
    let sign = if first == '-' { -1.0 } else { 1.0 };
    let body = if first == '-' || first == '+' {
        &v[1..]
    } else {
        &v[..]
    };
    if body == ".inf" {
        return Ok(Yaml::Float(sign * f64::INFINITY));
    }
    if body == ".nan" {
        return Ok(Yaml::Float(f64::NAN));
    }
    if body.contains(':') {
        let parts: Vec<f64> = body.split(':').map(py_float).collect::<Result<_, _>>()?;
        let mut value = 0.0;
        let mut base = 1.0_f64;
        for d in parts.iter().rev() {
            value += d * base;
            base *= 60.0;
            if base.is_infinite() {
                return Err(ConstructFail::Raised(
                    "OverflowError: int too large to convert to float".into(),
                ));
            }
        }
        return Ok(Yaml::Float(sign * value));
    }
    Ok(Yaml::Float(sign * py_float(body)?))
}

/// The fields of a timestamp PyYAML constructs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// `None` for a date.
    pub time: Option<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time {
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
    /// UTC offset in minutes, `None` when naive.
    pub offset_minutes: Option<i32>,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// `construct_yaml_timestamp`, with Python's `datetime` range checks.
pub(crate) fn parse_timestamp(text: &str) -> Result<Timestamp, ConstructFail> {
    let parts = ts_parts(text)
        .or_else(|| text.strip_suffix('\n').and_then(ts_parts))
        .ok_or_else(|| {
            ConstructFail::Raised(
                "AttributeError: 'NoneType' object has no attribute 'groupdict'".into(),
            )
        })?;
    let num = |d: &str| -> u32 { d.parse().unwrap_or(0) };
    let year = i32::try_from(num(parts.year)).unwrap_or(0);
    let (month, day) = (num(parts.month), num(parts.day));
    let value_error = |what: &str| ConstructFail::Raised(format!("ValueError: {what}"));
    if !(1..=9999).contains(&year) {
        return Err(value_error(&format!("year {year} is out of range")));
    }
    if !(1..=12).contains(&month) {
        return Err(value_error("month must be in 1..12"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(value_error("day is out of range for month"));
    }
    let Some(t) = parts.time else {
        return Ok(Timestamp {
            year,
            month,
            day,
            time: None,
        });
    };
    let (hour, minute, second) = (num(t.hour), num(t.minute), num(t.second));
    if hour > 23 {
        return Err(value_error("hour must be in 0..23"));
    }
    if minute > 59 {
        return Err(value_error("minute must be in 0..59"));
    }
    if second > 59 {
        return Err(value_error("second must be in 0..59"));
    }
    let micro = t.fraction.filter(|f| !f.is_empty()).map_or(0, |f| {
        let mut f: String = f.chars().take(6).collect();
        while f.len() < 6 {
            f.push('0');
        }
        f.parse().unwrap_or(0)
    });
    let offset_minutes = match t.tz {
        None => None,
        Some((None, _, _)) => Some(0),
        Some((Some(sign), h, m)) => {
            let minutes = i32::try_from(num(h) * 60 + m.map_or(0, num)).unwrap_or(i32::MAX);
            if minutes >= 24 * 60 {
                return Err(value_error(
                    "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)",
                ));
            }
            Some(if sign == '-' { -minutes } else { minutes })
        }
    };
    Ok(Timestamp {
        year,
        month,
        day,
        time: Some(Time {
            hour,
            minute,
            second,
            micro,
            offset_minutes,
        }),
    })
}

impl Timestamp {
    /// Python's `str()` of the `date` or `datetime`.
    pub(crate) fn py_str(&self) -> String {
        let date = format!("{:04}-{:02}-{:02}", self.year, self.month, self.day);
        let Some(t) = self.time else {
            return date;
        };
        let mut s = format!("{date} {:02}:{:02}:{:02}", t.hour, t.minute, t.second);
        if t.micro != 0 {
            s.push_str(&format!(".{:06}", t.micro));
        }
        if let Some(off) = t.offset_minutes {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.abs();
            s.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
        }
        s
    }

    /// Python's `repr()`.
    pub(crate) fn py_repr(&self) -> String {
        let Some(t) = self.time else {
            return format!("datetime.date({}, {}, {})", self.year, self.month, self.day);
        };
        let mut s = format!(
            "datetime.datetime({}, {}, {}, {}, {}",
            self.year, self.month, self.day, t.hour, t.minute
        );
        if t.second != 0 || t.micro != 0 {
            s.push_str(&format!(", {}", t.second));
        }
        if t.micro != 0 {
            s.push_str(&format!(", {}", t.micro));
        }
        match t.offset_minutes {
            None => {}
            Some(0) => s.push_str(", tzinfo=datetime.timezone.utc"),
            Some(m) => {
                let secs = i64::from(m) * 60;
                let delta = if secs < 0 {
                    format!("days=-1, seconds={}", 86_400 + secs)
                } else {
                    format!("seconds={secs}")
                };
                s.push_str(&format!(
                    ", tzinfo=datetime.timezone(datetime.timedelta({delta}))"
                ));
            }
        }
        s.push(')');
        s
    }

    /// A key for Python's `==`: dates compare by day; aware datetimes by instant; naive ones
    /// by their fields. The first element keeps the three kinds apart.
    pub(crate) fn eq_key(&self) -> (u8, i64) {
        let days = days_from_civil(self.year, self.month, self.day);
        match self.time {
            None => (0, days),
            Some(t) => {
                let micros = ((days * 86_400
                    + i64::from(t.hour) * 3600
                    + i64::from(t.minute) * 60
                    + i64::from(t.second))
                    * 1_000_000)
                    + i64::from(t.micro);
                match t.offset_minutes {
                    None => (1, micros),
                    Some(off) => (2, micros - i64::from(off) * 60_000_000),
                }
            }
        }
    }
}

fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe
}

/// `construct_yaml_binary`: ASCII text, then Python's lenient `base64.decodebytes`.
pub(crate) fn construct_binary(v: &str) -> Result<Yaml, ConstructFail> {
    if !v.is_ascii() {
        return Err(ConstructFail::Marked(
            "failed to convert base64 data into ascii".into(),
        ));
    }
    let mut out = Vec::with_capacity(v.len() * 3 / 4);
    let mut quad = 0u8;
    let mut left: u8 = 0;
    let mut pads = 0;
    let mut count = 0usize;
    for b in v.bytes() {
        if b == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    return Ok(Yaml::Bytes(out));
                }
            }
            continue;
        }
        let val = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        pads = 0;
        count += 1;
        // Bytes come out as soon as they are complete, as in CPython's decoder.
        match quad {
            0 => left = val,
            1 => {
                out.push((left << 2) | (val >> 4));
                left = val & 0x0f;
            }
            2 => {
                out.push((left << 4) | (val >> 2));
                left = val & 0x03;
            }
            _ => out.push((left << 6) | val),
        }
        quad = (quad + 1) % 4;
    }
    match quad {
        0 => Ok(Yaml::Bytes(out)),
        1 => Err(ConstructFail::Marked(format!(
            "failed to decode base64 data: Invalid base64-encoded string: number of data characters ({count}) cannot be 1 more than a multiple of 4"
        ))),
        _ => Err(ConstructFail::Marked(
            "failed to decode base64 data: Incorrect padding".into(),
        )),
    }
}
