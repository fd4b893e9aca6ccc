//! The real `brandpunt serve` for integration tests: the built binary on a free port (on a copy of the small demo
//! city of [`super::demo`]), users and tokens made through the library, and a small HTTP client.
#![allow(dead_code)]

use super::demo::{bin, demo_copy};
use brandpunt::access::Role;
use brandpunt::store::{PrivacyStore, SqliteStore, TokenOwner};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Add a user to `tenant` and return a fresh token of theirs.
pub fn user_token(db: &Path, tenant: &str, user: &str, role: Role, grants: &[&str]) -> String {
    let mut store = SqliteStore::open(db).unwrap();
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    store.add_user(tenant, user, role, &grants).unwrap();
    store
        .create_token(&TokenOwner::User(user.to_string()), None)
        .unwrap()
        .token
}

/// A delivery token of `source` for `tenant`.
pub fn delivery_token(db: &Path, tenant: &str, source: &str) -> String {
    let mut store = SqliteStore::open(db).unwrap();
    store
        .create_token(
            &TokenOwner::Delivery {
                tenant: tenant.into(),
                source: source.into(),
            },
            None,
        )
        .unwrap()
        .token
}

/// A running server; killed when dropped.
pub struct Server {
    pub db: PathBuf,
    pub base: String,
    child: Mutex<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Start `brandpunt --db DB serve --addr 127.0.0.1:0 --poll-seconds 0.2 --stop-on-stdin-close ARGS...` (without
/// the caller's `BRANDPUNT_PSEUDONYM_KEY`) and wait until it is ready. Its standard input is a pipe held by the child handle: when the test binary ends, however it
/// ends (shared servers in statics are never dropped), the pipe closes and the server stops.
#[allow(clippy::zombie_processes)]
pub fn start(db: &Path, args: &[&str]) -> Server {
    let mut child = bin()
        .arg("--db")
        .arg(db)
        .args(["serve", "--addr", "127.0.0.1:0", "--poll-seconds", "0.2"])
        .arg("--stop-on-stdin-close")
        .args(args)
        .env_remove("BRANDPUNT_PSEUDONYM_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("unexpected first line {line:?}")
        })
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ureq::get(&format!("{base}/readyz")).call().is_ok() {
            return Server {
                db: db.to_path_buf(),
                base,
                child: Mutex::new(child),
            };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("server not ready");
}

/// An HTTP answer.
pub struct Resp {
    pub status: u16,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default().to_string()
    }
}

/// Turn a ureq result (HTTP errors included) into a [`Resp`].
pub fn finish(result: Result<ureq::Response, ureq::Error>, what: &str) -> Resp {
    let r = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{what}: {e}"),
    };
    let status = r.status();
    let headers = r
        .headers_names()
        .into_iter()
        .filter_map(|n| {
            r.header(&n)
                .map(|v| (n.to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    Resp {
        status,
        headers,
        body,
    }
}

/// `method url` with `headers` and an optional JSON body.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let mut req = ureq::request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(b),
        None => req.call(),
    };
    finish(result, &format!("{method} {url}"))
}

/// `Authorization: Bearer TOKEN`.
pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

/// `POST {base}/api/deliveries` (multipart: `file` with `file_name`, `source`) with `token`.
pub fn upload_delivery(
    base: &str,
    token: &str,
    source: &str,
    file_name: &str,
    content: &[u8],
) -> Resp {
    let boundary = "----brandpunt-access-boundary-91d2";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\n{source}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    finish(
        ureq::post(&format!("{base}/api/deliveries"))
            .set("Authorization", &format!("Bearer {token}"))
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send_bytes(&body),
        "upload",
    )
}

/// Stop the server as Ctrl-C does (SIGINT: graceful shutdown) and wait until it has exited.
pub fn interrupt(server: &Server) {
    let mut child = server.child.lock().unwrap();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not stop after SIGINT");
}

/// `GET base+path`, with `Authorization: Bearer TOKEN` when a token is given (anonymous otherwise).
pub fn get_as(base: &str, token: Option<&str>, path: &str) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    request("GET", &format!("{base}{path}"), &headers, None)
}

/// Who asks, in tests that compare what each role gets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Who {
    Anonymous,
    Viewer,
    Analyst,
}

/// A server on a copy of the small demo whose tenant is public, with a viewer's token and the token of an
/// analyst granted every category.
pub struct RoleServer {
    pub server: Server,
    pub viewer: String,
    pub analyst: String,
    _dir: tempfile::TempDir,
}

impl RoleServer {
    /// Start it; the users are `{name}-kijker` and `{name}-analist`, and `extra_config` (e.g. a `[privacy]`
    /// section) follows `[server] public_tenant = "default"` in its config file.
    pub fn start(name: &str, extra_config: &str) -> RoleServer {
        let (dir, db) = demo_copy();
        let viewer = user_token(&db, "default", &format!("{name}-kijker"), Role::Viewer, &[]);
        let analyst = user_token(
            &db,
            "default",
            &format!("{name}-analist"),
            Role::Analyst,
            &["*"],
        );
        let config = dir.path().join("brandpunt.toml");
        std::fs::write(
            &config,
            format!("[server]\npublic_tenant = \"default\"\n\n{extra_config}"),
        )
        .unwrap();
        let server = start(&db, &["--config", config.to_str().unwrap()]);
        RoleServer {
            server,
            viewer,
            analyst,
            _dir: dir,
        }
    }

    /// The bearer token of `who` (`None` for anonymous).
    pub fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Anonymous => None,
            Who::Viewer => Some(&self.viewer),
            Who::Analyst => Some(&self.analyst),
        }
    }

    pub fn get(&self, who: Who, path: &str) -> Resp {
        get_as(&self.server.base, self.token(who), path)
    }

    pub fn post(&self, who: Who, path: &str, body: &str) -> Resp {
        let auth = self.token(who).map(bearer);
        let headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(
            "POST",
            &format!("{}{path}", self.server.base),
            &headers,
            Some(body),
        )
    }
}

/// A custom-area GeoJSON Feature named `name` (WGS84, as the web app sends it): the square of ±`d_deg` degrees
/// around the city centre that `/api/meta` of `base` reports.
pub fn square_feature(base: &str, name: &str, d_deg: f64) -> serde_json::Value {
    let m = request("GET", &format!("{base}/api/meta"), &[], None).json();
    let (x, y) = (
        m["center"][0].as_f64().unwrap(),
        m["center"][1].as_f64().unwrap(),
    );
    let d = d_deg;
    serde_json::json!({"type": "Feature", "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [[
            [x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]]}})
}
