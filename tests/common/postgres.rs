//! A throwaway PostgreSQL/PostGIS cluster for the tests of one test binary: started once, on first use, in a
//! temporary directory (unix socket only, no TCP port; fsync off), and stopped and removed when the binary exits.
//! Each [`Cluster::database`] is a new, empty database made from a template that has PostGIS, owned by the role
//! `brandpunt` (no superuser: row-level security applies to it as to a production owner).
//!
//! Without the PostgreSQL server binaries or PostGIS the tests FAIL (never skip) with a message saying which
//! packages to install. As root (CI, `make test`) the cluster runs as the system user `postgres` (`initdb`
//! refuses root).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// What to install when the binaries are missing.
pub const INSTALL_HINT: &str = "the PostgreSQL tests need a PostgreSQL server with PostGIS: on Debian 12 \
     `apt-get install postgresql-15 postgresql-15-postgis-3` (Ubuntu 24.04: `postgresql-16 postgresql-16-postgis-3`), \
     as `make deps` does";

/// The running test cluster.
pub struct Cluster {
    bin: PathBuf,
    /// The temporary directory: data directory `data/` and the unix socket.
    dir: PathBuf,
    /// The OS user the server runs as when the tests run as root.
    run_as: Option<String>,
    databases: AtomicUsize,
    /// `CREATE DATABASE` from the template, one at a time.
    create: Mutex<()>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(Cluster::start)
}

/// The directory holding `initdb`, `pg_ctl` and `psql` (newest installed version first), or a failure that says
/// what to install.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BRANDPUNT_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(dir) = candidates.pop() {
        return dir;
    }
    // Elsewhere (another distribution): on the PATH.
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return dir;
            }
        }
    }
    panic!("no PostgreSQL server binaries (initdb, pg_ctl) found: {INSTALL_HINT}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

extern "C" fn stop_at_exit() {
    if let Some(c) = CLUSTER.get() {
        c.stop();
    }
}

impl Cluster {
    fn start() -> Cluster {
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("brandpunt-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        let run_as = is_root().then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            let ok = Command::new("chown")
                .args(["-R", &format!("{user}:"), &dir.display().to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(
                ok,
                "cannot give {} to the system user {user} (the server cannot run as root): {INSTALL_HINT}",
                dir.display()
            );
        }
        let cluster = Cluster {
            bin,
            dir,
            run_as,
            databases: AtomicUsize::new(0),
            create: Mutex::new(()),
        };
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=200",
            cluster.dir.display()
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-o",
                &options,
                "-l",
                &cluster.dir.join("server.log").display().to_string(),
                "-w",
                "start",
            ],
        );
        // SAFETY: registers a plain function without captured state; it runs once when the process exits.
        unsafe {
            libc::atexit(stop_at_exit);
        }
        for sql in [
            "CREATE ROLE brandpunt LOGIN NOSUPERUSER CREATEDB",
            "CREATE ROLE brandpunt_app LOGIN NOSUPERUSER NOBYPASSRLS",
            "CREATE DATABASE brandpunt_template OWNER brandpunt",
        ] {
            if let Err(e) = cluster.try_psql("postgres", "postgres", sql) {
                cluster.stop();
                panic!("setting up the test cluster: {sql}: {e}");
            }
        }
        let postgis = cluster.try_psql(
            "postgres",
            "brandpunt_template",
            "CREATE EXTENSION postgis;",
        );
        if let Err(e) = postgis {
            // Not yet in CLUSTER, so the exit handler would not stop it.
            cluster.stop();
            panic!("PostGIS cannot be installed in the test cluster ({e}): {INSTALL_HINT}");
        }
        cluster
    }

    /// Run a server binary (as the `postgres` user when the tests run as root); fails with its output.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{} cannot be run ({e}): {INSTALL_HINT}", exe.display()));
        assert!(
            out.status.success(),
            "{program} failed: {}{}\nserver log: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// Run `sql` as `user` in `database` through psql; its output (unaligned, tuples only) or its error.
    pub fn try_psql(&self, user: &str, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &self.dir.display().to_string(),
                "-U",
                user,
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// [`Cluster::try_psql`] that fails the test on an error.
    pub fn psql(&self, user: &str, database: &str, sql: &str) -> String {
        self.try_psql(user, database, sql)
            .unwrap_or_else(|e| panic!("psql as {user} in {database}: {e}\n{sql}"))
    }

    /// A new, empty database with PostGIS, owned by the role `brandpunt`; returns its name.
    pub fn database(&self) -> String {
        let name = format!(
            "brandpunt_{}",
            self.databases.fetch_add(1, Ordering::Relaxed)
        );
        let _one = self.create.lock().unwrap_or_else(|p| p.into_inner());
        self.psql(
            "postgres",
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE brandpunt_template OWNER brandpunt"),
        );
        name
    }

    /// The `postgres://` URL of `database` for `user` (over the unix socket; trust authentication).
    pub fn url(&self, user: &str, database: &str) -> String {
        let socket: String = self
            .dir
            .display()
            .to_string()
            .replace('%', "%25")
            .replace('/', "%2F");
        format!("postgresql://{user}@{socket}/{database}")
    }

    fn stop(&self) {
        let data = self.dir.join("data").display().to_string();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
