//! Pseudonymisation at import, end to end through the `brandpunt` binary: the mapping's `[personal]` columns are
//! stored only as keyed HMAC-SHA256 pseudonyms (checked against an independent HMAC computation), the raw values
//! appear nowhere in the database file or the report (byte scan), the same key gives the same pseudonyms from a
//! key file or the environment, another key other ones, and an import without a key is refused.

use brandpunt::import::delivery::{content_hash, read_delivery};
use brandpunt::import::incidents::pseudonymise_rows;
use brandpunt::import::mapping::Mapping;
use brandpunt::pseudonym::PseudonymKey;
use hmac::{Hmac, Mac};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MAPPING: &str = r#"
[columns]
registratienummer = "Zaak"
"pleegdatum begin" = "Datum"
x = "X"
y = "Y"

[personal]
columns = ["Kenteken", "BSN", "Naam"]
"#;

fn brandpunt(db: &Path, args: &[&str], env_key: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brandpunt"));
    c.arg("--db").arg(db).args(args);
    match env_key {
        Some(k) => c.env("BRANDPUNT_PSEUDONYM_KEY", k),
        None => c.env_remove("BRANDPUNT_PSEUDONYM_KEY"),
    };
    c.output().expect("run brandpunt")
}

/// The documented normalisation, written out independently: trim, upper-case, drop whitespace, `-` and `.`.
fn oracle_normalise(v: &str) -> String {
    v.trim()
        .to_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
        .collect()
}

