//! The relations network over HTTP (`/api/relations/...`): neighbourhood, shortest paths, connecting network,
//! components, repeat subjects, centrality and exports of the network of registrations, addresses and
//! pseudonymised subjects ([`crate::relations`]).
//!
//! # Access
//! Only callers with [`Action::ViewRelations`] (the `relations` grant of an analyst or admin) get an answer; anyone
//! else gets 403. The graph is built from the incidents of the categories that are both asked for (`category`)
//! and granted to the caller ([`crate::access::Principal::address_level_scope`]), so nothing links through a
//! registration the caller may not see. Every answer is written to the audit trail first (action
//! [`ACTION_RELATIONS`], with the endpoint, the filter and the query's nodes, and the number of nodes served);
//! when the record cannot be written the request fails.
//!
//! # Parameters
//! The common filters `category`, `from`, `to`, `source` ([`super::filter`]); `area` and `bbox` are refused (the
//! network is not spatial). Node ids are `incident:<registratienummer>`, `address:<BAG id>` or
//! `subject:<pseudonym>`: a malformed id is 400 naming the parameter, an id not in the caller's network 404.
//! `depth` is at most [`crate::relations::MAX_DEPTH`] (400 naming `depth`); results larger than
//! [`crate::relations::MAX_RESULT_NODES`] nodes are 400 naming the parameter that bounds them.
//!
//! # Answers
//! Networks are Cytoscape.js JSON (`{"elements": {"nodes": [{"data": {"id", "kind", "label", ...}}],
//! "edges": [...]}}`). Lists come ordered by node id; no answer ranks or scores persons.
//!
//! # Caching
//! Building the graph reads the tenant's linked incidents from the store and is heavy: it runs on the blocking
//! pool under a turn of the heavy queue ([`super::heavy`]), cancelled with its request. The built graph is cached
//! per (snapshot generation, filter, granted categories) as [`RelationsGraphKey`], so a data change of the
//! tenant (a new generation) invalidates it and later queries of the same filter only traverse it.

use super::error::ApiError;
use super::filter::Filter;
use super::{AppState, Caller};
use crate::access::{Action, CategoryScope};
use crate::audit::AuditEntry;
use crate::cache::CacheEntry;
use crate::cancel::Cancel;
use crate::heap_size::HeapSize;
use crate::relations::export::{Elements, Format};
use crate::relations::{
    centrality, queries, Graph, RelationsError, Subgraph, MAX_BETWEENNESS_NODES, MAX_PATHS,
    MAX_RESULT_NODES,
};
use crate::store::{IncidentFilter, LinkedIncident, StoreError};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The audit `action` of every relations query and export.
pub const ACTION_RELATIONS: &str = "relations";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/relations/neighbours", get(neighbours))
        .route("/api/relations/paths", get(paths))
        .route("/api/relations/network", get(network))
        .route("/api/relations/components", get(components))
        .route("/api/relations/repeats", get(repeats))
        .route("/api/relations/centrality", get(centrality_of))
        .route("/api/relations/{file}", get(export))
}

/// Cache key of a built relations graph: the tenant's snapshot generation, the granted categories the graph was
/// built from (`None` = every category, uncategorised incidents included) and the rest of the filter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelationsGraphKey {
    pub generation: u64,
    pub categories: Option<Vec<String>>,
    pub sources: Vec<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl HeapSize for RelationsGraphKey {
    fn heap_bytes(&self) -> usize {
        self.categories.heap_bytes() + self.sources.heap_bytes()
    }
}

impl CacheEntry for RelationsGraphKey {
    type Value = Arc<Graph>;
    const KIND: &'static str = "relations_graph";
}

/// Query parameters in order, repeated names kept (`node=a&node=b`).
type Pairs = Vec<(String, String)>;

/// The last value of each name.
fn last_values(pairs: &Pairs) -> HashMap<String, String> {
    pairs.iter().cloned().collect()
}

