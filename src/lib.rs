//! brandpunt: geospatial hotspot analysis for Dutch municipal safety intelligence.
//!
//! The crate is split into a pure computational core and adapters around it.
//!
//! Core (plain data in, plain data out; no I/O, no SQL, no HTTP):
//! - [`category`]: the police crime classification (codes, labels, groups).
//! - [`geocode`]: in-memory BAG address index and matcher.
//! - [`area_index`]: point -> buurt/wijk/gemeente assignment.
//! - [`point_index`]: points in a bucket grid, so that a window reads only the points near it.
//! - [`area_level`]: the level of an area (gemeente, wijk, buurt, custom), one type for every use.
//! - [`analysis`]: places and binning, KDE, Gi*, emerging hot spots, time profiles, comparisons, striking areas
//!   and the monthly report, patrol ranking.
//! - [`tiles`]: Mapbox Vector Tile encoding (clipping, simplification, winding).
//! - [`render`]: map images (colour ramps, raster sampling, contour polygons, choropleths, PNG) and the printable
//!   HTML pages (monthly report, patrol list).
//! - [`access`]: roles, principals, the permission matrix and API tokens (argon2 hashes).
//! - [`pseudonym`]: keyed HMAC-SHA256 pseudonyms of personal identifiers.
//! - [`audit`]: the audit log's hash chain.
//! - [`calendar`]: date and month parsing, the calendar step (day/week/month) with its buckets, and the clock that
//!   date-relative rules are evaluated against.
//! - [`suppression`]: small-count protection ("< k") of count tables, safe against differencing.
//! - [`surfaces`]: the map surfaces of a dataset and filter (KDE and its contours, Gi* on bins, emerging hot
//!   spots) with their cell polygons and vector tile layers.
//! - [`publish`]: the publishing policy: who sees exact counts, which k applies, how a withheld count is shown.
//! - [`custom_area`]: parsing and validating analysts' custom areas (GeoJSON in, RD polygon out).
//! - [`wms`]: the OGC WMS 1.1.1/1.3.0 protocol without HTTP (GetMap parameters, capabilities, exceptions).
//! - [`dataset`]: the in-memory snapshot of a tenant's areas and incidents, and filters evaluated over it.
//! - [`heap_size`]: approximate heap bytes of values, for caches bounded by memory.
//! - [`cache`]: the typed cache bounded by bytes, with hits, misses and bytes per kind.
//! - [`proxy`]: trusted proxies, address ranges and the `X-Forwarded-For` rule for a client's address.
//! - [`rate_limit`]: token buckets per credential, session or client address.
//! - [`session`]: the rules of web sessions and of the failed-login throttle (the rows live in the store).
//! - [`relations`]: the network of registrations, addresses and pseudonymised subjects (graph, queries,
//!   centrality, exports).
//!
//! Adapters:
//! - [`config`]: the `brandpunt serve` configuration file (TOML) and its validation.
//! - [`coords`]: coordinate transformations through PROJ (RD New, WGS84, Web Mercator).
//! - [`oidc`]: OpenID Connect bearer tokens verified against the keys of a JWKS file.
//! - [`import`]: readers for the real published source formats (CBS, BAG, police deliveries, open data).
//! - [`store`]: persistence behind the [`Store`](store::Store) trait; SQLite is the embedded backend.
//! - [`export`]: writers for analysis results (GeoTIFF, GeoPackage, GeoJSON, CSV) and in-memory encoders (GeoJSON
//!   geometries, TopoJSON, WKT).
//! - [`server`]: the HTTP service (`brandpunt serve`): API, tiles, web app.
//! - [`demo`]: a deterministic synthetic municipality written in the real formats.
//!
//! Coordinates are RD New (EPSG:28992) metres everywhere inside the crate unless a name says otherwise.

pub mod access;
pub mod analysis;
pub mod area_index;
pub mod area_level;
pub mod audit;
pub mod cache;
pub mod calendar;
pub mod cancel;
pub mod category;
pub mod config;
pub mod coords;
pub mod custom_area;
pub mod dataset;
pub mod demo;
pub mod export;
pub mod geocode;
pub mod heap_size;
pub mod import;
pub mod oidc;
pub mod point_index;
pub mod proxy;
pub mod pseudonym;
pub mod publish;
pub mod rate_limit;
pub mod relations;
pub mod render;
pub mod server;
pub mod session;
pub mod store;
pub mod suppression;
pub mod surfaces;
pub mod tiles;
pub mod wms;
