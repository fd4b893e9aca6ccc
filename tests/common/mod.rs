//! Helpers shared by the integration-test binaries; each binary includes this module once
//! (`#[path = "../common/mod.rs"] mod common;` in `tests/NAME/main.rs`, `mod common;` in `tests/NAME.rs`).
pub mod demo;
pub mod mvt;
pub mod server;
