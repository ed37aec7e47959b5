//! XML-RPC encoding and hostile-input-safe decoding.
//!
//! The encoder writes the same layout as Python's `xmlrpc.client` (with Koji's `<i8>` rule),
//! so requests look like those of the reference client. The decoder accepts what real servers
//! send (namespaced `ex:nil`/`ex:i8`, untyped string values, entities, CDATA) and enforces size,
//! depth and value-count limits before doing any work that depends on them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::Value;

/// Limits applied while decoding untrusted XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document accepted, in bytes.
    pub max_size: usize,
    /// Deepest element nesting accepted (each value level costs two or three elements).
    pub max_depth: usize,
    /// Most values accepted in one document.
    pub max_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_size: 32 * 1024 * 1024,
            max_depth: 128,
            max_values: 1_000_000,
        }
    }
}

/// Why a document could not be decoded. Never caused by a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The document is larger than [`Limits::max_size`].
    #[error("XML-RPC document larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Elements nest deeper than [`Limits::max_depth`].
    #[error("XML-RPC document nests deeper than {limit} elements")]
    TooDeep {
        /// The limit in elements.
        limit: usize,
    },
    /// More values than [`Limits::max_values`].
    #[error("XML-RPC document holds more than {limit} values")]
    TooManyValues {
        /// The limit.
        limit: usize,
    },
    /// The bytes are not UTF-8.
    #[error("XML-RPC document is not valid UTF-8")]
    NotUtf8,
    /// The XML itself is broken (unclosed tags, mismatched end tags, bad entities, DTDs).
    #[error("malformed XML: {0}")]
    Xml(String),
    /// Well-formed XML that is not valid XML-RPC.
    #[error("invalid XML-RPC: {0}")]
    Invalid(String),
}

/// A decoded `<methodResponse>`: a value or a fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `<params><param>value</param></params>`.
    Value(Value),
    /// `<fault>`.
    Fault(Fault),
}

/// An XML-RPC fault: the server's error code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `faultCode`, e.g. 1000 (`GenericError`) or 1014 (`ServerOffline`) for Koji.
    pub code: i64,
    /// `faultString`.
    pub string: String,
}

impl Fault {
    /// Reads `{faultCode, faultString}` from a struct; extra members (Koji's `traceback`) are
    /// ignored.
    pub fn from_value(value: &Value) -> Option<Self> {
        let code = value.get("faultCode")?.as_i64()?;
        let string = match value.get("faultString")? {
            Value::String(s) => s.clone(),
            _ => return None,
        };
        Some(Self { code, string })
    }

    fn to_value(&self) -> Value {
        Value::structure([
            ("faultCode", Value::Int(self.code)),
            ("faultString", Value::String(self.string.clone())),
        ])
    }
}

/// A decoded `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `methodName`.
    pub method: String,
    /// Positional parameters.
    pub params: Vec<Value>,
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

const HEADER: &str = "<?xml version='1.0'?>\n";

/// Encodes a method call.
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(HEADER);
    out.push_str("<methodCall>\n<methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName>\n");
    encode_params(&mut out, params);
    out.push_str("</methodCall>\n");
    out
}

/// Encodes a method response (useful for fake servers in tests).
pub fn encode_response(response: &Response) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(HEADER);
    out.push_str("<methodResponse>\n");
    match response {
        Response::Value(v) => encode_params(&mut out, std::slice::from_ref(v)),
        Response::Fault(f) => {
            out.push_str("<fault>\n");
            encode_value(&mut out, &f.to_value());
            out.push_str("</fault>\n");
        }
    }
    out.push_str("</methodResponse>\n");
    out
}

