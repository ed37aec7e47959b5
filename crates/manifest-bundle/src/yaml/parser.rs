//! Events from tokens, with the grammar PyYAML's parser accepts (including its handling of
//! directives, `%YAML 2.0` and tag handles).

use std::collections::HashMap;

use super::scanner::{Mark, ScalarStyle, ScanError, Scanner, Tok, Token};

#[derive(Debug, Clone)]
pub(crate) enum Event {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias {
        anchor: String,
        start: Mark,
    },
    Scalar {
        anchor: Option<String>,
        tag: Option<String>,
        /// Whether implicit (plain-scalar) resolution applies.
        plain_implicit: bool,
        value: String,
        style: ScalarStyle,
        start: Mark,
        end: Mark,
    },
    SequenceStart {
        anchor: Option<String>,
        tag: Option<String>,
        start: Mark,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
        tag: Option<String>,
        start: Mark,
    },
    MappingEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StreamStart,
    ImplicitDocumentStart,
    DocumentStart,
    DocumentEnd,
    DocumentContent,
    BlockNode,
    BlockSequenceFirstEntry,
    BlockSequenceEntry,
    IndentlessSequenceEntry,
    BlockMappingFirstKey,
    BlockMappingKey,
    BlockMappingValue,
    FlowSequenceFirstEntry,
    FlowSequenceEntry,
    FlowSequenceEntryMappingKey,
    FlowSequenceEntryMappingValue,
    FlowSequenceEntryMappingEnd,
    FlowMappingFirstKey,
    FlowMappingKey,
    FlowMappingValue,
    FlowMappingEmptyValue,
    End,
}

pub(crate) struct Parser {
    scanner: Scanner,
    state: State,
    states: Vec<State>,
    tag_handles: HashMap<String, String>,
}

type Result<T> = std::result::Result<T, ScanError>;

fn default_tags() -> HashMap<String, String> {
    HashMap::from([
        ("!".to_owned(), "!".to_owned()),
        ("!!".to_owned(), "tag:yaml.org,2002:".to_owned()),
    ])
}

fn err<T>(mark: Mark, message: impl Into<String>) -> Result<T> {
    Err(ScanError {
        mark,
        message: message.into(),
        raised: false,
    })
}

fn tok_name(t: &Tok) -> &'static str {
    match t {
        Tok::StreamStart => "<stream start>",
        Tok::StreamEnd => "<stream end>",
        Tok::Directive(..) => "<directive>",
        Tok::DocumentStart => "<document start>",
        Tok::DocumentEnd => "<document end>",
        Tok::BlockSequenceStart => "<block sequence start>",
        Tok::BlockMappingStart => "<block mapping start>",
        Tok::BlockEnd => "<block end>",
        Tok::FlowSequenceStart => "'['",
        Tok::FlowMappingStart => "'{'",
        Tok::FlowSequenceEnd => "']'",
        Tok::FlowMappingEnd => "'}'",
        Tok::Key => "'?'",
        Tok::Value => "':'",
        Tok::BlockEntry => "'-'",
        Tok::FlowEntry => "','",
        Tok::Alias(_) => "<alias>",
        Tok::Anchor(_) => "<anchor>",
        Tok::Tag(..) => "<tag>",
        Tok::Scalar(..) => "<scalar>",
    }
}

impl Parser {
    pub fn new(text: &str) -> Self {
        Parser {
            scanner: Scanner::new(text),
            state: State::StreamStart,
            states: Vec::new(),
            tag_handles: default_tags(),
        }
    }

    fn peek(&mut self) -> Result<&Token> {
        self.scanner.peek_token()
    }

    fn check(&mut self, pred: impl Fn(&Tok) -> bool) -> Result<bool> {
        Ok(pred(&self.peek()?.tok))
    }

    fn take(&mut self) -> Result<Token> {
        self.scanner.next_token()
    }

    fn pop_state(&mut self) -> State {
        self.states.pop().unwrap_or(State::End)
    }

