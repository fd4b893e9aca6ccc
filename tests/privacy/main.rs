//! Privacy and retention on a real store, through the `brandpunt` binary: pseudonymisation at import, backup and
//! restore, users and tokens, the hash-chained audit log, and the retention task of `brandpunt serve`. The small
//! demo city is built once ([`common::demo`]); tests that write work on a copy.

#[path = "../common/mod.rs"]
mod common;

mod pseudonym;
mod retention;
mod store;
