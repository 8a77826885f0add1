//! The bundled structure predictor: it loads, predicts finite values for every
//! file in `data/`, survives a save/load round trip, rejects damaged weight files
//! with typed errors, and the training code beats the training-free baselines on a
//! held-out fold.

#![cfg(feature = "structure")]

use std::path::PathBuf;

use bfactor::structure::features::{self, FeatureConfig};
use bfactor::structure::gnm::{self, GnmConfig};
use bfactor::structure::per_atom;
use bfactor::structure::predict::{
    chain_examples, chain_pearsons, train_chains, Predictor, TrainConfig,
};
use bfactor::structure::{self, ReadOptions, Structure, TokenMode};
use bfactor::Error;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// `(set, entry, file, fold)` for every line of `data/folds.tsv`.
fn folds() -> Vec<(String, String, PathBuf, usize)> {
    let text = std::fs::read_to_string(data().join("folds.tsv")).expect("data/folds.tsv");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                data().join(f[2]),
                f[3].parse().expect("fold number"),
            )
        })
        .collect()
}

fn read_ca(path: &PathBuf) -> Structure {
    structure::read(path, &ReadOptions::new().with_tokens(TokenMode::CaOnly))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn pretrained_predicts_finite_values_for_every_data_file() {
    let predictor = Predictor::pretrained().expect("bundled weights load");
    let mut files = 0;
    for (set, _, path, _) in folds() {
        let modes: &[TokenMode] = if set == "crystal" {
            &[TokenMode::CaOnly, TokenMode::Boltz2]
        } else {
            &[TokenMode::CaOnly]
        };
        for &mode in modes {
            let st = structure::read(&path, &ReadOptions::new().with_tokens(mode))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let b = predictor
                .predict(&st)
                .unwrap_or_else(|e| panic!("{} ({mode:?}): {e}", path.display()));
            assert_eq!(b.len(), st.tokens().len(), "{}", path.display());
            assert!(
                b.iter().all(|v| v.is_finite() && *v > 0.0),
                "{} ({mode:?}): a prediction that is not a positive number",
                path.display()
            );
            files += 1;
        }
    }
    assert!(files >= 392 + 46, "only {files} structures read");
}

#[test]
fn high_resolution_levels_are_positive_and_keep_the_profile() {
    // 1PWC (1.10 Å): where a straight line of mean B on resolution goes below 0.
    let st = read_ca(&data().join("crystal/1PWC.pdb.gz"));
    assert_eq!(st.resolution(), Some(1.1));
    let predictor = Predictor::pretrained().unwrap();
    let b = predictor.predict(&st).unwrap();
    let z = predictor.predict_relative(&st).unwrap();
    let atoms = predictor.predict_atoms(&st).unwrap();
    let exp_mean = st.bfactors().mean().unwrap();
    let mean = b.mean().unwrap();
    assert!(
        b.iter().all(|&v| v > 0.0),
        "lowest {:?}",
        b.iter().copied().reduce(f64::min)
    );
    assert!(atoms.values.iter().all(|&v| v > 0.0));
    assert!(
        mean > 0.5 * exp_mean && mean < 2.0 * exp_mean,
        "predicted mean {mean:.2} Å², the file's {exp_mean:.2}"
    );
    // The level is affine per chain: the same order as the profile.
    let ones = ndarray::Array1::ones(b.len());
    let r = bfactor::loss::pearson_masked(&b, &z, &ones).unwrap();
    assert!((r - 1.0).abs() < 1e-12, "r(B, z) = {r}");
}

#[test]
fn pretrained_ranks_ubiquitin_like_its_crystal() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/structures/1ubi.pdb");
    let st = read_ca(&path);
    let predictor = Predictor::pretrained().unwrap();
    let b = predictor.predict(&st).unwrap();
    let r = chain_pearsons(&st, &b, 20).unwrap();
    assert_eq!(r.len(), 1);
    // 1UBI's entry is in the training data: this checks the bundle, not the model.
    assert!(r[0].1 > 0.6, "r = {}", r[0].1);
    // The level follows the header's resolution (1.8 Å): a plausible crystal range.
    let mean = b.mean().unwrap();
    assert!((5.0..80.0).contains(&mean), "mean B = {mean}");
}

