//! Benchmarks of the relation graph (issue 13): building the graph of 1 M incidents naming 500 k distinct subjects
//! (target < 2 s), and a depth-2 neighbourhood in it. The input is synthetic, made once per benchmark:
//! incidents over two years and two sources, on 300 k addresses (90 % located), each naming 0-3 subjects drawn
//! so that about 500 k distinct pseudonyms occur and some recur. `RELATIONS_BENCH_INCIDENTS` sets the number of
//! incidents (default 1,000,000; subjects and addresses scale with it).

use brandpunt::access::CategoryScope;
use brandpunt::cancel::Cancel;
use brandpunt::pseudonym::IdentifierKind;
use brandpunt::relations::{queries, Graph};
use brandpunt::store::{LinkedIncident, StoredPseudonym};
use chrono::{Duration, NaiveDate};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn incidents() -> Vec<LinkedIncident> {
    let n: usize = std::env::var("RELATIONS_BENCH_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // ~1.0 subject per incident on average, drawn from a pool sized so about n / 2 distinct ones occur.
    let pool = (n as f64 * 0.8) as u64;
    let addresses = (n as u64 * 3 / 10).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let base = NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let roles = ["BSN verdachte", "BSN aangever", "Kenteken"];
    (0..n)
        .map(|i| {
            let k = match rng.gen_range(0..10) {
                0..=2 => 0,
                3..=6 => 1,
                7..=8 => 2,
                _ => 3,
            };
            let pseudonyms = (0..k)
                .map(|r| {
                    let s = rng.gen_range(0..pool);
                    StoredPseudonym {
                        pseudonym: format!(
                            "{:016x}{:048x}",
                            s.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                            s
                        ),
                        kind: if r == 2 {
                            IdentifierKind::Vehicle
                        } else {
                            IdentifierKind::Person
                        },
                        role: roles[r].to_string(),
                        key_id: "0123456789abcdef".to_string(),
                    }
                })
                .collect();
            LinkedIncident {
                id: i as i64,
                source: if i % 4 == 0 { "handhaving" } else { "politie" }.to_string(),
                registration: format!("PL{i:09}"),
                begin: base + Duration::minutes(rng.gen_range(0..2 * 365 * 1440)),
                category_code: Some(format!("1.{}.1", i % 7)),
                bag_id: (rng.gen_range(0..10) < 9).then(|| {
                    format!(
                        "{:016}",
                        363_010_000_000_000u64 + rng.gen_range(0..addresses)
                    )
                }),
                pseudonyms,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = incidents();
    let g = Graph::build(&data, &CategoryScope::All, &Cancel::never()).unwrap();
    let subjects = (0..g.node_count() as u32)
        .filter(|&v| g.node(v).kind.is_subject())
        .count();
    eprintln!(
        "relations bench: {} incidents, {} nodes ({} subjects), {} base edges, {} edges",
        data.len(),
        g.node_count(),
        subjects,
        g.base_edge_count(),
        g.edge_count()
    );
    let mut group = c.benchmark_group("relations");
    group.sample_size(10);
    group.bench_function("build_graph", |b| {
        b.iter(|| {
            let g = Graph::build(black_box(&data), &CategoryScope::All, &Cancel::never()).unwrap();
            black_box(g.node_count())
        })
    });
    let start = (0..g.node_count() as u32)
        .find(|&v| g.node(v).kind.is_subject() && g.node(v).incidents >= 3)
        .unwrap_or(0);
    group.bench_function("neighbourhood_depth_2", |b| {
        b.iter(|| {
            let sub = queries::neighbourhood(
                g.adjacency(),
                black_box(start),
                2,
                20_000,
                &Cancel::never(),
            )
            .unwrap();
            black_box(sub.nodes.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
