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

pub(crate) fn syntax(e: ScanError) -> YamlError {
    if e.raised {
        return YamlError::Python {
            line: e.mark.line + 1,
            col: e.mark.column,
            message: e.message,
        };
    }
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
    constructed: Vec<bool>,
    /// Scalars as built by [`Constructor::check`].
    scalars: Vec<Option<Yaml>>,
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

    /// Visits the graph in PyYAML's construction order and raises the error PyYAML raises
    /// first. PyYAML builds a collection's items in a later round (its "state generators"),
    /// so a scalar error at the top of a document comes before one nested deeper, whatever
    /// their order in the text. Scalars are built here once and kept for the tree.
    fn check(&mut self, root: NodeId) -> Result<(), YamlError> {
        let mut visited = vec![false; self.nodes.len()];
        let mut round = Vec::new();
        self.visit(root, &mut visited, &mut round)?;
        while !round.is_empty() {
            let jobs = std::mem::take(&mut round);
            for id in jobs {
                self.run_job(id, &mut visited, &mut round)?;
            }
        }
        Ok(())
    }

    /// PyYAML's `construct_object` up to the first `yield`: scalars are built (and may fail),
    /// collections are queued, unknown tags fail.
    fn visit(
        &mut self,
        id: NodeId,
        visited: &mut [bool],
        round: &mut Vec<NodeId>,
    ) -> Result<(), YamlError> {
        if visited[id] {
            return Ok(());
        }
        visited[id] = true;
        let start = self.nodes[id].start;
        let tag = self.nodes[id].tag.clone();
        let value = match tag.as_str() {
            TAG_SEQ | TAG_MAP | TAG_SET | TAG_OMAP | TAG_PAIRS => {
                round.push(id);
                return Ok(());
            }
            TAG_NULL => self.scalar_text(id).map(|_| Yaml::Null)?,
            TAG_STR => Yaml::Str(self.scalar_text(id)?),
            TAG_BOOL => {
                resolve::construct_bool(&self.scalar_text(id)?).map_err(|f| fail(start, f))?
            }
            TAG_INT => {
                resolve::construct_int(&self.scalar_text(id)?).map_err(|f| fail(start, f))?
            }
            TAG_FLOAT => {
                resolve::construct_float(&self.scalar_text(id)?).map_err(|f| fail(start, f))?
            }
            TAG_BINARY => {
                resolve::construct_binary(&self.scalar_text(id)?).map_err(|f| fail(start, f))?
            }
            TAG_TIMESTAMP => {
                let text = self.scalar_text(id)?;
                resolve::parse_timestamp(&text).map_err(|f| fail(start, f))?;
                Yaml::Timestamp(text)
            }
            other => return Err(YamlError::UnsupportedTag(other.to_owned())),
        };
        self.scalars[id] = Some(value);
        Ok(())
    }

    /// The body of a collection constructor (what runs after PyYAML's `yield`).
    fn run_job(
        &mut self,
        id: NodeId,
        visited: &mut [bool],
        round: &mut Vec<NodeId>,
    ) -> Result<(), YamlError> {
        let start = self.nodes[id].start;
        match self.nodes[id].tag.as_str() {
            TAG_SEQ => {
                let Kind::Seq(items) = &self.nodes[id].kind else {
                    return Err(marked(start, "expected a sequence node"));
                };
                for item in items.clone() {
                    self.visit(item, visited, round)?;
                }
            }
            TAG_OMAP | TAG_PAIRS => {
                let Kind::Seq(items) = &self.nodes[id].kind else {
                    return Err(marked(
                        start,
                        "while constructing pairs: expected a sequence",
                    ));
                };
                for item in items.clone() {
                    let pair = match &self.nodes[item].kind {
                        Kind::Map(p) if p.len() == 1 => p[0],
                        Kind::Map(p) => {
                            return Err(marked(
                                self.nodes[item].start,
                                format!(
                                    "expected a single mapping item, but found {} items",
                                    p.len()
                                ),
                            ));
                        }
                        _ => {
                            return Err(marked(
                                self.nodes[item].start,
                                "expected a mapping of length 1",
                            ));
                        }
                    };
                    self.visit(pair.0, visited, round)?;
                    self.visit(pair.1, visited, round)?;
                }
            }
            _ => {
                // map and set: construct_mapping
                if !matches!(self.nodes[id].kind, Kind::Map(_)) {
                    return Err(marked(start, "expected a mapping node"));
                }
                self.flatten(id)?;
                let Kind::Map(pairs) = &self.nodes[id].kind else {
                    return Ok(());
                };
                for (k, v) in pairs.clone() {
                    self.visit(k, visited, round)?;
                    if matches!(
                        self.nodes[k].tag.as_str(),
                        TAG_SEQ | TAG_MAP | TAG_SET | TAG_OMAP | TAG_PAIRS
                    ) {
                        return Err(marked(
                            self.nodes[k].start,
                            "while constructing a mapping: found unhashable key",
                        ));
                    }
                    self.visit(v, visited, round)?;
                }
            }
        }
        Ok(())
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

    /// Builds the tree without recursion (documents nest hundreds of levels and this runs on
    /// small thread stacks). [`Constructor::check`] has already raised PyYAML's errors, so only
    /// our budgets can fail here.
    fn build(&mut self, root: NodeId) -> Result<Yaml, YamlError> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut ready = match self.begin(root, &mut stack)? {
            Some(v) => return Ok(v),
            None => None,
        };
        loop {
            let Some(top) = stack.last_mut() else {
                return ready.ok_or(YamlError::TooManyNodes { max: 0 });
            };
            if let Some(v) = ready.take() {
                top.accept(v);
            }
            if let Some(child) = top.next_child() {
                ready = self.begin(child, &mut stack)?;
            } else {
                let frame = stack.pop().expect("a frame");
                if frame.again {
                    self.repeat -= 1;
                }
                self.constructed[frame.id] = true;
                let value = frame.finish();
                if stack.is_empty() {
                    return Ok(value);
                }
                ready = Some(value);
            }
        }
    }

    /// Starts node `id`: a finished value, or `None` after pushing a frame for a collection.
    fn begin(&mut self, id: NodeId, stack: &mut Vec<Frame>) -> Result<Option<Yaml>, YamlError> {
        if let Some(pos) = stack.iter().rposition(|f| f.id == id) {
            // The same object as an enclosing collection: Python builds a recursive structure.
            return Ok(Some(Yaml::Recursive(stack.len() - pos)));
        }
        let again = self.constructed[id];
        if again {
            self.repeat += 1;
        }
        let counted = self.count();
        if let Some(v) = &self.scalars[id] {
            if again {
                self.repeat -= 1;
            }
            counted?;
            self.constructed[id] = true;
            return Ok(Some(v.clone()));
        }
        counted?;
        if stack.len() >= self.limits.max_depth {
            return Err(YamlError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        let shape = match (self.nodes[id].tag.as_str(), &self.nodes[id].kind) {
            (TAG_SEQ, Kind::Seq(items)) => Shape::Seq(items.clone()),
            (TAG_OMAP | TAG_PAIRS, Kind::Seq(items)) => Shape::Pairs(
                items
                    .iter()
                    .filter_map(|&i| match &self.nodes[i].kind {
                        Kind::Map(p) => p.first().copied(),
                        _ => None,
                    })
                    .collect(),
            ),
            (TAG_SET, Kind::Map(pairs)) => Shape::Map(pairs.clone(), true),
            (_, Kind::Map(pairs)) => Shape::Map(pairs.clone(), false),
            // `check` refused every other combination.
            _ => Shape::Seq(Vec::new()),
        };
        stack.push(Frame::new(id, shape, again));
        Ok(None)
    }
}

/// What a frame builds.
enum Shape {
    Seq(Vec<NodeId>),
    Pairs(Vec<(NodeId, NodeId)>),
    /// The pairs, and whether it is a `!!set`.
    Map(Vec<(NodeId, NodeId)>, bool),
}

/// A collection being built by [`Constructor::build`].
struct Frame {
    id: NodeId,
    again: bool,
    shape: Shape,
    /// Children handed out so far (keys and values count separately for mappings).
    next: usize,
    items: Vec<Yaml>,
    key: Option<Yaml>,
    entries: Vec<(Yaml, Yaml)>,
    by_text: HashMap<String, usize>,
}

impl Frame {
    fn new(id: NodeId, shape: Shape, again: bool) -> Self {
        Frame {
            id,
            again,
            shape,
            next: 0,
            items: Vec::new(),
            key: None,
            entries: Vec::new(),
            by_text: HashMap::new(),
        }
    }

    fn next_child(&mut self) -> Option<NodeId> {
        let i = self.next;
        let child = match &self.shape {
            Shape::Seq(items) => items.get(i).copied(),
            Shape::Pairs(pairs) | Shape::Map(pairs, _) => pairs
                .get(i / 2)
                .map(|&(k, v)| if i % 2 == 0 { k } else { v }),
        };
        if child.is_some() {
            self.next += 1;
        }
        child
    }

    fn accept(&mut self, v: Yaml) {
        match &self.shape {
            Shape::Seq(_) => self.items.push(v),
            Shape::Pairs(_) => match self.key.take() {
                None => self.key = Some(v),
                Some(k) => self.entries.push((k, v)),
            },
            Shape::Map(..) => match self.key.take() {
                None => self.key = Some(v),
                Some(key) => {
                    // Python's dict: an equal key keeps its place and first spelling.
                    let slot = match &key {
                        Yaml::Str(s) => self.by_text.get(s).copied(),
                        _ => self.entries.iter().position(|(e, _)| e.py_eq(&key)),
                    };
                    if let Some(i) = slot {
                        self.entries[i].1 = v;
                    } else {
                        if let Yaml::Str(s) = &key {
                            self.by_text.insert(s.clone(), self.entries.len());
                        }
                        self.entries.push((key, v));
                    }
                }
            },
        }
    }

    fn finish(self) -> Yaml {
        match self.shape {
            Shape::Seq(_) => Yaml::Seq(self.items),
            Shape::Pairs(_) => Yaml::Pairs(self.entries),
            Shape::Map(_, true) => Yaml::Set(self.entries.into_iter().map(|(k, _)| k).collect()),
            Shape::Map(_, false) => Yaml::Map(Mapping {
                entries: self.entries,
            }),
        }
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
        constructed: vec![false; count],
        scalars: vec![None; count],
        repeat: 0,
        alias_nodes: 0,
        out_nodes: 0,
    };
    constructor.check(root)?;
    constructor.build(root).map(Some)
}
