#![allow(clippy::format_push_string)] // a few short messages
//! PyYAML's implicit resolvers (YAML 1.1 regular expressions) and its scalar constructors,
//! including where they raise a Python exception.

use std::sync::LazyLock;

use regex::Regex;

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

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

static BOOL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
});
static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    )
});
static INT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    )
});
static NULL: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:~|null|Null|NULL|)$"));
static TIMESTAMP_RESOLVE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
    )
});
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?P<year>[0-9][0-9][0-9][0-9])-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)(?:(?:[Tt]|[ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9][0-9]):(?P<second>[0-9][0-9])(?:\.(?P<fraction>[0-9]*))?(?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9][0-9]))?))?)?$",
    )
});

/// Python's `re.match` with `^...$`: `$` also matches just before a final newline.
fn py_match(r: &Regex, s: &str) -> bool {
    r.is_match(s) || s.strip_suffix('\n').is_some_and(|t| r.is_match(t))
}

/// The tag PyYAML's resolver gives a plain (implicitly typed) scalar.
pub(crate) fn resolve_tag(value: &str) -> &'static str {
    let first = value.chars().next();
    #[allow(clippy::match_same_arms)] // one arm per first character, as PyYAML lists them
    let checks: &[(&str, &LazyLock<Regex>)] = match first {
        None => &[(TAG_NULL, &NULL)],
        Some('y' | 'Y' | 't' | 'T' | 'f' | 'F' | 'o' | 'O') => &[(TAG_BOOL, &BOOL)],
        Some('n' | 'N') => &[(TAG_BOOL, &BOOL), (TAG_NULL, &NULL)],
        Some('~') => &[(TAG_NULL, &NULL)],
        Some('-' | '+') => &[(TAG_FLOAT, &FLOAT), (TAG_INT, &INT)],
        Some('.') => &[(TAG_FLOAT, &FLOAT)],
        Some('0'..='9') => &[
            (TAG_FLOAT, &FLOAT),
            (TAG_INT, &INT),
            (TAG_TIMESTAMP, &TIMESTAMP_RESOLVE),
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
    for (tag, r) in checks {
        if py_match(r, value) {
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
    let caps = TIMESTAMP
        .captures(text)
        .or_else(|| text.strip_suffix('\n').and_then(|t| TIMESTAMP.captures(t)))
        .ok_or_else(|| {
            ConstructFail::Raised(
                "AttributeError: 'NoneType' object has no attribute 'groupdict'".into(),
            )
        })?;
    let num = |name: &str| -> u32 {
        caps.name(name)
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(0)
    };
    let year = i32::try_from(num("year")).unwrap_or(0);
    let (month, day) = (num("month"), num("day"));
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
    if caps.name("hour").is_none_or(|m| m.as_str().is_empty()) {
        return Ok(Timestamp {
            year,
            month,
            day,
            time: None,
        });
    }
    let (hour, minute, second) = (num("hour"), num("minute"), num("second"));
    if hour > 23 {
        return Err(value_error("hour must be in 0..23"));
    }
    if minute > 59 {
        return Err(value_error("minute must be in 0..59"));
    }
    if second > 59 {
        return Err(value_error("second must be in 0..59"));
    }
    let micro = caps
        .name("fraction")
        .map(|m| m.as_str())
        .filter(|f| !f.is_empty())
        .map_or(0, |f| {
            let mut f: String = f.chars().take(6).collect();
            while f.len() < 6 {
                f.push('0');
            }
            f.parse().unwrap_or(0)
        });
    let offset_minutes = if let Some(sign) = caps.name("tz_sign") {
        let minutes = i32::try_from(num("tz_hour") * 60 + num("tz_minute")).unwrap_or(i32::MAX);
        if minutes >= 24 * 60 {
            return Err(value_error(
                "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)",
            ));
        }
        Some(if sign.as_str() == "-" {
            -minutes
        } else {
            minutes
        })
    } else if caps.name("tz").is_some() {
        Some(0)
    } else {
        None
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
