//! `brandpunt relations ...`: the network of registrations, addresses and pseudonymised subjects of a tenant
//! (see [`brandpunt::relations`]): neighbourhood, shortest paths, connecting network, components, repeat
//! subjects, centrality and exports. The command line acts with every category (like the other commands); the
//! graph is built from the current incidents of the filter.

use super::analyse::input::incident_filter;
use super::context;
use super::stats::parse_date;
use brandpunt::access::CategoryScope;
use brandpunt::cancel::Cancel;
use brandpunt::relations::export::{Elements, Format};
use brandpunt::relations::{
    centrality, queries, Graph, Subgraph, MAX_BETWEENNESS_NODES, MAX_PATHS, MAX_RESULT_NODES,
};
use chrono::NaiveDate;
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Which registrations the graph is built from.
#[derive(clap::Args, Debug, Clone)]
pub struct GraphFilter {
    /// Category codes and/or group names, comma-separated (e.g. `1.1.1,geweld`).
    #[arg(long)]
    pub category: Option<String>,
    /// Source(s), comma-separated (e.g. `politie,handhaving`).
    #[arg(long)]
    pub source: Option<String>,
    /// First day (incidents whose window begins on or after it), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day (incidents whose window begins on or before it), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
}

/// Where and how a (part of the) network is written.
#[derive(clap::Args, Debug, Clone)]
pub struct Output {
    /// graphml, gexf, cytoscape (JSON) or csv (link table).
    #[arg(long, default_value = "cytoscape", value_parser = ["graphml", "gexf", "cytoscape", "json", "csv"])]
    pub format: String,
    /// Output file; default: standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum RelationsCommand {
    /// The nodes within --depth links of --node (incident:<nr>, address:<BAG id>, subject:<pseudonym>).
    Neighbours {
        #[arg(long)]
        node: String,
        #[arg(long, default_value_t = 1)]
        depth: u32,
        #[arg(long, default_value_t = MAX_RESULT_NODES)]
        max_nodes: usize,
        #[command(flatten)]
        filter: GraphFilter,
        #[command(flatten)]
        output: Output,
    },
    /// All shortest paths between two nodes (JSON: length and the paths as node ids).
    Paths {
        /// One end (`--from`/`--to` are the period).
        #[arg(long)]
        start: String,
        /// The other end.
        #[arg(long)]
        target: String,
        #[arg(long, default_value_t = 100)]
        max_paths: usize,
        #[command(flatten)]
        filter: GraphFilter,
    },
    /// The connecting network of several nodes (every shortest path between two of them).
    Network {
        /// Node ids, comma-separated or the option repeated.
        #[arg(long, value_delimiter = ',', required = true)]
        node: Vec<String>,
        #[arg(long, default_value_t = MAX_RESULT_NODES)]
        max_nodes: usize,
        #[command(flatten)]
        filter: GraphFilter,
        #[command(flatten)]
        output: Output,
    },
    /// Connected components with their sizes and the number of nodes of each kind (CSV).
    Components {
        #[command(flatten)]
        filter: GraphFilter,
    },
    /// Subjects in at least --min-sources sources or at least --min-registrations registrations, by id (CSV).
    Repeats {
        #[arg(long, default_value_t = 2)]
        min_sources: u32,
        #[arg(long, default_value_t = 3)]
        min_registrations: u32,
        #[command(flatten)]
        filter: GraphFilter,
    },
    /// Degree and betweenness per node (CSV, by id) of the neighbourhood of --node, or of the whole network.
    Centrality {
        #[arg(long)]
        node: Option<String>,
        #[arg(long, default_value_t = 2)]
        depth: u32,
        #[arg(long, default_value_t = MAX_BETWEENNESS_NODES)]
        max_nodes: usize,
        #[command(flatten)]
        filter: GraphFilter,
    },
    /// The whole network of the filter as GraphML, GEXF, Cytoscape JSON or a link-table CSV.
    Export {
        #[command(flatten)]
        filter: GraphFilter,
        #[command(flatten)]
        output: Output,
    },
}

/// The graph of `filter` read from the store at `db`.
fn build(db: &Path, filter: &GraphFilter) -> anyhow::Result<Graph> {
    if let (Some(f), Some(t)) = (filter.from, filter.to) {
        anyhow::ensure!(f <= t, "--from ({f}) ligt na --to ({t})");
    }
    let store = context::open_store(db)?;
    let f = incident_filter(
        &filter.tenant,
        filter.category.as_deref(),
        &filter.source,
        filter.from,
        filter.to,
    );
    let mut incidents = Vec::new();
    store.for_each_linked_incident(&f, &mut |i| {
        incidents.push(i);
        Ok(())
    })?;
    Ok(Graph::build(
        &incidents,
        &CategoryScope::All,
        &Cancel::never(),
    )?)
}

