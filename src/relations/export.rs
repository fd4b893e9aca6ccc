//! Writing a (part of a) relation graph: GraphML, GEXF 1.3 with time intervals (Gephi), Cytoscape.js JSON and a
//! link-table CSV (one row per link with both ends, as i2 Analyst's Notebook imports it).
//!
//! Every format holds the same elements ([`Elements::of`]): the subgraph's nodes, ordered by id, each with `kind`,
//! `label`, `first` and `last` day (ISO dates), `incidents`, `sources` (`;`-separated), `category` (incidents)
//! and `key_id` (subjects); then its base edges and the derived edges among its nodes, each with `kind`
//! (`located_at`, `involves`, `co_occurs`), `role` (involves), `count`, `first`, `last` and `sources`. Edge ids
//! are `e0, e1, ...` in that order. Only pseudonyms appear, never a raw identifier: the graph holds no other.

use super::graph::Graph;
use super::queries::Subgraph;
use crate::wms::xml_escape;
use serde::Serialize;
use std::io::Write;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    GraphMl,
    Gexf,
    Cytoscape,
    Csv,
}

impl Format {
    /// `graphml`, `gexf`, `cytoscape` (or `json`), `csv`; `None` otherwise.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "graphml" => Some(Format::GraphMl),
            "gexf" => Some(Format::Gexf),
            "cytoscape" | "json" => Some(Format::Cytoscape),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// One exported node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeRecord {
    pub id: String,
    pub kind: &'static str,
    pub label: String,
    pub first: String,
    pub last: String,
    pub incidents: u32,
    pub sources: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// One exported edge.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EdgeRecord {
    pub id: String,
    pub source: String,
    pub target: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub count: u32,
    pub first: String,
    pub last: String,
    pub sources: String,
}

/// The nodes and edges of an export (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Elements {
    pub nodes: Vec<NodeRecord>,
    pub edges: Vec<EdgeRecord>,
}

impl Elements {
    /// The elements of `sub` in `g`: its nodes, its base edges and the derived edges among its nodes.
    ///
    /// ```
    /// use brandpunt::access::CategoryScope;
    /// use brandpunt::cancel::Cancel;
    /// use brandpunt::relations::{export::Elements, Graph, Subgraph};
    /// let g = Graph::build(&[], &CategoryScope::All, &Cancel::never()).unwrap();
    /// let e = Elements::of(&g, &Subgraph::whole(&g));
    /// assert!(e.nodes.is_empty() && e.edges.is_empty());
    /// ```
    pub fn of(g: &Graph, sub: &Subgraph) -> Elements {
        let date = |d: i32| Graph::date(d).format("%Y-%m-%d").to_string();
        let mut nodes: Vec<NodeRecord> = sub
            .nodes
            .iter()
            .map(|&v| {
                let n = g.node(v);
                NodeRecord {
                    id: g.node_id(v),
                    kind: n.kind.as_str(),
                    label: g.label(v),
                    first: date(n.first_day),
                    last: date(n.last_day),
                    incidents: n.incidents,
                    sources: g.source_names(n.sources).join(";"),
                    category: g.category(v).map(str::to_string),
                    key_id: g.key_id(v).map(str::to_string),
                }
            })
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        let derived = g.derived_edges_within(&sub.nodes);
        let edges = sub
            .edges
            .iter()
            .chain(derived.iter())
            .enumerate()
            .map(|(k, &e)| {
                let edge = g.edge(e);
                EdgeRecord {
                    id: format!("e{k}"),
                    source: g.node_id(edge.a),
                    target: g.node_id(edge.b),
                    kind: edge.kind.as_str(),
                    role: g.edge_roles(e).map(str::to_string),
                    count: edge.count,
                    first: date(edge.first_day),
                    last: date(edge.last_day),
                    sources: g.source_names(edge.sources).join(";"),
                }
            })
            .collect();
        Elements { nodes, edges }
    }

    /// Write in `format`.
    pub fn write(&self, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
        match format {
            Format::GraphMl => self.write_graphml(out),
            Format::Gexf => self.write_gexf(out),
            Format::Cytoscape => self.write_cytoscape(out),
            Format::Csv => self.write_csv(out),
        }
    }