    fn empty_scalar(mark: Mark) -> Event {
        Event::Scalar {
            anchor: None,
            tag: None,
            plain_implicit: true,
            value: String::new(),
            style: ScalarStyle::Plain,
            start: mark,
            end: mark,
        }
    }

    /// The next event; `StreamEnd` repeats once the stream is over.
    #[allow(clippy::too_many_lines)]
    pub fn next_event(&mut self) -> Result<Event> {
        match self.state {
            State::End => Ok(Event::StreamEnd),
            State::StreamStart => {
                self.take()?;
                self.state = State::ImplicitDocumentStart;
                Ok(Event::StreamStart)
            }
            State::ImplicitDocumentStart => {
                if self.check(|t| {
                    matches!(t, Tok::Directive(..) | Tok::DocumentStart | Tok::StreamEnd)
                })? {
                    self.parse_document_start()
                } else {
                    self.tag_handles = default_tags();
                    self.states.push(State::DocumentEnd);
                    self.state = State::BlockNode;
                    Ok(Event::DocumentStart)
                }
            }
            State::DocumentStart => self.parse_document_start(),
            State::DocumentEnd => {
                if self.check(|t| matches!(t, Tok::DocumentEnd))? {
                    self.take()?;
                }
                self.state = State::DocumentStart;
                Ok(Event::DocumentEnd)
            }
            State::DocumentContent => {
                if self.check(|t| {
                    matches!(
                        t,
                        Tok::Directive(..) | Tok::DocumentStart | Tok::DocumentEnd | Tok::StreamEnd
                    )
                })? {
                    let mark = self.peek()?.start;
                    self.state = self.pop_state();
                    Ok(Self::empty_scalar(mark))
                } else {
                    self.parse_node(true, false)
                }
            }
            State::BlockNode => self.parse_node(true, false),
            State::BlockSequenceFirstEntry => {
                self.take()?;
                self.block_sequence_entry()
            }
            State::BlockSequenceEntry => self.block_sequence_entry(),
            State::IndentlessSequenceEntry => {
                if self.check(|t| matches!(t, Tok::BlockEntry))? {
                    let token = self.take()?;
                    if self.check(|t| {
                        matches!(t, Tok::BlockEntry | Tok::Key | Tok::Value | Tok::BlockEnd)
                    })? {
                        self.state = State::IndentlessSequenceEntry;
                        Ok(Self::empty_scalar(token.end))
                    } else {
                        self.states.push(State::IndentlessSequenceEntry);
                        self.parse_node(true, false)
                    }
                } else {
                    self.state = self.pop_state();
                    Ok(Event::SequenceEnd)
                }
            }
            State::BlockMappingFirstKey => {
                self.take()?;
                self.block_mapping_key()
            }
            State::BlockMappingKey => self.block_mapping_key(),
            State::BlockMappingValue => {
                if self.check(|t| matches!(t, Tok::Value))? {
                    let token = self.take()?;
                    if self.check(|t| matches!(t, Tok::Key | Tok::Value | Tok::BlockEnd))? {
                        self.state = State::BlockMappingKey;
                        Ok(Self::empty_scalar(token.end))
                    } else {
                        self.states.push(State::BlockMappingKey);
                        self.parse_node(true, true)
                    }
                } else {
                    self.state = State::BlockMappingKey;
                    let mark = self.peek()?.start;
                    Ok(Self::empty_scalar(mark))
                }
            }
            State::FlowSequenceFirstEntry => {
                self.take()?;
                self.flow_sequence_entry(true)
            }
            State::FlowSequenceEntry => self.flow_sequence_entry(false),
            State::FlowSequenceEntryMappingKey => {
                let token = self.take()?;
                if self
                    .check(|t| matches!(t, Tok::Value | Tok::FlowEntry | Tok::FlowSequenceEnd))?
                {
                    self.state = State::FlowSequenceEntryMappingValue;
                    Ok(Self::empty_scalar(token.end))
                } else {
                    self.states.push(State::FlowSequenceEntryMappingValue);
                    self.parse_node(false, false)
                }
            }
            State::FlowSequenceEntryMappingValue => {
                if self.check(|t| matches!(t, Tok::Value))? {
                    let token = self.take()?;
                    if self.check(|t| matches!(t, Tok::FlowEntry | Tok::FlowSequenceEnd))? {
                        self.state = State::FlowSequenceEntryMappingEnd;
                        Ok(Self::empty_scalar(token.end))
                    } else {
                        self.states.push(State::FlowSequenceEntryMappingEnd);
                        self.parse_node(false, false)
                    }
                } else {
                    self.state = State::FlowSequenceEntryMappingEnd;
                    let mark = self.peek()?.start;
                    Ok(Self::empty_scalar(mark))
                }
            }
            State::FlowSequenceEntryMappingEnd => {
                self.state = State::FlowSequenceEntry;
                Ok(Event::MappingEnd)
            }
            State::FlowMappingFirstKey => {
                self.take()?;
                self.flow_mapping_key(true)
            }
            State::FlowMappingKey => self.flow_mapping_key(false),
            State::FlowMappingValue => {
                if self.check(|t| matches!(t, Tok::Value))? {
                    let token = self.take()?;
                    if self.check(|t| matches!(t, Tok::FlowEntry | Tok::FlowMappingEnd))? {
                        self.state = State::FlowMappingKey;
                        Ok(Self::empty_scalar(token.end))
                    } else {
                        self.states.push(State::FlowMappingKey);
                        self.parse_node(false, false)
                    }
                } else {
                    self.state = State::FlowMappingKey;
                    let mark = self.peek()?.start;
                    Ok(Self::empty_scalar(mark))
                }
            }
            State::FlowMappingEmptyValue => {
                self.state = State::FlowMappingKey;
                let mark = self.peek()?.start;
                Ok(Self::empty_scalar(mark))
            }
        }
    }

