//! YAML output exactly as `opm` writes it: the JSON of each blob converted by `sigs.k8s.io/yaml`,
//! i.e. emitted by go-yaml v2.
//!
//! Why not manifest-bundle's emitter: that one reproduces PyYAML for operator-courier (never
//! folds, JSON-style double quotes). opm's output differs in every place a diff shows: keys sorted
//! in go-yaml's "natural" order (digit runs compared as numbers), plain scalars folded at column
//! 80, single quotes for strings that start with an indicator, go-yaml's escape set in double
//! quotes, YAML 1.1 resolution deciding what must be quoted. Parsing still goes through
//! manifest-bundle; this module only writes.

use crate::json::Value;
use std::cmp::Ordering;

/// go-yaml's default line width (`best_width`).
const BEST_WIDTH: usize = 80;
/// Keys longer than this (bytes) are written in the explicit `? key` form.
const MAX_SIMPLE_KEY: usize = 128;

/// One blob as a YAML document body (no leading `---`), ending with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
    };
    match v {
        Value::Object(o) if !o.is_empty() => e.mapping(o, 0, true),
        Value::Array(a) if !a.is_empty() => e.sequence(a, 0, true),
        other => e.scalar(other, 0, false),
    }
    e.out.push('\n');
    e.out
}

/// go-yaml v2's key order: letters after other characters, runs of digits compared as numbers.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

struct Emitter {
    out: String,
    /// Characters on the current line.
    column: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn put_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn break_line(&mut self, indent: usize) {
        self.out.push('\n');
        self.column = 0;
        for _ in 0..indent {
            self.put_char(' ');
        }
    }

    /// A mapping whose keys sit at column `indent`; the first key continues the current line
    /// when `inline`.
    fn mapping(&mut self, o: &crate::json::Object, indent: usize, inline: bool) {
        let mut entries: Vec<(&str, &Value)> = o.iter().collect();
        entries.sort_by(|a, b| natural_cmp(a.0, b.0));
        for (i, (k, v)) in entries.into_iter().enumerate() {
            if i > 0 || !inline {
                self.break_line(indent);
            }
            let simple = k.len() <= MAX_SIMPLE_KEY && !k.contains(['\n', '\r']);
            if simple {
                self.string(k, indent, true);
            } else {
                self.put("? ");
                self.string(k, indent + 2, false);
                self.break_line(indent);
            }
            self.put_char(':');
            match v {
                Value::Object(child) if !child.is_empty() => self.mapping(child, indent + 2, false),
                // Sequences in a mapping are not indented (go-yaml's indentless sequences).
                Value::Array(items) if !items.is_empty() => self.sequence(items, indent, false),
                scalar => {
                    self.put_char(' ');
                    self.scalar(scalar, indent + 2, false);
                }
            }
        }
    }

