//! OpenID Connect bearer tokens against the real server: keys generated in the test with the `openssl` CLI, the
//! JWKS written from openssl's own output (RSA modulus, EC public point), tokens assembled here and signed by
//! `openssl dgst` (RS256: PKCS#1 v1.5; ES256: the DER signature converted to r||s), so nothing of the server's
//! JWT library is used to make them. A valid token acts as its brandpunt user (role from the store); wrong
//! issuer, audience, expired, not yet valid, unknown kid, tampered, unsigned, unknown or disabled users: 401.

use crate::common::demo::{bin, demo_copy};
use crate::common::server::{self as srv, Resp};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use brandpunt::access::Role;
use brandpunt::store::{PrivacyStore, SqliteStore};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ISSUER: &str = "https://sso.gemeente.example/realms/brandpunt";
const AUDIENCE: &str = "brandpunt-api";

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl CLI (apt-get install openssl)");
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` (short lengths, as for P-256) -> 64 bytes r||s.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut i = 2;
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        let mut int = &der[i + 2..i + 2 + len];
        while int.len() > 32 && int[0] == 0 {
            int = &int[1..];
        }
        let mut padded = vec![0u8; 32 - int.len()];
        padded.extend_from_slice(int);
        out.extend(padded);
        i += 2 + len;
    }
    out
}

struct Keys {
    dir: tempfile::TempDir,
    rsa: PathBuf,
    ec: PathBuf,
    jwks: PathBuf,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let rsa = dir.path().join("rsa.pem");
    let ec = dir.path().join("ec.pem");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &p(&rsa),
        ],
        None,
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &p(&ec),
        ],
        None,
    );
    let modulus = String::from_utf8(openssl(
        &["rsa", "-in", &p(&rsa), "-noout", "-modulus"],
        None,
    ))
    .unwrap();
    let n = hex_to_bytes(modulus.trim().strip_prefix("Modulus=").unwrap());
    let text =
        String::from_utf8(openssl(&["rsa", "-in", &p(&rsa), "-noout", "-text"], None)).unwrap();
    assert!(text.contains("publicExponent: 65537"), "{text}");
    // SubjectPublicKeyInfo of a P-256 key ends with the uncompressed point 04 || x || y.
    let spki = openssl(
        &["pkey", "-in", &p(&ec), "-pubout", "-outform", "DER"],
        None,
    );
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 4);
    let jwks = serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64(&n), "e": b64(&[1, 0, 1])},
        {"kty": "EC", "kid": "ec-1", "use": "sig", "crv": "P-256",
         "x": b64(&point[1..33]), "y": b64(&point[33..65])}
    ]});
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    Keys {
        rsa,
        ec,
        jwks: jwks_path,
        dir,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A JWT with `header` and `claims`, signed by openssl with `key` (RS256 or ES256 per the header's alg).
fn jwt(key: &Path, header: serde_json::Value, claims: serde_json::Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = openssl(
        &["dgst", "-sha256", "-sign", key.to_str().unwrap()],
        Some(input.as_bytes()),
    );
    let sig = if header["alg"] == "ES256" {
        der_to_raw(&sig)
    } else {
        sig
    };
    format!("{input}.{}", b64(&sig))
}

fn claims(user: &str) -> serde_json::Value {
    serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "nbf": now() - 10,
                       "iat": now() - 10, "sub": "0b7c-uuid", "preferred_username": user})
}

fn me(base: &str, token: &str) -> Resp {
    let (k, v) = srv::bearer(token);
    srv::request("GET", &format!("{base}/api/me"), &[(k, &v)], None)
}

#[test]
fn openid_connect_tokens_act_as_their_brandpunt_user_and_everything_else_is_refused() {
    let k = keys();
    let (_dir, db) = demo_copy();
    {
        let mut store = SqliteStore::open(&db).unwrap();
        store
            .add_user("default", "oud-collega", Role::Analyst, &["*".into()])
            .unwrap();
        store.disable_user("oud-collega").unwrap();
    }
    let stored = SqliteStore::open(&db).unwrap().users(None).unwrap();
    let config = k.dir.path().join("brandpunt.toml");
    std::fs::write(
        &config,
        format!(
            "[oidc]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_file = \"{}\"\n",
            k.jwks.display()
        ),
    )
    .unwrap();
    let server = srv::start(&db, &["--config", config.to_str().unwrap()]);
    let base = &server.base;
    let rs = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"});
    let es = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": "ec-1"});

    // Valid tokens, both algorithms: the user's stored role applies.
    for (key, header, user) in [
        (&k.rsa, &rs, "analist"),
        (&k.ec, &es, "beheerder"),
        (&k.rsa, &rs, "beheerder"),
    ] {
        let t = jwt(key, header.clone(), claims(user));
        let r = me(base, &t);
        assert_eq!(r.status, 200, "{user}: {}", r.text());
        let m = r.json();
        let u = stored.iter().find(|u| u.name == user).unwrap();
        assert_eq!(m["user"], user);
        assert_eq!(m["role"], u.role.as_str());
        assert_eq!(m["tenant"], u.tenant.as_str());
        assert_eq!(m["anonymous"], false);
        // And on a data endpoint of a server without a public tenant.
        let (hk, hv) = srv::bearer(&t);
        let areas = srv::request(
            "GET",
            &format!("{base}/api/areas?level=buurt"),
            &[(hk, &hv)],
            None,
        );
        assert_eq!(areas.status, 200);
    }
    // An audience list containing ours is fine.
    let mut c = claims("analist");
    c["aud"] = serde_json::json!(["account", AUDIENCE]);
    assert_eq!(me(base, &jwt(&k.rsa, rs.clone(), c)).status, 200);
    // Without credentials: 401 (no public tenant).
    assert_eq!(
        srv::request("GET", &format!("{base}/api/me"), &[], None).status,
        401
    );

    let mut refused: Vec<(&str, String)> = Vec::new();
    let mut c = claims("analist");
    c["iss"] = "https://boos.example/realms/brandpunt".into();
    refused.push(("wrong issuer", jwt(&k.rsa, rs.clone(), c)));
    let mut c = claims("analist");
    c["aud"] = "andere-app".into();
    refused.push(("wrong audience", jwt(&k.rsa, rs.clone(), c)));
    let mut c = claims("analist");
    c["exp"] = (now() - 3600).into();
    refused.push(("expired", jwt(&k.ec, es.clone(), c)));
    let mut c = claims("analist");
    c["nbf"] = (now() + 3600).into();
    refused.push(("not yet valid", jwt(&k.rsa, rs.clone(), c)));
    let mut c = claims("analist");
    c.as_object_mut().unwrap().remove("exp");
    refused.push(("no exp", jwt(&k.rsa, rs.clone(), c)));
    let mut h = rs.clone();
    h["kid"] = "rsa-2".into();
    refused.push(("unknown kid", jwt(&k.rsa, h, claims("analist"))));
    // Signed with the EC key but claiming the RSA key's kid, and the other way round.
    let mut h = es.clone();
    h["kid"] = "rsa-1".into();
    refused.push(("alg of another key", jwt(&k.ec, h, claims("analist"))));
    // Tampered: the payload of a valid token replaced by one naming the admin.
    let valid = jwt(&k.rsa, rs.clone(), claims("analist"));
    let parts: Vec<&str> = valid.split('.').collect();
    let forged_payload = b64(claims("beheerder").to_string().as_bytes());
    refused.push((
        "tampered payload",
        format!("{}.{forged_payload}.{}", parts[0], parts[2]),
    ));
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    refused.push((
        "tampered signature",
        format!("{}.{}.{}", parts[0], parts[1], b64(&sig)),
    ));
    // Unsigned (alg none).
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"rsa-1"}"#),
        b64(claims("analist").to_string().as_bytes())
    );
    refused.push(("alg none", none));
    refused.push((
        "unknown user",
        jwt(&k.rsa, rs.clone(), claims("niet-in-brandpunt")),
    ));
    refused.push((
        "disabled user",
        jwt(&k.ec, es.clone(), claims("oud-collega")),
    ));
    let mut c = claims("analist");
    c.as_object_mut().unwrap().remove("preferred_username");
    refused.push(("no username claim", jwt(&k.rsa, rs.clone(), c)));
    refused.push(("garbage", "dit-is-geen-jwt".to_string()));
    for (what, token) in &refused {
        let r = me(base, token);
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert!(r.header("www-authenticate").is_some(), "{what}");
    }
}

#[test]
fn a_broken_jwks_file_stops_the_server_with_a_clear_message() {
    let (dir, db) = demo_copy();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, r#"{"keys": []}"#).unwrap();
    let config = dir.path().join("brandpunt.toml");
    std::fs::write(
        &config,
        format!(
            "[oidc]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_file = \"{}\"\n",
            jwks.display()
        ),
    )
    .unwrap();
    let out = bin()
        .arg("--db")
        .arg(&db)
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[oidc] jwks_file") && err.contains("jwks.json"),
        "{err}"
    );
}