fn relations_error(e: RelationsError) -> ApiError {
    match e {
        RelationsError::BadNode { ref parameter, .. } => ApiError::param(parameter, e.to_string()),
        RelationsError::Parameter { parameter, .. } => ApiError::param(parameter, e.to_string()),
        RelationsError::UnknownNode { .. } => ApiError::NotFound(e.to_string()),
        RelationsError::Depth { .. } => ApiError::param("depth", e.to_string()),
        RelationsError::TooLarge { parameter, .. } => ApiError::param(parameter, e.to_string()),
        RelationsError::TooManySources { .. } => ApiError::bad(e.to_string()),
        RelationsError::Cancelled(_) => ApiError::Cancelled,
    }
}

/// A numeric parameter in `1..=max` (400 naming it otherwise), `default` when absent.
fn number(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(raw) = params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let n: usize = raw
        .parse()
        .map_err(|_| ApiError::param(name, format!("'{raw}' is geen geheel getal")))?;
    if n == 0 || n > max {
        return Err(ApiError::param(
            name,
            format!("{n} ligt niet tussen 1 en {max}"),
        ));
    }
    Ok(n)
}

/// 403 unless the caller holds the `relations` grant (checked before any parameter).
fn require_grant(caller: &Caller) -> Result<(), ApiError> {
    if caller
        .principal
        .may(caller.tenant(), &Action::ViewRelations)
    {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "geen toegang tot relaties (het recht 'relations' ontbreekt)".into(),
        ))
    }
}

/// The caller's graph request: the checked filter, what the caller may see of it, and its audit text.
struct GraphRequest {
    key: RelationsGraphKey,
    store_filter: IncidentFilter,
    scope: CategoryScope,
    filter_text: String,
}

/// 403 without the `relations` grant; the filter narrowed to the caller's categories (400 naming the parameter
/// for a bad filter, 403 for a request that names only ungranted categories).
fn graph_request(
    caller: &Caller,
    params: &HashMap<String, String>,
) -> Result<GraphRequest, ApiError> {
    require_grant(caller)?;
    for name in ["area", "bbox"] {
        if params.get(name).is_some_and(|v| !v.trim().is_empty()) {
            return Err(ApiError::param(
                name,
                "het relatienetwerk kent geen gebiedsfilter; gebruik category, source, from en to",
            ));
        }
    }
    let snapshot = &caller.snapshot;
    let asked = Filter::parse(params, snapshot)?;
    let scope = caller.principal.address_level_scope(
        caller.tenant(),
        &asked.category_codes,
        &snapshot.categories,
    );
    let categories = match &scope {
        CategoryScope::Denied => {
            return Err(ApiError::Forbidden(
                "geen toegang tot relaties: geen categorieën toegekend".into(),
            ))
        }
        CategoryScope::All => None,
        CategoryScope::Only(codes) if codes.is_empty() && !asked.category_codes.is_empty() => {
            return Err(ApiError::Forbidden(
                "geen toegang tot relaties van deze categorieën".into(),
            ))
        }
        CategoryScope::Only(codes) => Some(codes.clone()),
    };
    let store_filter = IncidentFilter {
        tenant: caller.tenant().to_string(),
        // An empty grant list selects nothing below (`Graph::build` with `Only([])`).
        categories: match &categories {
            None => asked.category_codes.clone(),
            Some(codes) => codes.clone(),
        },
        sources: asked.source_names.clone(),
        from: asked.from,
        to: asked.to,
    };
    let filter_text = format!(
        "{};categories={}",
        asked.key(),
        categories
            .as_ref()
            .map(|c| c.join(","))
            .unwrap_or_else(|| "*".into())
    );
    Ok(GraphRequest {
        key: RelationsGraphKey {
            generation: snapshot.generation,
            categories,
            sources: asked.source_names.clone(),
            from: asked.from,
            to: asked.to,
        },
        store_filter,
        scope,
        filter_text,
    })
}

