//! The crate against the reference notebook, computed independently in NumPy by
//! `scripts/gen_notebook_fixtures.py` (fixtures in `tests/fixtures/notebook/`).
//!
//! Tolerances are relative, `|actual - expected| <= rtol * max(|expected|, 1)`:
//! 1e-12 for `f64`, 1e-5 for `f32` (against a float64 reference computed from the
//! float32-rounded inputs).

mod common;

use std::collections::BTreeSet;

use bfactor::numpy_rng::NumpyRandom;
use bfactor::{loss, synthetic, BFactorHead, BFactorHeadConfig, Float};
use common::{assert_close, assert_close_scalar, is_close, Widen, NOTEBOOK};
use ndarray::{
    Array, Array1, Array2, ArrayD, ArrayView1, Axis, Dimension, Ix1, Ix2, Ix3, RemoveAxis,
};
use ndarray_npy::ReadableElement;

const F64_RTOL: f64 = 1e-12;
const F32_RTOL: f64 = 1e-5;
/// How close the crate's unmasked (or all-ones-mask) loss must be to the notebook's
/// `bfactor_loss` in `f64`.
const NOTEBOOK_LOSS_RTOL: f64 = 1e-9;

/// Head cases in float64: inputs, weights and reference all float64.
const HEAD_F64: &[&str] = &[
    "f64_n50_c128_b64",
    "f64_n7_c16_b64",
    "f64_n33_c24_b10",
    "f64_batch3_n11_c16_b64",
    "f64_n9_c32_b20_max150_eps1e-3",
];

