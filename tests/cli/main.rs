//! The `brandpunt` command line end to end, and the demo city generator: `analyse`, `demo`, the reference-data
//! importers, and the generated files against their published schemas and the committed fixtures. The small
//! demo city is generated and imported once for the whole binary ([`common::demo::demo`]); `analyse` also builds
//! the default (two-year) city once.

#[path = "../common/mod.rs"]
mod common;

mod analyse;
mod demo;
mod demo_city;
mod demo_regenerate;
mod forecast;
mod import;
mod near_repeat;
mod postgres;
mod relations;

/// The throwaway PostgreSQL cluster of this binary (`postgres`).
#[path = "../common/postgres.rs"]
mod postgres_cluster;