/// Read the linked incidents of `filter` from a store handle of its own (the shared one stays free) and build
/// the graph; `cancel` is checked every 4,096 incidents while reading and throughout the build.
fn build_graph(
    state: &AppState,
    filter: &IncidentFilter,
    scope: &CategoryScope,
    cancel: &Cancel,
) -> Result<Graph, ApiError> {
    let store = state.opener.open().map_err(ApiError::internal)?;
    if matches!(scope, CategoryScope::Only(codes) if codes.is_empty()) {
        return Graph::build(&[], scope, cancel).map_err(relations_error);
    }
    let mut incidents: Vec<LinkedIncident> = Vec::new();
    let mut cancelled = false;
    let read = store.for_each_linked_incident(filter, &mut |i| {
        if incidents.len() % 4096 == 0 && cancel.check().is_err() {
            cancelled = true;
            return Err(StoreError::Backend {
                message: "cancelled".into(),
            });
        }
        incidents.push(i);
        Ok(())
    });
    if cancelled {
        return Err(ApiError::Cancelled);
    }
    read.map_err(ApiError::internal)?;
    Graph::build(&incidents, scope, cancel).map_err(relations_error)
}

/// The caller's graph: from the cache, else built under a turn of the heavy queue on the blocking pool.
async fn graph(state: &Arc<AppState>, request: &GraphRequest) -> Result<Arc<Graph>, ApiError> {
    if let Some(g) = state.caches.get(&request.key) {
        return Ok(g);
    }
    let turn = state.heavy.enter().await?;
    let (st, key, filter, scope) = (
        state.clone(),
        request.key.clone(),
        request.store_filter.clone(),
        request.scope.clone(),
    );
    state
        .blocking
        .run(move |cancel| {
            let _turn = turn;
            st.caches.get_or_insert_with(key, || {
                build_graph(&st, &filter, &scope, cancel).map(Arc::new)
            })
        })
        .await
}

/// Write the audit record of an answer (before it is sent): 500 when it cannot be written.
fn audit(
    state: &AppState,
    caller: &Caller,
    endpoint: &str,
    filter: &str,
    records: usize,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        actor: caller.principal.actor().to_string(),
        tenant: caller.principal.tenant.clone(),
        action: ACTION_RELATIONS.to_string(),
        endpoint: endpoint.to_string(),
        filter: filter.to_string(),
        records: records as i64,
    };
    state
        .with_store(|s| s.append_audit(&entry))
        .map(|_| ())
        .map_err(ApiError::internal)
}

/// A JSON answer that no shared cache keeps.
fn private_json(body: Value) -> Response {
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

/// Run `query` on the caller's graph on the blocking pool, audit its answer (`records` of it) and send it.
async fn answer<T, Q>(
    state: Arc<AppState>,
    caller: Caller,
    params: HashMap<String, String>,
    endpoint: &'static str,
    query_text: String,
    query: Q,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    Q: FnOnce(&Graph, &Cancel) -> Result<(T, usize), ApiError> + Send + 'static,
{
    let request = graph_request(&caller, &params)?;
    let g = graph(&state, &request).await?;
    let (value, records) = state.blocking.run(move |cancel| query(&g, cancel)).await?;
    let st = state.clone();
    let filter = format!("{};{query_text}", request.filter_text);
    st.blocking
        .run(move |_| audit(&state, &caller, endpoint, &filter, records))
        .await?;
    Ok(value)
}

/// `depth` (default `default`): 400 naming `depth` above [`crate::relations::MAX_DEPTH`] or not a number.
fn depth(params: &HashMap<String, String>, default: u32) -> Result<u32, ApiError> {
    let d = match params
        .get("depth")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => default,
        Some(raw) => raw
            .parse::<u32>()
            .map_err(|_| ApiError::param("depth", format!("'{raw}' is geen geheel getal")))?,
    };
    queries::check_depth(d).map_err(relations_error)?;
    Ok(d)
}

/// A required node parameter, checked for its form (400 naming it) before any work.
fn node_param(params: &HashMap<String, String>, name: &str) -> Result<String, ApiError> {
    let raw = params
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::param(name, "ontbreekt"))?;
    crate::relations::NodeId::parse(name, raw).map_err(relations_error)?;
    Ok(raw.to_string())
}

