//! The `brandpunt` binary and the small demo city for integration tests: the city is generated and imported
//! once per test binary (`brandpunt demo --small`) and shared by every test in it; tests that write get a copy.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The built `brandpunt` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brandpunt"))
}

/// A demo city: its database and the directory of its generated source files.
pub struct Demo {
    _dir: tempfile::TempDir,
    /// The database the demo was imported into (`demo.db`). Read only when shared: tests that write use a copy.
    pub db: PathBuf,
    /// The generated source files (`demo/`: deliveries, CBS and BAG files, ground truth, import reports).
    /// Read only when shared: tests write their outputs into their own temporary directories.
    pub files: PathBuf,
}

impl Demo {
    /// Generate a demo city and import it (`brandpunt demo --dir DIR ARGS...`, e.g. `--small`) in a new
    /// temporary directory. Its personal columns are pseudonymised with the demo's own key (written beside the
    /// files); `BRANDPUNT_PSEUDONYM_KEY` of the caller's environment is not passed on.
    pub fn generate(args: &[&str]) -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.db");
        let files = dir.path().join("demo");
        let out = bin()
            .arg("--db")
            .arg(&db)
            .args(["demo", "--dir"])
            .arg(&files)
            .args(args)
            .env_remove("BRANDPUNT_PSEUDONYM_KEY")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "brandpunt demo {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Demo {
            _dir: dir,
            db,
            files,
        }
    }
}

/// The small demo city (`--small`: 10 weeks), generated and imported once per test binary and shared by its
/// tests.
pub fn demo() -> &'static Demo {
    static D: OnceLock<Demo> = OnceLock::new();
    D.get_or_init(|| Demo::generate(&["--small"]))
}

/// The default demo city (104 weeks, as `make demo` writes it), generated and imported once per test binary.
pub fn default_demo() -> &'static Demo {
    static D: OnceLock<Demo> = OnceLock::new();
    D.get_or_init(|| Demo::generate(&[]))
}

/// A copy of the demo database in a new temporary directory: (directory, database).
pub fn demo_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("brandpunt.db");
    std::fs::copy(&demo().db, &db).unwrap();
    (dir, db)
}

/// Run `brandpunt --db DB ARGS...`, assert that it succeeded (else fail with its output) and return stdout.
pub fn cli_ok(db: &Path, args: &[&str]) -> String {
    let out = bin().arg("--db").arg(db).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "brandpunt {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
