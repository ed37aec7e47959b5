//! Events to a node graph (anchors shared, recursion possible, as in PyYAML's composer), then
//! the graph to a [`Yaml`] tree with PyYAML's `SafeConstructor` semantics: merge keys, the
//! standard tags, hashable keys, and Python's dictionary rules for equal keys.

use std::collections::HashMap;

use super::parser::{Event, Parser};
use super::resolve::{
    self, ConstructFail, TAG_BINARY, TAG_BOOL, TAG_FLOAT, TAG_INT, TAG_MAP, TAG_MERGE, TAG_NULL,
    TAG_OMAP, TAG_PAIRS, TAG_SEQ, TAG_SET, TAG_STR, TAG_TIMESTAMP, TAG_VALUE,
};
use super::scanner::{Mark, ScanError};
use super::{Mapping, Yaml, YamlError};
use crate::limits::YamlLimits;

type NodeId = usize;

#[derive(Debug)]
enum Kind {
    Scalar(String),
    Seq(Vec<NodeId>),
    Map(Vec<(NodeId, NodeId)>),
}

#[derive(Debug)]
struct Node {
    tag: String,
    kind: Kind,
    start: Mark,
}

fn syntax(e: ScanError) -> YamlError {
    YamlError::Syntax {
        line: e.mark.line + 1,
        col: e.mark.column,
        message: e.message,
    }
}

fn marked(mark: Mark, message: impl Into<String>) -> YamlError {
    YamlError::Syntax {
        line: mark.line + 1,
        col: mark.column,
        message: message.into(),
    }
}

fn fail(mark: Mark, f: ConstructFail) -> YamlError {
    match f {
        ConstructFail::Marked(m) => marked(mark, m),
        ConstructFail::Raised(message) => YamlError::Python {
            line: mark.line + 1,
            col: mark.column,
            message,
        },
    }
}

struct Composer<'a> {
    nodes: Vec<Node>,
    anchors: HashMap<String, NodeId>,
    limits: &'a YamlLimits,
}

enum Open {
    Seq(NodeId),
    Map(NodeId, Option<NodeId>),
}