fn oracle_pseudonym(key: &[u8], v: &str) -> String {
    let n = oracle_normalise(v);
    if n.is_empty() {
        return String::new();
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(n.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn letters(rng: &mut ChaCha20Rng, n: usize) -> String {
    (0..n)
        .map(|_| {
            let c = rng.gen_range(b'A'..=b'Z') as char;
            if rng.gen_bool(0.5) {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

/// A random personal value and a differently spelled variant of it.
fn plate(rng: &mut ChaCha20Rng) -> (String, String) {
    let a = letters(rng, 2).to_uppercase();
    let d: u32 = rng.gen_range(100..1000);
    let b = letters(rng, 2).to_uppercase();
    (
        format!("{a}-{d}-{b}"),
        format!(" {} {d} {}", a.to_lowercase(), b),
    )
}

struct Delivery {
    csv: PathBuf,
    /// Per registration: personal column -> raw value.
    raw: BTreeMap<String, BTreeMap<String, String>>,
}

fn write_delivery(dir: &Path, seed: u64, rows: usize) -> Delivery {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut text = String::from("Zaak;Datum;X;Y;Kenteken;BSN;Naam\n");
    let mut raw = BTreeMap::new();
    let (shared, shared_variant) = plate(&mut rng);
    for i in 0..rows {
        let reg = format!("2024/{seed}/{i:04}");
        let kenteken = match i % 4 {
            0 => shared.clone(),
            1 => shared_variant.clone(),
            2 => String::new(),
            _ => plate(&mut rng).0,
        };
        let bsn = format!(
            "{}.{}.{}",
            rng.gen_range(1000..10000),
            rng.gen_range(10..100),
            rng.gen_range(100..1000)
        );
        let naam = format!("{} {}", letters(&mut rng, 7), letters(&mut rng, 9));
        let x = rng.gen_range(150_000..160_000);
        let y = rng.gen_range(460_000..470_000);
        text.push_str(&format!(
            "{reg};2024-03-15;{x};{y};{kenteken};{bsn};{naam}\n"
        ));
        raw.insert(
            reg,
            BTreeMap::from([
                ("Kenteken".to_string(), kenteken),
                ("BSN".to_string(), bsn),
                ("Naam".to_string(), naam),
            ]),
        );
    }
    let csv = dir.join(format!("levering-{seed}.csv"));
    std::fs::write(&csv, text).unwrap();
    Delivery { csv, raw }
}

fn stored_extra(db: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c
        .prepare("SELECT registration, extra_json FROM incident")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap();
    rows.map(|r| {
        let (reg, json) = r.unwrap();
        (reg, serde_json::from_str(&json).unwrap())
    })
    .collect()
}

/// Every byte of the database (and any -wal/-journal left next to it).
fn db_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    for suffix in ["-wal", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(hay: &[u8], needle: &str) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn personal_columns_are_stored_only_as_keyed_pseudonyms() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    for seed in 1..=3u64 {
        let mut rng = ChaCha20Rng::seed_from_u64(100 + seed);
        let key: Vec<u8> = (0..32 + seed as usize).map(|_| rng.gen()).collect();
        let key_file = dir.path().join(format!("sleutel-{seed}.hex"));
        std::fs::write(&key_file, format!("{}\n", hex(&key))).unwrap();
        let d = write_delivery(dir.path(), seed, 40);
        let db = dir.path().join(format!("p{seed}.db"));
        let report = dir.path().join(format!("rapport-{seed}.csv"));
        let args = [
            "import",
            "incidents",
            d.csv.to_str().unwrap(),
            "--source",
            "politie",
            "--mapping",
            mapping.to_str().unwrap(),
            "--pseudonym-key-file",
            key_file.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ];
        let out = brandpunt(&db, &args, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // Stored pseudonyms equal the independent HMAC of the normalised values.
        let stored = stored_extra(&db);
        assert_eq!(stored.len(), d.raw.len());
        for (reg, values) in &d.raw {
            let expected: BTreeMap<String, String> = values
                .iter()
                .map(|(col, v)| (col.clone(), oracle_pseudonym(&key, v)))
                .collect();
            assert_eq!(stored[reg], expected, "{reg}");
        }
        // Differently spelled equal plates share the pseudonym; distinct values do not collide.
        let k = |i: usize| stored[&format!("2024/{seed}/{i:04}")]["Kenteken"].clone();
        assert_eq!(k(0), k(1));
        assert_ne!(k(0), k(3));

        // No raw value, in any spelling, is in the database or the report; the output does not echo them.
        let bytes = db_bytes(&db);
        let report_bytes = std::fs::read(&report).unwrap_or_default();
        let printed = [out.stdout.clone(), out.stderr.clone()].concat();
        for values in d.raw.values() {
            for v in values.values() {
                for form in [v.trim().to_string(), oracle_normalise(v)] {
                    if form.len() < 4 {
                        continue;
                    }
                    assert!(!contains(&bytes, &form), "{form} in the database");
                    assert!(!contains(&report_bytes, &form), "{form} in the report");
                    assert!(!contains(&printed, &form), "{form} printed");
                }
            }
        }

        // The same key from the environment gives the same pseudonyms; another key other ones.
        let db_env = dir.path().join(format!("e{seed}.db"));
        let out = brandpunt(&db_env, &args[..7], Some(&hex(&key)));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stored_extra(&db_env), stored);
        let mut other = key.clone();
        other[0] ^= 1;
        let db_other = dir.path().join(format!("o{seed}.db"));
        let out = brandpunt(&db_other, &args[..7], Some(&hex(&other)));
        assert!(out.status.success());
        let other_stored = stored_extra(&db_other);
        for (reg, values) in &stored {
            for (col, p) in values {
                if !p.is_empty() {
                    assert_ne!(&other_stored[reg][col], p);
                }
            }
        }
    }
}

#[test]
fn an_import_with_personal_columns_but_no_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    let d = write_delivery(dir.path(), 9, 5);
    let db = dir.path().join("p.db");
    let base = [
        "import",
        "incidents",
        d.csv.to_str().unwrap(),
        "--source",
        "politie",
        "--mapping",
        mapping.to_str().unwrap(),
    ];
    let out = brandpunt(&db, &base, None);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("BRANDPUNT_PSEUDONYM_KEY") && err.contains("Kenteken"),
        "{err}"
    );
    // A key that is too short or not hex/base64 is refused without being echoed.
    let short = "ab".repeat(20);
    let out = brandpunt(&db, &base, Some(&short));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("te kort") && !err.contains(&short), "{err}");
    let key_file = dir.path().join("k.txt");
    std::fs::write(&key_file, "geen-sleutel!").unwrap();
    let mut args = base.to_vec();
    args.extend(["--pseudonym-key-file", key_file.to_str().unwrap()]);
    let out = brandpunt(&db, &args, None);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("k.txt") && !err.contains("geen-sleutel!"),
        "{err}"
    );
    // Nothing was stored.
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM incident", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn pseudonymised_rows_hash_their_pseudonymised_content() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deliveries");
    let mut mapping = Mapping::from_toml_file(&fixture.join("mapping_team.toml")).unwrap();
    let key = PseudonymKey::from_bytes(&[7u8; 32]).unwrap();
    mapping.pseudonym_key = Some(key.clone());
    let mut parsed = read_delivery(&fixture.join("mapped_team.csv"), Some(&mapping)).unwrap();
    pseudonymise_rows(&mut parsed.rows, &mapping);
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(
        parsed.rows[0].extra["Kenteken"],
        oracle_pseudonym(&[7u8; 32], "AB-123-C")
    );
    assert_eq!(
        parsed.rows[1].extra["Kenteken"],
        oracle_pseudonym(&[7u8; 32], "XY-99-Z")
    );
    for row in &parsed.rows {
        let debug = format!("{row:?}");
        assert!(!debug.contains("AB-123-C") && !debug.contains("XY-99-Z"));
        assert_eq!(row.content_hash, content_hash(row));
    }
    // The kept [extra] column is untouched.
    assert_eq!(parsed.rows[0].extra["gebiedsteam"], "Team Centrum");
}
