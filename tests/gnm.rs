#![cfg(feature = "structure")]
//! The Gaussian network model against ProDy 2.3.1 (`tests/fixtures/gnm/`, written
//! by `scripts/gen_gnm_fixtures.py`): square fluctuations and eigenvalues to 1e-6
//! relative, the Kirchhoff matrix, networks in pieces, the B-factor fit, the
//! errors, and a 3,000-node chain.

use std::path::PathBuf;

use bfactor::structure::gnm::{fit_bfactors, fit_bfactors_masked, kirchhoff, Gnm, GnmConfig};
use bfactor::Error;
use ndarray::{array, s, Array1, Array2, ArrayBase, Axis, Data, Ix1};
use ndarray_npy::{read_npy, ReadableElement};
use rand::{rngs::StdRng, Rng, SeedableRng};

const RTOL: f64 = 1e-6;

/// The ProDy settings of the fixtures: (cutoff, gamma, file tag).
const SETTINGS: [(f64, f64, &str); 4] = [
    (10.0, 1.0, "c10_g1"),
    (7.3, 1.0, "c7.3_g1"),
    (10.0, 2.5, "c10_g2.5"),
    (7.3, 2.5, "c7.3_g2.5"),
];

const CASES: [&str; 6] = [
    "1ubi",
    "3mht",
    "3hsy",
    "two_chains",
    "isolated",
    "cutoff_edge",
];

fn fixture<T: ReadableElement, D: ndarray::Dimension>(
    case: &str,
    name: &str,
) -> ndarray::Array<T, D> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "gnm",
        case,
        &format!("{name}.npy"),
    ]
    .iter()
    .collect();
    read_npy(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; regenerate with `python3 scripts/gen_gnm_fixtures.py`",
            path.display()
        )
    })
}

fn exists(case: &str, name: &str) -> bool {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gnm")
        .join(case)
        .join(format!("{name}.npy"))
        .exists()
}

fn coords(case: &str) -> Array2<f64> {
    fixture(case, "coords")
}

/// Elementwise `|a - e| <= rtol * |e| + atol`.
fn assert_close<S1, S2>(
    actual: &ArrayBase<S1, Ix1>,
    expected: &ArrayBase<S2, Ix1>,
    rtol: f64,
    atol: f64,
    what: &str,
) where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
{
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected.iter()).enumerate() {
        assert!(a.is_finite(), "{what}[{i}] = {a}");
        assert!(
            (a - e).abs() <= rtol * e.abs() + atol,
            "{what}[{i}]: got {a}, expected {e} (relative error {:e})",
            ((a - e) / e).abs()
        );
    }
}

fn config(cutoff: f64, gamma: f64) -> GnmConfig {
    GnmConfig::new().with_cutoff(cutoff).with_gamma(gamma)
}

// ---------------------------------------------------------------------------
// parity with ProDy
// ---------------------------------------------------------------------------