impl Composer<'_> {
    fn add(&mut self, node: Node) -> Result<NodeId, YamlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                max: self.limits.max_nodes,
            });
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn anchor(&mut self, anchor: Option<String>, id: NodeId, start: Mark) -> Result<(), YamlError> {
        if let Some(a) = anchor {
            if self.anchors.contains_key(&a) {
                return Err(marked(
                    start,
                    format!("found duplicate anchor {a:?}; first occurrence, second occurrence"),
                ));
            }
            self.anchors.insert(a, id);
        }
        Ok(())
    }

    fn open(
        &mut self,
        stack: &mut Vec<Open>,
        anchor: Option<String>,
        tag: Option<&str>,
        start: Mark,
        seq: bool,
    ) -> Result<(), YamlError> {
        if stack.len() >= self.limits.max_depth {
            return Err(YamlError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        let tag = match tag {
            None | Some("!") => (if seq { TAG_SEQ } else { TAG_MAP }).to_owned(),
            Some(t) => t.to_owned(),
        };
        let kind = if seq {
            Kind::Seq(Vec::new())
        } else {
            Kind::Map(Vec::new())
        };
        let id = self.add(Node { tag, kind, start })?;
        // Registered before the children: an alias inside refers to this node (recursion).
        self.anchor(anchor, id, start)?;
        stack.push(if seq {
            Open::Seq(id)
        } else {
            Open::Map(id, None)
        });
        Ok(())
    }

    /// Composes one document; `Ok(None)` for an empty stream.
    fn compose(&mut self, parser: &mut Parser) -> Result<Option<NodeId>, YamlError> {
        parser.next_event().map_err(syntax)?; // stream start
        let first = parser.next_event().map_err(syntax)?;
        if matches!(first, Event::StreamEnd) {
            return Ok(None);
        }
        let mut stack: Vec<Open> = Vec::new();
        let mut root = None;
        loop {
            let event = parser.next_event().map_err(syntax)?;
            let finished: Option<NodeId> = match event {
                Event::Alias { anchor, start } => {
                    Some(*self.anchors.get(&anchor).ok_or_else(|| {
                        marked(start, format!("found undefined alias {anchor:?}"))
                    })?)
                }
                Event::Scalar {
                    anchor,
                    tag,
                    plain_implicit,
                    value,
                    start,
                    ..
                } => {
                    let tag = match tag.as_deref() {
                        None | Some("!") if plain_implicit => {
                            resolve::resolve_tag(&value).to_owned()
                        }
                        None | Some("!") => TAG_STR.to_owned(),
                        Some(t) => t.to_owned(),
                    };
                    let id = self.add(Node {
                        tag,
                        kind: Kind::Scalar(value),
                        start,
                    })?;
                    self.anchor(anchor, id, start)?;
                    Some(id)
                }
                Event::SequenceStart { anchor, tag, start } => {
                    self.open(&mut stack, anchor, tag.as_deref(), start, true)?;
                    None
                }
                Event::MappingStart { anchor, tag, start } => {
                    self.open(&mut stack, anchor, tag.as_deref(), start, false)?;
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let open = stack.pop().expect("balanced events");
                    Some(match open {
                        Open::Seq(id) | Open::Map(id, _) => id,
                    })
                }
                Event::DocumentEnd => break,
                Event::StreamStart | Event::StreamEnd | Event::DocumentStart => continue,
            };
            if let Some(id) = finished {
                match stack.last_mut() {
                    None => root = Some(id),
                    Some(Open::Seq(seq)) => {
                        if let Kind::Seq(items) = &mut self.nodes[*seq].kind {
                            items.push(id);
                        }
                    }
                    Some(Open::Map(map, pending)) => match pending.take() {
                        None => *pending = Some(id),
                        Some(key) => {
                            if let Kind::Map(pairs) = &mut self.nodes[*map].kind {
                                pairs.push((key, id));
                            }
                        }
                    },
                }
            }
        }
        // A second document is an error (PyYAML's `get_single_node`).
        match parser.next_event().map_err(syntax)? {
            Event::StreamEnd => Ok(root),
            _ => Err(YamlError::MultipleDocuments),
        }
    }
}

/// Identity of a merged key for PyYAML 6's de-duplication of merged keys, which compares the
/// key's string *object*: the same node, or one of CPython's cached strings (empty, or a
/// single Latin-1 character), which every equal text shares.
#[derive(PartialEq, Eq, Hash)]
enum KeyIdentity {
    Node(NodeId),
    Cached(String),
}

struct Constructor<'a> {
    nodes: Vec<Node>,
    limits: &'a YamlLimits,
    /// Collections on the current path, outermost first.
    path: Vec<NodeId>,
    constructed: Vec<bool>,
    /// Above zero while building a node for the second time (an alias): counted as expansion.
    repeat: usize,
    alias_nodes: usize,
    out_nodes: usize,
}

