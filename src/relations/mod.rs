//! Relations: the network of registrations, addresses and the pseudonymised subjects (persons, vehicles, ...)
//! they share, derived from the stored registrations (pure: no I/O, no SQL).
//!
//! - [`node`]: node ids (`incident:<registratienummer>`, `address:<BAG verblijfsobject id>`,
//!   `subject:<pseudonym>`) and kinds.
//! - [`adjacency`]: the compact undirected graph the queries run on (u32 node indices, CSR adjacency).
//! - [`registration`]: the input, a [`LinkedIncident`] (an incident with its pseudonyms) as the store reads it.
//! - [`graph`]: building the [`Graph`] from [`LinkedIncident`]s after the
//!   caller's category grants ([`CategoryScope`](crate::access::CategoryScope)) removed what the user may not
//!   see, so nothing links through an invisible registration.
//! - `first_seen` (private): numbering keys in first-occurrence order on all cores (sharded by hash), for the
//!   build.
//! - [`queries`]: neighbourhood, shortest paths, connecting network, components, repeat subjects.
//! - [`centrality`]: degree and (Brandes, exact) betweenness.
//! - [`export`]: GraphML, GEXF 1.3 (with time intervals), Cytoscape.js JSON and a link-table CSV.
//!
//! # The graph
//! Base edges link an incident to its address (`located_at`) and to each subject it names (`involves`, with the
//! role: the column name). Derived edges (`co_occurs`) link two subjects, or a subject and an address, that share
//! at least one incident, with the number of shared incidents, the first and last day and the sources. All
//! queries (paths, components, centrality) run on the base edges, so a path always shows the registrations that
//! connect its ends; the derived edges are attributes of the network, shown and exported with it.
//!
//! No result ranks or scores persons: lists come ordered by node id, never by a count or a centrality.

pub mod adjacency;
pub mod centrality;
pub mod export;
mod first_seen;
pub mod graph;
pub mod node;
pub mod queries;
pub mod registration;

pub use adjacency::Adjacency;
pub use graph::{EdgeKind, Graph, GraphEdge, GraphNode};
pub use node::{NodeId, NodeKind};
pub use queries::Subgraph;
pub use registration::{LinkedIncident, StoredPseudonym};

use crate::cancel::Cancelled;

/// Largest neighbourhood depth.
pub const MAX_DEPTH: u32 = 3;
/// Default (and largest) number of nodes a query result may hold.
pub const MAX_RESULT_NODES: usize = 20_000;
/// Largest number of nodes betweenness is computed over (it costs nodes x edges).
pub const MAX_BETWEENNESS_NODES: usize = 20_000;
/// Largest number of shortest paths listed between two nodes.
pub const MAX_PATHS: usize = 1_000;

/// Errors of the relations core. Messages are Dutch and name the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationsError {
    /// A node id of the wrong form (`parameter` is `node` or the name the caller used).
    #[error("{parameter}: '{value}' is geen knooppunt (incident:<registratienummer>, address:<BAG-id van 16 cijfers> of subject:<pseudoniem van 64 hex-tekens>)")]
    BadNode { parameter: String, value: String },
    /// A well-formed node id that is not in the graph (for this filter and these grants).
    #[error("{parameter}: knooppunt '{value}' komt niet voor in het netwerk (voor dit filter en deze rechten)")]
    UnknownNode { parameter: String, value: String },
    /// A depth above [`MAX_DEPTH`].
    #[error("depth: {depth} is te diep (hoogstens {MAX_DEPTH})")]
    Depth { depth: u32 },
    /// The result would hold more than `limit` items of the parameter's kind.
    #[error("{parameter}: het resultaat heeft meer dan {limit} {what}; verklein de diepte of het filter")]
    TooLarge {
        parameter: &'static str,
        limit: usize,
        what: &'static str,
    },
    /// A parameter value out of its range.
    #[error("{parameter}: {reason}")]
    Parameter {
        parameter: &'static str,
        reason: String,
    },
    /// More distinct sources than the graph can tell apart.
    #[error("te veel bronnen in het netwerk: {found} (hoogstens 64)")]
    TooManySources { found: usize },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}
