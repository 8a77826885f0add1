//! Criterion benchmarks of the structure predictor: descriptors and prediction
//! for a 1,000-residue and a 12,000-residue structure, and reading + predicting
//! every `data/set364/` file.
//!
//! Run with `cargo bench --bench predict`. The structures:
//! - `1k`: 9X2O (`data/crystal/9X2O.cif.gz`), 4 chains, 1,004 residues;
//! - `12k`: 7OK9 (`data/crystal/7OK9.pdb.gz`, 6,058 residues in 12 chains) and a
//!   copy of it 400 Å away with lower-case chain IDs, one file of 12,116 residues.
//!
//! `scripts/compare_prody_predict.py` times the set-364 loop against ProDy's GNM
//! on the same files.

use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use bfactor::structure::features::{self, FeatureConfig};
use bfactor::structure::predict::Predictor;
use bfactor::structure::{self, FileFormat, ReadOptions, TokenMode};
use criterion::{criterion_group, criterion_main, Criterion};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn gunzip(path: &PathBuf) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// 7OK9 twice, the copy shifted by 400 Å in x with lower-case chain IDs.
fn doubled_7ok9() -> String {
    let text = gunzip(&data().join("crystal/7OK9.pdb.gz"));
    let atoms: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ATOM  ") || l.starts_with("HETATM") || l.starts_with("TER"))
        .collect();
    let mut out = String::new();
    for l in &atoms {
        out.push_str(l);
        out.push('\n');
    }
    for l in &atoms {
        if l.len() < 54 || l.starts_with("TER") {
            out.push_str("TER\n");
            continue;
        }
        let chain = l[21..22].to_ascii_lowercase();
        let x: f64 = l[30..38].trim().parse().unwrap();
        out.push_str(&format!(
            "{}{}{}{:8.3}{}\n",
            &l[..21],
            chain,
            &l[22..30],
            x + 400.0,
            &l[38..]
        ));
    }
    out.push_str("END\n");
    out
}

fn bench(c: &mut Criterion) {
    let predictor = Predictor::pretrained().unwrap();
    let ca = ReadOptions::new().with_tokens(TokenMode::CaOnly);
    let small = structure::read(data().join("crystal/9X2O.cif.gz"), &ca).unwrap();
    let big = structure::read_str(&doubled_7ok9(), FileFormat::Pdb, &ca).unwrap();
    let config = FeatureConfig::new();

    let mut g = c.benchmark_group("predict");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, st) in [("1k", &small), ("12k", &big)] {
        g.bench_function(format!("descriptors/{name}"), |b| {
            b.iter(|| features::compute(black_box(st), &config).unwrap())
        });
        g.bench_function(format!("predict/{name}"), |b| {
            b.iter(|| predictor.predict(black_box(st)).unwrap())
        });
    }
    let files: Vec<PathBuf> = std::fs::read_dir(data().join("set364"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".pdb.gz"))
        .collect();
    g.bench_function("read_and_predict/set364_all", |b| {
        b.iter(|| {
            for f in &files {
                let st = structure::read(f, &ca).unwrap();
                black_box(predictor.predict(&st).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
