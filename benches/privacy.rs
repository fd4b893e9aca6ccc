//! Costs of the privacy primitives the server pays per request or per imported row: verifying a token (one
//! argon2id check), pseudonymising a personal value (HMAC-SHA256), and verifying the audit hash chain. Inputs are
//! generated inside each benchmark, so the single test-mode iteration of `cargo test --all-targets` stays cheap.

use brandpunt::access::{generate_token, hash_secret, parse_token, verify_secret};
use brandpunt::audit::{chain, verify, AuditEntry, AuditRecord};
use brandpunt::pseudonym::PseudonymKey;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn token_verification(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let token = generate_token(&mut rng);
    let secret = parse_token(&token.token)
        .map(|p| p.secret.to_string())
        .unwrap_or_default();
    let hash = hash_secret(&secret, &[9u8; 16]).unwrap_or_default();
    c.bench_function("privacy/argon2id_verify_token", |b| {
        b.iter(|| verify_secret(black_box(&secret), black_box(&hash)))
    });
}

fn pseudonymisation(c: &mut Criterion) {
    let key = PseudonymKey::from_bytes(&[7u8; 32]).ok();
    let values: Vec<String> = (0..10_000)
        .map(|i| format!("ab-{:03}-{}", i % 1000, i))
        .collect();
    let mut g = c.benchmark_group("privacy");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("pseudonymise_10k_values", |b| {
        b.iter(|| {
            let Some(key) = &key else { return 0 };
            values
                .iter()
                .filter_map(|v| key.pseudonymise(black_box(v)))
                .count()
        })
    });
    g.finish();
}

fn audit_chain(c: &mut Criterion) {
    let mut log: Vec<AuditRecord> = Vec::with_capacity(100_000);
    for i in 0..100_000i64 {
        let e = AuditEntry {
            actor: "analist".into(),
            tenant: "enschede".into(),
            action: "read_incidents".into(),
            endpoint: "GET /api/incidents".into(),
            filter: format!("categories=1.1.1;page={i}"),
            records: i % 500,
        };
        let r = chain(log.last(), "2026-11-22T10:00:00Z", &e);
        log.push(r);
    }
    let mut g = c.benchmark_group("privacy");
    g.sample_size(10);
    g.throughput(Throughput::Elements(log.len() as u64));
    g.bench_function("audit_verify_100k_records", |b| {
        b.iter(|| verify(black_box(&log)).is_ok())
    });
    g.finish();
}

criterion_group!(benches, token_verification, pseudonymisation, audit_chain);
criterion_main!(benches);
