//! What the B column holds: predicted models (pLDDT), cryo-EM, NMR and crystals,
//! on files made the way each source writes them
//! (`scripts/gen_provenance_fixtures.py`, with NumPy's reference numbers in
//! `expected.json`), and on every file of `data/`.
#![cfg(feature = "structure")]

use std::path::{Path, PathBuf};

use bfactor::structure::{
    self, plddt_to_bfactor, plddt_to_bfactor_text, BColumn, BValues, FileFormat, Method, PlddtToB,
    PredictorName, Provenance, ReadOptions, TokenMode,
};
use ndarray::array;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/provenance")
        .join(name)
}

fn expected(key: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    // A flat JSON object of number lists: the list after `"key": [`.
    let start = text.find(&format!("\"{key}\": [")).unwrap() + key.len() + 5;
    let end = start + text[start..].find(']').unwrap();
    text[start..end]
        .split(',')
        .map(|v| v.trim().parse::<f64>().unwrap())
        .collect()
}

fn ca(path: &Path) -> structure::Structure {
    structure::read(path, &ReadOptions::new().with_tokens(TokenMode::CaOnly)).unwrap()
}

fn predictor_of(st: &structure::Structure) -> PredictorName {
    match st.provenance() {
        Provenance::Predicted { predictor } => *predictor,
        other => panic!("not predicted: {other}"),
    }
}

#[test]
fn predicted_models_are_recognised_and_their_plddt_read() {
    let per_residue = expected("ca_plddt");
    for (file, predictor, reference) in [
        ("af_db.pdb", PredictorName::AlphaFoldDb, &per_residue),
        ("af2_headerless.pdb", PredictorName::Unknown, &per_residue),
        (
            "esmfold.pdb",
            PredictorName::Unknown,
            &expected("esmfold_ca_plddt"),
        ),
        ("af_db.cif", PredictorName::AlphaFoldDb, &per_residue),
        (
            "af3.cif",
            PredictorName::AlphaFold3,
            &expected("af3_ca_plddt"),
        ),
        ("boltz.cif", PredictorName::Boltz, &expected("af3_ca_plddt")),
    ] {
        let st = ca(&fixture(file));
        assert_eq!(predictor_of(&st), predictor, "{file}");
        assert_eq!(st.b_values(), BValues::Plddt, "{file}");
        let plddt = st.plddt().unwrap();
        assert_eq!(plddt.len(), reference.len(), "{file}");
        for (a, b) in plddt.iter().zip(reference.iter()) {
            // Written with 2 decimals.
            assert!((a - b).abs() < 1e-9, "{file}: {a} vs {b}");
        }
        // Not experiment: every B-factor reads 0, every mask weight 0.
        assert!(st.bfactors().iter().all(|&b| b == 0.0), "{file}");
        assert!(st.mask().iter().all(|&m| m == 0.0), "{file}");
        // No placeholder lattice.
        assert!(st.pdb().unit_cell.is_none(), "{file}");
    }
    let esm = ca(&fixture("esmfold.pdb"));
    assert!(esm
        .warnings()
        .iter()
        .any(|w| w.contains("[0, 1]") && w.contains("multiplied by 100")));
    let headerless = ca(&fixture("af2_headerless.pdb"));
    assert!(headerless
        .warnings()
        .iter()
        .any(|w| w.contains("looks like pLDDT")));
}

#[test]
fn the_user_says_what_the_column_is() {
    let as_b = structure::read(
        fixture("af_db.pdb"),
        &ReadOptions::new().with_b_column(BColumn::BFactor),
    )
    .unwrap();
    assert_eq!(as_b.b_values(), BValues::BFactors);
    assert!(as_b.plddt().is_none());
    assert!(as_b.mask().iter().all(|&m| m == 1.0));
    assert!(as_b
        .warnings()
        .iter()
        .any(|w| w.contains("read as B-factors, as asked")));
    // A crystal read as pLDDT, as asked: its values exceed 100? 1UBQ's do not.
    let crystal = structure::read(
        "data/crystal/1UBQ.pdb.gz",
        &ReadOptions::new().with_b_column(BColumn::Plddt),
    )
    .unwrap();
    assert_eq!(crystal.b_values(), BValues::Plddt);
    assert!(crystal.mask().iter().all(|&m| m == 0.0));
}

#[test]
fn cryo_em_is_read_and_flagged() {
    let st = ca(&fixture("cryoem.cif"));
    assert_eq!(
        st.provenance(),
        &Provenance::Experimental {
            method: Method::CryoEm,
            resolution: Some(3.2)
        }
    );
    assert_eq!(st.b_values(), BValues::BFactors);
    assert!(st.mask().iter().all(|&m| m == 1.0));
    assert!(st.warnings().iter().any(|w| w.contains("cryo-EM")));
    assert!(st.pdb().unit_cell.is_none());
    assert!(st
        .warnings()
        .iter()
        .any(|w| w.contains("placeholder") && w.contains("no symmetry mates")));
}

#[test]
fn an_nmr_ensemble_gives_b_factors_from_its_spread() {
    let st = ca(&fixture("nmr.pdb"));
    assert_eq!(
        st.provenance().method(),
        Some(&Method::Nmr),
        "{}",
        st.provenance()
    );
    assert_eq!(st.models(), 5);
    assert!(st.mask().iter().all(|&m| m == 0.0)); // B 0: no B-factors
    assert!(st.pdb().unit_cell.is_none());
    let b = st.ensemble_bfactors().unwrap();
    let reference = expected("nmr_ca_bfactors");
    assert_eq!(b.len(), reference.len());
    for (i, (x, y)) in b.iter().zip(&reference).enumerate() {
        assert!(
            (x - y).abs() <= 1e-6 * y.abs().max(1.0),
            "token {i}: {x} vs NumPy {y}"
        );
    }
    // One model: nothing to spread.
    assert!(ca(&fixture("af_db.pdb")).ensemble_bfactors().is_none());
}