    fn parse_document_start(&mut self) -> Result<Event> {
        while self.check(|t| matches!(t, Tok::DocumentEnd))? {
            self.take()?;
        }
        if self.check(|t| matches!(t, Tok::StreamEnd))? {
            self.take()?;
            self.state = State::End;
            return Ok(Event::StreamEnd);
        }
        self.process_directives()?;
        if !self.check(|t| matches!(t, Tok::DocumentStart))? {
            let t = self.peek()?;
            return err(
                t.start,
                format!(
                    "expected '<document start>', but found {}",
                    tok_name(&t.tok)
                ),
            );
        }
        self.take()?;
        self.states.push(State::DocumentEnd);
        self.state = State::DocumentContent;
        Ok(Event::DocumentStart)
    }

    fn process_directives(&mut self) -> Result<()> {
        let mut version_seen = false;
        self.tag_handles = HashMap::new();
        while self.check(|t| matches!(t, Tok::Directive(..)))? {
            let token = self.take()?;
            let Tok::Directive(name, version, tag) = token.tok else {
                continue;
            };
            if name == "YAML" {
                if version_seen {
                    return err(token.start, "found duplicate YAML directive");
                }
                if version.is_some_and(|(major, _)| major != 1) {
                    return err(
                        token.start,
                        "found incompatible YAML document (version 1.* is required)",
                    );
                }
                version_seen = true;
            } else if name == "TAG" {
                if let Some((handle, prefix)) = tag {
                    if self.tag_handles.contains_key(&handle) {
                        return err(token.start, format!("duplicate tag handle {handle:?}"));
                    }
                    self.tag_handles.insert(handle, prefix);
                }
            }
        }
        for (k, v) in default_tags() {
            self.tag_handles.entry(k).or_insert(v);
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)] // one state of the grammar
    fn parse_node(&mut self, block: bool, indentless_sequence: bool) -> Result<Event> {
        if self.check(|t| matches!(t, Tok::Alias(_)))? {
            let token = self.take()?;
            self.state = self.pop_state();
            let Tok::Alias(anchor) = token.tok else {
                unreachable!("checked above")
            };
            return Ok(Event::Alias {
                anchor,
                start: token.start,
            });
        }
        let mut anchor = None;
        let mut tag: Option<(Option<String>, String)> = None;
        let mut start: Option<Mark> = None;
        let mut tag_mark = None;
        if self.check(|t| matches!(t, Tok::Anchor(_)))? {
            let token = self.take()?;
            start = Some(token.start);
            if let Tok::Anchor(a) = token.tok {
                anchor = Some(a);
            }
            if self.check(|t| matches!(t, Tok::Tag(..)))? {
                let token = self.take()?;
                tag_mark = Some(token.start);
                if let Tok::Tag(h, s) = token.tok {
                    tag = Some((h, s));
                }
            }
        } else if self.check(|t| matches!(t, Tok::Tag(..)))? {
            let token = self.take()?;
            start = Some(token.start);
            tag_mark = Some(token.start);
            if let Tok::Tag(h, s) = token.tok {
                tag = Some((h, s));
            }
            if self.check(|t| matches!(t, Tok::Anchor(_)))? {
                let token = self.take()?;
                if let Tok::Anchor(a) = token.tok {
                    anchor = Some(a);
                }
            }
        }
        let tag: Option<String> = match tag {
            None => None,
            Some((None, suffix)) => Some(suffix),
            Some((Some(handle), suffix)) => match self.tag_handles.get(&handle) {
                Some(prefix) => Some(format!("{prefix}{suffix}")),
                None => {
                    return err(
                        tag_mark.unwrap_or_default(),
                        format!("found undefined tag handle {handle:?}"),
                    );
                }
            },
        };
        let start = match start {
            Some(s) => s,
            None => self.peek()?.start,
        };
        if indentless_sequence && self.check(|t| matches!(t, Tok::BlockEntry))? {
            self.state = State::IndentlessSequenceEntry;
            return Ok(Event::SequenceStart { anchor, tag, start });
        }
        let next = self.peek()?.tok.clone();
        match next {
            Tok::Scalar(..) => {
                let token = self.take()?;
                let Tok::Scalar(value, style) = token.tok else {
                    unreachable!("checked above")
                };
                let plain_implicit =
                    (style == ScalarStyle::Plain && tag.is_none()) || tag.as_deref() == Some("!");
                self.state = self.pop_state();
                Ok(Event::Scalar {
                    anchor,
                    tag,
                    plain_implicit,
                    value,
                    style,
                    start,
                    end: token.end,
                })
            }
            Tok::FlowSequenceStart => {
                self.state = State::FlowSequenceFirstEntry;
                Ok(Event::SequenceStart { anchor, tag, start })
            }
            Tok::FlowMappingStart => {
                self.state = State::FlowMappingFirstKey;
                Ok(Event::MappingStart { anchor, tag, start })
            }
            Tok::BlockSequenceStart if block => {
                self.state = State::BlockSequenceFirstEntry;
                Ok(Event::SequenceStart { anchor, tag, start })
            }
            Tok::BlockMappingStart if block => {
                self.state = State::BlockMappingFirstKey;
                Ok(Event::MappingStart { anchor, tag, start })
            }
            _ if anchor.is_some() || tag.is_some() => {
                self.state = self.pop_state();
                let plain_implicit = tag.is_none() || tag.as_deref() == Some("!");
                Ok(Event::Scalar {
                    anchor,
                    tag,
                    plain_implicit,
                    value: String::new(),
                    style: ScalarStyle::Plain,
                    start,
                    end: start,
                })
            }
            other => {
                let mark = self.peek()?.start;
                err(
                    mark,
                    format!(
                        "while parsing a {} node: expected the node content, but found {}",
                        if block { "block" } else { "flow" },
                        tok_name(&other)
                    ),
                )
            }
        }
    }

