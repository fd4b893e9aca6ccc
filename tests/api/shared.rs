//! Servers used by several modules of this binary: one on its own copy of the small demo, with the demo tenant
//! public (anonymous callers are viewers) and an admin token, and the one such server shared by every test that
//! only reads.

use crate::common::demo::{demo, demo_copy};
use crate::common::server as srv;
use brandpunt::access::Role;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A server on its own copy of the demo database (optionally with an inbox), with an admin token.
pub struct Server {
    _server: srv::Server,
    _dir: tempfile::TempDir,
    pub db: PathBuf,
    pub base: String,
    pub inbox: Option<PathBuf>,
    /// Token of an admin of the demo tenant (uploads deliveries; exact counts).
    pub admin: String,
}

/// Start a server on a new copy of the demo database: `--public-tenant default`, and `--inbox DIR` (a directory
/// next to the copy) when `with_inbox`; no pseudonymisation key.
pub fn start(with_inbox: bool) -> Server {
    start_with(with_inbox, false)
}

/// As [`start`], with `--pseudonym-key-file` naming the demo's key when `with_key`.
pub fn start_with(with_inbox: bool, with_key: bool) -> Server {
    let (dir, db) = demo_copy();
    let admin = srv::user_token(&db, "default", "beheerder-api", Role::Admin, &["*"]);
    let inbox = with_inbox.then(|| dir.path().join("inbox"));
    let mut args = vec!["--public-tenant", "default"];
    let inbox_arg = inbox.as_ref().map(|i| i.to_string_lossy().to_string());
    if let Some(i) = &inbox_arg {
        args.extend(["--inbox", i.as_str()]);
    }
    let key_arg = demo().files.join("pseudoniemsleutel-demo.txt");
    let key_arg = key_arg.to_string_lossy().to_string();
    if with_key {
        args.extend(["--pseudonym-key-file", key_arg.as_str()]);
    }
    let server = srv::start(&db, &args);
    let base = server.base.clone();
    Server {
        _server: server,
        _dir: dir,
        db,
        base,
        inbox,
        admin,
    }
}

/// The read-only server shared by the tests of this binary that neither write to its database nor change its
/// state (patrol, report, raster and WMS tests); it is started once, without an inbox.
pub fn read_only() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| start(false))
}
