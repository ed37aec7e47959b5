//! The upgrade graph of each channel (`replaces`, `skips` and `skipRange` edges, heads marked),
//! rendered as Mermaid or Graphviz dot, in the spirit of `opm alpha render-graph`. Edges point
//! from the version upgraded from to the version upgraded to.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::Catalog;
use crate::semver::{Range, Version};

/// Kind of an upgrade edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EdgeKind {
    /// `replaces`.
    Replaces,
    /// `skips`.
    Skips,
    /// The source's version is in the target's `skipRange`.
    SkipRange,
}

impl EdgeKind {
    fn label(self) -> &'static str {
        match self {
            EdgeKind::Replaces => "replaces",
            EdgeKind::Skips => "skips",
            EdgeKind::SkipRange => "skipRange",
        }
    }
}

/// One upgrade edge: `from` may upgrade to `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// The bundle upgraded from.
    pub from: String,
    /// The bundle upgraded to.
    pub to: String,
    /// Why.
    pub kind: EdgeKind,
}

/// The graph of one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGraph {
    /// Package.
    pub package: String,
    /// Channel.
    pub channel: String,
    /// Entries of the channel, by name.
    pub entries: BTreeSet<String>,
    /// Bundles named by an edge but not in the channel.
    pub outside: BTreeSet<String>,
    /// Channel heads (exactly one in a valid channel).
    pub heads: Vec<String>,
    /// Edges, sorted.
    pub edges: Vec<Edge>,
}

/// The graphs of every channel of `catalog` (optionally one package), sorted by package and
/// channel.
pub fn upgrade_graphs(catalog: &Catalog, package: Option<&str>) -> Vec<ChannelGraph> {
    let versions: BTreeMap<(&str, &str), Version> = catalog
        .bundles
        .iter()
        .filter_map(|b| {
            let v = Version::parse(b.version()?).ok()?;
            Some(((b.package.as_str(), b.name.as_str()), v))
        })
        .collect();
    let mut channels: Vec<&crate::model::Channel> = catalog
        .channels
        .iter()
        .filter(|c| package.is_none_or(|p| c.package == p))
        .collect();
    channels.sort_by(|a, b| (&a.package, &a.name).cmp(&(&b.package, &b.name)));
    let mut out = Vec::new();
    for ch in channels {
        let entries: BTreeSet<String> = ch.entries.iter().map(|e| e.name.clone()).collect();
        let mut edges = BTreeSet::new();
        let mut incoming = BTreeSet::new();
        for e in &ch.entries {
            if !e.replaces.is_empty() {
                incoming.insert(e.replaces.clone());
                edges.insert(Edge {
                    from: e.replaces.clone(),
                    to: e.name.clone(),
                    kind: EdgeKind::Replaces,
                });
            }
            for s in &e.skips {
                incoming.insert(s.clone());
                edges.insert(Edge {
                    from: s.clone(),
                    to: e.name.clone(),
                    kind: EdgeKind::Skips,
                });
            }
            if let Ok(range) = Range::parse(&e.skip_range) {
                for other in &ch.entries {
                    if other.name == e.name {
                        continue;
                    }
                    if let Some(v) = versions.get(&(ch.package.as_str(), other.name.as_str())) {
                        if range.contains(v) {
                            edges.insert(Edge {
                                from: other.name.clone(),
                                to: e.name.clone(),
                                kind: EdgeKind::SkipRange,
                            });
                        }
                    }
                }
            }
        }
        let outside = edges
            .iter()
            .flat_map(|e| [&e.from, &e.to])
            .filter(|n| !entries.contains(*n))
            .cloned()
            .collect();
        let heads = entries
            .iter()
            .filter(|n| !incoming.contains(*n))
            .cloned()
            .collect();
        out.push(ChannelGraph {
            package: ch.package.clone(),
            channel: ch.name.clone(),
            entries,
            outside,
            heads,
            edges: edges.into_iter().collect(),
        });
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Mermaid flowchart: one subgraph per channel, heads highlighted, bundles outside the channel
/// drawn dashed.
pub fn to_mermaid(graphs: &[ChannelGraph]) -> String {
    let mut out = String::from("graph LR\n");
    for (ci, g) in graphs.iter().enumerate() {
        let id = |n: &str| {
            let pos = g
                .entries
                .iter()
                .chain(g.outside.iter())
                .position(|x| x == n)
                .unwrap_or(0);
            format!("c{ci}n{pos}")
        };
        let _ = writeln!(
            out,
            "  subgraph c{ci}[\"{} / {}\"]",
            escape(&g.package),
            escape(&g.channel)
        );
        for n in &g.entries {
            let _ = writeln!(out, "    {}[\"{}\"]", id(n), escape(n));
        }
        for n in &g.outside {
            let _ = writeln!(out, "    {}[\"{} (not in channel)\"]", id(n), escape(n));
        }
        for e in &g.edges {
            let arrow = match e.kind {
                EdgeKind::Replaces => format!("-- {} -->", e.kind.label()),
                _ => format!("-. {} .->", e.kind.label()),
            };
            let _ = writeln!(out, "    {} {arrow} {}", id(&e.from), id(&e.to));
        }
        out.push_str("  end\n");
        for h in &g.heads {
            let _ = writeln!(out, "  class {} head", id(h));
        }
        for n in &g.outside {
            let _ = writeln!(out, "  class {} outside", id(n));
        }
    }
    out.push_str("  classDef head stroke-width:3px,stroke:#137333\n");
    out.push_str("  classDef outside stroke-dasharray:4 4\n");
    out
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz dot: one cluster per channel, heads with a double border, outside bundles dashed.
pub fn to_dot(graphs: &[ChannelGraph]) -> String {
    let mut out = String::from("digraph upgrades {\n  rankdir=LR;\n  node [shape=box];\n");
    for (ci, g) in graphs.iter().enumerate() {
        let id = |n: &str| dot_quote(&format!("{}/{}/{n}", g.package, g.channel));
        let _ = writeln!(out, "  subgraph cluster_{ci} {{");
        let _ = writeln!(
            out,
            "    label={};",
            dot_quote(&format!("{} / {}", g.package, g.channel))
        );
        for n in &g.entries {
            let head = if g.heads.contains(n) {
                ", peripheries=2, style=bold"
            } else {
                ""
            };
            let _ = writeln!(out, "    {} [label={}{head}];", id(n), dot_quote(n));
        }
        for n in &g.outside {
            let _ = writeln!(
                out,
                "    {} [label={}, style=dashed];",
                id(n),
                dot_quote(&format!("{n} (not in channel)"))
            );
        }
        for e in &g.edges {
            let style = match e.kind {
                EdgeKind::Replaces => "",
                EdgeKind::Skips => ", style=dashed",
                EdgeKind::SkipRange => ", style=dotted",
            };
            let _ = writeln!(
                out,
                "    {} -> {} [label={}{style}];",
                id(&e.from),
                id(&e.to),
                dot_quote(e.kind.label())
            );
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}
