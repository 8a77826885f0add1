//! Per-token B-factors the way Boltz-2 builds its targets: the representative-atom
//! table of `/work/shared/reference/boltz2-bfactor.md`, the index and matrix
//! (`torch.bmm`) forms, and `B = 8π²·RMSF²`. Fixture `tests/fixtures/boltz2/tokens.npz`
//! comes from `scripts/gen_boltz2_fixtures.py`.

mod common;

use bfactor::tokens::{
    representative_atom, rmsf_to_bfactor, rmsf_to_bfactors, token_bfactors,
    token_bfactors_from_matrix, REPRESENTATIVE_ATOMS,
};
use bfactor::Error;
use common::{assert_msg, assert_shape_mismatch, BOLTZ2};
use ndarray::{array, Array, Array1, Array2, Axis, Dimension, Ix1, Ix2, Ix3};
use ndarray_npy::ReadableElement;

fn tokens_npz<T: ReadableElement, D: Dimension>(name: &str) -> Array<T, D> {
    BOLTZ2.npz("tokens.npz").get(name)
}

/// The reference doc's table, written out residue by residue.
fn reference_table() -> Vec<(&'static str, &'static str)> {
    let amino = [
        "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "HIS", "ILE", "LEU", "LYS", "MET", "PHE",
        "PRO", "SER", "THR", "TRP", "TYR", "VAL", "UNK",
    ];
    let mut t: Vec<(&str, &str)> = amino.iter().map(|&r| (r, "CB")).collect();
    t.push(("GLY", "CA"));
    for r in ["A", "G", "DA", "DG"] {
        t.push((r, "C4"));
    }
    for r in ["C", "U", "DC", "DT"] {
        t.push((r, "C2"));
    }
    for r in ["N", "DN"] {
        t.push((r, "C1'"));
    }
    t
}

// ---------------------------------------------------------------------------
// representative atoms
// ---------------------------------------------------------------------------

#[test]
fn representative_atom_matches_the_reference_table() {
    let table = reference_table();
    assert_eq!(table.len(), 31);
    for &(res, atom) in &table {
        assert_eq!(representative_atom(res), Some(atom), "{res}");
    }
    // The exported table holds exactly these entries, each once.
    let mut exported = REPRESENTATIVE_ATOMS.to_vec();
    let mut want = table.clone();
    exported.sort();
    want.sort();
    assert_eq!(exported, want);
}

#[test]
fn non_polymer_names_have_no_representative_atom() {
    for res in ["HOH", "ATP", "HEM", "NAG", "ZN", "SO4", "", "GLYX", "CB"] {
        assert_eq!(representative_atom(res), None, "{res:?}");
    }
}

// ---------------------------------------------------------------------------
// token B-factors: index form
// ---------------------------------------------------------------------------

fn rep_atoms(row: ndarray::ArrayView1<'_, i64>) -> Vec<Option<usize>> {
    row.iter()
        .map(|&i| if i < 0 { None } else { Some(i as usize) })
        .collect()
}

#[test]
fn token_bfactors_match_torch_bmm() {
    let rep: Array<i64, Ix2> = tokens_npz("rep_index");
    let atom_b: Array<f32, Ix2> = tokens_npz("atom_bfactor");
    let want: Array<f32, Ix2> = tokens_npz("token_bfactor");
    for b in 0..rep.nrows() {
        let idx = rep_atoms(rep.row(b));
        let got = token_bfactors(&atom_b.row(b), &idx).unwrap();
        assert_eq!(got, want.row(b), "batch {b}");
        for (t, i) in idx.iter().enumerate() {
            match i {
                None => assert_eq!(got[t], 0.0, "missing atom gives 0"),
                Some(a) => assert_eq!(got[t], atom_b[[b, *a]]),
            }
        }
        let got64 = token_bfactors(&atom_b.row(b).mapv(f64::from), &idx).unwrap();
        assert_eq!(got64, want.row(b).mapv(f64::from), "batch {b} f64");
    }
}

#[test]
fn token_bfactors_edge_cases() {
    let atom_b = array![11.0_f64, 12.5, 13.0];
    assert_eq!(
        token_bfactors(&atom_b, &[None, None]).unwrap(),
        array![0.0, 0.0]
    );
    assert_eq!(token_bfactors(&atom_b, &[]).unwrap().len(), 0);
    assert_eq!(
        token_bfactors(&atom_b, &[Some(2), Some(2), Some(0)]).unwrap(),
        array![13.0, 13.0, 11.0]
    );

    let err = token_bfactors(&atom_b, &[Some(0), Some(3)]).unwrap_err();
    assert_shape_mismatch(&err, "rep_atoms[1]", &[3], &[3]);
    assert_msg(&err, &["rep_atoms[1]"]);
    let err = token_bfactors(&Array1::<f32>::zeros(0), &[Some(0)]).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
    let err = token_bfactors(&array![1.0_f32, f32::NAN], &[Some(0)]).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, index, .. } if what == "atom_bfactors" && index == &vec![1]),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// token B-factors: matrix form