/// `GET /api/relations/neighbours?node=ID&depth=N`: the nodes within `depth` (default 1, at most 3) links of
/// `node`, as Cytoscape.js JSON; `max_nodes` (default and largest 20,000) bounds the result.
async fn neighbours(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    require_grant(&caller)?;
    let params = last_values(&pairs);
    let node = node_param(&params, "node")?;
    let depth = depth(&params, 1)?;
    let max_nodes = number(&params, "max_nodes", MAX_RESULT_NODES, MAX_RESULT_NODES)?;
    let text = format!("node={node};depth={depth}");
    let body = answer(
        state,
        caller,
        params,
        "GET /api/relations/neighbours",
        text,
        move |g, cancel| {
            let v = g.lookup("node", &node).map_err(relations_error)?;
            let sub = queries::neighbourhood(g.adjacency(), v, depth, max_nodes, cancel)
                .map_err(relations_error)?;
            let n = sub.nodes.len();
            Ok((Elements::of(g, &sub).cytoscape(), n))
        },
    )
    .await?;
    Ok(private_json(body))
}

/// `GET /api/relations/paths?start=ID&target=ID`: every shortest path (at most `max_paths`, default 100) as node
/// ids, their length, and the network of their nodes as Cytoscape.js JSON.
async fn paths(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    require_grant(&caller)?;
    let params = last_values(&pairs);
    let start = node_param(&params, "start")?;
    let target = node_param(&params, "target")?;
    let max_paths = number(&params, "max_paths", 100, MAX_PATHS)?;
    let text = format!("start={start};target={target}");
    let body = answer(
        state,
        caller,
        params,
        "GET /api/relations/paths",
        text,
        move |g, cancel| {
            let a = g.lookup("start", &start).map_err(relations_error)?;
            let b = g.lookup("target", &target).map_err(relations_error)?;
            let found = queries::shortest_paths(g.adjacency(), a, b, max_paths, cancel)
                .map_err(relations_error)?;
            let mut nodes: Vec<u32> = found.iter().flatten().copied().collect();
            nodes.sort_unstable();
            nodes.dedup();
            // Only the edges along the paths, not every edge between their nodes.
            let mut edges: Vec<u32> = Vec::new();
            for p in &found {
                for w in p.windows(2) {
                    let adj = g.adjacency();
                    if let Some(k) = adj.neighbours(w[0]).iter().position(|&t| t == w[1]) {
                        edges.push(adj.edges_of(w[0])[k]);
                    }
                }
            }
            edges.sort_unstable();
            edges.dedup();
            let n = nodes.len();
            let sub = Subgraph { nodes, edges };
            let ids: Vec<Vec<String>> = found
                .iter()
                .map(|p| p.iter().map(|&v| g.node_id(v)).collect())
                .collect();
            let mut body = Elements::of(g, &sub).cytoscape();
            body["from"] = json!(g.node_id(a));
            body["to"] = json!(g.node_id(b));
            body["length"] = json!(found.first().map(|p| p.len() - 1));
            body["paths"] = json!(ids);
            Ok((body, n))
        },
    )
    .await?;
    Ok(private_json(body))
}

/// `GET /api/relations/network?node=ID&node=ID` (or `nodes=ID,ID`): the connecting network of the nodes (every
/// shortest path between two of them), as Cytoscape.js JSON.
async fn network(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    require_grant(&caller)?;
    let params = last_values(&pairs);
    let mut ids: Vec<String> = Vec::new();
    for (name, value) in &pairs {
        if name == "node" || name == "nodes" {
            for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                crate::relations::NodeId::parse("node", part).map_err(relations_error)?;
                ids.push(part.to_string());
            }
        }
    }
    if ids.is_empty() {
        return Err(ApiError::param(
            "node",
            "ontbreekt (node=ID&node=ID of nodes=ID,ID)",
        ));
    }
    if ids.len() > 100 {
        return Err(ApiError::param("node", "hoogstens 100 knooppunten"));
    }
    let max_nodes = number(&params, "max_nodes", MAX_RESULT_NODES, MAX_RESULT_NODES)?;
    let text = format!("nodes={}", ids.join(","));
    let body = answer(
        state,
        caller,
        params,
        "GET /api/relations/network",
        text,
        move |g, cancel| {
            let nodes: Vec<u32> = ids
                .iter()
                .map(|n| g.lookup("node", n))
                .collect::<Result<_, _>>()
                .map_err(relations_error)?;
            let sub = queries::network(g.adjacency(), &nodes, max_nodes, cancel)
                .map_err(relations_error)?;
            let n = sub.nodes.len();
            Ok((Elements::of(g, &sub).cytoscape(), n))
        },
    )
    .await?;
    Ok(private_json(body))
}

