//! Tokens, scanned with the acceptance rules of PyYAML's pure-Python scanner (what
//! operator-courier's `yaml.safe_load` uses), which are laxer than YAML 1.2 in places (quoted
//! continuation lines at any column) and stricter in others (a tab after a plain value).

use std::collections::VecDeque;

/// A position in the text: char index, 0-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScalarStyle {
    /// No quotes.
    Plain,
    /// `'...'`
    SingleQuoted,
    /// `"..."`
    DoubleQuoted,
    /// `|`
    Literal,
    /// `>`
    Folded,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    StreamStart,
    StreamEnd,
    Directive(String, Option<(u64, u64)>, Option<(String, String)>),
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowMappingStart,
    FlowSequenceEnd,
    FlowMappingEnd,
    Key,
    Value,
    BlockEntry,
    FlowEntry,
    Alias(String),
    Anchor(String),
    /// `(handle, suffix)`; the handle is `None` for verbatim tags and a lone `!`.
    Tag(Option<String>, String),
    Scalar(String, ScalarStyle),
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: Mark,
    pub end: Mark,
}

/// A scanner error: where and what.
#[derive(Debug, Clone)]
pub(crate) struct ScanError {
    pub mark: Mark,
    pub message: String,
    /// A Python exception other than PyYAML's own (courier stops with a traceback).
    pub raised: bool,
}

type Result<T> = std::result::Result<T, ScanError>;

struct SimpleKey {
    token_number: usize,
    required: bool,
    index: usize,
    line: usize,
    column: usize,
    mark: Mark,
}

const BREAKS: &[char] = &['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}'];

fn is_break(c: char) -> bool {
    BREAKS.contains(&c)
}

/// `'\0'` (end), space, tab or a line break.
fn is_blank_end(c: char) -> bool {
    c == '\0' || c == ' ' || c == '\t' || is_break(c)
}