    fn block_sequence_entry(&mut self) -> Result<Event> {
        if self.check(|t| matches!(t, Tok::BlockEntry))? {
            let token = self.take()?;
            if self.check(|t| matches!(t, Tok::BlockEntry | Tok::BlockEnd))? {
                self.state = State::BlockSequenceEntry;
                return Ok(Self::empty_scalar(token.end));
            }
            self.states.push(State::BlockSequenceEntry);
            return self.parse_node(true, false);
        }
        if !self.check(|t| matches!(t, Tok::BlockEnd))? {
            let t = self.peek()?;
            return err(
                t.start,
                format!(
                    "while parsing a block collection: expected <block end>, but found {}",
                    tok_name(&t.tok)
                ),
            );
        }
        self.take()?;
        self.state = self.pop_state();
        Ok(Event::SequenceEnd)
    }

    fn block_mapping_key(&mut self) -> Result<Event> {
        if self.check(|t| matches!(t, Tok::Key))? {
            let token = self.take()?;
            if self.check(|t| matches!(t, Tok::Key | Tok::Value | Tok::BlockEnd))? {
                self.state = State::BlockMappingValue;
                return Ok(Self::empty_scalar(token.end));
            }
            self.states.push(State::BlockMappingValue);
            return self.parse_node(true, true);
        }
        if !self.check(|t| matches!(t, Tok::BlockEnd))? {
            let t = self.peek()?;
            return err(
                t.start,
                format!(
                    "while parsing a block mapping: expected <block end>, but found {}",
                    tok_name(&t.tok)
                ),
            );
        }
        self.take()?;
        self.state = self.pop_state();
        Ok(Event::MappingEnd)
    }

