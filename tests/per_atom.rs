//! Per-atom B-factors: the sites are the heavy atoms of the amino-acid residues
//! (counted independently from the file's text), a CA carries its residue's
//! value, the values survive `write_atoms` and a weight-file round trip, and a
//! predictor without an atom model says so. How well the atom model does on a
//! held-out fold is checked in `tests/predictor.rs`.

#![cfg(feature = "structure")]

use std::collections::HashSet;
use std::path::PathBuf;

use bfactor::structure::features::FeatureConfig;
use bfactor::structure::per_atom::{self, AtomPrediction};
use bfactor::structure::predict::{chain_examples, train_chains, Predictor, TrainConfig};
use bfactor::structure::{self, FileFormat, ReadOptions, Structure, TokenMode};
use bfactor::Error;

fn file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/structures")
        .join(name)
}

fn read(name: &str) -> Structure {
    structure::read(file(name), &ReadOptions::new()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn predict(st: &Structure) -> AtomPrediction {
    Predictor::pretrained()
        .expect("bundled weights")
        .predict_atoms(st)
        .expect("per-atom prediction")
}

/// `(chain, residue number, atom name)` of every heavy ATOM record of the first
/// alternate location, read from the PDB text by column. A blank chain is
/// `A`, the name the reader gives it in these one-chain files.
fn heavy_atoms_from_text(path: &PathBuf) -> HashSet<(String, isize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = HashSet::new();
    for line in text.lines() {
        if line.starts_with("ENDMDL") {
            break;
        }
        if !line.starts_with("ATOM  ") {
            continue;
        }
        let alt = &line[16..17];
        let element = line.get(76..78).unwrap_or("").trim();
        if element == "H" || element == "D" || !(alt == " " || alt == "A") {
            continue;
        }
        let chain = match &line[21..22] {
            " " => "A",
            c => c,
        };
        out.insert((
            chain.to_string(),
            line[22..26].trim().parse().unwrap(),
            line[12..16].trim().to_string(),
        ));
    }
    out
}

#[test]
fn the_sites_are_the_heavy_atoms_of_the_amino_acids() {
    for name in ["1ubi.pdb", "1a1p.pdb", "1ejg.pdb"] {
        let st = read(name);
        let pred = predict(&st);
        let sites: HashSet<(String, isize, String)> = pred
            .sites
            .atoms
            .iter()
            .map(|a| (a.chain.clone(), a.residue_number, a.atom_name.clone()))
            .collect();
        assert_eq!(sites.len(), pred.sites.atoms.len(), "{name}: a site twice");
        let text = heavy_atoms_from_text(&file(name));
        let (extra, missing): (Vec<_>, Vec<_>) = (
            sites.difference(&text).collect(),
            text.difference(&sites).collect(),
        );
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{name}: sites not in the text {extra:?}, text atoms not sites {missing:?}"
        );
        assert_eq!(pred.values.len(), pred.sites.atoms.len());
        assert!(pred.values.iter().all(|v| v.is_finite()), "{name}");
    }
}

#[test]
fn a_ca_carries_its_residue_value_and_side_chains_move_more() {
    let st = read("1ubi.pdb");
    let pred = predict(&st);
    let residue = Predictor::pretrained().unwrap().predict(&st).unwrap();
    // Ubiquitin's atoms need no shrinking of the spread: the tokens are predict's.
    assert_eq!(pred.token_values, residue, "token values are predict's");
    let (mut backbone, mut side) = (vec![], vec![]);
    for (i, atom) in pred.sites.atoms.iter().enumerate() {
        let own = pred.values[i] - residue[pred.sites.tokens[i]];
        match atom.atom_name.as_str() {
            "CA" => assert_eq!(own, 0.0, "CA of residue {}", atom.residue_number),
            "N" | "C" | "O" => backbone.push(own),
            _ => side.push(own),
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (b, s) = (mean(&backbone), mean(&side));
    assert!(
        s > b + 1.0,
        "side chains {s:.2} Å² above their CA, backbone {b:.2}"
    );
    // The experiment agrees: in the crystal the side chains sit above the backbone.
    let r = per_atom::chain_pearsons(&st, &pred.sites, &pred.values, 20).unwrap();
    let flat: ndarray::Array1<f64> = pred.sites.tokens.iter().map(|&t| residue[t]).collect();
    let r_flat = per_atom::chain_pearsons(&st, &pred.sites, &flat, 20).unwrap();
    assert_eq!(r.len(), 1);
    assert!(
        r[0].1 > r_flat[0].1,
        "per atom {:.3}, residue on every atom {:.3}",
        r[0].1,
        r_flat[0].1
    );
}

#[test]
fn both_token_modes_give_the_same_atom_values() {
    // Ubiquitin alone: the residue predictions of the two modes agree, and the
    // atom features are taken at the CA whatever atom the token sits on.
    let both: Vec<AtomPrediction> = [TokenMode::CaOnly, TokenMode::Boltz2]
        .into_iter()
        .map(|mode| {
            let st =
                structure::read(file("1ubi.pdb"), &ReadOptions::new().with_tokens(mode)).unwrap();
            predict(&st)
        })
        .collect();
    assert_eq!(both[0].sites.atoms, both[1].sites.atoms);
    for (a, b) in both[0].values.iter().zip(&both[1].values) {
        assert!((a - b).abs() <= 1e-9 * a.abs(), "{a} vs {b}");
    }
}

#[test]
fn a_ca_only_file_gets_its_residue_values() {
    let st = read("1ubi_ca.pdb");
    let pred = predict(&st);
    assert_eq!(pred.sites.atoms.len(), st.tokens().len());
    assert!(pred.sites.is_ca.iter().all(|&c| c));
    let residue: Vec<f64> = pred
        .sites
        .tokens
        .iter()
        .map(|&t| pred.token_values[t])
        .collect();
    assert_eq!(pred.values.to_vec(), residue);
}

#[test]
fn write_atoms_puts_every_atom_value_in_the_b_column() {
    let st = read("1ubi.pdb");
    let pred = predict(&st);
    for (format, step) in [
        (FileFormat::Pdb, 0.005_f64 + 1e-9),
        (FileFormat::Mmcif, 1e-9_f64),
    ] {
        let text = structure::write_atoms_string(&st, &pred, format).unwrap();
        let back = structure::read_str(&text, format, &ReadOptions::new()).unwrap();
        let sites = per_atom::atom_sites(&back, false).unwrap();
        assert_eq!(
            sites.atoms, pred.sites.atoms,
            "{format:?}: the same atoms back"
        );
        for (i, (&got, &want)) in sites.bfactors.iter().zip(&pred.values).enumerate() {
            assert!(
                (got - want).abs() <= step.max(want.abs() * 1e-6),
                "{format:?} {:?}: wrote {want}, read {got}",
                sites.atoms[i]
            );
        }
        // Atoms that are no site (waters) keep their token's value.
        let tokens = back.tokens();
        for (t, token) in tokens.iter().enumerate() {
            if token.kind == structure::MoleculeKind::Water {
                assert!((back.bfactors()[t] - pred.token_values[t]).abs() <= step.max(1e-6));
            }
        }
    }
}

#[test]
fn the_atom_model_survives_a_weight_file_round_trip() {
    let predictor = Predictor::pretrained().unwrap();
    assert!(
        predictor.atom_model().is_some(),
        "the bundled predictor has one"
    );
    let alpha = predictor.atom_model().unwrap().alpha();
    assert_eq!(
        Some(alpha),
        predictor.validation_pearson().map(|r| r.clamp(0.2, 1.0))
    );
    let again = Predictor::from_bytes(&predictor.to_bytes().unwrap()).unwrap();
    let st = read("1a1p.pdb");
    let (a, b) = (
        predictor.predict_atoms(&st).unwrap(),
        again.predict_atoms(&st).unwrap(),
    );
    assert_eq!(a.values, b.values);
    assert_eq!(again.atom_model(), predictor.atom_model());
}

#[test]
fn a_predictor_without_an_atom_model_is_a_typed_error_until_fitted() {
    let features = FeatureConfig::new();
    let names = ["1ubi.pdb", "1a1p.pdb", "1ejg.pdb", "3mht.pdb.gz"];
    let structures: Vec<Structure> = names
        .iter()
        .map(|n| {
            structure::read(file(n), &ReadOptions::new().with_tokens(TokenMode::CaOnly)).unwrap()
        })
        .collect();
    let mut chains = vec![];
    for st in &structures {
        let d = structure::features::compute(st, &features).unwrap();
        chains.extend(chain_examples(st, &d, 20).unwrap());
    }
    let config = TrainConfig::new().with_ensemble(1).with_fit(
        TrainConfig::default_fit()
            .with_epochs(2)
            .with_validation_fraction(0.25),
    );
    let mut predictor = train_chains(&chains, &config, &mut |_| {}).unwrap();
    assert!(predictor.atom_model().is_none());
    let err = predictor.predict_atoms(&structures[0]).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    let mut examples = vec![];
    for st in &structures {
        let sites = per_atom::atom_sites(st, features.lattice).unwrap();
        examples.extend(per_atom::atom_examples(st, &sites, 20).unwrap());
    }
    assert!(examples.len() >= 2, "{} atom examples", examples.len());
    predictor.fit_atoms(&examples).unwrap();
    let pred = predictor.predict_atoms(&structures[0]).unwrap();
    assert!(pred.values.iter().all(|v| v.is_finite()));
    // The model goes into the weight file and comes back.
    let again = Predictor::from_bytes(&predictor.to_bytes().unwrap()).unwrap();
    assert_eq!(
        again.predict_atoms(&structures[0]).unwrap().values,
        pred.values
    );
    // Sites of another structure are refused, not read out of bounds.
    let small = read("1ejg.pdb");
    let big_sites = per_atom::atom_sites(&read("3mht.pdb.gz"), false).unwrap();
    let d = structure::features::compute(&small, predictor.feature_config()).unwrap();
    let err = predictor
        .predict_atoms_with(&small, &d, big_sites)
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}
