//! Web login against the real server (`brandpunt serve`, the built binary, on the small demo city): passwords
//! set by the CLI and the library, `POST /api/login` / `POST /api/logout` / `GET /api/me`, the session cookie's
//! attributes, CSRF protection of cookie sessions, disabling a user ending their session, and login
//! throttling. Expected roles and grants come from the store (`PrivacyStore::users`) and from the demo's
//! documented users, never from our own server output.

use crate::common::demo::{bin, demo_copy};
use crate::common::server::{self as srv, Resp};
use brandpunt::access::Role;
use brandpunt::demo::{DEMO_PASSWORD, DEMO_USERS};
use brandpunt::store::{PrivacyError, PrivacyStore, SqliteStore, MIN_PASSWORD_CHARS};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn login(base: &str, user: &str, password: &str) -> Resp {
    let body = serde_json::json!({"user": user, "password": password}).to_string();
    srv::request("POST", &format!("{base}/api/login"), &[], Some(&body))
}

/// The session id from a login answer's `Set-Cookie`, after checking the cookie's attributes.
fn session_cookie(r: &Resp) -> String {
    let c = r.header("set-cookie").expect("Set-Cookie").to_string();
    let mut parts = c.split(';').map(str::trim);
    let first = parts.next().unwrap();
    let id = first
        .strip_prefix("brandpunt_sessie=")
        .expect(&c)
        .to_string();
    let attrs: Vec<&str> = parts.collect();
    for needed in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&needed), "{needed} missing in {c}");
    }
    // Plain HTTP: no Secure flag (the browser would not send it back).
    assert!(!attrs.contains(&"Secure"), "{c}");
    // 32 random bytes, unpadded base64url.
    assert_eq!(id.len(), 43, "{id}");
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    id
}

fn cookie(id: &str) -> String {
    format!("brandpunt_sessie={id}")
}

fn me(base: &str, id: Option<&str>) -> Resp {
    let c = id.map(cookie);
    let headers: Vec<(&str, &str)> = c.iter().map(|c| ("Cookie", c.as_str())).collect();
    srv::request("GET", &format!("{base}/api/me"), &headers, None)
}

/// A square custom area of about 1 km around the demo city's centre.
fn area_body(base: &str) -> String {
    srv::square_feature(base, "Inlogtest", 0.005).to_string()
}

#[test]
fn demo_users_log_in_and_me_reports_the_stored_role_and_grants() {
    let (_dir, db) = demo_copy();
    let stored = SqliteStore::open(&db).unwrap().users(None).unwrap();
    let server = srv::start(&db, &["--public-tenant", "default"]);
    let base = &server.base;

    // Anonymous: aggregates only.
    let anon = me(base, None);
    assert_eq!(anon.status, 200);
    let a = anon.json();
    assert_eq!(a["anonymous"], true);
    assert_eq!(a["tenant"], "default");
    assert_eq!(a["address_level"], false);
    assert_eq!(a["edit_areas"], false);
    assert_eq!(a["admin"], false);

    for (name, role, _) in DEMO_USERS {
        let u = stored.iter().find(|u| u.name == name).expect(name);
        assert_eq!(u.role, role);
        let r = login(base, name, DEMO_PASSWORD);
        assert_eq!(r.status, 200, "{}", r.text());
        let id = session_cookie(&r);
        let body = r.json();
        let m = me(base, Some(&id));
        assert_eq!(m.status, 200);
        let m = m.json();
        assert_eq!(body, m, "login answers with /api/me's body");
        assert_eq!(m["anonymous"], false);
        assert_eq!(m["user"], name);
        assert_eq!(m["tenant"], u.tenant.as_str());
        assert_eq!(m["role"], u.role.as_str());
        assert_eq!(m["categories"], serde_json::json!(u.categories));
        // Both demo users are granted every category: address-level data and own areas; admin only beheerder.
        assert_eq!(m["address_level"], true);
        assert_eq!(m["edit_areas"], true);
        assert_eq!(m["admin"], role == Role::Admin);
        let names = SqliteStore::open(&db).unwrap().tenants_named();
        assert_eq!(m["tenant_name"], names);
        // The demo's tenant is named after the demo city, not "Standaard".
        assert_eq!(m["tenant_name"], brandpunt::demo::DEMO_CITY);
    }
}

/// The tenant name of `default` as stored (an independent read of the tenant table).
trait TenantName {
    fn tenants_named(&self) -> String;
}
impl TenantName for SqliteStore {
    fn tenants_named(&self) -> String {
        use brandpunt::store::Store;
        self.tenants()
            .unwrap()
            .into_iter()
            .find(|(c, _)| c == "default")
            .unwrap()
            .1
    }
}