/// `GET /api/relations/components?min_size=N`: the connected components with at least `min_size` (default 1)
/// nodes: size, nodes per kind and an example node, in component order (by their smallest node id). More than
/// 20,000 components is 400 naming `min_size`.
async fn components(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    require_grant(&caller)?;
    let params = last_values(&pairs);
    let min_size = number(&params, "min_size", 1, usize::MAX)?;
    let body = answer(
        state,
        caller,
        params,
        "GET /api/relations/components",
        format!("min_size={min_size}"),
        move |g, cancel| {
            let comps: Vec<_> = queries::component_summaries(g, cancel)
                .map_err(relations_error)?
                .into_iter()
                .filter(|c| c.size >= min_size)
                .collect();
            if comps.len() > MAX_RESULT_NODES {
                return Err(relations_error(RelationsError::TooLarge {
                    parameter: "min_size",
                    limit: MAX_RESULT_NODES,
                    what: "componenten",
                }));
            }
            let nodes: usize = comps.iter().map(|c| c.size).sum();
            let list: Vec<Value> = comps
                .iter()
                .map(|c| {
                    json!({"index": c.index, "size": c.size, "kinds": c.kinds, "example": c.example})
                })
                .collect();
            Ok((json!({ "components": list }), nodes))
        },
    )
    .await?;
    Ok(private_json(body))
}

/// `GET /api/relations/repeats?min_sources=2&min_registrations=3`: subjects in at least `min_sources` sources or
/// at least `min_registrations` registrations, by id (never ranked).
async fn repeats(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    require_grant(&caller)?;
    let params = last_values(&pairs);
    let min_sources = number(&params, "min_sources", 2, 64)? as u32;
    let min_registrations = number(&params, "min_registrations", 3, u32::MAX as usize)? as u32;
    let body = answer(
        state,
        caller,
        params,
        "GET /api/relations/repeats",
        format!("min_sources={min_sources};min_registrations={min_registrations}"),
        move |g, _cancel| {
            let subjects = queries::repeat_subjects(g, min_sources, min_registrations)
                .map_err(relations_error)?;
            if subjects.len() > MAX_RESULT_NODES {
                return Err(relations_error(RelationsError::TooLarge {
                    parameter: "min_registrations",
                    limit: MAX_RESULT_NODES,
                    what: "personen of voertuigen",
                }));
            }
            let list: Vec<Value> = subjects
                .iter()
                .map(|&v| {
                    let n = g.node(v);
                    json!({
                        "id": g.node_id(v),
                        "kind": n.kind.as_str(),
                        "label": g.label(v),
                        "registrations": n.incidents,
                        "sources": g.source_names(n.sources),
                        "first": Graph::date(n.first_day).to_string(),
                        "last": Graph::date(n.last_day).to_string(),
                    })
                })
                .collect();
            let n = list.len();
            Ok((json!({ "subjects": list }), n))
        },
    )
    .await?;
    Ok(private_json(body))
}