    fn sequence(&mut self, items: &[Value], indent: usize, inline: bool) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline {
                self.break_line(indent);
            }
            self.put("- ");
            match item {
                Value::Object(child) if !child.is_empty() => self.mapping(child, indent + 2, true),
                Value::Array(inner) if !inner.is_empty() => self.sequence(inner, indent + 2, true),
                scalar => self.scalar(scalar, indent + 2, false),
            }
        }
    }

    /// A scalar whose continuation lines are indented to `indent`.
    fn scalar(&mut self, v: &Value, indent: usize, key: bool) {
        match v {
            Value::Null => self.put("null"),
            Value::Bool(b) => self.put(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let s = yaml_number(n);
                self.put(&s);
            }
            Value::String(s) => self.string(s, indent, key),
            Value::Object(_) => self.put("{}"),
            Value::Array(_) => self.put("[]"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, key: bool) {
        match select_style(s, key) {
            Style::Plain => self.plain(s, indent, !key),
            Style::Single => self.single(s, indent, !key),
            Style::Double => self.double(s, indent, !key),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.break_line(indent);
                } else {
                    self.put_char(' ');
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
        }
    }

    fn single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put_char('\'');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && chars[i + 1] != ' '
                {
                    self.break_line(indent);
                } else {
                    self.put_char(' ');
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put_char('\'');
                }
                self.put_char(c);
                spaces = false;
            }
        }
        self.put_char('\'');
    }

    fn double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put_char('"');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put_char('\\');
                let esc = match c {
                    '\0' => "0".to_owned(),
                    '\u{7}' => "a".to_owned(),
                    '\u{8}' => "b".to_owned(),
                    '\t' => "t".to_owned(),
                    '\n' => "n".to_owned(),
                    '\u{b}' => "v".to_owned(),
                    '\u{c}' => "f".to_owned(),
                    '\r' => "r".to_owned(),
                    '\u{1b}' => "e".to_owned(),
                    '"' => "\"".to_owned(),
                    '\\' => "\\".to_owned(),
                    '\u{85}' => "N".to_owned(),
                    '\u{a0}' => "_".to_owned(),
                    '\u{2028}' => "L".to_owned(),
                    '\u{2029}' => "P".to_owned(),
                    c if (c as u32) <= 0xFF => format!("x{:02X}", c as u32),
                    c if (c as u32) <= 0xFFFF => format!("u{:04X}", c as u32),
                    c => format!("U{:08X}", c as u32),
                };
                self.put(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                {
                    self.break_line(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put_char('\\');
                    }
                } else {
                    self.put_char(' ');
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
        }
        self.put_char('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.put_char('|');
        if s.starts_with([' ', '\n']) {
            self.put("2");
        }
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s == "\n" || s.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        self.put(chomp);
        self.out.push('\n');
        self.column = 0;
        let mut at_line_start = true;
        for c in s.chars() {
            if c == '\n' {
                self.out.push('\n');
                self.column = 0;
                at_line_start = true;
            } else {
                if at_line_start {
                    for _ in 0..indent {
                        self.put_char(' ');
                    }
                    at_line_start = false;
                }
                self.put_char(c);
            }
        }
        // A literal that ends with a line break leaves the cursor at a line start; the next
        // node's line break must then not add an empty line.
        if s.ends_with('\n') {
            self.out.pop();
        }
    }
}

/// go-yaml writes JSON numbers after reading them back as YAML: integers as they are, floats
/// through Go's `%g`-style shortest formatting.
fn yaml_number(n: &str) -> String {
    if !n.contains(['.', 'e', 'E']) && (n.parse::<i64>().is_ok() || n.parse::<u64>().is_ok()) {
        return n.to_owned();
    }
    match n.parse::<f64>() {
        Ok(f) => go_format_g(f),
        Err(_) => n.to_owned(),
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_format_g(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // Shortest formatting switches to an exponent from 1e6 on (Go uses precision 6 here).
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's printable set (tab is not in it; neither is anything above U+FFFF).
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn select_style(s: &str, key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if resolves_to_non_string(s) || is_base60_float(s) {
        Style::Double
    } else {
        Style::Plain
    };
    let a = analyze(s);
    let mut style = requested;
    if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || key) {
        style = Style::Double;
    }
    // Line separators other than '\n' are only ever written escaped.
    if s.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']) {
        style = Style::Double;
    }
    style
}

struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let blankz =
        |i: usize| i >= chars.len() || matches!(chars[i], ' ' | '\t' | '\0') || is_break(chars[i]);
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
        (false, false, false, false);
    let mut line_breaks = false;
    let mut special = false;
    let mut preceded_by_whitespace = true;
    let mut followed_by_whitespace = blankz(1);
    for (i, &c) in chars.iter().enumerate() {
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == chars.len() {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == chars.len() {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = blankz(i);
        followed_by_whitespace = blankz(i + 2);
    }
    let mut a = Analysis {
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2 would read `s`, written plain, as anything but a string.
fn resolves_to_non_string(s: &str) -> bool {
    match s {
        "" | "~" | "null" | "Null" | "NULL" | "y" | "Y" | "yes" | "Yes" | "YES" | "true"
        | "True" | "TRUE" | "on" | "On" | "ON" | "n" | "N" | "no" | "No" | "NO" | "false"
        | "False" | "FALSE" | "off" | "Off" | "OFF" | ".nan" | ".NaN" | ".NAN" | ".inf"
        | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" => {
            return true;
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => go_parse_float(s),
        b'+' | b'-' | b'0'..=b'9' => {
            if is_timestamp(s) {
                return true;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            go_parse_int(&plain)
                || (is_yaml_style_float(&plain) && go_parse_float(&plain))
                || plain
                    .strip_prefix("0b")
                    .or_else(|| plain.strip_prefix("-0b"))
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b == b'0' || b == b'1'))
        }
        _ => false,
    }
}

/// `strconv.ParseInt(s, 0, 64)` or `ParseUint` succeeds (decimal, 0x, 0o, 0b, leading-0 octal).
fn go_parse_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let unsigned_ok = |b: &str, radix: u32| !b.is_empty() && u64::from_str_radix(b, radix).is_ok();
    let ok = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        unsigned_ok(h, 16)
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        unsigned_ok(o, 8)
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        unsigned_ok(b, 2)
    } else if body.len() > 1 && body.starts_with('0') {
        unsigned_ok(&body[1..], 8)
    } else {
        unsigned_ok(body, 10)
    };
    // Overflow of int64 with a '-' sign fails ParseInt; ParseUint refuses signs. Close enough:
    // such strings are quoted either way because the float rule matches them.
    ok
}

/// `strconv.ParseFloat(s, 64)` succeeds for decimal syntax (what reaches this check).
fn go_parse_float(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if matches!(body, "inf" | "infinity" | "nan") {
        return true;
    }
    is_yaml_style_float(s) || s.parse::<f64>().is_ok() && !s.contains(['i', 'I', 'n', 'N'])
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'.') {
        i = 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit() || b == b'_')) {
        return false;
    }
    let mut parts = main.split(':');
    let Some(first) = parts.next() else {
        return false;
    };
    if !first.starts_with(|c: char| c.is_ascii_digit())
        || !first.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    let mut n = 0;
    for p in parts {
        n += 1;
        let ok = match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, d] => (b'0'..=b'5').contains(a) && d.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    n > 0
}