#[test]
fn square_fluctuations_and_eigenvalues_match_prody() {
    let mut checked = 0;
    for case in CASES {
        let xyz = coords(case);
        for (cutoff, gamma, tag) in SETTINGS {
            if !exists(case, &format!("sqflucts_{tag}")) {
                continue;
            }
            let what = format!("{case} {tag}");
            let expected: Array1<f64> = fixture(case, &format!("sqflucts_{tag}"));
            let eigvals: Array1<f64> = fixture(case, &format!("eigvals_{tag}"));
            let gnm = config(cutoff, gamma).build(&xyz).unwrap();
            // ProDy leaves ~1e-31 on an isolated node where we put exactly 0.
            let atol = 1e-12 * expected.fold(0.0_f64, |m, x| m.max(x.abs()));
            assert_close(
                &gnm.square_fluctuations(),
                &expected,
                RTOL,
                atol,
                &format!("{what} sq_flucts"),
            );
            assert_close(
                gnm.eigenvalues(),
                &eigvals,
                RTOL,
                0.0,
                &format!("{what} eigenvalues"),
            );
            assert_eq!(
                gnm.modes().dim(),
                (xyz.nrows(), eigvals.len()),
                "{what} modes"
            );
            // The Cholesky route gives the same values.
            let fast = config(cutoff, gamma).square_fluctuations(&xyz).unwrap();
            assert_close(
                &fast,
                &expected,
                RTOL,
                atol,
                &format!("{what} fast sq_flucts"),
            );
            assert_close(
                &fast,
                &gnm.square_fluctuations(),
                1e-9,
                atol,
                &format!("{what} fast vs evd"),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 22);
}

#[test]
fn kirchhoff_matches_prody_contacts() {
    for case in CASES {
        let xyz = coords(case);
        for (cutoff, gamma, _) in SETTINGS {
            let name = format!("contacts_c{cutoff}");
            if !exists(case, &name) {
                continue;
            }
            let contacts: Array1<i32> = fixture(case, &name);
            let k = kirchhoff(&xyz, &config(cutoff, gamma)).unwrap();
            let expected = contacts.mapv(|c| gamma * c as f64);
            assert_eq!(k.diag(), expected, "{case} c{cutoff} g{gamma} diagonal");
            let gnm = config(cutoff, gamma).build(&xyz).unwrap();
            let degrees: Vec<usize> = contacts.iter().map(|&c| c as usize).collect();
            assert_eq!(gnm.degrees(), &degrees[..], "{case} c{cutoff}");
        }
    }
}

#[test]
fn ubiquitin_edges_are_prodys() {
    let xyz = coords("1ubi");
    for cutoff in [10.0, 7.3] {
        let edges: Array2<i32> = fixture("1ubi", &format!("edges_c{cutoff}"));
        let k = kirchhoff(&xyz, &config(cutoff, 1.0)).unwrap();
        let mut ours = Vec::new();
        for i in 0..k.nrows() {
            for j in i + 1..k.ncols() {
                if k[(i, j)] != 0.0 {
                    assert_eq!(k[(i, j)], -1.0);
                    ours.push((i as i32, j as i32));
                }
            }
        }
        let theirs: Vec<(i32, i32)> = edges.rows().into_iter().map(|r| (r[0], r[1])).collect();
        assert_eq!(ours, theirs, "cutoff {cutoff}");
    }
}

#[test]
fn ubiquitin_slowest_modes_match_prody_up_to_sign() {
    let expected: Array2<f64> = fixture("1ubi", "modes_c10_g1");
    let gnm = GnmConfig::new().build(&coords("1ubi")).unwrap();
    for k in 0..expected.ncols() {
        let ours = gnm.modes().column(k);
        let theirs = expected.column(k);
        let sign = ours.dot(&theirs).signum();
        let ours = ours.mapv(|x| sign * x);
        assert_close(&ours, &theirs, 1e-6, 1e-9, &format!("mode {k}"));
    }
    // Unit, mutually orthogonal columns, each orthogonal to the constant vector.
    let m = gnm.modes();
    let gram = m.t().dot(m);
    for ((i, j), &g) in gram.indexed_iter() {
        let want = if i == j { 1.0 } else { 0.0 };
        assert!((g - want).abs() < 1e-10, "gram[{i}, {j}] = {g}");
    }
    assert!(m.sum_axis(Axis(0)).iter().all(|s| s.abs() < 1e-10));
}

#[test]
fn single_precision_contact_test_as_prody() {
    // Nodes 0 and 1 are 10.0000001 Å apart: exactly 10 in f32, so in contact.
    let xyz = coords("cutoff_edge");
    let gnm = GnmConfig::new().build(&xyz).unwrap();
    assert_eq!(gnm.degrees(), &[2, 1, 1]);
    assert_eq!(gnm.n_components(), 1);
    assert!(gnm.isolated_nodes().is_empty());
    // Just past it in f32 too: no contact, node 1 is isolated.
    let mut far = xyz.clone();
    far[(1, 0)] = 10.00001;
    let gnm = GnmConfig::new().build(&far).unwrap();
    assert_eq!(gnm.isolated_nodes(), vec![1]);
    assert_eq!(gnm.square_fluctuations()[1], 0.0);
}

// ---------------------------------------------------------------------------
// the Kirchhoff matrix
// ---------------------------------------------------------------------------

#[test]
fn kirchhoff_properties() {
    for (case, gamma) in [
        ("1ubi", 1.0),
        ("3mht", 0.1),
        ("isolated", 2.5),
        ("two_chains", 7.0),
    ] {
        let xyz = coords(case);
        let k = kirchhoff(&xyz, &config(7.3, gamma)).unwrap();
        let n = xyz.nrows();
        assert_eq!(k.dim(), (n, n));
        assert_eq!(k, k.t(), "{case}: symmetric");
        for i in 0..n {
            let off: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| k[(i, j)]).collect();
            assert!(
                off.iter().all(|&x| x == 0.0 || x == -gamma),
                "{case}: off-diagonal is 0 or -gamma"
            );
            let degree = off.iter().filter(|&&x| x != 0.0).count();
            assert_eq!(
                k[(i, i)],
                gamma * degree as f64,
                "{case}: diagonal = gamma * degree"
            );
            let row_sum: f64 = k.row(i).sum();
            assert!(
                row_sum.abs() <= 1e-12 * gamma * (degree as f64 + 1.0),
                "{case}: row {i} sums to {row_sum}"
            );
        }
    }
}

#[test]
fn kirchhoff_of_one_node_or_no_contact_is_zero() {
    let k = kirchhoff(&array![[1.0, 2.0, 3.0]], &GnmConfig::new()).unwrap();
    assert_eq!(k, array![[0.0]]);
    let k = kirchhoff(
        &array![[0.0, 0.0, 0.0], [0.0, 0.0, 50.0]],
        &GnmConfig::new(),
    )
    .unwrap();
    assert_eq!(k, Array2::<f64>::zeros((2, 2)));
}

#[test]
fn gamma_scales_eigenvalues_up_and_fluctuations_down() {
    let xyz = coords("3mht");
    let one = GnmConfig::new().build(&xyz).unwrap();
    let four = GnmConfig::new().with_gamma(4.0).build(&xyz).unwrap();
    assert_close(
        four.eigenvalues(),
        &one.eigenvalues().mapv(|l| 4.0 * l),
        1e-12,
        0.0,
        "eigenvalues",
    );
    assert_close(
        &four.square_fluctuations(),
        &one.square_fluctuations().mapv(|f| f / 4.0),
        1e-12,
        0.0,
        "sq_flucts",
    );
}

#[test]
fn views_and_owned_arrays_agree() {
    let xyz = coords("1ubi");
    let owned = GnmConfig::new().build(&xyz).unwrap();
    let view = GnmConfig::new().build(&xyz.view()).unwrap();
    // A non-contiguous view: every other node.
    let every_other = xyz.slice(s![..;2, ..]);
    let strided = GnmConfig::new().build(&every_other).unwrap();
    let copied = GnmConfig::new().build(&every_other.to_owned()).unwrap();
    assert_eq!(owned.square_fluctuations(), view.square_fluctuations());
    assert_eq!(strided.square_fluctuations(), copied.square_fluctuations());
}

// ---------------------------------------------------------------------------
// networks in pieces
// ---------------------------------------------------------------------------

#[test]
fn two_chains_far_apart_are_two_components() {
    let xyz = coords("two_chains");
    let n_ubi = coords("1ubi").nrows();
    for (cutoff, gamma, tag) in SETTINGS {
        let gnm = config(cutoff, gamma).build(&xyz).unwrap();
        assert_eq!(gnm.n_components(), 2);
        assert_eq!(gnm.eigenvalues().len(), xyz.nrows() - 2);
        let labels = gnm.component_labels();
        assert!(labels[..n_ubi].iter().all(|&c| c == 0) && labels[n_ubi..].iter().all(|&c| c == 1));
        // Ubiquitin's fluctuations are those of ubiquitin alone, the helix's those
        // of the helix alone.
        let f = gnm.square_fluctuations();
        let alone: Array1<f64> = fixture("1ubi", &format!("sqflucts_{tag}"));
        assert_close(&f.slice(s![..n_ubi]), &alone, 1e-9, 0.0, "ubiquitin part");
        let helix = config(cutoff, gamma)
            .build(&xyz.slice(s![n_ubi.., ..]))
            .unwrap();
        assert_close(
            &f.slice(s![n_ubi..]),
            &helix.square_fluctuations(),
            1e-9,
            0.0,
            "helix part",
        );
        // Each mode lives on one chain.
        for col in gnm.modes().columns() {
            let a = col.slice(s![..n_ubi]).iter().any(|&x| x != 0.0);
            let b = col.slice(s![n_ubi..]).iter().any(|&x| x != 0.0);
            assert!(a != b);
        }
    }
}

#[test]
fn isolated_node_has_zero_fluctuation_and_no_nan() {
    let xyz = coords("isolated");
    let n = xyz.nrows();
    for (cutoff, gamma, _) in SETTINGS {
        let gnm = config(cutoff, gamma).build(&xyz).unwrap();
        assert_eq!(gnm.n_nodes(), n);
        assert_eq!(gnm.n_components(), 3);
        assert_eq!(gnm.isolated_nodes(), vec![30]);
        assert_eq!(gnm.eigenvalues().len(), n - 3);
        let f = gnm.square_fluctuations();
        assert!(f.iter().all(|x| x.is_finite()));
        assert_eq!(f[30], 0.0);
        assert!(gnm.modes().row(30).iter().all(|&x| x == 0.0));
        // A lone pair: one mode, eigenvalue 2 gamma, eigenvector (1, -1)/sqrt 2.
        assert!((f[n - 1] - 0.25 / gamma).abs() < 1e-15 && (f[n - 2] - 0.25 / gamma).abs() < 1e-15);
        let labels = gnm.component_labels();
        assert_eq!(
            (
                labels[0],
                labels[30],
                labels[31],
                labels[n - 2],
                labels[n - 1]
            ),
            (0, 1, 0, 2, 2)
        );
        let fast = config(cutoff, gamma).square_fluctuations(&xyz).unwrap();
        assert_eq!(fast[30], 0.0);
        assert!(fast.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn all_identical_points_form_a_complete_graph() {
    // Coincident nodes are in contact (distance 0 <= cutoff): K_n, eigenvalues n
    // (n - 1 times), fluctuations (n - 1) / n².
    let n = 5;
    let xyz = Array2::<f64>::from_elem((n, 3), 1.5);
    let gnm = GnmConfig::new().build(&xyz).unwrap();
    assert_close(
        gnm.eigenvalues(),
        &Array1::from_elem(n - 1, n as f64),
        1e-12,
        0.0,
        "eigenvalues",
    );
    let want = (n - 1) as f64 / (n * n) as f64;
    assert_close(
        &gnm.square_fluctuations(),
        &Array1::from_elem(n, want),
        1e-12,
        0.0,
        "sq_flucts",
    );
}

// ---------------------------------------------------------------------------
// fit_bfactors
// ---------------------------------------------------------------------------

#[test]
fn fit_recovers_a_known_scale() {
    let f = GnmConfig::new()
        .build(&coords("3mht"))
        .unwrap()
        .square_fluctuations();
    let mut b = f.mapv(|x| 37.5 * x);
    let mut mask = Array1::<f64>::ones(f.len());
    // Garbage where the mask is 0 or the B-factor is missing must not matter.
    for i in (0..f.len()).step_by(7) {
        mask[i] = 0.0;
        b[i] = 1e4;
    }
    for i in (3..f.len()).step_by(11) {
        b[i] = 0.0;
    }
    let (k, fitted) = fit_bfactors_masked(&f, &b, &mask).unwrap();
    assert!((k - 37.5).abs() < 1e-12 * 37.5, "k = {k}");
    assert_close(&fitted, &f.mapv(|x| 37.5 * x), 1e-12, 0.0, "fitted");
    // Without a mask the garbage enters the fit.
    let (k_all, _) = fit_bfactors(&f, &b).unwrap();
    assert!(k_all > 40.0);
    // Weights act as weights: doubling all of them changes nothing.
    let (k2, _) = fit_bfactors_masked(&f, &b, &mask.mapv(|w| 2.0 * w)).unwrap();
    assert!((k2 - k).abs() < 1e-12 * k);
}

#[test]
fn fit_to_ubiquitin_bfactors_matches_numpy() {
    let f: Array1<f64> = fixture("1ubi", "sqflucts_c10_g1");
    let b: Array1<f64> = fixture("1ubi", "bfactors");
    let k_np: Array1<f64> = fixture("1ubi", "fit_c10_g1");
    let fitted_np: Array1<f64> = fixture("1ubi", "fitted_c10_g1");
    let ours = GnmConfig::new()
        .build(&coords("1ubi"))
        .unwrap()
        .square_fluctuations();
    let (k, fitted) = fit_bfactors(&ours, &b).unwrap();
    assert!(
        ((k - k_np[0]) / k_np[0]).abs() < RTOL,
        "k = {k}, NumPy {}",
        k_np[0]
    );
    assert_close(&fitted, &fitted_np, RTOL, 0.0, "fitted");
    let (k_exact, _) = fit_bfactors(&f, &b).unwrap();
    assert!(((k_exact - k_np[0]) / k_np[0]).abs() < 1e-12);
}

#[test]
fn fit_errors() {
    let f = array![0.1, 0.2, 0.3];
    let b = array![10.0, 20.0, 30.0];
    assert!(matches!(
        fit_bfactors(&f, &array![1.0, 2.0]),
        Err(Error::ShapeMismatch { ref what, .. }) if what == "experimental"
    ));
    assert!(matches!(
        fit_bfactors_masked(&f, &b, &array![1.0, 1.0]),
        Err(Error::ShapeMismatch { ref what, .. }) if what == "mask"
    ));
    assert!(matches!(
        fit_bfactors(&Array1::<f64>::zeros(0), &Array1::<f64>::zeros(0)),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        fit_bfactors(&array![0.1, f64::NAN, 0.3], &b),
        Err(Error::NonFinite { ref what, ref index, .. }) if what == "sq_flucts" && index == &vec![1]
    ));
    assert!(matches!(
        fit_bfactors(&f, &array![10.0, 20.0, f64::INFINITY]),
        Err(Error::NonFinite { ref what, .. }) if what == "experimental"
    ));
    assert!(matches!(
        fit_bfactors_masked(&f, &b, &array![1.0, -1.0, 1.0]),
        Err(Error::InvalidMask { .. })
    ));
    // No valid token: all masked, all B missing, or only zero fluctuations.
    for (f2, b2, m2) in [
        (f.clone(), b.clone(), array![0.0, 0.0, 0.0]),
        (f.clone(), array![0.0, 1e-6, -3.0], array![1.0, 1.0, 1.0]),
        (array![0.0, 0.0, 0.5], b.clone(), array![1.0, 1.0, 0.0]),
    ] {
        let err = fit_bfactors_masked(&f2, &b2, &m2).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooFewValid {
                    needed: 1,
                    got: 0,
                    ..
                }
            ),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

#[test]
fn config_validation() {
    assert_eq!(GnmConfig::default(), GnmConfig::new());
    assert_eq!(
        (GnmConfig::new().cutoff, GnmConfig::new().gamma),
        (10.0, 1.0)
    );
    assert!(GnmConfig::new().with_cutoff(4.0).validate().is_ok());
    assert!(GnmConfig::new().with_cutoff(7.3).validate().is_ok());
    let xyz = coords("1ubi");
    for (cfg, field) in [
        (GnmConfig::new().with_cutoff(3.99), "cutoff"),
        (GnmConfig::new().with_cutoff(f64::NAN), "cutoff"),
        (GnmConfig::new().with_cutoff(f64::INFINITY), "cutoff"),
        (GnmConfig::new().with_cutoff(-10.0), "cutoff"),
        (GnmConfig::new().with_gamma(0.0), "gamma"),
        (GnmConfig::new().with_gamma(-1.0), "gamma"),
        (GnmConfig::new().with_gamma(f64::NAN), "gamma"),
        (GnmConfig::new().with_gamma(f64::INFINITY), "gamma"),
    ] {
        for err in [
            cfg.validate().unwrap_err(),
            cfg.build(&xyz).unwrap_err(),
            kirchhoff(&xyz, &cfg).unwrap_err(),
            cfg.square_fluctuations(&xyz).unwrap_err(),
        ] {
            assert!(
                matches!(err, Error::Config { field: ref f, .. } if f == field),
                "{err}"
            );
        }
    }
}

#[test]
fn bad_coordinates() {
    let cfg = GnmConfig::new();
    // Empty.
    let err = cfg.build(&Array2::<f64>::zeros((0, 3))).unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    assert!(matches!(
        kirchhoff(&Array2::<f64>::zeros((0, 3)), &cfg),
        Err(Error::Empty { .. })
    ));
    // One node.
    let err = cfg.build(&array![[1.0, 2.0, 3.0]]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooFewValid {
                needed: 2,
                got: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = cfg
        .square_fluctuations(&array![[1.0, 2.0, 3.0]])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooFewValid {
                needed: 2,
                got: 1,
                ..
            }
        ),
        "{err}"
    );
    // Not [n, 3].
    let err = cfg.build(&Array2::<f64>::zeros((4, 2))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LastAxis {
                expected: 3,
                got: 2,
                ..
            }
        ),
        "{err}"
    );
    // Non-finite.
    let mut xyz = coords("1ubi");
    xyz[(5, 2)] = f64::NAN;
    for err in [
        cfg.build(&xyz).unwrap_err(),
        kirchhoff(&xyz, &cfg).unwrap_err(),
        cfg.square_fluctuations(&xyz).unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::NonFinite { ref what, ref index, .. } if what == "coords" && index == &vec![5, 2]),
            "{err}"
        );
    }
    xyz[(5, 2)] = f64::NEG_INFINITY;
    assert!(matches!(cfg.build(&xyz), Err(Error::NonFinite { .. })));
    // No contact at all: the message names the closest pair.
    let lonely = array![[0.0, 0.0, 0.0], [0.0, 20.0, 0.0], [0.0, 0.0, 12.5]];
    let err = cfg.build(&lonely).unwrap_err();
    assert!(
        matches!(err, Error::Config { ref field, .. } if field == "cutoff"),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("nodes 0 and 2") && msg.contains("12.500 Å"),
        "{msg}"
    );
    assert!(matches!(
        cfg.square_fluctuations(&lonely),
        Err(Error::Config { .. })
    ));
}

// ---------------------------------------------------------------------------
// size
// ---------------------------------------------------------------------------

/// A random-walk chain of `n` nodes 3.8 Å apart, no step folding straight back.
fn random_walk(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut xyz = Array2::<f64>::zeros((n, 3));
    let mut i = 1;
    while i < n {
        let v: [f64; 3] = [
            rng.random::<f64>() - 0.5,
            rng.random::<f64>() - 0.5,
            rng.random::<f64>() - 0.5,
        ];
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if norm < 1e-3 {
            continue;
        }
        let p: Vec<f64> = (0..3)
            .map(|k| xyz[(i - 1, k)] + 3.8 * v[k] / norm)
            .collect();
        if i >= 2 {
            let d2: f64 = (0..3).map(|k| (p[k] - xyz[(i - 2, k)]).powi(2)).sum();
            if d2 < 16.0 {
                continue;
            }
        }
        for k in 0..3 {
            xyz[(i, k)] = p[k];
        }
        i += 1;
    }
    xyz
}

#[test]
fn three_thousand_node_chain() {
    let n = 3000;
    let xyz = random_walk(n, 7);
    let gnm: Gnm = GnmConfig::new().build(&xyz).unwrap();
    assert_eq!(gnm.n_components(), 1);
    assert_eq!(gnm.eigenvalues().len(), n - 1);
    assert_eq!(gnm.modes().dim(), (n, n - 1));
    assert!(gnm.eigenvalues()[0] > 0.0);
    let f = gnm.square_fluctuations();
    assert!(f.iter().all(|&x| x.is_finite() && x > 0.0));
    let fast = GnmConfig::new().square_fluctuations(&xyz).unwrap();
    assert_close(&fast, &f, 1e-8, 0.0, "fast vs evd");
    // Trace of the pseudo-inverse = sum of 1/lambda.
    let trace: f64 = gnm.eigenvalues().iter().map(|l| 1.0 / l).sum();
    assert!((f.sum() - trace).abs() < 1e-9 * trace);
}
