//! Security of the service, tested on the real binary: TLS with a certificate made here (openssl CLI) and a
//! client (curl) that trusts only that certificate; X-Forwarded-* headers believed from trusted proxies only
//! (absolute URLs, HSTS, the client address the rate limit counts); security headers and CORS; limits (zoom,
//! period, body size, polygon vertices) naming the parameter; rate limit and timeout; error bodies without
//! internals; secrets never in the debug log; slow clients cut off.

use crate::common::demo::{bin, demo_copy};
use crate::common::server::{self as srv, Resp};
use brandpunt::access::Role;
use brandpunt::store::{SqliteStore, Store};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A server started with a config file, its stderr in a file; killed when dropped.
struct Running {
    base: String,
    child: Child,
    stderr: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Stop the server and return what it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// `brandpunt --db DB serve --addr 127.0.0.1:0 --config DIR/brandpunt.toml ARGS` with `env`; waits until the
/// first stdout line (`listening on ...`) and returns the announced base URL (readiness is checked by the caller,
/// which knows whether it speaks TLS).
fn launch(db: &Path, dir: &Path, config: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    let cfg = dir.join("brandpunt.toml");
    std::fs::write(&cfg, config).unwrap();
    static N: AtomicUsize = AtomicUsize::new(0);
    let stderr = dir.join(format!("stderr-{}.log", N.fetch_add(1, Ordering::Relaxed)));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brandpunt"));
    // Run outside the repository, so a built `web/dist` is not served (its index.html answers unknown paths).
    cmd.current_dir(dir)
        .arg("--db")
        .arg(db)
        .args(["serve", "--addr", "127.0.0.1:0", "--poll-seconds", "0.2"])
        .args(["--stop-on-stdin-close", "--config"])
        .arg(&cfg)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start server");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let Some(base) = line
        .trim()
        .strip_prefix("listening on ")
        .map(str::to_string)
    else {
        let _ = child.kill();
        panic!(
            "unexpected first line {line:?}; stderr: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    };
    Running {
        base,
        child,
        stderr,
    }
}

/// Launch a plain-HTTP server and wait until `/readyz` answers.
fn launch_http(
    db: &Path,
    dir: &Path,
    config: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Running {
    let r = launch(db, dir, config, args, env);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ureq::get(&format!("{}/readyz", r.base)).call().is_ok() {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server not ready");
}

fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    srv::request("GET", url, headers, None)
}

#[test]
fn tls_serves_https_with_the_configured_certificate() {
    let (dir, db) = demo_copy();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl CLI (Debian package openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let server = launch(
        &db,
        dir.path(),
        &config,
        &["--public-tenant", "default"],
        &[],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let curl = |extra: &[&str], path: &str| {
        Command::new("curl")
            .args(["-s", "-i", "--max-time", "20"])
            .args(extra)
            .arg(format!("{}{path}", server.base))
            .output()
            .expect("curl")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let ok = loop {
        let o = curl(&["--cacert", cert.to_str().unwrap()], "/readyz");
        if o.status.success() || Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "curl over TLS: {text}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let meta = curl(&["--cacert", cert.to_str().unwrap()], "/api/meta");
    let text = String::from_utf8_lossy(&meta.stdout).to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age="),
        "{text}"
    );
    // A client that does not trust the certificate refuses the connection: it really is our certificate.
    let untrusted = curl(&[], "/readyz");
    assert!(!untrusted.status.success());
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(server.base.replace("https://", "http://") + "/readyz")
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");
}

#[test]
fn a_bad_certificate_file_is_named_at_start() {
    let (dir, db) = demo_copy();
    let cert = dir.path().join("geen-cert.pem");
    std::fs::write(&cert, "geen certificaat\n").unwrap();
    let cfg = dir.path().join("b.toml");
    std::fs::write(
        &cfg,
        format!("[tls]\ncert = \"{0}\"\nkey = \"{0}\"\n", cert.display()),
    )
    .unwrap();
    let out = bin()
        .arg("--db")
        .arg(&db)
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("geen-cert.pem"), "{err}");
}

#[test]
fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let (dir, db) = demo_copy();
    let forwarded = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "kaart.example.nl"),
    ];
    let limits = "[limits]\nrequests_per_minute = 3\n";
    let proxy = launch_http(
        &db,
        dir.path(),
        &format!("[proxy]\ntrusted = [\"127.0.0.1\"]\n{limits}"),
        &["--public-tenant", "default"],
        &[],
    );
    let direct = launch_http(
        &db,
        dir.path(),
        &format!("[proxy]\ntrusted = [\"10.0.0.0/8\"]\n{limits}"),
        &["--public-tenant", "default"],
        &[],
    );
    fn with_xff<'a>(forwarded: &[(&'a str, &'a str)], xff: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut h = forwarded.to_vec();
        h.push(("X-Forwarded-For", xff));
        h
    }
    let with = |xff: &'static str| with_xff(&forwarded, xff);
    // Trusted peer: absolute URLs use the forwarded scheme and host, and HSTS is sent.
    let tj = get(
        &format!("{}/tiles/buurten.json", proxy.base),
        &with("198.51.100.1"),
    );
    assert_eq!(tj.status, 200, "{}", tj.text());
    let url = tj.json()["tiles"][0].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://kaart.example.nl/tiles/buurten/"),
        "{url}"
    );
    assert!(tj.header("strict-transport-security").is_some());
    let caps = get(
        &format!("{}/wms?SERVICE=WMS&REQUEST=GetCapabilities", proxy.base),
        &with("198.51.100.2"),
    );
    assert!(
        caps.text().contains("https://kaart.example.nl/wms?"),
        "{}",
        caps.text()
    );
    let tms = get(
        &format!("{}/bi/tableau.tms?layer=kde", proxy.base),
        &with("198.51.100.3"),
    );
    assert!(
        tms.text()
            .contains("url-format='https://kaart.example.nl/tiles/kde/"),
        "{}",
        tms.text()
    );
    assert!(tms.text().contains("port='443'"), "{}", tms.text());
    // The client address of X-Forwarded-For is what the rate limit counts.
    for _ in 0..3 {
        assert_eq!(
            get(&format!("{}/api/meta", proxy.base), &with("203.0.113.5")).status,
            200
        );
    }
    let limited = get(&format!("{}/api/meta", proxy.base), &with("203.0.113.5"));
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert_eq!(
        get(&format!("{}/api/meta", proxy.base), &with("203.0.113.6")).status,
        200
    );

    // Untrusted peer: the headers are ignored.
    let tj = get(
        &format!("{}/tiles/buurten.json", direct.base),
        &with("198.51.100.1"),
    );
    assert_eq!(tj.status, 200);
    let url = tj.json()["tiles"][0].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/tiles/buurten/", direct.base)),
        "{url}"
    );
    assert!(tj.header("strict-transport-security").is_none());
    let caps = get(
        &format!("{}/wms?SERVICE=WMS&REQUEST=GetCapabilities", direct.base),
        &with("198.51.100.2"),
    );
    assert!(!caps.text().contains("kaart.example.nl"));
    assert!(caps.text().contains(&format!("{}/wms?", direct.base)));
    // Every request comes from the same peer whatever X-Forwarded-For says: two were made, the third empties the
    // bucket (3), the fourth is refused.
    assert_eq!(
        get(&format!("{}/api/meta", direct.base), &with("203.0.113.98")).status,
        200
    );
    let limited = get(&format!("{}/api/meta", direct.base), &with("203.0.113.99"));
    assert_eq!(limited.status, 429);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(limited.json()["error"]
        .as_str()
        .unwrap()
        .contains("te veel"));
    // A token has a bucket of its own.
    let token = srv::user_token(&db, "default", "bi", Role::Viewer, &[]);
    let auth = srv::bearer(&token);
    assert_eq!(
        get(&format!("{}/api/meta", direct.base), &[(auth.0, &auth.1)]).status,
        200
    );
}