// ---------------------------------------------------------------------------

#[test]
fn token_bfactors_from_matrix_batched_matches_torch_bmm() {
    let m: Array<f32, Ix3> = tokens_npz("token_to_rep_atom");
    let atom_b: Array<f32, Ix2> = tokens_npz("atom_bfactor");
    let want: Array<f32, Ix2> = tokens_npz("token_bfactor");
    // One-hot rows: every product is exact, so the result is bit for bit.
    let got = token_bfactors_from_matrix(&m, &atom_b).unwrap();
    assert_eq!(got, want);
    let got = token_bfactors_from_matrix(&m.mapv(f64::from), &atom_b.mapv(f64::from)).unwrap();
    assert_eq!(got, want.mapv(f64::from));
}

#[test]
fn token_bfactors_from_matrix_2d_equals_index_form() {
    let m: Array<f32, Ix3> = tokens_npz("token_to_rep_atom");
    let rep: Array<i64, Ix2> = tokens_npz("rep_index");
    let atom_b: Array<f32, Ix2> = tokens_npz("atom_bfactor");
    for b in 0..m.len_of(Axis(0)) {
        let got = token_bfactors_from_matrix(&m.index_axis(Axis(0), b), &atom_b.row(b)).unwrap();
        let by_index = token_bfactors(&atom_b.row(b), &rep_atoms(rep.row(b))).unwrap();
        assert_eq!(got, by_index, "batch {b}");
    }
}

#[test]
fn token_bfactors_from_matrix_errors() {
    let m = Array2::<f64>::zeros((3, 4));
    let err = token_bfactors_from_matrix(&m, &Array1::<f64>::zeros(5)).unwrap_err();
    assert_shape_mismatch(&err, "atom_bfactors", &[4], &[5]);
    let m3 = Array::<f64, _>::zeros((2, 3, 4));
    let err = token_bfactors_from_matrix(&m3, &Array2::<f64>::zeros((3, 4))).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { expected, got, .. }
            if expected == &vec![2, 4] && got == &vec![3, 4]),
        "{err:?}"
    );
    let err =
        token_bfactors_from_matrix(&Array1::<f64>::zeros(3), &ndarray::arr0(0.0)).unwrap_err();
    assert!(matches!(err, Error::Rank { got: 1, .. }), "{err:?}");
    let mut bad = Array2::<f64>::zeros((3, 4));
    bad[[1, 2]] = f64::INFINITY;
    let err = token_bfactors_from_matrix(&bad, &Array1::<f64>::zeros(4)).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, .. } if what == "token_to_rep_atom"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// RMSF → B
// ---------------------------------------------------------------------------

#[test]
fn rmsf_to_bfactor_is_8_pi_squared_rmsf_squared() {
    let rmsf: Array<f64, Ix1> = tokens_npz("rmsf");
    let want64: Array<f64, Ix1> = tokens_npz("rmsf_bfactor64");
    let want32: Array<f32, Ix1> = tokens_npz("rmsf_bfactor32");
    for (i, &r) in rmsf.iter().enumerate() {
        // NumPy: (8π²)·(r²); here (8π²·r)·r: a few ulps apart at most.
        let got = rmsf_to_bfactor(r);
        assert!(
            (got - want64[i]).abs() <= 1e-15 * want64[i].abs(),
            "rmsf {r}: {got:e} vs {:e}",
            want64[i]
        );
        // float32: np.float32(8π²) * r * r, the same operations in the same order.
        let got = rmsf_to_bfactor(r as f32);
        assert_eq!(got.to_bits(), want32[i].to_bits(), "rmsf {r} f32");
    }
    assert_eq!(rmsf_to_bfactor(0.0_f64), 0.0);
    assert!((rmsf_to_bfactor(1.0_f64) - 78.956_835_208_714_86).abs() < 1e-12);

    let all = rmsf_to_bfactors(&rmsf).unwrap();
    assert_eq!(all, rmsf.mapv(rmsf_to_bfactor));
    let all = rmsf_to_bfactors(&rmsf.view().into_shape_with_order((4, 4)).unwrap()).unwrap();
    assert_eq!(all.shape(), &[4, 4]);
    let err = rmsf_to_bfactors(&array![1.0_f32, f32::NAN]).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, .. } if what == "rmsf"),
        "{err:?}"
    );
}