fn write_elements(elements: &Elements, output: &Output) -> anyhow::Result<()> {
    let format = Format::parse(&output.format)
        .ok_or_else(|| anyhow::anyhow!("--format: onbekend formaat '{}'", output.format))?;
    match &output.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("--output {}: {e}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            elements.write(format, &mut w)?;
            w.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = stdout.lock();
            elements.write(format, &mut w)?;
        }
    }
    Ok(())
}

pub fn run(db: &Path, cmd: RelationsCommand) -> anyhow::Result<ExitCode> {
    let cancel = Cancel::never();
    match cmd {
        RelationsCommand::Neighbours {
            node,
            depth,
            max_nodes,
            filter,
            output,
        } => {
            queries::check_depth(depth)?;
            let g = build(db, &filter)?;
            let v = g.lookup("--node", &node)?;
            let sub = queries::neighbourhood(g.adjacency(), v, depth, max_nodes, &cancel)?;
            write_elements(&Elements::of(&g, &sub), &output)?;
        }
        RelationsCommand::Paths {
            start,
            target,
            max_paths,
            filter,
        } => {
            anyhow::ensure!(max_paths <= MAX_PATHS, "--max-paths: hoogstens {MAX_PATHS}");
            let g = build(db, &filter)?;
            let a = g.lookup("--start", &start)?;
            let b = g.lookup("--target", &target)?;
            let paths = queries::shortest_paths(g.adjacency(), a, b, max_paths, &cancel)?;
            let ids: Vec<Vec<String>> = paths
                .iter()
                .map(|p| p.iter().map(|&v| g.node_id(v)).collect())
                .collect();
            let length = paths.first().map(|p| p.len() - 1);
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "from": g.node_id(a),
                    "to": g.node_id(b),
                    "length": length,
                    "paths": ids,
                }))?
            );
        }
        RelationsCommand::Network {
            node,
            max_nodes,
            filter,
            output,
        } => {
            let g = build(db, &filter)?;
            let nodes: Vec<u32> = node
                .iter()
                .map(|n| g.lookup("--node", n))
                .collect::<Result<_, _>>()?;
            let sub = queries::network(g.adjacency(), &nodes, max_nodes, &cancel)?;
            write_elements(&Elements::of(&g, &sub), &output)?;
        }
        RelationsCommand::Components { filter } => {
            let g = build(db, &filter)?;
            let comps = queries::component_summaries(&g, &cancel)?;
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(["component", "size", "kinds", "example"])?;
            for c in comps {
                let kinds: Vec<String> = c.kinds.iter().map(|(k, n)| format!("{k}:{n}")).collect();
                w.write_record([
                    c.index.to_string(),
                    c.size.to_string(),
                    kinds.join(";"),
                    c.example,
                ])?;
            }
            w.flush()?;
        }
        RelationsCommand::Repeats {
            min_sources,
            min_registrations,
            filter,
        } => {
            let g = build(db, &filter)?;
            let subjects = queries::repeat_subjects(&g, min_sources, min_registrations)?;
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(["id", "kind", "registrations", "sources", "first", "last"])?;
            for v in subjects {
                let n = g.node(v);
                w.write_record([
                    g.node_id(v),
                    n.kind.as_str().to_string(),
                    n.incidents.to_string(),
                    g.source_names(n.sources).join(";"),
                    Graph::date(n.first_day).to_string(),
                    Graph::date(n.last_day).to_string(),
                ])?;
            }
            w.flush()?;
        }
        RelationsCommand::Centrality {
            node,
            depth,
            max_nodes,
            filter,
        } => {
            anyhow::ensure!(
                max_nodes <= MAX_BETWEENNESS_NODES,
                "--max-nodes: hoogstens {MAX_BETWEENNESS_NODES}"
            );
            queries::check_depth(depth)?;
            let g = build(db, &filter)?;
            let sub = match node {
                Some(n) => {
                    let v = g.lookup("--node", &n)?;
                    queries::neighbourhood(g.adjacency(), v, depth, max_nodes, &cancel)?
                }
                None => Subgraph::whole(&g),
            };
            let adj = sub.adjacency(
                |e| {
                    let edge = g.edge(e);
                    (edge.a, edge.b)
                },
                &cancel,
            )?;
            let b = centrality::betweenness(&adj, max_nodes, &cancel)?;
            let degree = centrality::degrees(&adj);
            let mut rows: Vec<(String, usize)> = sub
                .nodes
                .iter()
                .enumerate()
                .map(|(k, &v)| (g.node_id(v), k))
                .collect();
            rows.sort();
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(["id", "kind", "degree", "betweenness", "betweenness_raw"])?;
            for (id, k) in rows {
                w.write_record([
                    id,
                    g.node(sub.nodes[k]).kind.as_str().to_string(),
                    degree[k].to_string(),
                    b.normalized[k].to_string(),
                    b.raw[k].to_string(),
                ])?;
            }
            w.flush()?;
        }
        RelationsCommand::Export { filter, output } => {
            let g = build(db, &filter)?;
            write_elements(&Elements::of(&g, &Subgraph::whole(&g)), &output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