/// Head cases in float32: float32 inputs and weights, float64 reference from them.
const HEAD_F32: &[&str] = &[
    "f32_n16_c128_b64",
    "f32_n7_c16_b64",
    "f32_n33_c24_b10",
    "f32_batch3_n11_c16_b64",
    "f32_n9_c32_b20_max150_eps1e-3",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mask {
    /// No mask: `normalized_mse` / `pearson`.
    None,
    /// A mask of ones.
    Ones,
    /// 0/1 weights.
    Binary,
    /// Fractional (or integer) weights.
    Weighted,
}

const LOSS_CASES: &[(&str, Mask)] = &[
    ("1d_nomask", Mask::None),
    ("1d_ones", Mask::Ones),
    ("1d_binary", Mask::Binary),
    ("1d_weighted", Mask::Weighted),
    ("1d_integer_weights", Mask::Weighted),
    ("2d_nomask", Mask::None),
    ("2d_ones", Mask::Ones),
    ("2d_binary", Mask::Binary),
    ("2d_weighted", Mask::Weighted),
];

/// The head a case describes: `config.npy` is `[c_s, num_bins, max_bfactor, eps]`.
fn head_of<F: Float + ReadableElement>(case: &str, w1: Array2<F>, w2: Array2<F>) -> BFactorHead<F> {
    let c: Array1<f64> = NOTEBOOK.load(&format!("head/{case}.config.npy"));
    assert_eq!(
        c.len(),
        4,
        "{case}: config is [c_s, num_bins, max_bfactor, eps]"
    );
    let config = BFactorHeadConfig::new(c[0] as usize)
        .with_num_bins(c[1] as usize)
        .with_max_bfactor(c[2])
        .with_eps(c[3]);
    BFactorHead::from_weights(config, w1, w2)
        .unwrap_or_else(|e| panic!("{case}: from_weights failed: {e}"))
}

/// Runs the head of `case` on its stored `s` (element type `F`, `D` axes) and
/// compares logits, B-factors and probabilities with the NumPy reference.
fn check_head<F, D>(case: &str, rtol: f64)
where
    F: Float + ReadableElement + Widen,
    D: Dimension + RemoveAxis,
{
    let s: Array<F, D> = NOTEBOOK.load(&format!("head/{case}.s.npy"));
    let head = head_of::<F>(
        case,
        NOTEBOOK.load(&format!("head/{case}.w1.npy")),
        NOTEBOOK.load(&format!("head/{case}.w2.npy")),
    );
    let out = head
        .forward(&s)
        .unwrap_or_else(|e| panic!("{case}: forward failed: {e}"));
    let logits: Array<f64, D> = NOTEBOOK.load(&format!("head/{case}.logits.npy"));
    let bfactor: Array<f64, D::Smaller> = NOTEBOOK.load(&format!("head/{case}.bfactor.npy"));
    let probs: Array<f64, D> = NOTEBOOK.load(&format!("head/{case}.probs.npy"));
    let tag = format!("{case} ({})", F::NAME);
    assert_close(&format!("{tag} logits"), &out.logits, &logits, rtol);
    assert_close(&format!("{tag} bfactor"), &out.bfactor, &bfactor, rtol);
    assert_close(&format!("{tag} probs"), &out.probabilities(), &probs, rtol);
}

/// [`check_head`] with `[B, N, c_s]` input for batched cases, `[N, c_s]` otherwise.
fn check_head_case<F: Float + ReadableElement + Widen>(case: &str, rtol: f64) {
    if case.contains("batch") {
        check_head::<F, Ix3>(case, rtol);
    } else {
        check_head::<F, Ix2>(case, rtol);
    }
}

#[test]
fn fixture_folders_hold_exactly_the_tested_cases() {
    let head: BTreeSet<String> = HEAD_F64
        .iter()
        .chain(HEAD_F32)
        .map(|c| c.to_string())
        .collect();
    assert_eq!(NOTEBOOK.cases("head"), head, "head cases on disk vs tested");
    let loss: BTreeSet<String> = LOSS_CASES.iter().map(|(c, _)| c.to_string()).collect();
    assert_eq!(NOTEBOOK.cases("loss"), loss, "loss cases on disk vs tested");
}

#[test]
fn head_f64_matches_numpy() {
    for case in HEAD_F64 {
        check_head_case::<f64>(case, F64_RTOL);
    }
}

#[test]
fn head_f32_matches_numpy_reference_from_rounded_inputs() {
    for case in HEAD_F32 {
        check_head_case::<f32>(case, F32_RTOL);
    }
}

#[test]
fn head_f64_on_widened_f32_inputs_matches_to_f64_precision() {
    // The f32 cases' reference is float64 arithmetic on the rounded values, so the
    // f64 head fed the same (widened) values must match it to the f64 tolerance.
    for case in HEAD_F32 {
        let s: ArrayD<f32> = NOTEBOOK.load(&format!("head/{case}.s.npy"));
        let w1: Array2<f32> = NOTEBOOK.load(&format!("head/{case}.w1.npy"));
        let w2: Array2<f32> = NOTEBOOK.load(&format!("head/{case}.w2.npy"));
        let head = head_of::<f64>(case, w1.mapv(f64::from), w2.mapv(f64::from));
        let out = head.forward(&s.mapv(f64::from)).expect("forward");
        let logits: ArrayD<f64> = NOTEBOOK.load(&format!("head/{case}.logits.npy"));
        let bfactor: ArrayD<f64> = NOTEBOOK.load(&format!("head/{case}.bfactor.npy"));
        let probs: ArrayD<f64> = NOTEBOOK.load(&format!("head/{case}.probs.npy"));
        let tag = format!("{case} (f64 on widened inputs)");
        assert_close(&format!("{tag} logits"), &out.logits, &logits, F64_RTOL);
        assert_close(&format!("{tag} bfactor"), &out.bfactor, &bfactor, F64_RTOL);
        assert_close(
            &format!("{tag} probs"),
            &out.probabilities(),
            &probs,
            F64_RTOL,
        );
    }
}

#[test]
fn head_constant_row_gives_exactly_uniform_bins() {
    // Row 3 of the (7, 16) cases is the constant 2.0: both layer norms give exact
    // zeros, so the logits are exactly 0 (as in NumPy) and the bins uniform.
    fn check<F: Float + ReadableElement + Widen>(case: &str) {
        let s: Array2<F> = NOTEBOOK.load(&format!("head/{case}.s.npy"));
        assert!(s.row(3).iter().all(|v| v.widen() == 2.0), "{case}: row 3");
        let numpy: Array2<f64> = NOTEBOOK.load(&format!("head/{case}.logits.npy"));
        assert!(
            numpy.row(3).iter().all(|&l| l == 0.0),
            "{case}: NumPy row 3"
        );
        let head = head_of::<F>(
            case,
            NOTEBOOK.load(&format!("head/{case}.w1.npy")),
            NOTEBOOK.load(&format!("head/{case}.w2.npy")),
        );
        let out = head.forward(&s).expect("forward");
        let k = out.logits.ncols() as f64;
        assert!(
            out.logits.row(3).iter().all(|l| l.widen() == 0.0),
            "{case}: logits of the constant row are {}",
            out.logits.row(3)
        );
        let p = out.probabilities();
        assert!(
            p.row(3).iter().all(|v| v.widen() == 1.0 / k),
            "{case}: probabilities of the constant row are {}",
            p.row(3)
        );
    }
    check::<f64>("f64_n7_c16_b64");
    check::<f32>("f32_n7_c16_b64");
}

/// The loss functions on one case's inputs in element type `F`, against one row of
/// `expected` (`[normalized_mse, pearson]`, plus the notebook's `bfactor_loss` for
/// some 1-D cases).
fn check_loss_in<F, D>(
    tag: &str,
    kind: Mask,
    pred: Array<F, D>,
    target: Array<F, D>,
    mask: Option<Array<F, D>>,
    expected: ArrayView1<f64>,
    rtol: f64,
) where
    F: Float + Widen,
    D: Dimension,
{
    let (mse_e, r_e) = (expected[0], expected[1]);
    let ones = Array::<F, D>::ones(pred.raw_dim());
    let fail = |what: &str, e: bfactor::Error| -> ! { panic!("{tag}: {what} failed: {e}") };

    // Unmasked functions: only where the reference is the unmasked notebook loss.
    if matches!(kind, Mask::None | Mask::Ones) {
        let mse = loss::normalized_mse(&pred, &target).unwrap_or_else(|e| fail("mse", e));
        let r = loss::pearson(&pred, &target).unwrap_or_else(|e| fail("pearson", e));
        assert_close_scalar(&format!("{tag} normalized_mse"), mse.widen(), mse_e, rtol);
        assert_close_scalar(&format!("{tag} pearson"), r.widen(), r_e, rtol);
    }

    // Masked functions: with the stored mask, or with ones for unmasked cases.
    let m = mask.as_ref().unwrap_or(&ones);
    let mse = loss::normalized_mse_masked(&pred, &target, m)
        .unwrap_or_else(|e| fail("normalized_mse_masked", e));
    let r = loss::pearson_masked(&pred, &target, m).unwrap_or_else(|e| fail("pearson_masked", e));
    assert_close_scalar(
        &format!("{tag} normalized_mse_masked"),
        mse.widen(),
        mse_e,
        rtol,
    );
    assert_close_scalar(&format!("{tag} pearson_masked"), r.widen(), r_e, rtol);

    if let Some(&notebook) = expected.get(2) {
        match kind {
            Mask::None | Mask::Ones => {
                // The notebook's bfactor_loss(pred, target[, ones]).
                let tol = rtol.max(NOTEBOOK_LOSS_RTOL);
                let unmasked = loss::normalized_mse(&pred, &target).expect("mse");
                for (which, v) in [("unmasked", unmasked), ("ones mask", mse)] {
                    assert_close_scalar(
                        &format!("{tag} {which} vs notebook bfactor_loss"),
                        v.widen(),
                        notebook,
                        tol,
                    );
                }
            }
            Mask::Binary => {
                // Documented divergence: the notebook's statistics count padding.
                assert!(
                    !is_close(mse.widen(), notebook, 0.1),
                    "{tag}: masked loss {mse} should differ from the notebook's \
                     padding-sensitive bfactor_loss {notebook}"
                );
            }
            Mask::Weighted => panic!("{tag}: no notebook value for fractional weights"),
        }
    }
}

fn check_loss_case<D: Dimension>(case: &str, kind: Mask) {
    let inputs: ArrayD<f64> = NOTEBOOK.load(&format!("loss/{case}.inputs.npy"));
    let expected: Array2<f64> = NOTEBOOK.load(&format!("loss/{case}.expected.npy"));
    let n_inputs = if kind == Mask::None { 2 } else { 3 };
    assert_eq!(
        inputs.len_of(Axis(0)),
        n_inputs,
        "{case}: inputs stack pred, target[, mask]"
    );
    assert_eq!(expected.nrows(), 2, "{case}: expected has f64 and f32 rows");
    let part = |k: usize| -> Array<f64, D> {
        inputs
            .index_axis(Axis(0), k)
            .to_owned()
            .into_dimensionality::<D>()
            .unwrap_or_else(|e| panic!("{case}: input {k} has the wrong rank: {e}"))
    };
    let (pred, target) = (part(0), part(1));
    let mask = (n_inputs == 3).then(|| part(2));
    if kind == Mask::Ones {
        assert!(
            mask.iter().flatten().all(|&w| w == 1.0),
            "{case}: mask of ones"
        );
    }

    check_loss_in(
        &format!("{case} (f64)"),
        kind,
        pred.clone(),
        target.clone(),
        mask.clone(),
        expected.row(0),
        F64_RTOL,
    );
    // f32: the inputs rounded to nearest, as NumPy's astype(float32) rounds them.
    let round = |a: &Array<f64, D>| a.mapv(|v| v as f32);
    check_loss_in(
        &format!("{case} (f32)"),
        kind,
        round(&pred),
        round(&target),
        mask.as_ref().map(round),
        expected.row(1),
        F32_RTOL,
    );
}

#[test]
fn losses_match_numpy() {
    for &(case, kind) in LOSS_CASES {
        if case.starts_with("1d") {
            check_loss_case::<Ix1>(case, kind);
        } else {
            check_loss_case::<Ix2>(case, kind);
        }
    }
}

#[test]
fn notebook_cell_figures_match_numpy() {
    // examples/synthetic_termini.rs, step for step.
    let (n, c_s) = (50, 128);
    let mut rng = NumpyRandom::seed(42);
    let s = rng.randn((n, c_s));
    let head = BFactorHeadConfig::new(c_s)
        .init_numpy::<f64>(&mut rng)
        .expect("init_numpy");
    let out = head.forward(&s).expect("forward");
    let pred = &out.bfactor;
    let (lo, hi) = pred
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &b| {
            (lo.min(b), hi.max(b))
        });
    let truth = synthetic::termini_profile(n);
    let mse = loss::normalized_mse(pred, &truth).expect("normalized_mse");
    let corr = loss::pearson(pred, &truth).expect("pearson");

    let figures: Array1<f64> = NOTEBOOK.load("notebook_figures.npy");
    assert_eq!(figures.len(), 4, "[min, max, loss, correlation]");
    for (i, (name, actual)) in [
        ("B-factor min", lo),
        ("B-factor max", hi),
        ("loss", mse),
        ("correlation", corr),
    ]
    .into_iter()
    .enumerate()
    {
        assert_close_scalar(&format!("notebook {name}"), actual, figures[i], F64_RTOL);
    }
    let pred_numpy: Array1<f64> = NOTEBOOK.load("pred_bfactor.npy");
    assert_close("notebook pred_bfactor", pred, &pred_numpy, F64_RTOL);
    let truth_numpy: Array1<f64> = NOTEBOOK.load("true_bfactor.npy");
    assert_close("notebook true_bfactor", &truth, &truth_numpy, F64_RTOL);

    // The draws are the notebook's bit for bit: s, then W1 and W2 scaled by
    // c_s ** -0.5 (stored as the head case f64_n50_c128_b64).
    let case = "f64_n50_c128_b64";
    assert_eq!(
        s,
        NOTEBOOK.load::<f64, Ix2>(&format!("head/{case}.s.npy")),
        "s"
    );
    assert_eq!(
        head.w1(),
        &NOTEBOOK.load::<f64, Ix2>(&format!("head/{case}.w1.npy")),
        "W1"
    );
    assert_eq!(
        head.w2(),
        &NOTEBOOK.load::<f64, Ix2>(&format!("head/{case}.w2.npy")),
        "W2"
    );
    let logits: Array2<f64> = NOTEBOOK.load(&format!("head/{case}.logits.npy"));
    assert_close("notebook logits", &out.logits, &logits, F64_RTOL);

    // The lines the notebook cell prints with NumPy (seed 42).
    assert_eq!(
        format!("[{lo:.1}, {hi:.1}] {mse:.4} {corr:.3}"),
        "[38.2, 63.3] 1.3628 0.319"
    );
}