#[test]
fn plddt_to_b_follows_the_phenix_formula() {
    let b = plddt_to_bfactor(&array![0.0f32, 70.0, 100.0]).unwrap();
    let f = |p: f64| {
        8.0 * std::f64::consts::PI.powi(2) / 3.0 * (1.5 * (4.0 * (0.7 - p / 100.0)).exp()).powi(2)
    };
    for (x, p) in b.iter().zip([0.0, 70.0, 100.0]) {
        assert!(((*x as f64) - f(p)).abs() <= 1e-6 * f(p));
    }
    assert!(matches!(
        plddt_to_bfactor(&array![50.0, 101.0]),
        Err(bfactor::Error::OutOfRange { .. })
    ));
    assert!(matches!(
        plddt_to_bfactor(&array![f64::NAN]),
        Err(bfactor::Error::NonFinite { .. })
    ));

    // The file: every kept atom's B from its own pLDDT; residues under 70 gone.
    for (file, plddt, reference) in [
        ("af_db.pdb", "ca_plddt", "plddt_to_b_ca"),
        ("af_db.cif", "ca_plddt", "plddt_to_b_ca"),
        ("esmfold.pdb", "esmfold_ca_plddt", "esmfold_plddt_to_b_ca"),
    ] {
        let (plddt, reference) = (expected(plddt), expected(reference));
        let st = ca(&fixture(file));
        let text = plddt_to_bfactor_text(&st, &PlddtToB::new()).unwrap();
        let format = st.format();
        let back = structure::read_str(
            &text,
            format,
            &ReadOptions::new()
                .with_tokens(TokenMode::CaOnly)
                .with_b_column(BColumn::BFactor),
        )
        .unwrap();
        let kept: Vec<usize> = (0..plddt.len()).filter(|&i| plddt[i] >= 70.0).collect();
        assert!(kept.len() < plddt.len() && !kept.is_empty());
        assert_eq!(back.tokens().len(), kept.len(), "{file}");
        for (t, &i) in back.tokens().iter().zip(&kept) {
            // Written as %6.2f (PDB) or with 4 decimals (mmCIF).
            let tol = if format == FileFormat::Pdb {
                5.01e-3
            } else {
                5.01e-5
            };
            assert!(
                (t.bfactor - reference[i]).abs() <= tol,
                "{file} residue {}: {} vs {}",
                t.residue_number,
                t.bfactor,
                reference[i]
            );
        }
    }
    // Keeping every residue, the PDB column cannot hold pLDDT 40's B.
    let st = ca(&fixture("af_db.pdb"));
    let all = PlddtToB::new().with_min_plddt(None);
    match plddt_to_bfactor_text(&st, &all) {
        Err(e) => assert!(e.to_string().contains("write mmCIF"), "{e}"),
        Ok(_) => panic!(
            "pLDDT 30's B ({}) fit the PDB column",
            expected("plddt_to_b_ca")[0]
        ),
    }
    let cif = ca(&fixture("af_db.cif"));
    let text = plddt_to_bfactor_text(&cif, &all).unwrap();
    assert!(
        text.contains("_ma_qa_metric_local"),
        "other categories kept"
    );
    // A crystal's B column is no pLDDT.
    let crystal = ca(Path::new("data/crystal/1UBQ.pdb.gz"));
    assert!(plddt_to_bfactor_text(&crystal, &PlddtToB::new()).is_err());
}

#[test]
fn predictions_written_into_modelcif_keep_the_confidence() {
    let st = ca(&fixture("af_db.cif"));
    let values = ndarray::Array1::from_elem(st.tokens().len(), 12.5);
    let text = structure::write_string(&st, &values, FileFormat::Mmcif).unwrap();
    let source = std::fs::read_to_string(fixture("af_db.cif")).unwrap();
    let local = |t: &str| {
        let start = t.find("loop_\n_ma_qa_metric_local").unwrap();
        t[start..start + t[start..].find("#\n").unwrap()].to_string()
    };
    assert_eq!(local(&text), local(&source));
}

#[test]
fn every_crystal_of_data_is_x_ray_and_no_set364_file_a_prediction() {
    let mut crystals = 0;
    for entry in std::fs::read_dir("data/crystal").unwrap() {
        let path = entry.unwrap().path();
        if FileFormat::from_path(&path).is_err() {
            continue;
        }
        let st = ca(&path);
        assert!(
            matches!(
                st.provenance(),
                Provenance::Experimental {
                    method: Method::XRay,
                    ..
                }
            ),
            "{}: {}",
            path.display(),
            st.provenance()
        );
        assert_eq!(st.b_values(), BValues::BFactors);
        crystals += 1;
    }
    assert_eq!(crystals, 46);
    let mut ca_only = 0;
    for entry in std::fs::read_dir("data/set364").unwrap() {
        let path = entry.unwrap().path();
        if FileFormat::from_path(&path).is_err() {
            continue;
        }
        let st = ca(&path);
        assert!(!st.provenance().is_predicted(), "{}", path.display());
        assert_eq!(st.b_values(), BValues::BFactors, "{}", path.display());
        ca_only += 1;
    }
    assert_eq!(ca_only, 364);
}