#[test]
fn wrong_passwords_and_unknown_users_get_the_same_answer_and_no_cookie() {
    let (_dir, db) = demo_copy();
    let server = srv::start(&db, &[]);
    let base = &server.base;
    let wrong = login(base, "analist", "niet-het-wachtwoord");
    let unknown = login(base, "niemand", "niet-het-wachtwoord");
    let right_name_case = login(base, "analist", &DEMO_PASSWORD.to_uppercase());
    for r in [&wrong, &unknown, &right_name_case] {
        assert_eq!(r.status, 401);
        assert!(r.header("set-cookie").is_none());
        assert_eq!(r.body, wrong.body);
    }
    assert!(wrong
        .text()
        .contains("onjuiste gebruikersnaam of wachtwoord"));
    // Malformed bodies: 400 with a Dutch reason, no cookie.
    let r = srv::request(
        "POST",
        &format!("{base}/api/login"),
        &[],
        Some("{\"gebruiker\":1}"),
    );
    assert_eq!(r.status, 400);
    assert!(r.header("set-cookie").is_none());
    // Without a public tenant, /api/me needs a login.
    assert_eq!(me(base, None).status, 401);
    // A made-up session id is not a session.
    let fake = "A".repeat(43);
    let r = me(base, Some(&fake));
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[test]
fn cookie_sessions_need_the_app_header_or_same_origin_and_logout_ends_them() {
    let (_dir, db) = demo_copy();
    let server = srv::start(&db, &["--public-tenant", "default"]);
    let base = &server.base;
    let host = base.strip_prefix("http://").unwrap();
    let area = area_body(base);
    // Anonymous callers may not save areas at all.
    let r = srv::request("POST", &format!("{base}/api/areas"), &[], Some(&area));
    assert_eq!(r.status, 403);

    // A new login from the same browser replaces its old session.
    let first = session_cookie(&login(base, "analist", DEMO_PASSWORD));
    let body = serde_json::json!({"user": "analist", "password": DEMO_PASSWORD}).to_string();
    let again = srv::request(
        "POST",
        &format!("{base}/api/login"),
        &[("Cookie", &cookie(&first))],
        Some(&body),
    );
    let id = session_cookie(&again);
    assert_ne!(id, first);
    assert_eq!(me(base, Some(&first)).status, 401);
    let c = cookie(&id);
    let post = |headers: &[(&str, &str)]| {
        let mut h = vec![("Cookie", c.as_str())];
        h.extend_from_slice(headers);
        srv::request("POST", &format!("{base}/api/areas"), &h, Some(&area))
    };
    // No marks, a foreign Origin, a wrong header value: refused before anything is written.
    let before = SqliteStore::open(&db)
        .unwrap()
        .connection()
        .query_row("SELECT count(*) FROM custom_area", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    for h in [
        vec![],
        vec![("Origin", "http://boos.example")],
        vec![("X-Brandpunt", "0")],
    ] {
        let r = post(&h);
        assert_eq!(r.status, 403, "{h:?}: {}", r.text());
        assert!(r.text().contains("X-Brandpunt"), "{}", r.text());
    }
    let after = SqliteStore::open(&db)
        .unwrap()
        .connection()
        .query_row("SELECT count(*) FROM custom_area", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    assert_eq!(before, after);
    // The app header, or the server's own origin: the analyst's session saves the area.
    let origin = format!("http://{host}");
    for h in [
        vec![("X-Brandpunt", "1")],
        vec![("Origin", origin.as_str())],
    ] {
        let r = post(&h);
        assert_eq!(r.status, 201, "{h:?}: {}", r.text());
    }
    // GET needs no marks.
    assert_eq!(me(base, Some(&id)).json()["user"], "analist");

    // Logout is state-changing too.
    let logout = |h: &[(&str, &str)]| {
        let mut hs = vec![("Cookie", c.as_str())];
        hs.extend_from_slice(h);
        srv::request("POST", &format!("{base}/api/logout"), &hs, None)
    };
    assert_eq!(logout(&[]).status, 403);
    assert_eq!(me(base, Some(&id)).status, 200);
    let r = logout(&[("X-Brandpunt", "1")]);
    assert_eq!(r.status, 204);
    let cleared = r.header("set-cookie").unwrap();
    assert!(cleared.starts_with("brandpunt_sessie=;") && cleared.contains("Max-Age=0"));
    // The old cookie is no longer a session: 401 (never a silent fall-back to anonymous).
    let r = me(base, Some(&id));
    assert_eq!(r.status, 401);
    let r = srv::request(
        "GET",
        &format!("{base}/api/areas?level=custom"),
        &[("Cookie", c.as_str())],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn disabling_a_user_ends_their_session() {
    let (_dir, db) = demo_copy();
    let server = srv::start(&db, &[]);
    let base = &server.base;
    let id = session_cookie(&login(base, "analist", DEMO_PASSWORD));
    let other = session_cookie(&login(base, "beheerder", DEMO_PASSWORD));
    assert_eq!(me(base, Some(&id)).status, 200);
    // Disabled by another process, as `brandpunt user disable` does.
    SqliteStore::open(&db)
        .unwrap()
        .disable_user("analist")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let r = me(base, Some(&id));
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            Instant::now() < deadline,
            "session of a disabled user lives on"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Other users' sessions go on; the disabled user cannot log in again.
    assert_eq!(me(base, Some(&other)).json()["user"], "beheerder");
    assert_eq!(login(base, "analist", DEMO_PASSWORD).status, 401);
}

#[test]
fn ten_failures_block_further_logins_of_that_user_and_address() {
    let (_dir, db) = demo_copy();
    let server = srv::start(&db, &[]);
    let base = &server.base;
    for i in 0..10 {
        let r = login(base, "beheerder", &format!("fout-wachtwoord-{i}"));
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // Even the right password is refused now, for this user and from this address.
    let r = login(base, "beheerder", DEMO_PASSWORD);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("set-cookie").is_none());
    assert!(r.json()["error"].as_str().unwrap().contains("te veel"));
    assert!(r.header("retry-after").is_some());
    assert_eq!(login(base, "analist", DEMO_PASSWORD).status, 429);
}

/// Sessions and failed logins live in the store, so every `serve` process on one database shares them: a login
/// on `a` holds on `b`, a logout on `b` ends it on `a`, and failed logins on `a` count on `b`. `user` logs in
/// with `password`; `other` is a second user with the same password, used for the throttle.
pub fn sessions_are_shared_by_two_servers(
    a: &srv::Server,
    b: &srv::Server,
    user: &str,
    other: &str,
    password: &str,
) {
    let r = login(&a.base, user, password);
    assert_eq!(r.status, 200, "{}", r.text());
    let id = session_cookie(&r);
    let on_b = me(&b.base, Some(&id));
    assert_eq!(on_b.status, 200, "{}", on_b.text());
    assert_eq!(on_b.json()["user"], user);
    assert_eq!(me(&a.base, Some(&id)).json()["user"], user);
    // Logout on b ends the session on a as well.
    let c = cookie(&id);
    let out = srv::request(
        "POST",
        &format!("{}/api/logout", b.base),
        &[("Cookie", c.as_str()), ("X-Brandpunt", "1")],
        None,
    );
    assert_eq!(out.status, 204, "{}", out.text());
    assert_eq!(me(&a.base, Some(&id)).status, 401);
    assert_eq!(me(&b.base, Some(&id)).status, 401);
    // Ten failures on a: the right password is refused on b (for the user, and for the address).
    for i in 0..10 {
        assert_eq!(
            login(&a.base, user, &format!("fout-wachtwoord-{i}")).status,
            401,
            "attempt {i}"
        );
    }
    let r = login(&b.base, user, password);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("set-cookie").is_none());
    assert_eq!(login(&b.base, other, password).status, 429);
}

#[test]
fn two_servers_on_one_sqlite_file_share_sessions_and_failed_logins() {
    let (_dir, db) = demo_copy();
    let a = srv::start(&db, &[]);
    let b = srv::start(&db, &[]);
    sessions_are_shared_by_two_servers(&a, &b, "analist", "beheerder", DEMO_PASSWORD);
}

#[test]
fn sessions_survive_a_restart_of_the_server() {
    let (_dir, db) = demo_copy();
    let first = srv::start(&db, &[]);
    let r = login(&first.base, "analist", DEMO_PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text());
    let id = session_cookie(&r);
    drop(first);
    let second = srv::start(&db, &[]);
    assert_eq!(me(&second.base, Some(&id)).json()["user"], "analist");
}

fn cli(db: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = bin()
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn passwords_from_the_cli_are_read_from_stdin_and_work_for_login() {
    let (_dir, db) = demo_copy();
    let secret = "paarden-staart-batterij";
    let out = cli(
        &db,
        &[
            "user",
            "add",
            "fgb",
            "--tenant",
            "default",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        &format!("{secret}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!shown.contains(secret), "password echoed: {shown}");
    // Too short: refused in Dutch, and the user is not added.
    let out = cli(
        &db,
        &[
            "user",
            "add",
            "kort",
            "--tenant",
            "default",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        "elf-tekens!\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("minstens 12 tekens"), "{err}");
    assert!(!err.contains("elf-tekens!"), "{err}");
    let store = SqliteStore::open(&db).unwrap();
    assert!(store.users(None).unwrap().iter().all(|u| u.name != "kort"));
    // The stored hash is argon2id and does not contain the password.
    let hash: String = store
        .connection()
        .query_row(
            "SELECT password_hash FROM app_user WHERE name = 'fgb'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(secret));
    drop(store);

    // `user password` replaces the demo password of analist (CRLF line ending as from Windows).
    let new = "een-heel-nieuw-wachtwoord";
    let out = cli(&db, &["user", "password", "analist"], &format!("{new}\r\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&db, &["user", "password", "niemand"], &format!("{new}\n"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("onbekende gebruiker"));

    let server = srv::start(&db, &[]);
    let base = &server.base;
    let r = login(base, "fgb", secret);
    assert_eq!(r.status, 200, "{}", r.text());
    let m = r.json();
    assert_eq!(m["role"], "viewer");
    assert_eq!(m["address_level"], false);
    assert_eq!(login(base, "analist", DEMO_PASSWORD).status, 401);
    assert_eq!(login(base, "analist", new).status, 200);
}

#[test]
fn store_password_rules() {
    let (_dir, db) = demo_copy();
    let mut store = SqliteStore::open(&db).unwrap();
    store
        .add_user("default", "zonder", Role::Analyst, &["inbraak".into()])
        .unwrap();
    // No password set: nothing verifies, not even the empty string.
    assert_eq!(store.verify_password("zonder", "").unwrap(), None);
    let short = "x".repeat(MIN_PASSWORD_CHARS - 1);
    assert!(matches!(
        store.set_password("zonder", &short),
        Err(PrivacyError::PasswordTooShort { min: 12 })
    ));
    // Twelve characters counted as characters, not bytes ("é" is two bytes).
    let twelve = "ééééééxxxxxx";
    assert_eq!(twelve.chars().count(), 12);
    store.set_password("zonder", twelve).unwrap();
    let p = store.verify_password(" zonder ", twelve).unwrap().unwrap();
    assert_eq!(p.user, "zonder");
    assert_eq!(p.role, Role::Analyst);
    assert!(p.has_category(Some("1.1.1")), "inbraak expands to 1.1.1");
    assert_eq!(
        store.verify_password("zonder", "ééééééxxxxxX").unwrap(),
        None
    );
    assert!(matches!(
        store.set_password("niemand", twelve),
        Err(PrivacyError::UnknownUser(_))
    ));
    assert_eq!(store.verify_password("niemand", twelve).unwrap(), None);
    assert_eq!(store.user_principal("zonder").unwrap(), Some(p));
    store.disable_user("zonder").unwrap();
    assert_eq!(store.verify_password("zonder", twelve).unwrap(), None);
    assert_eq!(store.user_principal("zonder").unwrap(), None);
}

#[test]
fn each_live_session_has_its_own_rate_limit_bucket_and_made_up_cookies_count_against_the_address() {
    let (dir, db) = demo_copy();
    let cfg = dir.path().join("brandpunt.toml");
    std::fs::write(&cfg, "[limits]\nrequests_per_minute = 5\n").unwrap();
    let server = srv::start(&db, &["--config", cfg.to_str().unwrap()]);
    let base = &server.base;
    let user = DEMO_USERS[0].0;
    // Two logins from the same address (two browsers in one office): 2 of the address's 5 requests.
    let a = session_cookie(&login(base, user, DEMO_PASSWORD));
    let b = session_cookie(&login(base, user, DEMO_PASSWORD));
    // Each session has 5 requests of its own, then 429.
    for id in [&a, &b] {
        for i in 0..5 {
            assert_eq!(me(base, Some(id)).status, 200, "request {i}");
        }
        let r = me(base, Some(id));
        assert_eq!(r.status, 429, "{}", r.text());
        assert!(r.header("retry-after").is_some());
    }
    // Made-up session ids are no session: they share the address's bucket (3 left), so the 4th is refused.
    for i in 0..3 {
        let made_up = format!("{i:0>43}");
        assert_eq!(me(base, Some(&made_up)).status, 401, "made-up cookie {i}");
    }
    assert_eq!(me(base, Some(&format!("{:x>43}", ""))).status, 429);
    assert_eq!(me(base, None).status, 429);
}