#[test]
fn security_headers_on_every_response_and_cors_only_for_listed_origins() {
    let (dir, db) = demo_copy();
    let s = launch_http(
        &db,
        dir.path(),
        "[server]\ncors_origins = [\"https://app.powerbi.com\"]\n",
        &[],
        &[],
    );
    let token = srv::user_token(&db, "default", "kijker", Role::Viewer, &[]);
    let auth = srv::bearer(&token);
    let auth = [(auth.0, auth.1.as_str())];
    for (path, headers, status) in [
        ("/healthz", &[][..], 200),
        ("/api/meta", &auth[..], 200),
        ("/api/meta", &[][..], 401),
        ("/bestaat/niet", &auth[..], 404),
        ("/tiles/buurten/14/8414/5384.mvt", &auth[..], 0),
    ] {
        let r = get(&format!("{}{path}", s.base), headers);
        if status != 0 {
            assert_eq!(r.status, status, "{path}");
        }
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            r.header("strict-transport-security").is_none(),
            "no HSTS on plain http"
        );
    }
    let listed = get(
        &format!("{}/api/meta", s.base),
        &[auth[0], ("Origin", "https://app.powerbi.com")],
    );
    assert_eq!(
        listed.header("access-control-allow-origin"),
        Some("https://app.powerbi.com")
    );
    let unlisted = get(
        &format!("{}/api/meta", s.base),
        &[auth[0], ("Origin", "https://kwaadaardig.example")],
    );
    assert_eq!(unlisted.status, 200);
    assert!(unlisted.header("access-control-allow-origin").is_none());
    let preflight = srv::request(
        "OPTIONS",
        &format!("{}/api/meta", s.base),
        &[
            ("Origin", "https://kwaadaardig.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
        None,
    );
    assert!(preflight.header("access-control-allow-origin").is_none());
}

/// The demo area's polygon with `n` vertices: a circle of 200 m around the first buurt's centre, in WGS84.
fn circle_feature(base: &str, auth: &[(&str, &str)], n: usize) -> String {
    let meta = get(&format!("{base}/api/meta"), auth).json();
    let b = meta["bbox"].as_array().unwrap();
    let (lon, lat) = (
        (b[0].as_f64().unwrap() + b[2].as_f64().unwrap()) / 2.0,
        (b[1].as_f64().unwrap() + b[3].as_f64().unwrap()) / 2.0,
    );
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            [lon + 0.003 * a.cos(), lat + 0.002 * a.sin()]
        })
        .collect();
    ring.push(ring[0]);
    serde_json::json!({
        "type": "Feature",
        "properties": {"name": "proef"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}
    })
    .to_string()
}

