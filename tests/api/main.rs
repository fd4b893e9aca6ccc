//! The HTTP API against the real `brandpunt serve` (the built binary on a free port): access and roles, login
//! and OpenID Connect, security headers and limits, the analysis, raster, tile and operations endpoints, and
//! small-count protection. Every number is recomputed from the store and the library, never copied from the
//! server's output. The small demo city is built once for the whole binary ([`common::demo::demo`]); every server
//! runs on its own copy of it and stops when the binary ends ([`common::server::start`]).

#[path = "../common/mod.rs"]
mod common;

mod access;
mod analysis;
mod dashboard;
mod forecast;
mod login;
mod ogc;
mod oidc;
mod operations;
mod raster;
mod relations;
mod reload;
mod replicas;
mod report_protected;
mod security;
mod server;
mod shared;
mod suppression;
mod xlsx;

/// The throwaway PostgreSQL cluster of this binary ([`replicas`]).
#[path = "../common/postgres.rs"]
mod postgres_cluster;
