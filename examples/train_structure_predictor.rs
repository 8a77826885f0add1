//! Regenerates the bundled structure predictor from `data/` and prints its
//! cross-validated evaluation against the training-free baselines.
//!
//! ```sh
//! cargo run --release --example train_structure_predictor              # CV table + ablation + weights
//! cargo run --release --example train_structure_predictor -- --no-ablation
//! cargo run --release --example train_structure_predictor -- --cv-only  # no weights written
//! cargo run --release --example train_structure_predictor -- --weights-only
//! cargo run --release --example train_structure_predictor -- --cv-only --both-views  # train on both views
//! ```
//!
//! 1. Reads every entry of `data/folds.tsv` (the 345 blind set-364 proteins and
//!    the 46 `crystal/` entries) with one token per residue at CA, and computes
//!    its descriptors (the whole file, all chains), and its *model-only* views:
//!    each chain alone (its atoms without alternate locations and of the first
//!    one), no unit cell, no header, no partner chains.
//! 2. Cross-validation over the folds of `data/folds.tsv`, which keep chains that
//!    are >= 30 % identical after a global alignment in one fold
//!    (`scripts/make_folds.py`): for each fold, a model is trained on the
//!    other folds' chains (both sets; with `--both-views` their model-only
//!    views too) with the default [`TrainConfig`], and scored on the fold's
//!    chains in both protocols (whole file; model only). No setting is chosen
//!    by looking at a test fold.
//! 3. The same chains are scored with the training-free descriptors in both
//!    protocols: GNM (7 Å cutoff, each chain's CA atoms), 1/WCN (Σ 1/r² over
//!    the file's CA atoms), the Lorentz flexibility-rigidity index (η = 3 Å,
//!    ν = 3), and gemmi's all-heavy-atom 1/WCN (`features::atom_wcn`, 15 Å,
//!    with and without the lattice, with and without a 2 Å blur).
//! 4. Ablation: the CV again with each descriptor group removed (its columns set
//!    to a constant), one member and the same epochs.
//! 5. Trains on every chain (with `--both-views`, both views) and writes
//!    `src/structure/predictor.safetensors` (the weights
//!    `Predictor::pretrained()` bundles). Same data, same seed: same bytes.
//!
//! Scores: per chain with >= 20 usable CA B-factors, Pearson(prediction,
//! experimental CA B); the mean over chains.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bfactor::ndarray::s;
use bfactor::ndarray::Array1;
use bfactor::structure::features::{self, Descriptors, FeatureConfig, WcnConfig};
use bfactor::structure::gnm::{self, GnmConfig};
use bfactor::structure::per_atom::{self, AtomExample, AtomSites};
use bfactor::structure::predict::{
    chain_examples, chain_pearsons, train_chains, ChainExample, Predictor, TrainConfig,
};
use bfactor::structure::{self, AtomRecord, ReadOptions, Structure, TokenMode};

const MIN_CHAIN: usize = 20;

type BoxResult<T> = Result<T, Box<dyn StdError>>;

struct Entry {
    set: String,
    fold: usize,
    st: Structure,
    descriptors: Descriptors,
    chains: Vec<ChainExample>,
    /// The model-only views: each chain written alone (its atoms without
    /// alternate locations and of the first one), no unit cell, no header.
    alone: Vec<(Structure, Descriptors)>,
    /// The model-only views' training chains (with `--both-views`; none by
    /// default).
    alone_chains: Vec<ChainExample>,
    /// The heavy atoms of the whole file (per-atom model and its evaluation)
    /// and of each model-only view.
    sites: AtomSites,
    alone_sites: Vec<AtomSites>,
    /// The per-atom training examples (whole file; empty for CA-only files).
    atom_chains: Vec<AtomExample>,
}

/// Per (protocol, set, model): per-chain Pearson r.
type Scores<'a> = BTreeMap<(&'static str, &'a str, &'static str), Vec<f64>>;