fn is_break_end(c: char) -> bool {
    c == '\0' || is_break(c)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

pub(crate) struct Scanner {
    chars: Vec<char>,
    pos: usize,
    mark: Mark,
    done: bool,
    flow_level: usize,
    tokens: VecDeque<Token>,
    tokens_taken: usize,
    indent: isize,
    indents: Vec<isize>,
    allow_simple_key: bool,
    /// Possible simple keys by flow level (a `BTreeMap` keeps lookups ordered and small).
    possible: std::collections::BTreeMap<usize, SimpleKey>,
}

impl Scanner {
    pub fn new(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.push('\0');
        let mut s = Scanner {
            chars,
            pos: 0,
            mark: Mark::default(),
            done: false,
            flow_level: 0,
            tokens: VecDeque::new(),
            tokens_taken: 0,
            indent: -1,
            indents: Vec::new(),
            allow_simple_key: true,
            possible: std::collections::BTreeMap::new(),
        };
        let m = s.mark;
        s.tokens.push_back(Token {
            tok: Tok::StreamStart,
            start: m,
            end: m,
        });
        s
    }

    // --- reader

    fn peek(&self, k: usize) -> char {
        self.chars.get(self.pos + k).copied().unwrap_or('\0')
    }

    fn prefix(&self, len: usize) -> String {
        let end = (self.pos + len).min(self.chars.len());
        self.chars[self.pos..end].iter().collect()
    }

    fn prefix_is(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.peek(i) == c)
    }

    fn forward(&mut self, n: usize) {
        for _ in 0..n {
            let Some(&ch) = self.chars.get(self.pos) else {
                return;
            };
            if ch == '\0' && self.pos + 1 == self.chars.len() {
                return;
            }
            self.pos += 1;
            self.mark.index += 1;
            if matches!(ch, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
                || (ch == '\r' && self.peek(0) != '\n')
            {
                self.mark.line += 1;
                self.mark.column = 0;
            } else if ch != '\u{feff}' {
                self.mark.column += 1;
            }
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(ScanError {
            mark: self.mark,
            message: message.into(),
            raised: false,
        })
    }

    fn err_at<T>(mark: Mark, message: impl Into<String>) -> Result<T> {
        Err(ScanError {
            mark,
            message: message.into(),
            raised: false,
        })
    }

    // --- public interface

    /// The next token without taking it.
    pub fn peek_token(&mut self) -> Result<&Token> {
        self.fill()?;
        Ok(self.tokens.front().expect("a token after fill"))
    }

    /// Takes the next token.
    pub fn next_token(&mut self) -> Result<Token> {
        self.fill()?;
        self.tokens_taken += 1;
        Ok(self.tokens.pop_front().expect("a token after fill"))
    }

    fn fill(&mut self) -> Result<()> {
        while self.need_more_tokens()? {
            self.fetch_more_tokens()?;
        }
        if self.tokens.is_empty() {
            // After StreamEnd was taken: keep answering StreamEnd.
            self.tokens.push_back(Token {
                tok: Tok::StreamEnd,
                start: self.mark,
                end: self.mark,
            });
        }
        Ok(())
    }

    fn need_more_tokens(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        if self.tokens.is_empty() {
            return Ok(true);
        }
        self.stale_possible_simple_keys()?;
        Ok(self.next_possible_simple_key() == Some(self.tokens_taken))
    }

    fn next_possible_simple_key(&self) -> Option<usize> {
        self.possible.values().map(|k| k.token_number).min()
    }

    fn stale_possible_simple_keys(&mut self) -> Result<()> {
        let mut stale = Vec::new();
        for (level, key) in &self.possible {
            if key.line != self.mark.line || self.mark.index - key.index > 1024 {
                if key.required {
                    return Self::err_at(self.mark, "could not find expected ':'");
                }
                stale.push(*level);
            }
        }
        for level in stale {
            self.possible.remove(&level);
        }
        Ok(())
    }

    fn save_possible_simple_key(&mut self) -> Result<()> {
        let required = self.flow_level == 0 && self.indent == col(self.mark.column);
        if self.allow_simple_key {
            self.remove_possible_simple_key()?;
            let key = SimpleKey {
                token_number: self.tokens_taken + self.tokens.len(),
                required,
                index: self.mark.index,
                line: self.mark.line,
                column: self.mark.column,
                mark: self.mark,
            };
            self.possible.insert(self.flow_level, key);
        }
        Ok(())
    }

    fn remove_possible_simple_key(&mut self) -> Result<()> {
        if let Some(key) = self.possible.remove(&self.flow_level) {
            if key.required {
                return Self::err_at(key.mark, "could not find expected ':'");
            }
        }
        Ok(())
    }

    fn unwind_indent(&mut self, column: isize) {
        if self.flow_level > 0 {
            return;
        }
        while self.indent > column {
            self.indent = self.indents.pop().unwrap_or(-1);
            self.push(Tok::BlockEnd, self.mark, self.mark);
        }
    }

    fn add_indent(&mut self, column: usize) -> bool {
        let column = col(column);
        if self.indent < column {
            self.indents.push(self.indent);
            self.indent = column;
            true
        } else {
            false
        }
    }

    fn push(&mut self, tok: Tok, start: Mark, end: Mark) {
        self.tokens.push_back(Token { tok, start, end });
    }

    fn insert(&mut self, token_number: usize, tok: Tok, mark: Mark) {
        let at = token_number - self.tokens_taken;
        self.tokens.insert(
            at,
            Token {
                tok,
                start: mark,
                end: mark,
            },
        );
    }

    #[allow(clippy::too_many_lines)]
    fn fetch_more_tokens(&mut self) -> Result<()> {
        self.scan_to_next_token();
        self.stale_possible_simple_keys()?;
        self.unwind_indent(col(self.mark.column));
        let ch = self.peek(0);
        let at_end = ch == '\0' && self.pos + 1 >= self.chars.len();
        if at_end {
            return self.fetch_stream_end();
        }
        let col0 = self.mark.column == 0;
        match ch {
            '%' if col0 => return self.fetch_directive(),
            '-' if col0 && self.prefix_is("---") && is_blank_end(self.peek(3)) => {
                return self.fetch_document_indicator(Tok::DocumentStart);
            }
            '.' if col0 && self.prefix_is("...") && is_blank_end(self.peek(3)) => {
                return self.fetch_document_indicator(Tok::DocumentEnd);
            }
            '[' => return self.fetch_flow_collection_start(Tok::FlowSequenceStart),
            '{' => return self.fetch_flow_collection_start(Tok::FlowMappingStart),
            ']' => return self.fetch_flow_collection_end(Tok::FlowSequenceEnd),
            '}' => return self.fetch_flow_collection_end(Tok::FlowMappingEnd),
            ',' => return self.fetch_flow_entry(),
            '-' if is_blank_end(self.peek(1)) => return self.fetch_block_entry(),
            '?' if self.flow_level > 0 || is_blank_end(self.peek(1)) => return self.fetch_key(),
            ':' if self.flow_level > 0 || is_blank_end(self.peek(1)) => {
                return self.fetch_value();
            }
            '*' => {
                self.save_possible_simple_key()?;
                self.allow_simple_key = false;
                let t = self.scan_anchor(true)?;
                self.tokens.push_back(t);
                return Ok(());
            }
            '&' => {
                self.save_possible_simple_key()?;
                self.allow_simple_key = false;
                let t = self.scan_anchor(false)?;
                self.tokens.push_back(t);
                return Ok(());
            }
            '!' => {
                self.save_possible_simple_key()?;
                self.allow_simple_key = false;
                let t = self.scan_tag()?;
                self.tokens.push_back(t);
                return Ok(());
            }
            '|' | '>' if self.flow_level == 0 => {
                self.allow_simple_key = true;
                self.remove_possible_simple_key()?;
                let t = self.scan_block_scalar(ch == '>')?;
                self.tokens.push_back(t);
                return Ok(());
            }
            '\'' | '"' => {
                self.save_possible_simple_key()?;
                self.allow_simple_key = false;
                let t = self.scan_flow_scalar(ch == '"')?;
                self.tokens.push_back(t);
                return Ok(());
            }
            _ => {}
        }
        if self.check_plain() {
            self.save_possible_simple_key()?;
            self.allow_simple_key = false;
            let t = self.scan_plain();
            self.tokens.push_back(t);
            return Ok(());
        }
        self.err(format!(
            "found character {} that cannot start any token",
            py_repr_char(ch)
        ))
    }

    fn fetch_stream_end(&mut self) -> Result<()> {
        self.unwind_indent(-1);
        self.remove_possible_simple_key()?;
        self.allow_simple_key = false;
        self.possible.clear();
        self.push(Tok::StreamEnd, self.mark, self.mark);
        self.done = true;
        Ok(())
    }

    fn fetch_directive(&mut self) -> Result<()> {
        self.unwind_indent(-1);
        self.remove_possible_simple_key()?;
        self.allow_simple_key = false;
        let t = self.scan_directive()?;
        self.tokens.push_back(t);
        Ok(())
    }

    fn fetch_document_indicator(&mut self, tok: Tok) -> Result<()> {
        self.unwind_indent(-1);
        self.remove_possible_simple_key()?;
        self.allow_simple_key = false;
        let start = self.mark;
        self.forward(3);
        self.push(tok, start, self.mark);
        Ok(())
    }

    fn fetch_flow_collection_start(&mut self, tok: Tok) -> Result<()> {
        self.save_possible_simple_key()?;
        self.flow_level += 1;
        self.allow_simple_key = true;
        let start = self.mark;
        self.forward(1);
        self.push(tok, start, self.mark);
        Ok(())
    }

    fn fetch_flow_collection_end(&mut self, tok: Tok) -> Result<()> {
        self.remove_possible_simple_key()?;
        // PyYAML lets the level go negative on a stray closer; the parser then refuses the token.
        self.flow_level = self.flow_level.saturating_sub(1);
        self.allow_simple_key = false;
        let start = self.mark;
        self.forward(1);
        self.push(tok, start, self.mark);
        Ok(())
    }

    fn fetch_flow_entry(&mut self) -> Result<()> {
        self.allow_simple_key = true;
        self.remove_possible_simple_key()?;
        let start = self.mark;
        self.forward(1);
        self.push(Tok::FlowEntry, start, self.mark);
        Ok(())
    }

    fn fetch_block_entry(&mut self) -> Result<()> {
        if self.flow_level == 0 {
            if !self.allow_simple_key {
                return self.err("sequence entries are not allowed here");
            }
            if self.add_indent(self.mark.column) {
                self.push(Tok::BlockSequenceStart, self.mark, self.mark);
            }
        }
        self.allow_simple_key = true;
        self.remove_possible_simple_key()?;
        let start = self.mark;
        self.forward(1);
        self.push(Tok::BlockEntry, start, self.mark);
        Ok(())
    }

    fn fetch_key(&mut self) -> Result<()> {
        if self.flow_level == 0 {
            if !self.allow_simple_key {
                return self.err("mapping keys are not allowed here");
            }
            if self.add_indent(self.mark.column) {
                self.push(Tok::BlockMappingStart, self.mark, self.mark);
            }
        }
        self.allow_simple_key = self.flow_level == 0;
        self.remove_possible_simple_key()?;
        let start = self.mark;
        self.forward(1);
        self.push(Tok::Key, start, self.mark);
        Ok(())
    }

    fn fetch_value(&mut self) -> Result<()> {
        if let Some(key) = self.possible.remove(&self.flow_level) {
            self.insert(key.token_number, Tok::Key, key.mark);
            if self.flow_level == 0 && self.add_indent(key.column) {
                self.insert(key.token_number, Tok::BlockMappingStart, key.mark);
            }
            self.allow_simple_key = false;
        } else {
            if self.flow_level == 0 {
                if !self.allow_simple_key {
                    return self.err("mapping values are not allowed here");
                }
                if self.add_indent(self.mark.column) {
                    self.push(Tok::BlockMappingStart, self.mark, self.mark);
                }
            }
            self.allow_simple_key = self.flow_level == 0;
            self.remove_possible_simple_key()?;
        }
        let start = self.mark;
        self.forward(1);
        self.push(Tok::Value, start, self.mark);
        Ok(())
    }

    fn check_plain(&self) -> bool {
        let ch = self.peek(0);
        let indicator = is_blank_end(ch) || "-?:,[]{}#&*!|>'\"%@`".contains(ch);
        !indicator
            || (!is_blank_end(self.peek(1))
                && (ch == '-' || (self.flow_level == 0 && (ch == '?' || ch == ':'))))
    }

    fn scan_to_next_token(&mut self) {
        if self.mark.index == 0 && self.peek(0) == '\u{feff}' {
            self.forward(1);
        }
        loop {
            while self.peek(0) == ' ' {
                self.forward(1);
            }
            if self.peek(0) == '#' {
                while !is_break_end(self.peek(0)) {
                    self.forward(1);
                }
            }
            if self.scan_line_break().is_empty() {
                break;
            }
            if self.flow_level == 0 {
                self.allow_simple_key = true;
            }
        }
    }

    fn scan_line_break(&mut self) -> String {
        match self.peek(0) {
            '\r' | '\n' | '\u{85}' => {
                if self.peek(0) == '\r' && self.peek(1) == '\n' {
                    self.forward(2);
                } else {
                    self.forward(1);
                }
                "\n".into()
            }
            c @ ('\u{2028}' | '\u{2029}') => {
                self.forward(1);
                c.to_string()
            }
            _ => String::new(),
        }
    }

    fn scan_directive(&mut self) -> Result<Token> {
        let start = self.mark;
        self.forward(1);
        let name = self.scan_directive_name()?;
        let (mut version, mut tag) = (None, None);
        let end;
        if name == "YAML" {
            version = Some(self.scan_yaml_directive_value()?);
            end = self.mark;
        } else if name == "TAG" {
            tag = Some(self.scan_tag_directive_value()?);
            end = self.mark;
        } else {
            end = self.mark;
            while !is_break_end(self.peek(0)) {
                self.forward(1);
            }
        }
        // ignored line
        while self.peek(0) == ' ' {
            self.forward(1);
        }
        if self.peek(0) == '#' {
            while !is_break_end(self.peek(0)) {
                self.forward(1);
            }
        }
        if !is_break_end(self.peek(0)) {
            return self.err(format!(
                "expected a comment or a line break, but found {}",
                py_repr_char(self.peek(0))
            ));
        }
        self.scan_line_break();
        Ok(Token {
            tok: Tok::Directive(name, version, tag),
            start,
            end,
        })
    }

    fn scan_directive_name(&mut self) -> Result<String> {
        let mut len = 0;
        while is_word(self.peek(len)) {
            len += 1;
        }
        if len == 0 {
            return self.err("expected alphabetic or numeric character");
        }
        let name = self.prefix(len);
        self.forward(len);
        if !(self.peek(0) == '\0' || self.peek(0) == ' ' || is_break(self.peek(0))) {
            return self.err("expected alphabetic or numeric character");
        }
        Ok(name)
    }

    fn scan_yaml_directive_value(&mut self) -> Result<(u64, u64)> {
        while self.peek(0) == ' ' {
            self.forward(1);
        }
        let major = self.scan_version_number()?;
        if self.peek(0) != '.' {
            return self.err("expected a digit or '.'");
        }
        self.forward(1);
        let minor = self.scan_version_number()?;
        if !(self.peek(0) == '\0' || self.peek(0) == ' ' || is_break(self.peek(0))) {
            return self.err("expected a digit or ' '");
        }
        Ok((major, minor))
    }

    fn scan_version_number(&mut self) -> Result<u64> {
        if !self.peek(0).is_ascii_digit() {
            return self.err("expected a digit");
        }
        let mut len = 0;
        while self.peek(len).is_ascii_digit() {
            len += 1;
        }
        let text = self.prefix(len);
        self.forward(len);
        // Python's int() is unbounded; anything past u64 is certainly not version 1.
        Ok(text.parse().unwrap_or(u64::MAX))
    }

    fn scan_tag_directive_value(&mut self) -> Result<(String, String)> {
        while self.peek(0) == ' ' {
            self.forward(1);
        }
        let handle = self.scan_tag_handle()?;
        if self.peek(0) != ' ' {
            return self.err("expected ' '");
        }
        while self.peek(0) == ' ' {
            self.forward(1);
        }
        let prefix = self.scan_tag_uri()?;
        if !(self.peek(0) == '\0' || self.peek(0) == ' ' || is_break(self.peek(0))) {
            return self.err("expected ' '");
        }
        Ok((handle, prefix))
    }

    fn scan_anchor(&mut self, alias: bool) -> Result<Token> {
        let start = self.mark;
        self.forward(1);
        let mut len = 0;
        while is_word(self.peek(len)) {
            len += 1;
        }
        if len == 0 {
            return self.err("expected alphabetic or numeric character");
        }
        let name = self.prefix(len);
        self.forward(len);
        let ch = self.peek(0);
        if !(is_blank_end(ch) || "?:,]}%@`".contains(ch)) {
            return self.err(format!(
                "expected alphabetic or numeric character, but found {}",
                py_repr_char(ch)
            ));
        }
        let tok = if alias {
            Tok::Alias(name)
        } else {
            Tok::Anchor(name)
        };
        Ok(Token {
            tok,
            start,
            end: self.mark,
        })
    }

    fn scan_tag(&mut self) -> Result<Token> {
        let start = self.mark;
        let ch = self.peek(1);
        let (handle, suffix);
        if ch == '<' {
            self.forward(2);
            suffix = self.scan_tag_uri()?;
            if self.peek(0) != '>' {
                return self.err("expected '>'");
            }
            self.forward(1);
            handle = None;
        } else if is_blank_end(ch) {
            handle = None;
            suffix = "!".to_owned();
            self.forward(1);
        } else {
            let mut len = 1;
            let mut use_handle = false;
            let mut c = ch;
            while !(c == '\0' || c == ' ' || is_break(c)) {
                if c == '!' {
                    use_handle = true;
                    break;
                }
                len += 1;
                c = self.peek(len);
            }
            if use_handle {
                handle = Some(self.scan_tag_handle()?);
            } else {
                handle = Some("!".to_owned());
                self.forward(1);
            }
            suffix = self.scan_tag_uri()?;
        }
        let c = self.peek(0);
        if !(c == '\0' || c == ' ' || is_break(c)) {
            return self.err(format!("expected ' ', but found {}", py_repr_char(c)));
        }
        Ok(Token {
            tok: Tok::Tag(handle, suffix),
            start,
            end: self.mark,
        })
    }

    fn scan_tag_handle(&mut self) -> Result<String> {
        if self.peek(0) != '!' {
            return self.err("expected '!'");
        }
        let mut len = 1;
        if self.peek(len) != ' ' {
            while is_word(self.peek(len)) {
                len += 1;
            }
            if self.peek(len) != '!' {
                self.forward(len);
                return self.err("expected '!'");
            }
            len += 1;
        }
        let handle = self.prefix(len);
        self.forward(len);
        Ok(handle)
    }

    fn scan_tag_uri(&mut self) -> Result<String> {
        let mut out = String::new();
        loop {
            let c = self.peek(0);
            if c == '%' {
                let mut bytes = Vec::new();
                while self.peek(0) == '%' {
                    self.forward(1);
                    let hex = self.prefix(2);
                    if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        return self.err("expected URI escape sequence of 2 hexadecimal numbers");
                    }
                    bytes.push(u8::from_str_radix(&hex, 16).unwrap_or(0));
                    self.forward(2);
                }
                match String::from_utf8(bytes) {
                    Ok(s) => out.push_str(&s),
                    Err(_) => return self.err("invalid UTF-8 in a URI escape"),
                }
            } else if c.is_ascii_alphanumeric() || "-;/?:@&=+$,_.!~*'()[]".contains(c) {
                out.push(c);
                self.forward(1);
            } else {
                break;
            }
        }
        if out.is_empty() {
            return self.err("expected URI");
        }
        Ok(out)
    }

    #[allow(clippy::too_many_lines)] // one token kind
    fn scan_block_scalar(&mut self, folded: bool) -> Result<Token> {
        let start = self.mark;
        self.forward(1);
        // indicators
        let mut chomping: Option<bool> = None;
        let mut increment: Option<usize> = None;
        let c = self.peek(0);
        if c == '+' || c == '-' {
            chomping = Some(c == '+');
            self.forward(1);
            if let Some(d) = self.peek(0).to_digit(10) {
                if d == 0 {
                    return self
                        .err("expected indentation indicator in the range 1-9, but found 0");
                }
                increment = Some(d as usize);
                self.forward(1);
            }
        } else if let Some(d) = c.to_digit(10) {
            if d == 0 {
                return self.err("expected indentation indicator in the range 1-9, but found 0");
            }
            increment = Some(d as usize);
            self.forward(1);
            let c = self.peek(0);
            if c == '+' || c == '-' {
                chomping = Some(c == '+');
                self.forward(1);
            }
        }
        let c = self.peek(0);
        if !(c == '\0' || c == ' ' || is_break(c)) {
            return self.err(format!(
                "expected chomping or indentation indicators, but found {}",
                py_repr_char(c)
            ));
        }
        // ignored line
        while self.peek(0) == ' ' {
            self.forward(1);
        }
        if self.peek(0) == '#' {
            while !is_break_end(self.peek(0)) {
                self.forward(1);
            }
        }
        if !is_break_end(self.peek(0)) {
            return self.err(format!(
                "expected a comment or a line break, but found {}",
                py_repr_char(self.peek(0))
            ));
        }
        self.scan_line_break();

        let min_indent = usize::try_from(self.indent + 1).unwrap_or(0).max(1);
        let (mut breaks, indent) = if let Some(inc) = increment {
            let indent = min_indent + inc - 1;
            (self.scan_block_scalar_breaks(indent), indent)
        } else {
            let mut breaks = Vec::new();
            let mut max_indent = 0;
            while self.peek(0) == ' ' || is_break(self.peek(0)) {
                if self.peek(0) == ' ' {
                    self.forward(1);
                    max_indent = max_indent.max(self.mark.column);
                } else {
                    breaks.push(self.scan_line_break());
                }
            }
            (breaks, min_indent.max(max_indent))
        };
        let mut chunks = String::new();
        let mut line_break = String::new();
        let mut end = self.mark;
        while self.mark.column == indent && !self.at_end() {
            for b in &breaks {
                chunks.push_str(b);
            }
            let leading_non_space = !matches!(self.peek(0), ' ' | '\t');
            let mut len = 0;
            while !is_break_end_or_eof(self, len) {
                len += 1;
            }
            chunks.push_str(&self.prefix(len));
            self.forward(len);
            line_break = self.scan_line_break();
            breaks = self.scan_block_scalar_breaks(indent);
            end = self.mark;
            if self.mark.column == indent && !self.at_end() {
                if folded
                    && line_break == "\n"
                    && leading_non_space
                    && !matches!(self.peek(0), ' ' | '\t')
                {
                    if breaks.is_empty() {
                        chunks.push(' ');
                    }
                } else {
                    chunks.push_str(&line_break);
                }
            } else {
                break;
            }
        }
        if chomping != Some(false) {
            chunks.push_str(&line_break);
        }
        if chomping == Some(true) {
            for b in &breaks {
                chunks.push_str(b);
            }
        }
        let _ = end;
        let style = if folded {
            ScalarStyle::Folded
        } else {
            ScalarStyle::Literal
        };
        Ok(Token {
            tok: Tok::Scalar(chunks, style),
            start,
            end: self.mark,
        })
    }

    /// Whether the reader is at the end of the text (PyYAML's `'\0'` sentinel; a NUL inside the
    /// text never gets here, the reader refuses it first).
    fn at_end(&self) -> bool {
        self.peek(0) == '\0'
    }

    fn scan_block_scalar_breaks(&mut self, indent: usize) -> Vec<String> {
        let mut chunks = Vec::new();
        while self.mark.column < indent && self.peek(0) == ' ' {
            self.forward(1);
        }
        while is_break(self.peek(0)) {
            chunks.push(self.scan_line_break());
            while self.mark.column < indent && self.peek(0) == ' ' {
                self.forward(1);
            }
        }
        chunks
    }

    fn scan_flow_scalar(&mut self, double: bool) -> Result<Token> {
        let start = self.mark;
        let quote = self.peek(0);
        self.forward(1);
        let mut chunks = String::new();
        self.scan_flow_scalar_non_spaces(double, &mut chunks)?;
        while self.peek(0) != quote {
            self.scan_flow_scalar_spaces(double, &mut chunks, start)?;
            self.scan_flow_scalar_non_spaces(double, &mut chunks)?;
        }
        self.forward(1);
        let style = if double {
            ScalarStyle::DoubleQuoted
        } else {
            ScalarStyle::SingleQuoted
        };
        Ok(Token {
            tok: Tok::Scalar(chunks, style),
            start,
            end: self.mark,
        })
    }

    fn scan_flow_scalar_non_spaces(&mut self, double: bool, out: &mut String) -> Result<()> {
        loop {
            let mut len = 0;
            while !matches!(
                self.peek(len),
                '\'' | '"'
                    | '\\'
                    | '\0'
                    | ' '
                    | '\t'
                    | '\r'
                    | '\n'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            ) {
                len += 1;
            }
            if len > 0 {
                out.push_str(&self.prefix(len));
                self.forward(len);
            }
            let ch = self.peek(0);
            if !double && ch == '\'' && self.peek(1) == '\'' {
                out.push('\'');
                self.forward(2);
            } else if (double && ch == '\'') || (!double && (ch == '"' || ch == '\\')) {
                out.push(ch);
                self.forward(1);
            } else if double && ch == '\\' {
                self.forward(1);
                let e = self.peek(0);
                let simple = match e {
                    '0' => Some('\0'),
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    't' | '\t' => Some('\t'),
                    'n' => Some('\n'),
                    'v' => Some('\u{b}'),
                    'f' => Some('\u{c}'),
                    'r' => Some('\r'),
                    'e' => Some('\u{1b}'),
                    ' ' => Some(' '),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '/' => Some('/'),
                    'N' => Some('\u{85}'),
                    '_' => Some('\u{a0}'),
                    'L' => Some('\u{2028}'),
                    'P' => Some('\u{2029}'),
                    _ => None,
                };
                if let Some(c) = simple {
                    out.push(c);
                    self.forward(1);
                } else if let Some(n) = match e {
                    'x' => Some(2),
                    'u' => Some(4),
                    'U' => Some(8),
                    _ => None,
                } {
                    self.forward(1);
                    for k in 0..n {
                        if !self.peek(k).is_ascii_hexdigit() {
                            return self.err(format!(
                                "expected escape sequence of {n} hexadecimal numbers, but found {}",
                                py_repr_char(self.peek(k))
                            ));
                        }
                    }
                    let code = u32::from_str_radix(&self.prefix(n), 16).unwrap_or(u32::MAX);
                    // Python's chr() refuses code points past U+10FFFF (ValueError, not a
                    // YAML error) and accepts lone surrogates, which a Rust string cannot
                    // hold: they become U+FFFD.
                    if code > 0x10_ffff {
                        return Err(ScanError {
                            mark: self.mark,
                            message: format!(
                                "ValueError: chr() arg not in range(0x110000): {code:#x}"
                            ),
                            raised: true,
                        });
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    self.forward(n);
                } else if is_break(e) {
                    self.scan_line_break();
                    self.scan_flow_scalar_breaks(out)?;
                } else {
                    return self.err(format!(
                        "found unknown escape character {}",
                        py_repr_char(e)
                    ));
                }
            } else {
                return Ok(());
            }
        }
    }

    fn scan_flow_scalar_spaces(
        &mut self,
        _double: bool,
        out: &mut String,
        start: Mark,
    ) -> Result<()> {
        let mut len = 0;
        while matches!(self.peek(len), ' ' | '\t') {
            len += 1;
        }
        let whitespace = self.prefix(len);
        self.forward(len);
        let ch = self.peek(0);
        if self.at_end() {
            let _ = start;
            return self.err("found unexpected end of stream while scanning a quoted scalar");
        } else if is_break(ch) {
            let line_break = self.scan_line_break();
            let mut breaks = String::new();
            self.scan_flow_scalar_breaks(&mut breaks)?;
            if line_break != "\n" {
                out.push_str(&line_break);
            } else if breaks.is_empty() {
                out.push(' ');
            }
            out.push_str(&breaks);
        } else {
            out.push_str(&whitespace);
        }
        Ok(())
    }

    fn scan_flow_scalar_breaks(&mut self, out: &mut String) -> Result<()> {
        loop {
            if (self.prefix_is("---") || self.prefix_is("...")) && is_blank_end(self.peek(3)) {
                return self.err("found unexpected document separator");
            }
            while matches!(self.peek(0), ' ' | '\t') {
                self.forward(1);
            }
            if is_break(self.peek(0)) {
                let b = self.scan_line_break();
                out.push_str(&b);
            } else {
                return Ok(());
            }
        }
    }

    fn scan_plain(&mut self) -> Token {
        let start = self.mark;
        let mut end = start;
        let indent = self.indent + 1;
        let mut chunks = String::new();
        let mut spaces: Option<String> = Some(String::new());
        loop {
            if self.peek(0) == '#' {
                break;
            }
            let mut len = 0;
            loop {
                let ch = self.peek(len);
                if is_blank_end(ch)
                    || (ch == ':'
                        && (is_blank_end(self.peek(len + 1))
                            || (self.flow_level > 0 && ",[]{}".contains(self.peek(len + 1)))))
                    || (self.flow_level > 0 && ",?[]{}".contains(ch))
                {
                    break;
                }
                len += 1;
            }
            if len == 0 {
                break;
            }
            self.allow_simple_key = false;
            if let Some(s) = &spaces {
                chunks.push_str(s);
            }
            chunks.push_str(&self.prefix(len));
            self.forward(len);
            end = self.mark;
            spaces = self.scan_plain_spaces();
            match &spaces {
                None => break,
                Some(s) if s.is_empty() => break,
                Some(_) => {}
            }
            if self.peek(0) == '#' || (self.flow_level == 0 && col(self.mark.column) < indent) {
                break;
            }
        }
        Token {
            tok: Tok::Scalar(chunks, ScalarStyle::Plain),
            start,
            end,
        }
    }

    /// `None` where PyYAML returns nothing (a document marker follows a line break).
    fn scan_plain_spaces(&mut self) -> Option<String> {
        let mut len = 0;
        while self.peek(len) == ' ' {
            len += 1;
        }
        let whitespace = self.prefix(len);
        self.forward(len);
        let ch = self.peek(0);
        let mut out = String::new();
        if is_break(ch) {
            let line_break = self.scan_line_break();
            self.allow_simple_key = true;
            let marker =
                |s: &Self| (s.prefix_is("---") || s.prefix_is("...")) && is_blank_end(s.peek(3));
            if marker(self) {
                return None;
            }
            let mut breaks = String::new();
            while self.peek(0) == ' ' || is_break(self.peek(0)) {
                if self.peek(0) == ' ' {
                    self.forward(1);
                } else {
                    breaks.push_str(&self.scan_line_break());
                    if marker(self) {
                        return None;
                    }
                }
            }
            if line_break != "\n" {
                out.push_str(&line_break);
            } else if breaks.is_empty() {
                out.push(' ');
            }
            out.push_str(&breaks);
        } else if !whitespace.is_empty() {
            out.push_str(&whitespace);
        }
        Some(out)
    }
}

fn is_break_end_or_eof(s: &Scanner, k: usize) -> bool {
    is_break_end(s.peek(k))
}

fn col(c: usize) -> isize {
    isize::try_from(c).unwrap_or(isize::MAX)
}

/// A character as Python's `repr()` writes it in scanner messages.
pub(crate) fn py_repr_char(c: char) -> String {
    match c {
        '\0' => "'\\x00'".into(),
        '\t' => "'\\t'".into(),
        '\n' => "'\\n'".into(),
        '\r' => "'\\r'".into(),
        '\'' => "\"'\"".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}
