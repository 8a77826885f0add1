#![cfg(feature = "structure")]
//! Structural descriptors against an independent NumPy/SciPy computation
//! (`tests/fixtures/features/`, written by `scripts/gen_feature_fixtures.py`):
//! every column of every residue of ubiquitin (full atoms, lattice), a CA-only
//! benchmark file with calcium ions and chain breaks, and a two-chain entry
//! with ligands, alternate locations and waters; the ligand atoms' rows; the
//! baselines; the same rows in both token modes; missing atoms; the GNM
//! fallback; errors.

mod common;

use bfactor::structure::features::{self, Descriptors, FeatureConfig};
use bfactor::structure::{self, FileFormat, MoleculeKind, ReadOptions, Structure, TokenMode};
use bfactor::Error;
use common::Fixtures;
use ndarray::{Array1, Array2};

const FEATURES: Fixtures = Fixtures {
    dir: "features",
    regenerate: "python3 scripts/gen_feature_fixtures.py",
};

const CASES: [(&str, &str); 3] = [
    ("1ubi", "1ubi.pdb"),
    ("1rro_ca", "1RRO_CA_A2.pdb.gz"),
    ("3hsy", "3HSY.pdb.gz"),
];

/// Absolute tolerance relative to max(|expected|, 1).
const TOL: f64 = 1e-8;

