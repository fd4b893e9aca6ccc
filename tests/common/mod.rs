//! Helpers shared by integration tests.
pub mod mvt;
pub mod server;
