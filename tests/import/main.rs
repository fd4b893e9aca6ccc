//! Reading deliveries (CSV, XLSX, random and mutated bytes), geocoding messy addresses, and the SQLite and
//! PostgreSQL stores' write paths, through the library on fixtures and generated data. No server and no demo city.

mod address_attributes;
mod delivery_csv;
mod delivery_fuzz;
mod delivery_xlsx;
mod geocode_messy;
mod import_streaming;
mod located_places;
mod store_incident_write;
mod store_postgres;
mod store_sqlite;

/// The throwaway PostgreSQL cluster of this binary (`store_postgres`).
#[path = "../common/postgres.rs"]
mod postgres_cluster;

/// The store conformance suite, written against the store traits (run on SQLite by `store_sqlite`, on
/// PostgreSQL by `store_postgres`).
#[path = "../common/store_conformance.rs"]
mod store_conformance;