/// go-yaml v2's timestamp formats: `YYYY-M-D`, with `T`/`t`/space and `H:M:S[.frac]`, a zone
/// (`Z` or `±hh:mm`) only after `T`/`t`.
#[allow(clippy::many_single_char_names)] // y-m-d h:m:s read like the format
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let (date, time, sep) = match rest.find(['T', 't', ' ']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..]), rest.as_bytes()[i]),
        None => (rest, None, 0),
    };
    let mut dp = date.split('-');
    let (Some(m), Some(d), None) = (dp.next(), dp.next(), dp.next()) else {
        return false;
    };
    let num = |x: &str, max: u32| {
        (1..=2).contains(&x.len())
            && x.bytes().all(|c| c.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|v| v <= max)
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    if !num(m, 12) || !num(d, 31) || m == "0" || m == "00" || d == "0" || d == "00" {
        return false;
    }
    let (month, day): (u32, u32) = (m.parse().unwrap_or(0), d.parse().unwrap_or(0));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days {
        return false;
    }
    let Some(time) = time else {
        return true;
    };
    let (clock, zone) = if sep == b' ' {
        (time, None)
    } else if let Some(c) = time.strip_suffix('Z') {
        (c, Some(""))
    } else if let Some(i) = time.rfind(['+', '-']) {
        (&time[..i], Some(&time[i..]))
    } else {
        return false;
    };
    if let Some(z) = zone.filter(|z| !z.is_empty()) {
        let zb = z.as_bytes();
        if zb.len() != 6
            || zb[3] != b':'
            || !z[1..3]
                .bytes()
                .chain(z[4..].bytes())
                .all(|c| c.is_ascii_digit())
        {
            return false;
        }
    }
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (clock, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    let mut tp = hms.split(':');
    let (Some(h), Some(mi), Some(se), None) = (tp.next(), tp.next(), tp.next(), tp.next()) else {
        return false;
    };
    num(h, 23) && num(mi, 59) && num(se, 59)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn y(json: &str) -> String {
        to_yaml(&parse(json, 64).unwrap())
    }

    #[test]
    fn quoting_follows_go_yaml_v2() {
        let cases = [
            ("abc", "abc"),
            ("", "\"\""),
            ("false", "\"false\""),
            ("y", "\"y\""),
            ("1.21", "\"1.21\""),
            ("0.0.2", "0.0.2"),
            ("2026-04-22T03:05:24Z", "\"2026-04-22T03:05:24Z\""),
            ("2021-01-27 09:00:00", "\"2021-01-27 09:00:00\""),
            (">=4.19", "'>=4.19'"),
            ("-", "'-'"),
            ("-x", "-x"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("it's", "it's"),
            ("'q'", "'''q'''"),
            (" lead", "' lead'"),
            ("tab\there", "\"tab\\there\""),
            ("1:30", "\"1:30\""),
            ("0x1F", "\"0x1F\""),
            ("08", "\"08\""),
            ("1e3", "\"1e3\""),
            ("v1", "v1"),
            ("Basic Install", "Basic Install"),
            ("😀", "\"\\U0001F600\""),
            ("é", "é"),
            ("~", "\"~\""),
            ("@x", "'@x'"),
            ("image/svg+xml", "image/svg+xml"),
        ];
        for (input, want) in cases {
            let got = y(&format!(
                "{{\"k\":{}}}",
                crate::json::to_compact(&Value::str(input))
            ));
            assert_eq!(got, format!("k: {want}\n"), "{input:?}");
        }
    }

    #[test]
    fn layout_matches_opm_output() {
        let json = r#"{"schema":"olm.bundle","name":"b","properties":[{"type":"olm.gvk","value":{"group":"g","kind":"K","version":"v1"}}],"relatedImages":[{"name":"","image":"x/y:1"}],"e":{},"f":[],"n":null,"i":8200,"fl":1.0,"nested":[[1,2],[]]}"#;
        assert_eq!(
            y(json),
            "e: {}\nf: []\nfl: 1\ni: 8200\n\"n\": null\nname: b\nnested:\n- - 1\n  - 2\n- []\nproperties:\n- type: olm.gvk\n  value:\n    group: g\n    kind: K\n    version: v1\nrelatedImages:\n- image: x/y:1\n  name: \"\"\nschema: olm.bundle\n"
        );
    }

    #[test]
    fn long_plain_scalars_fold_after_column_80() {
        // Real opm output (vault-helm CRD description under `- ` at indent 6).
        let json = r#"[{"description":"Provides Vault-Helm operators with values for the Vault Helm chart","displayName":"Vault Helm"}]"#;
        let mut v = parse(json, 64).unwrap();
        // Nest to put the dash at column 6, as in an olm.csv.metadata value.
        for key in ["owned", "crdDescriptions", "value", "top"] {
            let mut o = crate::json::Object::new();
            o.push(key, v);
            v = Value::Object(o);
        }
        let out = to_yaml(&v);
        assert!(
            out.contains("      owned:\n      - description: Provides Vault-Helm operators with values for the Vault Helm\n          chart\n        displayName: Vault Helm\n"),
            "{out}"
        );
    }

    #[test]
    fn literal_blocks_and_chomping() {
        assert_eq!(y(r#"{"k":"a\nb"}"#), "k: |-\n  a\n  b\n");
        assert_eq!(y(r#"{"k":"a\nb\n","z":1}"#), "k: |\n  a\n  b\nz: 1\n");
        assert_eq!(y(r#"{"k":"a\n\nb\n\n"}"#), "k: |+\n  a\n\n  b\n\n");
        assert_eq!(y(r#"{"k":" a\nb"}"#), "k: |2-\n   a\n  b\n");
        // A trailing space on a line forbids the block style.
        assert_eq!(y(r#"{"k":"a \nb"}"#), "k: \"a \\nb\"\n");
    }

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["b", "a10", "a2", "a-b", "ab", "A", "a_1", "a.b", "a"];
        keys.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            keys,
            ["A", "a", "a-b", "a.b", "a_1", "a2", "a10", "ab", "b"]
        );
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(go_format_g(1e6), "1e+06");
        assert_eq!(go_format_g(123_456.0), "123456");
        assert_eq!(go_format_g(0.0001), "0.0001");
        assert_eq!(go_format_g(0.000_01), "1e-05");
        assert_eq!(go_format_g(1.5), "1.5");
    }
}