    /// GraphML (undirected), attributes as `<data>` under keys named like the fields.
    pub fn write_graphml(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">"#
        )?;
        let node_keys = [
            ("kind", "string"),
            ("label", "string"),
            ("first", "string"),
            ("last", "string"),
            ("incidents", "int"),
            ("sources", "string"),
            ("category", "string"),
            ("key_id", "string"),
        ];
        let edge_keys = [
            ("kind", "string"),
            ("role", "string"),
            ("count", "int"),
            ("first", "string"),
            ("last", "string"),
            ("sources", "string"),
        ];
        for (name, ty) in node_keys {
            writeln!(
                out,
                r#"  <key id="n_{name}" for="node" attr.name="{name}" attr.type="{ty}"/>"#
            )?;
        }
        for (name, ty) in edge_keys {
            writeln!(
                out,
                r#"  <key id="e_{name}" for="edge" attr.name="{name}" attr.type="{ty}"/>"#
            )?;
        }
        writeln!(out, r#"  <graph id="relaties" edgedefault="undirected">"#)?;
        let data = |out: &mut dyn Write, key: &str, value: &str| {
            writeln!(
                out,
                r#"      <data key="{key}">{}</data>"#,
                xml_escape(value)
            )
        };
        for n in &self.nodes {
            writeln!(out, r#"    <node id="{}">"#, xml_escape(&n.id))?;
            data(out, "n_kind", n.kind)?;
            data(out, "n_label", &n.label)?;
            data(out, "n_first", &n.first)?;
            data(out, "n_last", &n.last)?;
            data(out, "n_incidents", &n.incidents.to_string())?;
            data(out, "n_sources", &n.sources)?;
            if let Some(c) = &n.category {
                data(out, "n_category", c)?;
            }
            if let Some(k) = &n.key_id {
                data(out, "n_key_id", k)?;
            }
            writeln!(out, "    </node>")?;
        }
        for e in &self.edges {
            writeln!(
                out,
                r#"    <edge id="{}" source="{}" target="{}">"#,
                e.id,
                xml_escape(&e.source),
                xml_escape(&e.target)
            )?;
            data(out, "e_kind", e.kind)?;
            if let Some(r) = &e.role {
                data(out, "e_role", r)?;
            }
            data(out, "e_count", &e.count.to_string())?;
            data(out, "e_first", &e.first)?;
            data(out, "e_last", &e.last)?;
            data(out, "e_sources", &e.sources)?;
            writeln!(out, "    </edge>")?;
        }
        writeln!(out, "  </graph>\n</graphml>")
    }

    /// GEXF 1.3, dynamic with date intervals: a node or edge exists from its `first` to its `last` day.
    pub fn write_gexf(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<gexf xmlns="http://gexf.net/1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd" version="1.3">"#
        )?;
        writeln!(
            out,
            "  <meta><creator>brandpunt</creator><description>Relaties</description></meta>"
        )?;
        writeln!(
            out,
            r#"  <graph defaultedgetype="undirected" mode="dynamic" timeformat="date">"#
        )?;
        let node_attrs = [
            ("kind", "string"),
            ("incidents", "integer"),
            ("sources", "string"),
            ("category", "string"),
            ("key_id", "string"),
        ];
        let edge_attrs = [
            ("kind", "string"),
            ("role", "string"),
            ("count", "integer"),
            ("sources", "string"),
        ];
        writeln!(out, r#"    <attributes class="node" mode="static">"#)?;
        for (k, (name, ty)) in node_attrs.iter().enumerate() {
            writeln!(
                out,
                r#"      <attribute id="{k}" title="{name}" type="{ty}"/>"#
            )?;
        }
        writeln!(out, "    </attributes>")?;
        writeln!(out, r#"    <attributes class="edge" mode="static">"#)?;
        for (k, (name, ty)) in edge_attrs.iter().enumerate() {
            writeln!(
                out,
                r#"      <attribute id="{k}" title="{name}" type="{ty}"/>"#
            )?;
        }
        writeln!(out, "    </attributes>")?;
        let attvalues = |out: &mut dyn Write, values: &[(usize, Option<&str>)]| {
            writeln!(out, "        <attvalues>")?;
            for (k, v) in values {
                if let Some(v) = v {
                    writeln!(
                        out,
                        r#"          <attvalue for="{k}" value="{}"/>"#,
                        xml_escape(v)
                    )?;
                }
            }
            writeln!(out, "        </attvalues>")
        };
        writeln!(out, "    <nodes>")?;
        for n in &self.nodes {
            writeln!(
                out,
                r#"      <node id="{}" label="{}" start="{}" end="{}">"#,
                xml_escape(&n.id),
                xml_escape(&n.label),
                n.first,
                n.last
            )?;
            let incidents = n.incidents.to_string();
            attvalues(
                out,
                &[
                    (0, Some(n.kind)),
                    (1, Some(&incidents)),
                    (2, Some(&n.sources)),
                    (3, n.category.as_deref()),
                    (4, n.key_id.as_deref()),
                ],
            )?;
            writeln!(out, "      </node>")?;
        }
        writeln!(out, "    </nodes>\n    <edges>")?;
        for e in &self.edges {
            writeln!(
                out,
                r#"      <edge id="{}" source="{}" target="{}" start="{}" end="{}">"#,
                e.id,
                xml_escape(&e.source),
                xml_escape(&e.target),
                e.first,
                e.last
            )?;
            let count = e.count.to_string();
            attvalues(
                out,
                &[
                    (0, Some(e.kind)),
                    (1, e.role.as_deref()),
                    (2, Some(&count)),
                    (3, Some(&e.sources)),
                ],
            )?;
            writeln!(out, "      </edge>")?;
        }
        writeln!(out, "    </edges>\n  </graph>\n</gexf>")
    }

    /// Cytoscape.js elements JSON: `{"elements": {"nodes": [{"data": {...}}], "edges": [{"data": {...}}]}}`.
    pub fn write_cytoscape(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &self.cytoscape())?;
        writeln!(out)
    }

    /// The Cytoscape.js elements JSON as a value (for the API).
    pub fn cytoscape(&self) -> serde_json::Value {
        let wrap = |v: serde_json::Value| serde_json::json!({ "data": v });
        let nodes: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .map(|n| wrap(serde_json::to_value(n).unwrap_or_default()))
            .collect();
        let edges: Vec<serde_json::Value> = self
            .edges
            .iter()
            .map(|e| wrap(serde_json::to_value(e).unwrap_or_default()))
            .collect();
        serde_json::json!({ "elements": { "nodes": nodes, "edges": edges } })
    }

    /// The link table: one row per edge with both ends (id, kind, label) and the link's attributes.
    pub fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let by_id: std::collections::HashMap<&str, &NodeRecord> =
            self.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut w = csv::Writer::from_writer(out);
        let io = |e: csv::Error| std::io::Error::other(e.to_string());
        w.write_record([
            "van_id",
            "van_soort",
            "van_label",
            "naar_id",
            "naar_soort",
            "naar_label",
            "link_soort",
            "rol",
            "aantal",
            "eerste",
            "laatste",
            "bronnen",
        ])
        .map_err(io)?;
        for e in &self.edges {
            let end = |id: &str| {
                by_id
                    .get(id)
                    .map_or(("", String::new()), |n| (n.kind, n.label.clone()))
            };
            let (from_kind, from_label) = end(&e.source);
            let (to_kind, to_label) = end(&e.target);
            let count = e.count.to_string();
            w.write_record([
                e.source.as_str(),
                from_kind,
                &from_label,
                e.target.as_str(),
                to_kind,
                &to_label,
                e.kind,
                e.role.as_deref().unwrap_or(""),
                &count,
                &e.first,
                &e.last,
                &e.sources,
            ])
            .map_err(io)?;
        }
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::graph::tests::sample;
    use super::*;
    use crate::access::CategoryScope;
    use crate::cancel::Cancel;

    fn elements() -> Elements {
        let g = Graph::build(&sample(), &CategoryScope::All, &Cancel::never()).unwrap();
        Elements::of(&g, &Subgraph::whole(&g))
    }

    fn text(format: Format) -> String {
        let mut out = Vec::new();
        elements().write(format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_holds_every_node_and_edge() {
        let e = elements();
        assert_eq!((e.nodes.len(), e.edges.len()), (9, 15));
        let ids: Vec<&str> = e.nodes.iter().map(|n| n.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let graphml = text(Format::GraphMl);
        assert_eq!(graphml.matches("<node ").count(), 9);
        assert_eq!(graphml.matches("<edge ").count(), 15);
        assert!(graphml.contains(r#"<data key="e_role">BSN aangever,BSN verdachte</data>"#));
        let gexf = text(Format::Gexf);
        assert_eq!(gexf.matches("<node ").count(), 9);
        assert_eq!(gexf.matches("<edge ").count(), 15);
        assert!(gexf.contains(r#"start="2024-03-01" end="2024-03-09""#));
        let json: serde_json::Value = serde_json::from_str(&text(Format::Cytoscape)).unwrap();
        assert_eq!(json["elements"]["nodes"].as_array().unwrap().len(), 9);
        assert_eq!(json["elements"]["edges"].as_array().unwrap().len(), 15);
        assert_eq!(json["elements"]["nodes"][0]["data"]["kind"], "address");
        let csv = text(Format::Csv);
        assert_eq!(csv.lines().count(), 16);
        assert!(csv.starts_with("van_id,van_soort"));
        assert_eq!(Format::parse("json"), Some(Format::Cytoscape));
        assert_eq!(Format::parse("pdf"), None);
    }
}
