//! Regenerates the bundled structure predictor from `data/` and prints its
//! cross-validated evaluation against the training-free baselines.
//!
//! ```sh
//! cargo run --release --example train_structure_predictor              # CV table + ablation + weights
//! cargo run --release --example train_structure_predictor -- --no-ablation
//! cargo run --release --example train_structure_predictor -- --cv-only  # no weights written
//! cargo run --release --example train_structure_predictor -- --weights-only
//! ```
//!
//! 1. Reads every entry of `data/folds.tsv` (the 345 blind set-364 proteins and
//!    the 46 `crystal/` entries) with one token per residue at CA, and computes
//!    its descriptors (the whole file, all chains).
//! 2. Cross-validation over the folds of `data/folds.tsv`, which keep chains that
//!    are >= 30 % identical after a global alignment in one fold
//!    (`scripts/make_folds.py`): for each fold, a model is trained on the
//!    other folds' chains (both sets) with the default [`TrainConfig`], and scored
//!    on the fold's chains. No setting is chosen by looking at a test fold.
//! 3. The same chains are scored with the training-free descriptors: GNM (7 Å
//!    cutoff, on the file's CA atoms), 1/WCN (Σ 1/r²) and the Lorentz
//!    flexibility-rigidity index (η = 3 Å, ν = 3).
//! 4. Ablation: the CV again with each descriptor group removed (its columns set
//!    to a constant), one member and the same epochs.
//! 5. Trains on every chain and writes `src/structure/predictor.safetensors`
//!    (the weights `Predictor::pretrained()` bundles). Same data, same seed: same
//!    bytes.
//!
//! Scores: per chain with >= 20 usable CA B-factors, Pearson(prediction,
//! experimental CA B); the mean over chains.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bfactor::ndarray::Array1;
use bfactor::structure::features::{self, Descriptors, FeatureConfig};
use bfactor::structure::gnm::{self, GnmConfig};
use bfactor::structure::predict::{
    chain_examples, chain_pearsons, train_chains, ChainExample, TrainConfig,
};
use bfactor::structure::{self, ReadOptions, Structure, TokenMode};

const MIN_CHAIN: usize = 20;

type BoxResult<T> = Result<T, Box<dyn StdError>>;

struct Entry {
    set: String,
    fold: usize,
    st: Structure,
    descriptors: Descriptors,
    chains: Vec<ChainExample>,
}

