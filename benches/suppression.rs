//! Small-count protection of one area table (`suppression::protect`): a synthetic national hierarchy of
//! 342 gemeenten x 10 wijken x 4 buurten (~15,000 cells, about the CBS 2024 counts) with skewed counts (a
//! quarter of the buurten 1..k-1, k = 5), i.e. the worst case of a tenant without gemeente scoping; and one
//! gemeente (41 cells). Without `--bench` (the smoke run of `cargo test --all-targets`) 20 gemeenten are used.

use brandpunt::suppression::{protect, Cell, Relation};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use std::hint::black_box;

fn table(gemeenten: usize, seed: u64) -> (Vec<Cell>, Vec<Relation>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut cells: Vec<Cell> = vec![];
    let mut relations = vec![];
    for g in 0..gemeenten {
        let gi = cells.len();
        cells.push(Cell {
            code: format!("GM{g:04}"),
            count: 0,
        });
        let mut wijken = vec![];
        for w in 0..10 {
            let wi = cells.len();
            cells.push(Cell {
                code: format!("WK{g:04}{w:02}"),
                count: 0,
            });
            let mut buurten = vec![];
            for b in 0..4 {
                let count = match rng.gen_range(0..4) {
                    0 => 0,
                    1 => rng.gen_range(1..5),
                    _ => rng.gen_range(5..60),
                };
                buurten.push(cells.len());
                cells.push(Cell {
                    code: format!("BU{g:04}{w:02}{b:02}"),
                    count,
                });
            }
            cells[wi].count = buurten.iter().map(|&b| cells[b].count).sum();
            relations.push(Relation {
                total: wi,
                parts: buurten,
            });
            wijken.push(wi);
        }
        cells[gi].count = wijken.iter().map(|&w| cells[w].count).sum();
        relations.push(Relation {
            total: gi,
            parts: wijken,
        });
    }
    (cells, relations)
}

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 342 } else { 20 };
    let (cells, relations) = table(n, 7);
    let mut g = c.benchmark_group("suppression");
    g.sample_size(10);
    g.bench_function(
        format!("protect_{n}_gemeenten_{}_cells", cells.len()),
        |b| b.iter(|| black_box(protect(&cells, &relations, 5).unwrap())),
    );
    let (one, one_rel) = table(1, 8);
    g.bench_function("protect_1_gemeente_41_cells", |b| {
        b.iter(|| black_box(protect(&one, &one_rel, 5).unwrap()))
    });
    g.finish();
    let p = protect(&cells, &relations, 5).unwrap();
    eprintln!("{} cells, {} withheld", cells.len(), p.suppressed_count());
}

criterion_group!(benches, bench);
criterion_main!(benches);