impl Constructor<'_> {
    fn key_identity(&self, id: NodeId) -> KeyIdentity {
        if let Kind::Scalar(v) = &self.nodes[id].kind {
            let mut chars = v.chars();
            let cached = match (chars.next(), chars.next()) {
                (None, _) => true,
                (Some(c), None) => (c as u32) < 0x100,
                _ => false,
            };
            if cached {
                return KeyIdentity::Cached(v.clone());
            }
        }
        KeyIdentity::Node(id)
    }

    /// PyYAML's `flatten_mapping`, on the graph (it mutates the node, as PyYAML does).
    fn flatten(&mut self, id: NodeId) -> Result<(), YamlError> {
        let mut merge: Vec<(NodeId, NodeId)> = Vec::new();
        let mut seen: std::collections::HashSet<KeyIdentity> = std::collections::HashSet::new();
        let mut index = 0;
        loop {
            let Kind::Map(pairs) = &self.nodes[id].kind else {
                return Ok(());
            };
            let Some(&(k, v)) = pairs.get(index) else {
                break;
            };
            if self.nodes[k].tag == TAG_MERGE {
                if let Kind::Map(pairs) = &mut self.nodes[id].kind {
                    pairs.remove(index);
                }
                let sources: Vec<NodeId> = match &self.nodes[v].kind {
                    Kind::Map(_) => vec![v],
                    Kind::Seq(items) => {
                        let items = items.clone();
                        for &sub in &items {
                            if !matches!(self.nodes[sub].kind, Kind::Map(_)) {
                                return Err(marked(
                                    self.nodes[sub].start,
                                    "while constructing a mapping: expected a mapping for merging",
                                ));
                            }
                        }
                        items
                    }
                    Kind::Scalar(_) => {
                        return Err(marked(
                            self.nodes[v].start,
                            "while constructing a mapping: expected a mapping or list of mappings for merging, but found scalar",
                        ));
                    }
                };
                for src in sources {
                    self.flatten(src)?;
                    let Kind::Map(src_pairs) = &self.nodes[src].kind else {
                        continue;
                    };
                    for &(sk, sv) in &src_pairs.clone() {
                        if seen.insert(self.key_identity(sk)) {
                            merge.push((sk, sv));
                        }
                    }
                }
            } else {
                if self.nodes[k].tag == TAG_VALUE {
                    TAG_STR.clone_into(&mut self.nodes[k].tag);
                }
                index += 1;
            }
        }
        if !merge.is_empty() {
            if let Kind::Map(pairs) = &mut self.nodes[id].kind {
                merge.append(pairs);
                *pairs = merge;
            }
        }
        Ok(())
    }

    /// PyYAML's `construct_scalar`: a scalar's text, or the `=` entry of a mapping.
    fn scalar_text(&self, id: NodeId) -> Result<String, YamlError> {
        match &self.nodes[id].kind {
            Kind::Scalar(v) => Ok(v.clone()),
            Kind::Map(pairs) => {
                for &(k, v) in pairs {
                    if self.nodes[k].tag == TAG_VALUE {
                        return self.scalar_text(v);
                    }
                }
                Err(marked(
                    self.nodes[id].start,
                    "expected a scalar node, but found mapping",
                ))
            }
            Kind::Seq(_) => Err(marked(
                self.nodes[id].start,
                "expected a scalar node, but found sequence",
            )),
        }
    }

    fn count(&mut self) -> Result<(), YamlError> {
        self.out_nodes += 1;
        if self.repeat > 0 {
            self.alias_nodes += 1;
            if self.alias_nodes > self.limits.max_alias_nodes {
                return Err(YamlError::TooManyNodes {
                    max: self.limits.max_alias_nodes,
                });
            }
        }
        if self.out_nodes > self.limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                max: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    fn construct(&mut self, id: NodeId) -> Result<Yaml, YamlError> {
        if let Some(pos) = self.path.iter().rposition(|&p| p == id) {
            // The same object as an enclosing collection: Python builds a recursive structure.
            return Ok(Yaml::Recursive(self.path.len() - pos));
        }
        self.count()?;
        let again = self.constructed[id];
        if again {
            self.repeat += 1;
        }
        let result = self.construct_fresh(id);
        if again {
            self.repeat -= 1;
        }
        self.constructed[id] = true;
        result
    }

    fn construct_fresh(&mut self, id: NodeId) -> Result<Yaml, YamlError> {
        let tag = self.nodes[id].tag.clone();
        let start = self.nodes[id].start;
        let scalar = |c: &Self| c.scalar_text(id);
        match tag.as_str() {
            TAG_NULL => scalar(self).map(|_| Yaml::Null),
            TAG_STR => scalar(self).map(Yaml::Str),
            TAG_BOOL => resolve::construct_bool(&scalar(self)?).map_err(|f| fail(start, f)),
            TAG_INT => resolve::construct_int(&scalar(self)?).map_err(|f| fail(start, f)),
            TAG_FLOAT => resolve::construct_float(&scalar(self)?).map_err(|f| fail(start, f)),
            TAG_BINARY => resolve::construct_binary(&scalar(self)?).map_err(|f| fail(start, f)),
            TAG_TIMESTAMP => {
                let text = scalar(self)?;
                resolve::parse_timestamp(&text).map_err(|f| fail(start, f))?;
                Ok(Yaml::Timestamp(text))
            }
            TAG_SEQ => {
                let Kind::Seq(items) = &self.nodes[id].kind else {
                    return Err(marked(start, "expected a sequence node"));
                };
                let items = items.clone();
                self.enter(id)?;
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.construct(item)?);
                }
                self.path.pop();
                Ok(Yaml::Seq(out))
            }
            TAG_MAP => {
                self.enter(id)?;
                let map = self.mapping(id)?;
                self.path.pop();
                Ok(Yaml::Map(map))
            }
            TAG_SET => {
                self.enter(id)?;
                let map = self.mapping(id)?;
                self.path.pop();
                Ok(Yaml::Set(map.entries.into_iter().map(|(k, _)| k).collect()))
            }
            TAG_OMAP | TAG_PAIRS => {
                let Kind::Seq(items) = &self.nodes[id].kind else {
                    return Err(marked(
                        start,
                        "while constructing pairs: expected a sequence",
                    ));
                };
                let items = items.clone();
                let mut pairs = Vec::with_capacity(items.len());
                for item in &items {
                    match &self.nodes[*item].kind {
                        Kind::Map(p) if p.len() == 1 => pairs.push(p[0]),
                        Kind::Map(p) => {
                            return Err(marked(
                                self.nodes[*item].start,
                                format!(
                                    "expected a single mapping item, but found {} items",
                                    p.len()
                                ),
                            ));
                        }
                        _ => {
                            return Err(marked(
                                self.nodes[*item].start,
                                "expected a mapping of length 1",
                            ));
                        }
                    }
                }
                self.enter(id)?;
                let mut out = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    self.count()?;
                    let key = self.construct(k)?;
                    let value = self.construct(v)?;
                    out.push((key, value));
                }
                self.path.pop();
                Ok(Yaml::Pairs(out))
            }
            other => Err(YamlError::UnsupportedTag(other.to_owned())),
        }
    }

    fn enter(&mut self, id: NodeId) -> Result<(), YamlError> {
        if self.path.len() >= self.limits.max_depth {
            return Err(YamlError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        self.path.push(id);
        Ok(())
    }

    /// PyYAML's `construct_mapping`: merge keys, hashable keys, later equal keys win.
    fn mapping(&mut self, id: NodeId) -> Result<Mapping, YamlError> {
        if !matches!(self.nodes[id].kind, Kind::Map(_)) {
            return Err(marked(self.nodes[id].start, "expected a mapping node"));
        }
        self.flatten(id)?;
        let Kind::Map(pairs) = &self.nodes[id].kind else {
            return Ok(Mapping::new());
        };
        let pairs = pairs.clone();
        let mut map = Mapping::new();
        let mut by_text: HashMap<String, usize> = HashMap::new();
        for (k, v) in pairs {
            let key = self.construct(k)?;
            if !key.is_hashable() {
                return Err(marked(
                    self.nodes[k].start,
                    "while constructing a mapping: found unhashable key",
                ));
            }
            let value = self.construct(v)?;
            let slot = match &key {
                Yaml::Str(s) => by_text.get(s).copied(),
                _ => map.entries.iter().position(|(e, _)| e.py_eq(&key)),
            };
            if let Some(i) = slot {
                map.entries[i].1 = value;
            } else {
                if let Yaml::Str(s) = &key {
                    by_text.insert(s.clone(), map.entries.len());
                }
                map.entries.push((key, value));
            }
        }
        Ok(map)
    }
}

/// Parses `text` (already checked for size and characters) into a tree.
pub(crate) fn load(text: &str, limits: &YamlLimits) -> Result<Option<Yaml>, YamlError> {
    let mut parser = Parser::new(text);
    let mut composer = Composer {
        nodes: Vec::new(),
        anchors: HashMap::new(),
        limits,
    };
    let Some(root) = composer.compose(&mut parser)? else {
        return Ok(None);
    };
    let count = composer.nodes.len();
    let mut constructor = Constructor {
        nodes: composer.nodes,
        limits,
        path: Vec::new(),
        constructed: vec![false; count],
        repeat: 0,
        alias_nodes: 0,
        out_nodes: 0,
    };
    constructor.construct(root).map(Some)
}