/// `GET /api/relations/centrality?node=ID&depth=2`: degree and betweenness (normalised and raw) of every node of
/// the neighbourhood of `node` (or of the whole network without `node`, at most 20,000 nodes: else 400 naming
/// `max_nodes`), ordered by node id: a measure per node, never a ranking.
async fn centrality_of(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    require_grant(&caller)?;
    let params = last_values(&pairs);
    let node = match params
        .get("node")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        Some(_) => Some(node_param(&params, "node")?),
        None => None,
    };
    let depth = depth(&params, 2)?;
    let max_nodes = number(
        &params,
        "max_nodes",
        MAX_BETWEENNESS_NODES,
        MAX_BETWEENNESS_NODES,
    )?;
    let text = format!("node={};depth={depth}", node.as_deref().unwrap_or("*"));
    let body = answer(
        state,
        caller,
        params,
        "GET /api/relations/centrality",
        text,
        move |g, cancel| {
            let sub = match &node {
                Some(n) => {
                    let v = g.lookup("node", n).map_err(relations_error)?;
                    queries::neighbourhood(g.adjacency(), v, depth, max_nodes, cancel)
                        .map_err(relations_error)?
                }
                None => Subgraph::whole(g),
            };
            let adj = sub
                .adjacency(
                    |e| {
                        let edge = g.edge(e);
                        (edge.a, edge.b)
                    },
                    cancel,
                )
                .map_err(relations_error)?;
            let b = centrality::betweenness(&adj, max_nodes, cancel).map_err(relations_error)?;
            let degree = centrality::degrees(&adj);
            let mut rows: Vec<(String, usize)> = sub
                .nodes
                .iter()
                .enumerate()
                .map(|(k, &v)| (g.node_id(v), k))
                .collect();
            rows.sort();
            let list: Vec<Value> = rows
                .into_iter()
                .map(|(id, k)| {
                    json!({
                        "id": id,
                        "kind": g.node(sub.nodes[k]).kind.as_str(),
                        "degree": degree[k],
                        "betweenness": b.normalized[k],
                        "betweenness_raw": b.raw[k],
                    })
                })
                .collect();
            let n = list.len();
            Ok((json!({ "nodes": list }), n))
        },
    )
    .await?;
    Ok(private_json(body))
}

/// `GET /api/relations/export.{graphml,gexf,json,csv}`: the network of the filter as GraphML, GEXF 1.3,
/// Cytoscape.js JSON or a link-table CSV; with `node` (and `depth`, default 1) only that node's neighbourhood.
/// More than `max_nodes` (default and largest 20,000) nodes is 400 naming `max_nodes`.
async fn export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(file): Path<String>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    require_grant(&caller)?;
    let (format, content_type, extension) = match file.as_str() {
        "export.graphml" => (Format::GraphMl, "application/graphml+xml", "graphml"),
        "export.gexf" => (Format::Gexf, "application/gexf+xml", "gexf"),
        "export.json" => (Format::Cytoscape, "application/json", "json"),
        "export.csv" => (Format::Csv, "text/csv; charset=utf-8", "csv"),
        _ => {
            return Err(ApiError::NotFound(format!(
                "onbekend: /api/relations/{file} (export.graphml, export.gexf, export.json of export.csv)"
            )))
        }
    };
    let params = last_values(&pairs);
    let node = match params
        .get("node")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        Some(_) => Some(node_param(&params, "node")?),
        None => None,
    };
    let depth = depth(&params, 1)?;
    let max_nodes = number(&params, "max_nodes", MAX_RESULT_NODES, MAX_RESULT_NODES)?;
    let text = format!(
        "format={extension};node={};depth={depth}",
        node.as_deref().unwrap_or("*")
    );
    let endpoint: &'static str = match format {
        Format::GraphMl => "GET /api/relations/export.graphml",
        Format::Gexf => "GET /api/relations/export.gexf",
        Format::Cytoscape => "GET /api/relations/export.json",
        Format::Csv => "GET /api/relations/export.csv",
    };
    let body = answer(state, caller, params, endpoint, text, move |g, cancel| {
        let sub = match &node {
            Some(n) => {
                let v = g.lookup("node", n).map_err(relations_error)?;
                queries::neighbourhood(g.adjacency(), v, depth, max_nodes, cancel)
                    .map_err(relations_error)?
            }
            None if g.node_count() > max_nodes => {
                return Err(relations_error(RelationsError::TooLarge {
                    parameter: "max_nodes",
                    limit: max_nodes,
                    what: "knooppunten",
                }))
            }
            None => Subgraph::whole(g),
        };
        cancel.check().map_err(|_| ApiError::Cancelled)?;
        let elements = Elements::of(g, &sub);
        let mut out = Vec::new();
        elements
            .write(format, &mut out)
            .map_err(ApiError::internal)?;
        Ok((out, sub.nodes.len()))
    })
    .await?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"relaties.{extension}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
