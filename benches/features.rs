//! Criterion benchmarks of the structural descriptors
//! (`bfactor::structure::features`) on 1,000- and 10,000-residue structures.
//!
//! Run with `cargo bench --features structure --bench features`. The structures
//! are copies of 3HSY (`tests/data/structures/3HSY.pdb.gz`, two chains, 730
//! residues, full atoms with ligands; waters left out), placed 75 Å apart on
//! a grid and cut after the wanted number of residues, each copy in chains of
//! its own, without a unit cell (3HSY's cell would put the copies' lattice
//! images on top of each other). `ca_only` reads the same text with one token
//! per residue. `3hsy` times the real entry (730 residues) with its lattice
//! contacts. Reading the file is outside the timed closure.

use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

use bfactor::structure::{self, features, FileFormat, ReadOptions, TokenMode};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const SIZES: [usize; 2] = [1_000, 10_000];
const CHAIN_IDS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// PDB text of `n` residues: copies of 3HSY.
fn synthetic(n: usize) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/structures/3HSY.pdb.gz"
    );
    let mut text = String::new();
    flate2_read(path, &mut text);
    let atoms: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("ENDMDL"))
        .filter(|l| (l.starts_with("ATOM") || l.starts_with("HETATM")) && &l[17..20] != "HOH")
        .collect();
    let chains: Vec<char> = {
        let mut c: Vec<char> = atoms.iter().map(|l| l.as_bytes()[21] as char).collect();
        c.dedup();
        let mut seen = Vec::new();
        for x in c {
            if !seen.contains(&x) {
                seen.push(x);
            }
        }
        seen
    };
    let mut out = String::new();
    let mut residues = 0;
    let ids: Vec<char> = CHAIN_IDS.chars().collect();
    'copies: for copy in 0.. {
        let shift = [
            75.0 * (copy % 3) as f64,
            75.0 * ((copy / 3) % 3) as f64,
            75.0 * (copy / 9) as f64,
        ];
        let mut last = String::new();
        for l in &atoms {
            let key = &l[17..27];
            if &l[12..16] == " CA " && key != last {
                if residues == n {
                    break 'copies;
                }
                residues += 1;
                last = key.to_string();
            }
            let c = chains
                .iter()
                .position(|&x| x == l.as_bytes()[21] as char)
                .unwrap();
            let chain = ids[(copy * chains.len() + c) % ids.len()];
            let xyz: Vec<f64> = (0..3)
                .map(|k| l[30 + 8 * k..38 + 8 * k].trim().parse::<f64>().unwrap() + shift[k])
                .collect();
            out.push_str(&format!(
                "{}{chain}{}{:8.3}{:8.3}{:8.3}{}\n",
                &l[..21],
                &l[22..30],
                xyz[0],
                xyz[1],
                xyz[2],
                &l[54..]
            ));
        }
    }
    out.push_str("END\n");
    out
}

fn flate2_read(path: &str, out: &mut String) {
    let file = std::fs::File::open(path).expect("3HSY.pdb.gz");
    flate2::read::GzDecoder::new(file)
        .read_to_string(out)
        .expect("gzip text");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("features");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for n in SIZES {
        let text = synthetic(n);
        for (mode, tag) in [
            (TokenMode::Boltz2, "boltz2"),
            (TokenMode::CaOnly, "ca_only"),
        ] {
            let st = structure::read_str(
                &text,
                FileFormat::Pdb,
                &ReadOptions::new().with_tokens(mode),
            )
            .expect("synthetic structure");
            let config = features::FeatureConfig::new();
            group.bench_with_input(
                BenchmarkId::new(format!("compute_{tag}"), n),
                &st,
                |b, st| b.iter(|| black_box(features::compute(st, &config).unwrap())),
            );
            if mode == TokenMode::CaOnly {
                group.bench_with_input(BenchmarkId::new("inverse_wcn", n), &st, |b, st| {
                    b.iter(|| black_box(features::inverse_wcn(st).unwrap()))
                });
            }
        }
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/structures/3HSY.pdb.gz"
    );
    let st = structure::read(path, &ReadOptions::new()).expect("3HSY");
    let config = features::FeatureConfig::new();
    group.bench_function("compute_boltz2/3hsy", |b| {
        b.iter(|| black_box(features::compute(&st, &config).unwrap()))
    });
    let no_lattice = config.with_lattice(false);
    group.bench_function("compute_boltz2_no_lattice/3hsy", |b| {
        b.iter(|| black_box(features::compute(&st, &no_lattice).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