#[test]
fn limits_answer_400_naming_the_parameter() {
    let (dir, db) = demo_copy();
    let s = launch_http(
        &db,
        dir.path(),
        "[limits]\nmin_zoom = 8\nmax_zoom = 16\nmax_period_days = 400\nmax_polygon_vertices = 50\nmax_body_bytes = 20000\n",
        &[],
        &[],
    );
    let token = srv::user_token(&db, "default", "analist-test", Role::Analyst, &["*"]);
    let a = srv::bearer(&token);
    let auth = [(a.0, a.1.as_str())];
    let param = |r: &Resp| {
        r.json()["parameter"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for z in [7, 17] {
        let r = get(&format!("{}/tiles/buurten/{z}/0/0.mvt", s.base), &auth);
        assert_eq!((r.status, param(&r)), (400, "z".to_string()), "z={z}");
        let r = get(&format!("{}/tiles/kde/{z}/0/0.png", s.base), &auth);
        assert_eq!((r.status, param(&r)), (400, "z".to_string()), "png z={z}");
    }
    assert_ne!(
        get(&format!("{}/tiles/buurten/16/0/0.mvt", s.base), &auth).status,
        400
    );
    // Period: 400 days is allowed, 401 days is not (counted inclusively).
    let ok = get(
        &format!(
            "{}/api/areas?level=buurt&from=2023-01-01&to=2024-02-04",
            s.base
        ),
        &auth,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let long = get(
        &format!(
            "{}/api/areas?level=buurt&from=2023-01-01&to=2024-02-05",
            s.base
        ),
        &auth,
    );
    assert_eq!(
        (long.status, param(&long)),
        (400, "to".to_string()),
        "{}",
        long.text()
    );
    // The same limit on the periods in a POST /api/compare body.
    let areas = get(&format!("{}/api/areas?level=buurt", s.base), &auth).json();
    let code = areas[0]["code"].as_str().unwrap().to_string();
    let compare = |period: &str| {
        let body = format!(r#"{{"areas": ["{code}"], {period}}}"#);
        srv::request(
            "POST",
            &format!("{}/api/compare", s.base),
            &auth,
            Some(&body),
        )
    };
    let r = compare(r#""from": "2023-01-01", "to": "2024-02-04""#);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = compare(r#""from": "2023-01-01", "to": "2024-02-05""#);
    assert_eq!(
        (r.status, param(&r)),
        (400, "to".to_string()),
        "{}",
        r.text()
    );
    let r = compare(
        r#""from": "2024-01-01", "to": "2024-01-31", "vs_from": "2020-01-01", "vs_to": "2023-12-31""#,
    );
    assert_eq!(
        (r.status, param(&r)),
        (400, "vs_to".to_string()),
        "{}",
        r.text()
    );
    // Polygon vertices: 40 are fine, 60 are too many.
    let r = srv::request(
        "POST",
        &format!("{}/api/areas", s.base),
        &auth,
        Some(&circle_feature(&s.base, &auth, 40)),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = srv::request(
        "POST",
        &format!("{}/api/areas", s.base),
        &auth,
        Some(&circle_feature(&s.base, &auth, 60)),
    );
    assert_eq!(
        (r.status, param(&r)),
        (400, "geometry".to_string()),
        "{}",
        r.text()
    );
    // Body size: a 30 kB body is refused with 413 JSON before it is parsed.
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(30_000));
    let r = srv::request("POST", &format!("{}/api/areas", s.base), &auth, Some(&big));
    assert_eq!(r.status, 413);
    assert!(
        r.json()["error"].as_str().unwrap().contains("20000"),
        "{}",
        r.text()
    );
}

#[test]
fn error_bodies_never_leak_internals_or_other_tenants() {
    let (dir, db) = demo_copy();
    {
        let mut store = SqliteStore::open(&db).unwrap();
        store.add_tenant("geheim", "Geheimstad").unwrap();
    }
    let s = launch_http(
        &db,
        dir.path(),
        "[limits]\nrequests_per_minute = 40\nmax_body_bytes = 5000\n",
        &[],
        &[],
    );
    // A second server whose requests may take 2 ms at most.
    let hasty = launch_http(
        &db,
        dir.path(),
        "[limits]\nrequest_timeout_seconds = 0.002\n",
        &[],
        &[],
    );
    let viewer = srv::user_token(&db, "default", "kijker", Role::Viewer, &[]);
    let other = srv::user_token(&db, "geheim", "buur", Role::Admin, &["*"]);
    let v = format!("Bearer {viewer}");
    let o = format!("Bearer {other}");
    let base = &s.base;
    let mut seen = std::collections::BTreeSet::new();
    let mut check = |what: &str, r: Resp| {
        seen.insert(r.status);
        let body = r.text();
        assert!(
            r.content_type().starts_with("application/json"),
            "{what}: {} {}",
            r.status,
            r.content_type()
        );
        assert!(r.json()["error"].is_string(), "{what}: {body}");
        let lower = body.to_lowercase();
        for leak in [
            dir.path().to_str().unwrap().to_lowercase().as_str(),
            "brandpunt.db",
            "sqlite",
            "select ",
            "panicked",
            "src/",
            "geheim",
            "stack",
        ] {
            assert!(!lower.contains(leak), "{what}: '{leak}' in {body}");
        }
    };
    check(
        "400 date",
        get(
            &format!("{base}/tiles/buurten/14/0/0.mvt?from=gisteren"),
            &[("Authorization", &v)],
        ),
    );
    check(
        "400 query",
        get(
            &format!("{base}/api/areas?level=planeet"),
            &[("Authorization", &v)],
        ),
    );
    check(
        "400 json",
        srv::request(
            "POST",
            &format!("{base}/api/compare"),
            &[("Authorization", &v)],
            Some("{kapot"),
        ),
    );
    check("401 none", get(&format!("{base}/api/meta"), &[]));
    check(
        "401 bad token",
        get(
            &format!("{base}/api/meta"),
            &[("Authorization", "Bearer bp_1_onzin")],
        ),
    );
    check(
        "403 viewer writes",
        srv::request(
            "POST",
            &format!("{base}/api/areas"),
            &[("Authorization", &v)],
            Some("{}"),
        ),
    );
    check(
        "404 route",
        get(
            &format!("{base}/api/bestaat-niet"),
            &[("Authorization", &v)],
        ),
    );
    check(
        "404 area",
        get(
            &format!("{base}/api/areas/BU99999999"),
            &[("Authorization", &v)],
        ),
    );
    check(
        "404 layer",
        get(
            &format!("{base}/tiles/onbekend.json"),
            &[("Authorization", &v)],
        ),
    );
    check(
        "405",
        srv::request(
            "DELETE",
            &format!("{base}/api/meta"),
            &[("Authorization", &v)],
            None,
        ),
    );
    let big = "x".repeat(10_000);
    check(
        "413",
        srv::request(
            "POST",
            &format!("{base}/api/areas"),
            &[("Authorization", &v)],
            Some(&big),
        ),
    );
    // The other tenant's user sees its own (empty) tenant, and nothing in errors names the demo tenant either.
    check(
        "404 other tenant",
        get(
            &format!("{base}/api/areas/BU99999999"),
            &[("Authorization", &o)],
        ),
    );
    // A first check of a fresh token (argon2, ~30 ms) takes longer than the 2 ms timeout.
    let fresh = srv::user_token(&db, "default", "nieuw", Role::Viewer, &[]);
    check(
        "503 timeout",
        get(
            &format!("{}/api/meta", hasty.base),
            &[("Authorization", &format!("Bearer {fresh}"))],
        ),
    );
    let mut limited = false;
    for _ in 0..60 {
        let r = get(
            &format!("{base}/api/bestaat-niet"),
            &[("Authorization", &v)],
        );
        if r.status == 429 {
            check("429", r);
            limited = true;
            break;
        }
    }
    assert!(limited, "no 429 after 60 requests at 40 per minute");
    for status in [400, 401, 403, 404, 405, 413, 429, 503] {
        assert!(
            seen.contains(&status),
            "status {status} not provoked: {seen:?}"
        );
    }
}

#[test]
fn secrets_never_reach_the_log() {
    let (dir, db) = demo_copy();
    let token = srv::user_token(&db, "default", "analist-test", Role::Analyst, &["*"]);
    // `bp_<10 hex>_<43 base64url>`: the secret may itself contain '_', so it is cut by position.
    let secret = token["bp_".len() + 10 + 1..].to_string();
    assert_eq!(secret.len(), 43, "{token}");
    let s = launch_http(
        &db,
        dir.path(),
        "",
        &["--public-tenant", "default"],
        &[("BRANDPUNT_LOG", "debug")],
    );
    let bad = "bp_77_ditisgeengeldiggeheimmaarwelgeheim";
    let basic = format!(
        "Basic {}",
        base64_encode(format!("tableau:{token}").as_bytes())
    );
    for auth in [format!("Bearer {token}"), format!("Bearer {bad}"), basic] {
        for path in ["/api/meta", "/tiles/buurten.json", "/api/areas?level=buurt"] {
            let r = get(
                &format!("{}{path}", s.base),
                &[
                    ("Authorization", &auth),
                    ("Cookie", "sessie=koekjesgeheim123"),
                ],
            );
            assert!(r.status == 200 || r.status == 401, "{path}: {}", r.status);
        }
    }
    let log = s.stop();
    assert!(
        log.contains("request"),
        "the request log was not written at debug level: {log}"
    );
    for needle in [
        token.as_str(),
        secret.as_str(),
        bad,
        "ditisgeengeldig",
        "koekjesgeheim123",
    ] {
        assert!(!log.contains(needle), "'{needle}' in the log");
    }
    let encoded = base64_encode(format!("tableau:{token}").as_bytes());
    assert!(!log.contains(&encoded));
}

/// Standard base64 (RFC 4648) with padding; written out here to keep the test independent of the server's
/// decoder.
fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn slow_clients_are_cut_off_after_the_header_timeout() {
    let (dir, db) = demo_copy();
    let s = launch_http(
        &db,
        dir.path(),
        "[limits]\nheader_read_timeout_seconds = 1\n",
        &["--public-tenant", "default"],
        &[],
    );
    let addr = s.base.strip_prefix("http://").unwrap().to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    // Half a request head, then nothing.
    conn.write_all(b"GET /api/meta HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let r = conn.read_to_end(&mut buf);
    assert!(r.is_ok(), "the server kept the connection open: {r:?}");
    assert!(start.elapsed() < Duration::from_secs(14));
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    // A prompt client on a new connection is served.
    let ok = get(&format!("{}/api/meta", s.base), &[]);
    assert_eq!(ok.status, 200);
}

/// The value of an unlabelled metric in the Prometheus text of `/metrics`.
fn metric(base: &str, name: &str) -> f64 {
    let text = srv::request("GET", &format!("{base}/metrics"), &[], None).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

#[test]
fn concurrent_requests_with_a_new_token_cost_one_verification_each_worker_at_most() {
    let (_dir, db) = demo_copy();
    let token = srv::user_token(&db, "default", "gelijktijdig", Role::Analyst, &["*"]);
    let server = srv::start(&db, &[]);
    let before = metric(&server.base, "brandpunt_token_checks_total");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(24));
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|_| {
                let barrier = barrier.clone();
                let (base, token) = (&server.base, &token);
                s.spawn(move || {
                    barrier.wait();
                    srv::get_as(base, Some(token), "/api/meta").status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let checks = metric(&server.base, "brandpunt_token_checks_total") - before;
    // Each of the two credential workers looks in the cache before verifying, so 24 simultaneous first uses
    // cost at most one argon2 check per worker, not 24.
    assert!(
        (1.0..=brandpunt::server::credential_worker::WORKERS as f64).contains(&checks),
        "{checks} token verifications for one token"
    );
    // Later requests are answered from the cache.
    assert_eq!(
        srv::get_as(&server.base, Some(&token), "/api/meta").status,
        200
    );
    assert_eq!(
        metric(&server.base, "brandpunt_token_checks_total") - before,
        checks
    );
}
