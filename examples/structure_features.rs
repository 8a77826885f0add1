//! Computes the structural descriptors of every structure file given (files or
//! folders of `.pdb`, `.cif`, `.pdb.gz`, `.cif.gz`), in both token modes, and
//! prints per file the number of tokens, the time, whether every value is
//! finite and whether each protein token's row is the same in both modes.
//!
//! ```sh
//! cargo run --release --features structure --example structure_features -- tests/data/structures
//! ```

use std::path::PathBuf;
use std::time::Instant;

use bfactor::structure::{self, features, MoleculeKind, ReadOptions, TokenMode};

fn files(args: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in args {
        let p = PathBuf::from(a);
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .expect("readable folder")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let name = f.to_string_lossy();
                    [".pdb", ".cif", ".pdb.gz", ".cif.gz"]
                        .iter()
                        .any(|ext| name.ends_with(ext))
                })
                .collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(p);
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = files(&args);
    let config = features::FeatureConfig::new();
    let (mut total, mut bad) = (0.0, 0);
    println!("file\ttokens_ca\ttokens_boltz2\tms_ca\tms_boltz2\tfinite\tsame_rows");
    for path in &paths {
        let mut row = vec![path.display().to_string()];
        let mut results = Vec::new();
        for mode in [TokenMode::CaOnly, TokenMode::Boltz2] {
            let st = match structure::read(path, &ReadOptions::new().with_tokens(mode)) {
                Ok(st) => st,
                Err(e) => {
                    println!("{}\tread error: {e}", path.display());
                    bad += 1;
                    results.clear();
                    break;
                }
            };
            let t0 = Instant::now();
            let d = features::compute(&st, &config);
            let dt = t0.elapsed().as_secs_f64();
            total += dt;
            match d {
                Ok(d) => results.push((st, d, dt)),
                Err(e) => {
                    println!("{}\tdescriptor error: {e}", path.display());
                    bad += 1;
                    results.clear();
                    break;
                }
            }
        }
        if results.len() != 2 {
            continue;
        }
        let (ca, b2) = (&results[0], &results[1]);
        let finite = results
            .iter()
            .all(|(_, d, _)| d.values.iter().all(|v| v.is_finite()));
        let key =
            |t: &structure::Token| (t.chain.clone(), t.residue_number, t.insertion_code.clone());
        let index: std::collections::HashMap<_, usize> =
            ca.0.tokens()
                .iter()
                .enumerate()
                .map(|(i, t)| (key(t), i))
                .collect();
        let same = b2.0.tokens().iter().enumerate().all(|(i, t)| {
            t.kind != MoleculeKind::Protein
                || index
                    .get(&key(t))
                    .is_some_and(|&j| b2.1.values.row(i) == ca.1.values.row(j))
        });
        if !(finite && same) {
            bad += 1;
        }
        row.extend([
            ca.0.tokens().len().to_string(),
            b2.0.tokens().len().to_string(),
            format!("{:.1}", 1e3 * ca.2),
            format!("{:.1}", 1e3 * b2.2),
            finite.to_string(),
            same.to_string(),
        ]);
        println!("{}", row.join("\t"));
    }
    println!(
        "# {} files, {bad} with a problem, descriptors {total:.2} s in all",
        paths.len()
    );
}
