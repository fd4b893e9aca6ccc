//! Browser end-to-end test of the web map: generates the small demo city, starts a REAL `brandpunt serve`
//! on a free loopback port, waits for `/readyz` and runs the Playwright suite `tests/e2e/run.mjs`
//! (playwright-core from `web/node_modules`, Debian's `/usr/bin/chromium`). Screenshots are kept in
//! `target/e2e-artifacts/`.
//!
//! Needs node, `web/node_modules` (`make web`) and chromium: `make test` installs them, so their absence
//! is a failure with a message saying what to install, not a silent skip.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Kills the server when the test ends, also on panic.
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Status code of a plain HTTP/1.0 GET on 127.0.0.1:port, None when the server does not answer.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(64)]).to_string();
    head.split_whitespace().nth(1)?.parse().ok()
}

fn require_tools(root: &Path) {
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "node ontbreekt: installeer nodejs en npm (`make web` of `make test` doet dat)"
    );
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} ontbreekt: `apt-get install -y chromium` (`make test` doet dat)"
    );
    for dep in ["playwright-core", "maplibre-gl", "cytoscape"] {
        assert!(
            root.join("web/node_modules").join(dep).exists(),
            "web/node_modules/{dep} ontbreekt: voer `make web` uit (npm ci in web/)"
        );
    }
}

#[test]
fn web_map_end_to_end() {
    let root = repo();
    require_tools(&root);
    // Build web/dist from the current sources (a copy step, no network).
    let st = Command::new("node")
        .arg(root.join("web/build.mjs"))
        .status()
        .unwrap();
    assert!(st.success(), "node web/build.mjs faalde");

    let bin = env!("CARGO_BIN_EXE_brandpunt");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let demo = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args(["demo", "--small", "--dir"])
        .arg(tmp.path().join("demo"))
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "brandpunt demo faalde:\n{}\n{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );

    // The relations fixture deliveries (pseudonymised BSNs and licence plates) and an analyst with the
    // `relations` grant (the demo password), for the "Relaties" view. Their dates are moved 6 months on (January
    // to March 2024 -> July to September), into the small demo's 10 weeks, so the demo's period stays short
    // enough for the weekly trend line the other tests compare.
    let fixtures = root.join("tests/fixtures/relations");
    for source in ["politie", "handhaving"] {
        let text = std::fs::read_to_string(fixtures.join(format!("{source}.csv"))).unwrap();
        let moved = text
            .replace(";2024-01-", ";2024-07-")
            .replace(";2024-02-", ";2024-08-")
            .replace(";2024-03-", ";2024-09-");
        let delivery = tmp.path().join(format!("{source}.csv"));
        std::fs::write(&delivery, moved).unwrap();
        let out = Command::new(bin)
            .arg("--db")
            .arg(&db)
            .args(["import", "incidents"])
            .arg(&delivery)
            .args(["--source", source, "--mapping"])
            .arg(fixtures.join("mapping.toml"))
            .arg("--pseudonym-key-file")
            .arg(fixtures.join("key.hex"))
            .arg("--report")
            .arg(tmp.path().join(format!("{source}.report.csv")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import {source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut add = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args([
            "user",
            "add",
            "relaties",
            "--tenant",
            "default",
            "--role",
            "analyst",
            "--categories",
            "*",
            "--relations",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(
        add.stdin.take().unwrap(),
        "{}",
        brandpunt::demo::DEMO_PASSWORD
    )
    .unwrap();
    assert!(add.wait().unwrap().success(), "user add relaties");
    // The demo's analyst has the grant (the demo's identifiers are synthetic); the browser test checks that a
    // user without it sees no "Relaties" tab, so it takes the grant back.
    let revoke = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args(["user", "revoke", "analist", "--relations"])
        .output()
        .unwrap();
    assert!(
        revoke.status.success(),
        "user revoke analist --relations: {}",
        String::from_utf8_lossy(&revoke.stderr)
    );

    let port = free_port();
    let log = std::fs::File::create(tmp.path().join("serve.log")).unwrap();
    let child = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args([
            "serve",
            "--stop-on-stdin-close",
            "--public-tenant",
            "default",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--web-dir",
        ])
        .arg(root.join("web/dist"))
        .stdin(Stdio::piped())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut server = ServerGuard(child);
    let start = Instant::now();
    loop {
        if http_status(port, "/readyz") == Some(200) {
            break;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let log = std::fs::read_to_string(tmp.path().join("serve.log")).unwrap_or_default();
            panic!("brandpunt serve stopte ({status}):\n{log}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "brandpunt serve werd niet ready binnen 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = root.join("target/e2e-artifacts");
    let mut suite = Command::new("node")
        .arg(root.join("tests/e2e/run.mjs"))
        .arg("--base")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--out")
        .arg(&out)
        .arg("--chromium")
        .arg(CHROMIUM)
        .arg("--demo-password")
        .arg(brandpunt::demo::DEMO_PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Echo the suite's lines as they come, and keep each failure (a `FOUT` line and the lines up to the next
    // result) for the panic message, so a CI log's last lines say which checks failed and why.
    let mut failures: Vec<String> = Vec::new();
    let mut in_failure = false;
    for line in std::io::BufReader::new(suite.stdout.take().unwrap()).lines() {
        let line = line.unwrap_or_default();
        println!("{line}");
        if line.starts_with("FOUT") {
            in_failure = true;
            failures.push(String::new());
        } else if ["ok ", "OVERGESLAGEN", "schermafdrukken"]
            .iter()
            .any(|p| line.starts_with(p))
        {
            in_failure = false;
        }
        if let (true, Some(f)) = (in_failure, failures.last_mut()) {
            if f.lines().count() < 12 {
                f.push_str(&line);
                f.push('\n');
            }
        }
    }
    let st = suite.wait().unwrap();
    if !st.success() {
        let log = std::fs::read_to_string(tmp.path().join("serve.log")).unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "de e2e-suite faalde: {} mislukte controle(s):\n{}\nschermafdrukken in {}; serverlog (einde):\n{tail}",
            failures.len(),
            failures.join("\n"),
            out.display(),
        );
    }
}