fn read(file: &str, mode: TokenMode) -> Structure {
    let path = format!(
        "{}/tests/data/structures/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    structure::read(&path, &ReadOptions::new().with_tokens(mode)).expect("fixture structure")
}

#[track_caller]
fn assert_row(
    case: &str,
    what: &str,
    names: &[String],
    got: ndarray::ArrayView1<f64>,
    want: ndarray::ArrayView1<f64>,
) {
    for (j, name) in names.iter().enumerate() {
        if want[j].is_nan() {
            // The script leaves the `wcn` group to gemmi (tests/wcn.rs).
            assert!(
                name.starts_with("wcn/"),
                "{case}, {what}: {name} has no NumPy value"
            );
            assert!(got[j].is_finite(), "{case}, {what}, {name}: {}", got[j]);
            continue;
        }
        assert!(
            common::is_close(got[j], want[j], TOL),
            "{case}, {what}, {name}: got {}, NumPy {}",
            got[j],
            want[j]
        );
    }
}

#[test]
fn names_match_the_reference_script() {
    let text = std::fs::read_to_string(FEATURES.path("names.txt")).expect("names.txt");
    let want: Vec<&str> = text.lines().collect();
    assert_eq!(features::names(), want);
}

#[test]
fn every_column_matches_numpy_for_every_residue() {
    for (case, file) in CASES {
        let st = read(file, TokenMode::CaOnly);
        let d = features::compute(&st, &FeatureConfig::new()).unwrap();
        let mut npz = FEATURES.npz(&format!("{case}.npz"));
        let want: Array2<f64> = npz.get("values");
        let resseq: Array1<i64> = npz.get("resseq");
        assert_eq!(d.values.dim(), want.dim(), "{case}");
        for (i, t) in st.tokens().iter().enumerate() {
            assert_eq!(t.residue_number as i64, resseq[i], "{case} token {i}");
            assert_row(
                case,
                &format!("residue {} {}", t.chain, t.residue_number),
                &d.names,
                d.values.row(i),
                want.row(i),
            );
        }
        // Every column varies somewhere or is legitimately constant; each is
        // compared above. The baselines:
        let wcn: Array1<f64> = npz.get("inverse_wcn");
        let fri: Array1<f64> = npz.get("lorentz_fri");
        common::assert_close(case, &features::inverse_wcn(&st).unwrap(), &wcn, 1e-10);
        common::assert_close(
            case,
            &features::lorentz_fri(&st, 3.0, 3.0).unwrap(),
            &fri,
            1e-10,
        );
    }
}

#[test]
fn protein_rows_are_the_same_in_both_token_modes_and_ligand_atoms_match_numpy() {
    for (case, file) in CASES {
        let ca = read(file, TokenMode::CaOnly);
        let b2 = read(file, TokenMode::Boltz2);
        let d_ca = features::compute(&ca, &FeatureConfig::new()).unwrap();
        let d_b2 = features::compute(&b2, &FeatureConfig::new()).unwrap();
        let key =
            |t: &structure::Token| (t.chain.clone(), t.residue_number, t.insertion_code.clone());
        let rows: std::collections::HashMap<_, usize> = ca
            .tokens()
            .iter()
            .enumerate()
            .map(|(i, t)| (key(t), i))
            .collect();
        let mut npz = FEATURES.npz(&format!("{case}.npz"));
        let free: Array2<f64> = npz.get("free_values");
        let free_coords: Array2<f64> = npz.get("free_coords");
        let (mut proteins, mut ligands) = (0, 0);
        for (i, t) in b2.tokens().iter().enumerate() {
            if t.kind == MoleculeKind::Protein {
                let j = rows[&key(t)];
                assert_eq!(
                    d_b2.values.row(i),
                    d_ca.values.row(j),
                    "{case} {:?}",
                    key(t)
                );
                proteins += 1;
            } else if t.kind == MoleculeKind::Ligand {
                let k = (0..free_coords.nrows())
                    .find(|&k| (0..3).all(|c| (free_coords[[k, c]] - t.coords[c]).abs() < 1e-9))
                    .unwrap_or_else(|| panic!("{case}: ligand token {i} {t:?} not in the fixture"));
                assert_row(
                    case,
                    &format!("ligand atom {} {}", t.residue_name, t.atom_name),
                    &d_b2.names,
                    d_b2.values.row(i),
                    free.row(k),
                );
                ligands += 1;
            }
        }
        assert_eq!(proteins, ca.tokens().len(), "{case}");
        assert_eq!(ligands, free.nrows(), "{case}: every ligand atom compared");
    }
}

#[test]
fn ca_only_and_lattice_flags() {
    let d =
        |file| features::compute(&read(file, TokenMode::CaOnly), &FeatureConfig::new()).unwrap();
    let flag = |d: &Descriptors, name: &str| d.column(name).unwrap()[0];
    let ca = d("1RRO_CA_A2.pdb.gz");
    assert_eq!(flag(&ca, "context/has_side_chains"), 0.0);
    assert_eq!(flag(&ca, "context/has_lattice"), 0.0);
    for j in 0..ca.names.len() {
        if ca.group_of(j) == "atoms" || ca.names[j].starts_with("lattice/") {
            assert!(
                ca.values.column(j).iter().all(|&v| v == 0.0),
                "{}",
                ca.names[j]
            );
        }
    }
    let full = d("3HSY.pdb.gz");
    assert_eq!(flag(&full, "context/has_side_chains"), 1.0);
    assert_eq!(flag(&full, "context/has_lattice"), 1.0);
    assert_eq!(flag(&full, "context/resolution"), 1.75);
    // Some residues touch a symmetry mate, not all.
    let lat = full.column("lattice/log_atom_count_8").unwrap();
    assert!(lat.iter().any(|&v| v > 0.0) && lat.iter().any(|&v| v == 0.0));
    let off = features::compute(
        &read("3HSY.pdb.gz", TokenMode::CaOnly),
        &FeatureConfig::new().with_lattice(false),
    )
    .unwrap();
    assert_eq!(off.column("context/has_lattice").unwrap()[0], 0.0);
    assert!(off
        .column("lattice/log_atom_count_8")
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
}

#[test]
fn a_token_without_coordinates_copies_its_neighbour_and_is_flagged() {
    // Residue 2 has neither CA nor CB: its Boltz-2 token is missing.
    let pdb = "\
ATOM      1  N   ALA A   1       0.000   0.000   0.000  1.00 10.00           N
ATOM      2  CA  ALA A   1       1.458   0.000   0.000  1.00 10.00           C
ATOM      3  C   ALA A   1       2.009   1.420   0.000  1.00 10.00           C
ATOM      4  CB  ALA A   1       1.988  -0.773   1.199  1.00 10.00           C
ATOM      5  N   ALA A   2       3.300   1.600   0.000  1.00 10.00           N
ATOM      6  N   ALA A   3       5.000   3.000   0.000  1.00 10.00           N
ATOM      7  CA  ALA A   3       6.000   4.000   0.000  1.00 10.00           C
ATOM      8  CB  ALA A   3       6.500   4.500   1.200  1.00 10.00           C
ATOM      9  CA  GLY A   4       9.000   5.000   1.000  1.00 10.00           C
END
";
    let st = structure::read_str(pdb, FileFormat::Pdb, &ReadOptions::new()).unwrap();
    assert_eq!(st.tokens().len(), 4);
    assert!(!st.tokens()[1].present);
    let d = features::compute(&st, &FeatureConfig::new()).unwrap();
    assert!(d.values.iter().all(|v| v.is_finite()));
    let miss = d.column("seq/missing_coords").unwrap();
    assert_eq!(miss.to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    let density = d.column("density/log_wcn_ca_40").unwrap();
    assert_eq!(density[1], density[0]); // copied from the earlier neighbour
    assert_eq!(d.column("restype/ALA").unwrap()[1], 1.0);
    assert_eq!(d.column("restype/GLY").unwrap()[3], 1.0);
}

#[test]
fn gnm_size_limit_uses_chains_then_windows() {
    let st = read("3HSY.pdb.gz", TokenMode::CaOnly);
    let full = features::compute(&st, &FeatureConfig::new()).unwrap();
    let small = features::compute(&st, &FeatureConfig::new().with_gnm_max_nodes(400)).unwrap();
    // 730 nodes > 400: the assembly column repeats the chain one.
    assert_eq!(
        small.column("gnm/log_assembly").unwrap(),
        small.column("gnm/log_chain").unwrap()
    );
    assert_ne!(
        full.column("gnm/log_assembly").unwrap(),
        full.column("gnm/log_chain").unwrap()
    );
    // Chains of 354 and 376 nodes fit in 400; with 100 they are cut into windows.
    assert_eq!(
        small.column("gnm/log_chain").unwrap(),
        full.column("gnm/log_chain").unwrap()
    );
    let windows = features::compute(&st, &FeatureConfig::new().with_gnm_max_nodes(100)).unwrap();
    let w = windows.column("gnm/log_chain").unwrap();
    let f = full.column("gnm/log_chain").unwrap();
    assert!(w.iter().all(|v| v.is_finite()));
    assert_ne!(w, f);
    // Windowed fluctuations still follow the whole chain's, loosely: windows of
    // 100 nodes miss the slowest modes (Pearson 0.66 here).
    let (mw, mf) = (w.mean().unwrap(), f.mean().unwrap());
    let cov: f64 = w.iter().zip(f).map(|(a, b)| (a - mw) * (b - mf)).sum();
    let (vw, vf): (f64, f64) = (
        w.iter().map(|a| (a - mw).powi(2)).sum(),
        f.iter().map(|b| (b - mf).powi(2)).sum(),
    );
    assert!(
        cov / (vw * vf).sqrt() > 0.5,
        "correlation {}",
        cov / (vw * vf).sqrt()
    );
}

#[test]
fn errors_name_the_bad_setting() {
    let st = read("1ubi.pdb", TokenMode::CaOnly);
    let err = features::compute(&st, &FeatureConfig::new().with_gnm_cutoff(f64::NAN)).unwrap_err();
    assert!(
        matches!(err, Error::Config { ref field, .. } if field == "gnm_cutoff"),
        "{err}"
    );
    let err = features::compute(&st, &FeatureConfig::new().with_gnm_max_nodes(3)).unwrap_err();
    assert!(
        matches!(err, Error::Config { ref field, .. } if field == "gnm_max_nodes"),
        "{err}"
    );
    for (eta, nu) in [(0.0, 3.0), (3.0, -1.0), (f64::INFINITY, 3.0)] {
        let err = features::lorentz_fri(&st, eta, nu).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
    }
    // One residue: nothing to count.
    let one =
        "ATOM      1  CA  ALA A   1       0.000   0.000   0.000  1.00 10.00           C\nEND\n";
    let st = structure::read_str(
        one,
        FileFormat::Pdb,
        &ReadOptions::new().with_tokens(TokenMode::CaOnly),
    )
    .unwrap();
    assert!(matches!(
        features::inverse_wcn(&st),
        Err(Error::TooFewValid { .. })
    ));
    let d = features::compute(&st, &FeatureConfig::new()).unwrap();
    assert!(d.values.iter().all(|v| v.is_finite()));
}