    fn flow_sequence_entry(&mut self, first: bool) -> Result<Event> {
        if !self.check(|t| matches!(t, Tok::FlowSequenceEnd))? {
            if !first {
                if self.check(|t| matches!(t, Tok::FlowEntry))? {
                    self.take()?;
                } else {
                    let t = self.peek()?;
                    return err(
                        t.start,
                        format!(
                            "while parsing a flow sequence: expected ',' or ']', but got {}",
                            tok_name(&t.tok)
                        ),
                    );
                }
            }
            if self.check(|t| matches!(t, Tok::Key))? {
                let start = self.peek()?.start;
                self.state = State::FlowSequenceEntryMappingKey;
                return Ok(Event::MappingStart {
                    anchor: None,
                    tag: None,
                    start,
                });
            } else if !self.check(|t| matches!(t, Tok::FlowSequenceEnd))? {
                self.states.push(State::FlowSequenceEntry);
                return self.parse_node(false, false);
            }
        }
        self.take()?;
        self.state = self.pop_state();
        Ok(Event::SequenceEnd)
    }

    fn flow_mapping_key(&mut self, first: bool) -> Result<Event> {
        if !self.check(|t| matches!(t, Tok::FlowMappingEnd))? {
            if !first {
                if self.check(|t| matches!(t, Tok::FlowEntry))? {
                    self.take()?;
                } else {
                    let t = self.peek()?;
                    return err(
                        t.start,
                        format!(
                            "while parsing a flow mapping: expected ',' or '}}', but got {}",
                            tok_name(&t.tok)
                        ),
                    );
                }
            }
            if self.check(|t| matches!(t, Tok::Key))? {
                let token = self.take()?;
                if self.check(|t| matches!(t, Tok::Value | Tok::FlowEntry | Tok::FlowMappingEnd))? {
                    self.state = State::FlowMappingValue;
                    return Ok(Self::empty_scalar(token.end));
                }
                self.states.push(State::FlowMappingValue);
                return self.parse_node(false, false);
            } else if !self.check(|t| matches!(t, Tok::FlowMappingEnd))? {
                self.states.push(State::FlowMappingEmptyValue);
                return self.parse_node(false, false);
            }
        }
        self.take()?;
        self.state = self.pop_state();
        Ok(Event::MappingEnd)
    }
}