const PROTOCOLS: [&str; 2] = ["whole file", "model only"];

fn main() -> Result<(), Box<dyn StdError>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let weights_only = args.iter().any(|a| a == "--weights-only");
    let ablation = !args
        .iter()
        .any(|a| a == "--no-ablation" || a == "--cv-only")
        && !weights_only;
    let write = !args.iter().any(|a| a == "--cv-only");
    let both_views = args.iter().any(|a| a == "--both-views");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = TrainConfig::new();
    let t0 = Instant::now();
    let entries = load(&root.join("data"), &config.features, both_views)?;
    let n_folds = entries.iter().map(|e| e.fold).max().unwrap_or(0) + 1;
    eprintln!(
        "{} entries, {} training chains (+ {} model-only views), {n_folds} folds, \
         descriptors in {:.1} s",
        entries.len(),
        entries.iter().map(|e| e.chains.len()).sum::<usize>(),
        entries.iter().map(|e| e.alone_chains.len()).sum::<usize>(),
        t0.elapsed().as_secs_f64()
    );

    if !weights_only {
        evaluate(&entries, n_folds, &config, ablation)?;
    }
    if write {
        let t2 = Instant::now();
        let all: Vec<ChainExample> = entries
            .iter()
            .flat_map(|e| e.chains.iter().chain(&e.alone_chains).cloned())
            .collect();
        let mut predictor = train_chains(&all, &config, &mut |_| {})?;
        let atoms: Vec<AtomExample> = entries
            .iter()
            .flat_map(|e| e.atom_chains.iter().cloned())
            .collect();
        predictor.fit_atoms(&atoms)?;
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
    // Baselines on every evaluation chain, in both protocols.
    let mut scores: Scores<'_> = BTreeMap::new();
    for e in entries {
        for (name, pred, defined) in baselines(&e.st, true)? {
            let rs = chain_pearsons_defined(&e.st, &pred, &defined)?;
            scores
                .entry((PROTOCOLS[0], e.set.as_str(), name))
                .or_default()
                .extend(rs);
        }
        for (st, _) in &e.alone {
            for (name, pred, defined) in baselines(st, false)? {
                let rs = chain_pearsons_defined(st, &pred, &defined)?;
                scores
                    .entry((PROTOCOLS[1], e.set.as_str(), name))
                    .or_default()
                    .extend(rs);
            }
        }
    }

    // Cross-validation.
    let t1 = Instant::now();
    let mut atom_scores: Scores<'_> = BTreeMap::new();
    let cv = cross_validate(entries, n_folds, config, None, Some(&mut atom_scores))?;
    for (protocol, set, rs) in cv {
        scores
            .entry((protocol, set, "bfactor predictor (CV)"))
            .or_default()
            .extend(rs);
    }
    eprintln!("cross-validation in {:.1} s", t1.elapsed().as_secs_f64());

    let n = |p: &str, set: &str| scores.get(&(p, set, "1/WCN")).map_or(0, Vec::len);
    println!(
        "\n| model | set-364, whole file ({} chains) | crystal/, whole file ({} chains) | \
         set-364, model only ({} chains) | crystal/, model only ({} chains) |",
        n(PROTOCOLS[0], "set364"),
        n(PROTOCOLS[0], "crystal"),
        n(PROTOCOLS[1], "set364"),
        n(PROTOCOLS[1], "crystal"),
    );
    println!("|---|---|---|---|---|");
    let mut models: Vec<&str> = scores.keys().map(|k| k.2).collect();
    models.sort();
    models.dedup();
    for m in &models {
        println!(
            "| {m} | {} | {} | {} | {} |",
            mean_of(&scores, PROTOCOLS[0], "set364", m),
            mean_of(&scores, PROTOCOLS[0], "crystal", m),
            mean_of(&scores, PROTOCOLS[1], "set364", m),
            mean_of(&scores, PROTOCOLS[1], "crystal", m),
        );
    }

    println!(
        "\nPer atom: every heavy atom of the amino-acid residues of crystal/ (first \
         alternate location), per chain, mean Pearson against the atoms' experimental B\n"
    );
    println!("| model | crystal/, whole file | crystal/, model only |");
    println!("|---|---|---|");
    let mut models: Vec<&str> = atom_scores.keys().map(|k| k.2).collect();
    models.sort();
    models.dedup();
    for m in &models {
        println!(
            "| {m} | {} | {} |",
            mean_of(&atom_scores, PROTOCOLS[0], "crystal", m),
            mean_of(&atom_scores, PROTOCOLS[1], "crystal", m),
        );
    }

    if ablation {
        let reduced = config.clone().with_ensemble(1);
        let groups = entries[0].descriptors.groups();
        println!("\nAblation (one member; each row drops one descriptor group):\n");
        println!("| without | set-364 | crystal/ |");
        println!("|---|---|---|");
        for g in std::iter::once(None).chain(groups.iter().map(Some)) {
            let cv = cross_validate(entries, n_folds, &reduced, g.map(|s| s.as_str()), None)?;
            let mean = |set: &str| {
                let v: Vec<f64> = cv
                    .iter()
                    .filter(|c| c.0 == PROTOCOLS[0] && c.1 == set)
                    .flat_map(|c| c.2.clone())
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

fn mean_of(scores: &Scores<'_>, protocol: &str, set: &str, model: &str) -> String {
    match scores.get(&(protocol, set, model)) {
        Some(v) if !v.is_empty() => format!("{:.3}", v.iter().sum::<f64>() / v.len() as f64),
        _ => "-".into(),
    }
}

/// Per chain with at least [`MIN_CHAIN`] usable CA B-factors, Pearson r over
/// its tokens where the prediction is `defined`.
fn chain_pearsons_defined(
    st: &Structure,
    pred: &Array1<f64>,
    defined: &[bool],
) -> BoxResult<Vec<f64>> {
    let (b, mask) = (st.bfactors(), st.mask());
    let mut out = vec![];
    for chain in st.chains() {
        let r = chain.tokens.clone();
        if mask
            .slice(s![r.clone()])
            .iter()
            .filter(|&&w| w > 0.0)
            .count()
            < MIN_CHAIN
        {
            continue;
        }
        let m: Array1<f64> = r
            .clone()
            .map(|t| if defined[t] { mask[t] } else { 0.0 })
            .collect();
        if let Ok(p) =
            bfactor::loss::pearson_masked(&pred.slice(s![r.clone()]), &b.slice(s![r.clone()]), &m)
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// Chain `id` of `st` alone: its atoms without an alternate location and those
/// of its first one, as a file holding only them would give (no unit cell,
/// no header), CA tokens.
fn chain_alone(st: &Structure, id: &str) -> BoxResult<Structure> {
    let mut atoms = vec![];
    let model = st.pdb().model(0).ok_or("no model")?;
    for chain in model.chains().filter(|c| c.id() == id) {
        for residue in chain.residues() {
            let alt = residue
                .conformers()
                .find(|c| c.alternative_location().is_some());
            let kept = residue
                .conformers()
                .filter(|c| c.alternative_location().is_none())
                .chain(alt);
            let (number, icode) = residue.id();
            for conformer in kept {
                for a in conformer.atoms() {
                    let (x, y, z) = a.pos();
                    atoms.push(AtomRecord {
                        chain: id.to_string(),
                        residue_number: number,
                        insertion_code: icode.map(str::to_string),
                        residue_name: conformer.name().to_string(),
                        atom_name: a.name().to_string(),
                        element: a
                            .element()
                            .map_or(String::new(), |e| e.symbol().to_string()),
                        hetero: a.hetero(),
                        coords: [x, y, z],
                        bfactor: a.b_factor(),
                        occupancy: a.occupancy(),
                    });
                }
            }
        }
    }
    Ok(structure::from_atoms(
        &atoms,
        &ReadOptions::new().with_tokens(TokenMode::CaOnly),
    )?)
}

/// Reads `folds.tsv` and every file it lists, with descriptors and training chains.
fn load(
    data: &Path,
    features: &FeatureConfig,
    both_views: bool,
) -> Result<Vec<Entry>, Box<dyn StdError>> {
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
        let sites = per_atom::atom_sites(&st, features.lattice)?;
        let atom_chains = per_atom::atom_examples(&st, &sites, MIN_CHAIN)?;
        let mut alone_sites = vec![];
        let mut alone = vec![];
        let mut alone_chains = vec![];
        for span in st.chains() {
            let view = chain_alone(&st, &span.id)?;
            let d = features::compute(&view, features)?;
            if both_views {
                alone_chains.extend(chain_examples(&view, &d, MIN_CHAIN)?);
            }
            alone_sites.push(per_atom::atom_sites(&view, features.lattice)?);
            alone.push((view, d));
        }
        entries.push(Entry {
            set: set.into(),
            fold: fold.parse()?,
            st,
            descriptors,
            chains,
            alone,
            alone_chains,
            sites,
            alone_sites,
            atom_chains,
        });
    }
    Ok(entries)
}

/// The training-free baselines, each with where it is defined: GNM (7 Å, each
/// chain's CA atoms on their own, as the published figures), 1/WCN and Lorentz
/// FRI on all of the file's CA atoms, and gemmi's all-heavy-atom 1/WCN
/// (`features::atom_wcn`: 15 Å, with the symmetry mates where the file has a
/// lattice, and without; `σ = 2` Å blur) at each CA. `whole`: the rows without
/// the lattice are given too (in a model-only view they equal the others).
type Baseline = (&'static str, Array1<f64>, Vec<bool>);
fn baselines(st: &Structure, whole: bool) -> BoxResult<Vec<Baseline>> {
    let all = |v: Array1<f64>| {
        let n = v.len();
        (v, vec![true; n])
    };
    let gnm = gnm::per_chain_square_fluctuations(st, &GnmConfig::new().with_cutoff(7.0))?;
    let mut out: Vec<Baseline> = vec![];
    for (name, v) in [
        ("GNM (7 Å)", gnm),
        ("1/WCN", features::inverse_wcn(st)?),
        (
            "Lorentz FRI (η = 3, ν = 3)",
            features::lorentz_fri(st, 3.0, 3.0)?,
        ),
    ] {
        let (v, d) = all(v);
        out.push((name, v, d));
    }
    let wcn = |config: WcnConfig| -> BoxResult<(Array1<f64>, Vec<bool>)> {
        Ok(features::atom_wcn(st, &config)?.token_values(st))
    };
    let lattice = WcnConfig::new();
    let blurred = WcnConfig::new().with_blur(Some(2.0));
    let (v, d) = wcn(lattice)?;
    out.push(("gemmi WCN (heavy atoms, 15 Å, lattice)", v, d));
    let (v, d) = wcn(blurred)?;
    out.push(("gemmi WCN, blur 2 Å (lattice)", v, d));
    if whole {
        let (v, d) = wcn(lattice.with_crystal(false))?;
        out.push(("gemmi WCN, no lattice", v, d));
        let (v, d) = wcn(blurred.with_crystal(false))?;
        out.push(("gemmi WCN, blur 2 Å, no lattice", v, d));
    }
    Ok(out)
}

/// Per-chain Pearson of a model trained on the other folds, for each fold's
/// chains, as `(set, scores)`; `drop` removes one descriptor group. With
/// `atoms`, the per-atom model is fitted on the same training folds and the
/// per-atom scores of the test folds' files with side chains go there, with
/// the residue prediction given to every atom of the residue and gemmi's
/// per-atom WCN beside them.
fn cross_validate<'a>(
    entries: &'a [Entry],
    n_folds: usize,
    config: &TrainConfig,
    drop: Option<&str>,
    mut atoms: Option<&mut Scores<'a>>,
) -> BoxResult<Vec<(&'static str, &'a str, Vec<f64>)>> {
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
    let blanked = |d: &Descriptors| {
        let mut d = d.clone();
        for &j in &cols {
            d.values.column_mut(j).fill(0.0);
        }
        d
    };
    let mut out = vec![];
    for k in 0..n_folds {
        let train: Vec<ChainExample> = entries
            .iter()
            .filter(|e| e.fold != k)
            .flat_map(|e| e.chains.iter().chain(&e.alone_chains).cloned().map(blank))
            .collect();
        let mut predictor = train_chains(&train, config, &mut |_| {})?;
        if let Some(scores) = atoms.as_deref_mut() {
            let examples: Vec<AtomExample> = entries
                .iter()
                .filter(|e| e.fold != k)
                .flat_map(|e| e.atom_chains.iter().cloned())
                .collect();
            predictor.fit_atoms(&examples)?;
            for e in entries.iter().filter(|e| e.fold == k) {
                if e.sites.is_ca.iter().all(|&c| c) {
                    continue;
                }
                score_atoms(
                    scores,
                    PROTOCOLS[0],
                    e,
                    &predictor,
                    &e.st,
                    &e.descriptors,
                    &e.sites,
                )?;
                for ((st, d), sites) in e.alone.iter().zip(&e.alone_sites) {
                    score_atoms(scores, PROTOCOLS[1], e, &predictor, st, d, sites)?;
                }
            }
        }
        for e in entries.iter().filter(|e| e.fold == k) {
            let pred = predictor.predict_with(&e.st, &blanked(&e.descriptors))?;
            let rs = chain_pearsons(&e.st, &pred, MIN_CHAIN)?;
            out.push((
                PROTOCOLS[0],
                e.set.as_str(),
                rs.into_iter().map(|r| r.1).collect(),
            ));
            for (st, d) in &e.alone {
                let pred = predictor.predict_with(st, &blanked(d))?;
                let rs = chain_pearsons(st, &pred, MIN_CHAIN)?;
                out.push((
                    PROTOCOLS[1],
                    e.set.as_str(),
                    rs.into_iter().map(|r| r.1).collect(),
                ));
            }
        }
        eprintln!("  fold {k} done ({})", drop.unwrap_or("all groups"));
    }
    Ok(out)
}

/// The per-atom scores of one structure (a whole file or a model-only view):
/// the per-atom predictor, the residue prediction on every atom, gemmi's WCN.
fn score_atoms<'a>(
    scores: &mut Scores<'a>,
    protocol: &'static str,
    e: &'a Entry,
    predictor: &Predictor,
    st: &Structure,
    d: &Descriptors,
    sites: &AtomSites,
) -> BoxResult<()> {
    let p = predictor.predict_atoms_with(st, d, sites.clone())?;
    let residue: Array1<f64> = sites.tokens.iter().map(|&t| p.token_values[t]).collect();
    let mut rows: Vec<(&'static str, &Array1<f64>)> = vec![
        ("bfactor per-atom predictor (CV)", &p.values),
        ("bfactor residue predictor on every atom (CV)", &residue),
    ];
    // The lattice where the view has one (the whole file; a model-only view has none).
    rows.push(("gemmi WCN per atom (15 Å)", &sites.wcn));
    rows.push(("gemmi WCN per atom, blur 2 Å", &sites.wcn_blur2));
    for (name, v) in rows {
        let rs = per_atom::chain_pearsons(st, sites, v, MIN_CHAIN)?;
        scores
            .entry((protocol, e.set.as_str(), name))
            .or_default()
            .extend(rs.into_iter().map(|r| r.1));
    }
    Ok(())
}