fn main() -> Result<(), Box<dyn StdError>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let weights_only = args.iter().any(|a| a == "--weights-only");
    let ablation = !args
        .iter()
        .any(|a| a == "--no-ablation" || a == "--cv-only")
        && !weights_only;
    let write = !args.iter().any(|a| a == "--cv-only");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = TrainConfig::new();
    let t0 = Instant::now();
    let entries = load(&root.join("data"), &config.features)?;
    let n_folds = entries.iter().map(|e| e.fold).max().unwrap_or(0) + 1;
    eprintln!(
        "{} entries, {} training chains, {n_folds} folds, descriptors in {:.1} s",
        entries.len(),
        entries.iter().map(|e| e.chains.len()).sum::<usize>(),
        t0.elapsed().as_secs_f64()
    );

    if !weights_only {
        evaluate(&entries, n_folds, &config, ablation)?;
    }
    if write {
        let t2 = Instant::now();
        let all: Vec<ChainExample> = entries.iter().flat_map(|e| e.chains.clone()).collect();
        let predictor = train_chains(&all, &config, &mut |_| {})?;
        let out = root.join("src/structure/predictor.safetensors");
        predictor.save(&out)?;
        eprintln!(
            "wrote {} ({} bytes) in {:.1} s",
            out.display(),
            std::fs::metadata(&out)?.len(),
            t2.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The evaluation table (and the ablation table) on stdout.
fn evaluate(
    entries: &[Entry],
    n_folds: usize,
    config: &TrainConfig,
    ablation: bool,
) -> Result<(), Box<dyn StdError>> {
    // Baselines on every evaluation chain.
    let mut scores: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for e in entries {
        for (name, pred) in baselines(&e.st)? {
            let rs = chain_pearsons(&e.st, &pred, MIN_CHAIN)?;
            scores
                .entry((e.set.as_str(), name))
                .or_default()
                .extend(rs.iter().map(|r| r.1));
        }
    }

    // Cross-validation.
    let t1 = Instant::now();
    let cv = cross_validate(entries, n_folds, config, None)?;
    for (set, rs) in cv {
        scores
            .entry((set, "bfactor predictor (CV)"))
            .or_default()
            .extend(rs);
    }
    eprintln!("cross-validation in {:.1} s", t1.elapsed().as_secs_f64());

    println!(
        "\n| model | set-364 (blind, {} chains) | crystal/ ({} chains) |",
        count(&scores, "set364"),
        count(&scores, "crystal")
    );
    println!("|---|---|---|");
    let mut models: Vec<&str> = scores.keys().map(|k| k.1).collect();
    models.dedup();
    models.sort();
    models.dedup();
    for m in &models {
        println!(
            "| {m} | {} | {} |",
            mean_of(&scores, "set364", m),
            mean_of(&scores, "crystal", m)
        );
    }

    if ablation {
        let reduced = config.clone().with_ensemble(1);
        let groups = entries[0].descriptors.groups();
        println!("\nAblation (one member; each row drops one descriptor group):\n");
        println!("| without | set-364 | crystal/ |");
        println!("|---|---|---|");
        for g in std::iter::once(None).chain(groups.iter().map(Some)) {
            let cv = cross_validate(entries, n_folds, &reduced, g.map(|s| s.as_str()))?;
            let mean = |set: &str| {
                let v: Vec<f64> = cv
                    .iter()
                    .filter(|c| c.0 == set)
                    .flat_map(|c| c.1.clone())
                    .collect();
                format!("{:.3}", v.iter().sum::<f64>() / v.len() as f64)
            };
            println!(
                "| {} | {} | {} |",
                g.map_or("(nothing: all groups)", |s| s.as_str()),
                mean("set364"),
                mean("crystal")
            );
        }
    }

    Ok(())
}

fn count(scores: &BTreeMap<(&str, &str), Vec<f64>>, set: &str) -> usize {
    scores.get(&(set, "1/WCN")).map_or(0, Vec::len)
}

fn mean_of(scores: &BTreeMap<(&str, &str), Vec<f64>>, set: &str, model: &str) -> String {
    match scores.get(&(set, model)) {
        Some(v) if !v.is_empty() => format!("{:.3}", v.iter().sum::<f64>() / v.len() as f64),
        _ => "-".into(),
    }
}

/// Reads `folds.tsv` and every file it lists, with descriptors and training chains.
fn load(data: &Path, features: &FeatureConfig) -> Result<Vec<Entry>, Box<dyn StdError>> {
    let table = std::fs::read_to_string(data.join("folds.tsv"))?;
    let mut entries = vec![];
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [set, _, file, fold, _] = f[..] else {
            return Err(format!("bad folds.tsv line: {line}").into());
        };
        let path = data.join(file);
        let st = structure::read(&path, &ReadOptions::new().with_tokens(TokenMode::CaOnly))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let descriptors = features::compute(&st, features)?;
        let chains = chain_examples(&st, &descriptors, MIN_CHAIN)?;
        entries.push(Entry {
            set: set.into(),
            fold: fold.parse()?,
            st,
            descriptors,
            chains,
        });
    }
    Ok(entries)
}

/// GNM (7 Å, each chain's CA atoms on their own, as the published figures), and
/// 1/WCN and Lorentz FRI on all of the file's CA atoms.
fn baselines(st: &Structure) -> BoxResult<Vec<(&'static str, Array1<f64>)>> {
    let gnm = gnm::per_chain_square_fluctuations(st, &GnmConfig::new().with_cutoff(7.0))?;
    Ok(vec![
        ("GNM (7 Å)", gnm),
        ("1/WCN", features::inverse_wcn(st)?),
        (
            "Lorentz FRI (η = 3, ν = 3)",
            features::lorentz_fri(st, 3.0, 3.0)?,
        ),
    ])
}

/// Per-chain Pearson of a model trained on the other folds, for each fold's
/// chains, as `(set, scores)`; `drop` removes one descriptor group.
fn cross_validate<'a>(
    entries: &'a [Entry],
    n_folds: usize,
    config: &TrainConfig,
    drop: Option<&str>,
) -> BoxResult<Vec<(&'a str, Vec<f64>)>> {
    let cols: Vec<usize> = match drop {
        Some(g) => {
            let d = &entries[0].descriptors;
            (0..d.names.len()).filter(|&j| d.group_of(j) == g).collect()
        }
        None => vec![],
    };
    let blank = |mut c: ChainExample| {
        for &j in &cols {
            c.features.column_mut(j).fill(0.0);
        }
        c
    };
    let mut out = vec![];
    for k in 0..n_folds {
        let train: Vec<ChainExample> = entries
            .iter()
            .filter(|e| e.fold != k)
            .flat_map(|e| e.chains.iter().cloned().map(blank))
            .collect();
        let predictor = train_chains(&train, config, &mut |_| {})?;
        for e in entries.iter().filter(|e| e.fold == k) {
            let mut d = e.descriptors.clone();
            for &j in &cols {
                d.values.column_mut(j).fill(0.0);
            }
            let pred = predictor.predict_with(&e.st, &d)?;
            let rs = chain_pearsons(&e.st, &pred, MIN_CHAIN)?;
            out.push((e.set.as_str(), rs.into_iter().map(|r| r.1).collect()));
        }
        eprintln!("  fold {k} done ({})", drop.unwrap_or("all groups"));
    }
    Ok(out)
}