#[test]
fn save_load_round_trip_gives_the_same_predictions() {
    let predictor = Predictor::pretrained().unwrap();
    let path = std::env::temp_dir().join(format!(
        "bfactor_predictor_{}.safetensors",
        std::process::id()
    ));
    predictor.save(&path).unwrap();
    let back = Predictor::load(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let st = read_ca(&data().join("crystal/1A28.pdb.gz"));
    let a = predictor.predict(&st).unwrap();
    let b = back.predict(&st).unwrap();
    assert_eq!(a, b);
    assert_eq!(predictor.feature_names(), back.feature_names());
    assert_eq!(predictor.to_bytes().unwrap(), back.to_bytes().unwrap());
}

#[test]
fn damaged_weight_files_are_typed_errors() {
    let bytes = Predictor::pretrained().unwrap().to_bytes().unwrap();
    // Truncations at many points.
    for cut in (0..bytes.len()).step_by((bytes.len() / 97).max(1)) {
        match Predictor::from_bytes(&bytes[..cut]) {
            Err(Error::Format { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Metadata edits: another format, another version, a descriptor list this
    // build does not compute, an impossible width.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();
    let edit = |from: &str, to: &str| -> Vec<u8> {
        assert!(header.contains(from), "{from} not in the header");
        let h = header.replacen(from, to, 1);
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&bytes[8 + header_len..]);
        out
    };
    let cases = [
        edit(
            "format=bfactor-structure-predictor",
            "format=bfactor-structure-predictoX",
        ),
        edit("bfactor-structure-predictor", "bfactor-structure-predictoX"),
        edit("version=1", "version=9"),
        edit("features=", "features=bogus/feature,"),
        edit("ensemble=", "ensemble=9"),
        edit("level=", "level=1,"),
    ];
    for (k, case) in cases.iter().enumerate() {
        let err = Predictor::from_bytes(case).expect_err(&format!("case {k} loaded"));
        assert!(
            matches!(
                err,
                Error::Format { .. } | Error::Config { .. } | Error::MissingTensor { .. }
            ),
            "case {k}: {err:?}"
        );
    }
    // A file that is not a predictor: a head's weights without the metadata.
    let missing = std::env::temp_dir().join("bfactor_no_such_predictor.safetensors");
    assert!(matches!(Predictor::load(&missing), Err(Error::Io { .. })));
}

/// The CI check the predictor issue asks for: the regeneration code, trained on
/// every fold but one (reduced budget), beats GNM and 1/WCN on the held-out
/// fold's `crystal/` chains (mean per-chain Pearson).
#[test]
fn held_out_crystal_fold_beats_training_free_baselines() {
    let features = FeatureConfig::new();
    let config = TrainConfig::new()
        .with_ensemble(1)
        .with_fit(TrainConfig::default_fit().with_epochs(25));
    let held_out = 0;
    let mut train = vec![];
    let mut train_atoms = vec![];
    let mut test = vec![];
    for (set, _, path, fold) in folds() {
        let st = read_ca(&path);
        if fold == held_out {
            if set == "crystal" {
                test.push(st);
            }
            continue;
        }
        let d = features::compute(&st, &features).unwrap();
        train.extend(chain_examples(&st, &d, 20).unwrap());
        if set == "crystal" {
            let sites = per_atom::atom_sites(&st, features.lattice).unwrap();
            train_atoms.extend(per_atom::atom_examples(&st, &sites, 20).unwrap());
        }
    }
    let mut predictor = train_chains(&train, &config, &mut |_| {}).unwrap();
    predictor.fit_atoms(&train_atoms).unwrap();
    let (mut ours, mut gnm, mut wcn) = (vec![], vec![], vec![]);
    let (mut atoms, mut residue_on_atoms, mut wcn_atoms) = (vec![], vec![], vec![]);
    for st in &test {
        let a = predictor.predict_atoms(st).unwrap();
        let residue: ndarray::Array1<f64> =
            a.sites.tokens.iter().map(|&t| a.token_values[t]).collect();
        let rs = |v: &ndarray::Array1<f64>| -> Vec<f64> {
            per_atom::chain_pearsons(st, &a.sites, v, 20)
                .unwrap()
                .into_iter()
                .map(|r| r.1)
                .collect()
        };
        atoms.extend(rs(&a.values));
        residue_on_atoms.extend(rs(&residue));
        wcn_atoms.extend(rs(&a.sites.wcn_blur2));
        let pred = predictor.predict(st).unwrap();
        ours.extend(
            chain_pearsons(st, &pred, 20)
                .unwrap()
                .into_iter()
                .map(|r| r.1),
        );
        wcn.extend(
            chain_pearsons(st, &features::inverse_wcn(st).unwrap(), 20)
                .unwrap()
                .into_iter()
                .map(|r| r.1),
        );
        let g = gnm::per_chain_square_fluctuations(st, &GnmConfig::new().with_cutoff(7.0)).unwrap();
        gnm.extend(chain_pearsons(st, &g, 20).unwrap().into_iter().map(|r| r.1));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(ours.len() >= 10, "{} held-out chains", ours.len());
    assert_eq!(ours.len(), wcn.len());
    let (o, g, w) = (mean(&ours), mean(&gnm), mean(&wcn));
    eprintln!("held-out crystal fold: predictor {o:.3}, GNM {g:.3}, 1/WCN {w:.3}");
    assert!(o > g && o > w, "predictor {o:.3}, GNM {g:.3}, 1/WCN {w:.3}");
    // Per heavy atom: the atom model over its residue's value on every atom and
    // over gemmi's blurred contact number at each atom.
    assert!(
        atoms.len() >= 10,
        "{} held-out chains with atoms",
        atoms.len()
    );
    assert_eq!(atoms.len(), wcn_atoms.len());
    let (a, r, w) = (mean(&atoms), mean(&residue_on_atoms), mean(&wcn_atoms));
    eprintln!("per atom: predictor {a:.3}, residue on its atoms {r:.3}, gemmi WCN blur 2 {w:.3}");
    assert!(
        a > r && a > w,
        "per atom {a:.3}, residue {r:.3}, gemmi WCN blur 2 {w:.3}"
    );
}