fn encode_params(out: &mut String, params: &[Value]) {
    out.push_str("<params>\n");
    for p in params {
        out.push_str("<param>\n");
        encode_value(out, p);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n");
}

fn encode_value(out: &mut String, value: &Value) {
    match value {
        // No newline after nil: that is what Python writes, and byte-equal requests help
        // when comparing with the reference client.
        Value::Nil => out.push_str("<value><nil/></value>"),
        Value::Int(i) => {
            let tag = if i32::try_from(*i).is_ok() {
                "int"
            } else {
                "i8"
            };
            let _ = writeln!(out, "<value><{tag}>{i}</{tag}></value>");
        }
        Value::Bool(b) => {
            let _ = writeln!(out, "<value><boolean>{}</boolean></value>", u8::from(*b));
        }
        Value::String(s) => {
            out.push_str("<value><string>");
            escape_into(out, s);
            out.push_str("</string></value>\n");
        }
        Value::Double(d) => {
            // `{:?}` is the shortest text that parses back to the same f64.
            let _ = writeln!(out, "<value><double>{d:?}</double></value>");
        }
        Value::DateTime(raw) => {
            out.push_str("<value><dateTime.iso8601>");
            escape_into(out, raw);
            out.push_str("</dateTime.iso8601></value>\n");
        }
        Value::Base64(bytes) => {
            out.push_str("<value><base64>\n");
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            // 76-column lines, like MIME (and Python's encodebytes).
            for line in text.as_bytes().chunks(76) {
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push('\n');
            }
            out.push_str("</base64></value>\n");
        }
        Value::Array(items) => {
            out.push_str("<value><array><data>\n");
            for item in items {
                encode_value(out, item);
            }
            out.push_str("</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.push_str("<value><struct>\n");
            for (name, v) in members {
                out.push_str("<member>\n<name>");
                escape_into(out, name);
                out.push_str("</name>\n");
                encode_value(out, v);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A raw CR would be normalised away by any XML parser.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Decodes a `<methodResponse>`.
pub fn decode_response(bytes: &[u8], limits: &Limits) -> Result<Response, DecodeError> {
    let mut p = Parser::new(bytes, limits)?;
    p.expect_open("methodResponse")?;
    let response = match p.next_element()? {
        Tok::Open(name) if name == "params" => {
            p.expect_open("param")?;
            let value = p.value_after_open_value()?;
            p.expect_close("param")?;
            p.expect_close("params")?;
            Response::Value(value)
        }
        Tok::Open(name) if name == "fault" => {
            let value = p.value_after_open_value()?;
            p.expect_close("fault")?;
            let fault = Fault::from_value(&value).ok_or_else(|| {
                DecodeError::Invalid(
                    "fault without integer faultCode and string faultString".into(),
                )
            })?;
            Response::Fault(fault)
        }
        other => return Err(unexpected("<params> or <fault>", &other)),
    };
    p.expect_close("methodResponse")?;
    p.expect_eof()?;
    Ok(response)
}

/// Decodes a `<methodCall>` (useful for fake servers in tests).
pub fn decode_call(bytes: &[u8], limits: &Limits) -> Result<Call, DecodeError> {
    let mut p = Parser::new(bytes, limits)?;
    p.expect_open("methodCall")?;
    p.expect_open("methodName")?;
    let method = p.text_until_close("methodName")?.trim().to_owned();
    if method.is_empty() {
        return Err(DecodeError::Invalid("empty methodName".into()));
    }
    let mut params = Vec::new();
    match p.next_element()? {
        Tok::Open(name) if name == "params" => loop {
            match p.next_element()? {
                Tok::Open(name) if name == "param" => {
                    params.push(p.value_after_open_value()?);
                    p.expect_close("param")?;
                }
                Tok::Close(name) if name == "params" => break,
                other => return Err(unexpected("<param> or </params>", &other)),
            }
        },
        Tok::Close(name) if name == "methodCall" => {
            p.expect_eof()?;
            return Ok(Call { method, params });
        }
        other => return Err(unexpected("<params>", &other)),
    }
    p.expect_close("methodCall")?;
    p.expect_eof()?;
    Ok(Call { method, params })
}

/// Decodes a multicall result array: per call `[result]` or a fault struct.
pub fn decode_multicall_results(value: Value) -> Result<Vec<Result<Value, Fault>>, DecodeError> {
    let Value::Array(items) = value else {
        return Err(DecodeError::Invalid(
            "multicall result is not an array".into(),
        ));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Array(mut one) if one.len() == 1 => Ok(Ok(one.remove(0))),
            Value::Struct(_) => Fault::from_value(&item).map(Err).ok_or_else(|| {
                DecodeError::Invalid("multicall entry is a struct but not a fault".into())
            }),
            _ => Err(DecodeError::Invalid(
                "multicall entry is neither [result] nor a fault".into(),
            )),
        })
        .collect()
}

#[derive(Debug)]
enum Tok {
    Open(String),
    Close(String),
    /// Character data (entities resolved, CDATA included), merged across events.
    Text(String),
    Eof,
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    limits: Limits,
    depth: usize,
    values: usize,
    peeked: Option<Tok>,
    /// A `<x/>` seen by the reader, to be returned as Open then Close.
    pending_close: Option<String>,
}

impl<'a> Parser<'a> {
    fn new(bytes: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        if bytes.len() > limits.max_size {
            return Err(DecodeError::TooLarge {
                limit: limits.max_size,
            });
        }
        if std::str::from_utf8(bytes).is_err() {
            return Err(DecodeError::NotUtf8);
        }
        let mut reader = Reader::from_reader(bytes);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Ok(Self {
            reader,
            limits: *limits,
            depth: 0,
            values: 0,
            peeked: None,
            pending_close: None,
        })
    }

    fn xml_err(&self, e: impl std::fmt::Display) -> DecodeError {
        DecodeError::Xml(format!("{e} (at byte {})", self.reader.buffer_position()))
    }

    fn open(&mut self, name: String) -> Result<Tok, DecodeError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(DecodeError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        Ok(Tok::Open(name))
    }

    fn local(name: &[u8]) -> String {
        String::from_utf8_lossy(name).into_owned()
    }

    /// Reads the next token, merging adjacent character data.
    fn raw_next(&mut self) -> Result<Tok, DecodeError> {
        if let Some(tok) = self.peeked.take() {
            return Ok(tok);
        }
        if let Some(name) = self.pending_close.take() {
            self.depth -= 1;
            return Ok(Tok::Close(name));
        }
        let mut text: Option<String> = None;
        loop {
            let event = self.reader.read_event().map_err(|e| self.xml_err(e))?;
            let tok = match event {
                Event::Text(t) => {
                    let s = t.xml10_content().map_err(|e| self.xml_err(e))?;
                    text.get_or_insert_with(String::new).push_str(&s);
                    continue;
                }
                Event::CData(t) => {
                    let s = t.decode().map_err(|e| self.xml_err(e))?;
                    text.get_or_insert_with(String::new).push_str(&s);
                    continue;
                }
                Event::GeneralRef(r) => {
                    let c = self.resolve_ref(&r)?;
                    text.get_or_insert_with(String::new).push(c);
                    continue;
                }
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => continue,
                Event::DocType(_) => {
                    // DTDs are the door to entity-expansion attacks; XML-RPC never needs one.
                    return Err(DecodeError::Xml("DOCTYPE is not allowed".into()));
                }
                Event::Start(e) => Pending::Open(Self::local(e.local_name().as_ref())),
                Event::Empty(e) => Pending::Empty(Self::local(e.local_name().as_ref())),
                Event::End(e) => Pending::Close(Self::local(e.local_name().as_ref())),
                Event::Eof => Pending::Eof,
            };
            let next = match tok {
                Pending::Open(name) => self.open(name)?,
                Pending::Empty(name) => {
                    let tok = self.open(name.clone())?;
                    self.pending_close = Some(name);
                    tok
                }
                Pending::Close(name) => {
                    self.depth = self.depth.saturating_sub(1);
                    Tok::Close(name)
                }
                Pending::Eof => {
                    if self.depth != 0 {
                        return Err(DecodeError::Xml("unexpected end of document".into()));
                    }
                    Tok::Eof
                }
            };
            return Ok(match text {
                Some(t) => {
                    self.peeked = Some(next);
                    Tok::Text(t)
                }
                None => next,
            });
        }
    }

    fn resolve_ref(&self, r: &quick_xml::events::BytesRef<'_>) -> Result<char, DecodeError> {
        if r.is_char_ref() {
            return match r.resolve_char_ref() {
                Ok(Some(c)) => Ok(c),
                Ok(None) => Err(DecodeError::Xml("bad character reference".into())),
                Err(e) => Err(self.xml_err(e)),
            };
        }
        match r.as_ref() {
            b"amp" => Ok('&'),
            b"lt" => Ok('<'),
            b"gt" => Ok('>'),
            b"quot" => Ok('"'),
            b"apos" => Ok('\''),
            other => Err(DecodeError::Xml(format!(
                "unknown entity &{};",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    /// Next token that is not whitespace-only text; other text is an error.
    fn next_element(&mut self) -> Result<Tok, DecodeError> {
        loop {
            match self.raw_next()? {
                Tok::Text(t) if t.trim().is_empty() => {}
                Tok::Text(t) => {
                    return Err(DecodeError::Invalid(format!(
                        "unexpected text {:?}",
                        truncate(&t)
                    )));
                }
                tok => return Ok(tok),
            }
        }
    }

    fn expect_open(&mut self, name: &str) -> Result<(), DecodeError> {
        match self.next_element()? {
            Tok::Open(n) if n == name => Ok(()),
            other => Err(unexpected(&format!("<{name}>"), &other)),
        }
    }

    fn expect_close(&mut self, name: &str) -> Result<(), DecodeError> {
        match self.next_element()? {
            Tok::Close(n) if n == name => Ok(()),
            other => Err(unexpected(&format!("</{name}>"), &other)),
        }
    }

    fn expect_eof(&mut self) -> Result<(), DecodeError> {
        match self.next_element()? {
            Tok::Eof => Ok(()),
            other => Err(unexpected("end of document", &other)),
        }
    }

    /// Text content up to the closing tag `name` (no child elements allowed).
    fn text_until_close(&mut self, name: &str) -> Result<String, DecodeError> {
        match self.raw_next()? {
            Tok::Close(n) if n == name => Ok(String::new()),
            Tok::Text(t) => {
                self.expect_close(name)?;
                Ok(t)
            }
            other => Err(unexpected(&format!("text or </{name}>"), &other)),
        }
    }

    fn count_value(&mut self) -> Result<(), DecodeError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(DecodeError::TooManyValues {
                limit: self.limits.max_values,
            });
        }
        Ok(())
    }

    /// Reads `<value>…</value>`, the `<value>` not yet consumed.
    fn value_after_open_value(&mut self) -> Result<Value, DecodeError> {
        self.expect_open("value")?;
        self.value_body()
    }

    /// Reads the inside of `<value>` and its closing tag.
    fn value_body(&mut self) -> Result<Value, DecodeError> {
        self.count_value()?;
        let mut text = String::new();
        let mut tok = self.raw_next()?;
        if let Tok::Text(t) = tok {
            text = t;
            tok = self.raw_next()?;
        }
        match tok {
            // Untyped value: the text is a string, whitespace included.
            Tok::Close(n) if n == "value" => Ok(Value::String(text)),
            Tok::Open(kind) => {
                if !text.trim().is_empty() {
                    return Err(DecodeError::Invalid(format!(
                        "text {:?} before <{kind}>",
                        truncate(&text)
                    )));
                }
                let value = self.typed(&kind)?;
                self.expect_close("value")?;
                Ok(value)
            }
            other => Err(unexpected("a typed element or </value>", &other)),
        }
    }

    fn typed(&mut self, kind: &str) -> Result<Value, DecodeError> {
        match kind {
            "int" | "i4" | "i8" | "i1" | "i2" | "biginteger" => {
                let text = self.text_until_close(kind)?;
                text.trim().parse::<i64>().map(Value::Int).map_err(|_| {
                    DecodeError::Invalid(format!("bad <{kind}> value {:?}", truncate(&text)))
                })
            }
            "boolean" => {
                let text = self.text_until_close(kind)?;
                match text.trim() {
                    "1" | "true" => Ok(Value::Bool(true)),
                    "0" | "false" => Ok(Value::Bool(false)),
                    other => Err(DecodeError::Invalid(format!(
                        "bad boolean value {:?}",
                        truncate(other)
                    ))),
                }
            }
            "string" => self.text_until_close(kind).map(Value::String),
            "double" | "float" => {
                let text = self.text_until_close(kind)?;
                parse_double(text.trim()).map(Value::Double).ok_or_else(|| {
                    DecodeError::Invalid(format!("bad <double> value {:?}", truncate(&text)))
                })
            }
            "dateTime.iso8601" => {
                let text = self.text_until_close(kind)?;
                let raw = text.trim();
                if raw.is_empty() {
                    return Err(DecodeError::Invalid("empty dateTime.iso8601".into()));
                }
                Ok(Value::DateTime(raw.to_owned()))
            }
            "base64" => {
                let text = self.text_until_close(kind)?;
                let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map(Value::Base64)
                    .map_err(|e| DecodeError::Invalid(format!("bad base64: {e}")))
            }
            "nil" => match self.next_element()? {
                Tok::Close(n) if n == "nil" => Ok(Value::Nil),
                other => Err(unexpected("</nil>", &other)),
            },
            "array" => self.array(),
            "struct" => self.structure(),
            other => Err(DecodeError::Invalid(format!(
                "unknown value type <{other}>"
            ))),
        }
    }

    fn array(&mut self) -> Result<Value, DecodeError> {
        let mut items = Vec::new();
        match self.next_element()? {
            Tok::Open(n) if n == "data" => {}
            // Some servers write `<array/>` for an empty array.
            Tok::Close(n) if n == "array" => return Ok(Value::Array(items)),
            other => return Err(unexpected("<data>", &other)),
        }
        loop {
            match self.next_element()? {
                Tok::Open(n) if n == "value" => items.push(self.value_body()?),
                Tok::Close(n) if n == "data" => break,
                other => return Err(unexpected("<value> or </data>", &other)),
            }
        }
        self.expect_close("array")?;
        Ok(Value::Array(items))
    }

    fn structure(&mut self) -> Result<Value, DecodeError> {
        let mut members = BTreeMap::new();
        loop {
            match self.next_element()? {
                Tok::Open(n) if n == "member" => {
                    self.expect_open("name")?;
                    let name = self.text_until_close("name")?;
                    let value = self.value_after_open_value()?;
                    self.expect_close("member")?;
                    members.insert(name, value);
                }
                Tok::Close(n) if n == "struct" => return Ok(Value::Struct(members)),
                other => return Err(unexpected("<member> or </struct>", &other)),
            }
        }
    }
}

fn unexpected(wanted: &str, got: &Tok) -> DecodeError {
    let got = match got {
        Tok::Open(n) => format!("<{n}>"),
        Tok::Close(n) => format!("</{n}>"),
        Tok::Text(t) => format!("text {:?}", truncate(t)),
        Tok::Eof => "end of document".to_owned(),
    };
    DecodeError::Invalid(format!("expected {wanted}, found {got}"))
}

enum Pending {
    Open(String),
    Empty(String),
    Close(String),
    Eof,
}

fn parse_double(text: &str) -> Option<f64> {
    // Rust's parser accepts everything Python's repr() produces (`1e+20`, `inf`, `nan`),
    // but also things like "infinity"; that leniency is harmless.
    if text.is_empty() {
        return None;
    }
    text.parse::<f64>().ok()
}

fn truncate(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
