//! Boltz-2's head and binned loss against real PyTorch: `torch.nn.Linear`,
//! `torch.linspace`, `log_softmax` and Boltz-2's `bfactor_loss_fn` arithmetic.
//! The fixtures in `tests/fixtures/boltz2/` come from
//! `scripts/gen_boltz2_fixtures.py` (see its docstring for every array).
//!
//! Tolerances: `|actual - expected| <= rtol * max(|expected|, 1)` with
//! `rtol = 1e-5` for `f32` and `1e-12` for `f64`; boundaries and target bins are
//! compared exactly.

mod common;

use bfactor::boltz2::Boltz2Head;
use bfactor::{bins, loss, ops, BFactorHead, BFactorHeadConfig};
use common::{assert_close, assert_close_scalar, Npz, BOLTZ2};
use ndarray::{Array, Array1, Array2, ArrayBase, Axis, Data, Dimension, Ix2, Ix3, RemoveAxis};

const RTOL_F32: f64 = 1e-5;
const RTOL_F64: f64 = 1e-12;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn widen<S: Data<Elem = f32>, D: Dimension>(a: &ArrayBase<S, D>) -> Array<f64, D> {
    a.mapv(f64::from)
}

const MODULE_CASES: &[(usize, usize)] = &[(384, 64), (16, 10), (7, 3)];

fn module_case(c: usize, k: usize) -> Npz {
    BOLTZ2.npz(&format!("module/c{c}_b{k}.npz"))
}

fn heads(npz: &mut Npz) -> (Boltz2Head<f32>, Boltz2Head<f64>) {
    let w: Array2<f32> = npz.get("weight");
    let b: Array1<f32> = npz.get("bias");
    let h32 = Boltz2Head::from_weights(w.clone(), b.clone()).unwrap();
    let h64 = Boltz2Head::from_weights(widen(&w), widen(&b)).unwrap();
    (h32, h64)
}

// ---------------------------------------------------------------------------
// the module: nn.Linear
// ---------------------------------------------------------------------------

#[test]
fn forward_matches_torch_linear() {
    for &(c, k) in MODULE_CASES {
        let mut npz = module_case(c, k);
        let (h32, h64) = heads(&mut npz);
        assert_eq!((h32.config().token_s, h32.config().num_bins), (c, k));
        assert_eq!((h64.config().token_s, h64.config().num_bins), (c, k));

        let s: Array<f32, Ix3> = npz.get("s_f32");
        let out = h32.logits(&s).unwrap();
        let want: Array<f32, Ix3> = npz.get("logits3_f32");
        assert_close(&format!("c{c}_b{k} f32 [B, N, C]"), &out, &want, RTOL_F32);
        // 2-D input, from a view: torch's separate 2-D call.
        let out = h32.logits(&s.index_axis(Axis(0), 0)).unwrap();
        let want: Array<f32, Ix2> = npz.get("logits2_f32");
        assert_close(&format!("c{c}_b{k} f32 [N, C]"), &out, &want, RTOL_F32);

        let s: Array<f64, Ix3> = npz.get("s_f64");
        let out = h64.logits(&s).unwrap();
        let want: Array<f64, Ix3> = npz.get("logits3_f64");
        assert_close(&format!("c{c}_b{k} f64 [B, N, C]"), &out, &want, RTOL_F64);
        let out = h64.logits(&s.index_axis(Axis(0), 0)).unwrap();
        let want: Array<f64, Ix2> = npz.get("logits2_f64");
        assert_close(&format!("c{c}_b{k} f64 [N, C]"), &out, &want, RTOL_F64);
    }
}

#[test]
fn forward_on_a_non_standard_layout_view() {
    let mut npz = module_case(16, 10);
    let (_, h64) = heads(&mut npz);
    let s: Array<f64, Ix3> = npz.get("s_f64");
    let want: Array<f64, Ix3> = npz.get("logits3_f64");
    // [B, N, C] stored as [N, B, C] in memory, viewed back with permuted axes.
    let permuted = s
        .view()
        .permuted_axes([1, 0, 2])
        .as_standard_layout()
        .into_owned();
    let view = permuted.view().permuted_axes([1, 0, 2]);
    assert!(!view.is_standard_layout());
    assert_close("permuted", &h64.logits(&view).unwrap(), &want, RTOL_F64);
}

/// `Σ softmax(logits)_k · centers_k` in float64, independently of the crate's
/// kernels.
fn expectation(logits: &[f64], centers: &[f64]) -> f64 {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = logits.iter().map(|&l| (l - max).exp()).collect();
    let z: f64 = w.iter().sum();
    w.iter().zip(centers).map(|(w, c)| w * c).sum::<f64>() / z
}

#[test]
fn predict_is_the_softmax_expectation_over_boltz2_centers() {
    for &(c, k) in MODULE_CASES {
        let mut npz = module_case(c, k);
        let (h32, h64) = heads(&mut npz);
        let centers = bins::boltz2_centers::<f64>(k);
        let centers = centers.as_slice().unwrap();
        // The documented convention, recomputed here.
        let w = 100.0 / (k - 2) as f64;
        assert_eq!(centers[0], 0.0);
        for (i, &ci) in centers.iter().enumerate().skip(1) {
            assert_close_scalar("center", ci, (i as f64 - 0.5) * w, 1e-15);
        }
        assert_eq!(h64.bin_centers().as_slice().unwrap(), centers);

        for (tag, rtol) in [("f32", RTOL_F32), ("f64", RTOL_F64)] {
            let torch_logits: Array<f64, Ix3> = if tag == "f32" {
                widen(&npz.get::<f32, Ix3>("logits3_f32"))
            } else {
                npz.get("logits3_f64")
            };
            let want =
                Array::from_shape_fn(torch_logits.raw_dim().remove_axis(Axis(2)), |(i, j)| {
                    let row = torch_logits.slice(ndarray::s![i, j, ..]).to_vec();
                    expectation(&row, centers)
                });
            if tag == "f32" {
                let s: Array<f32, Ix3> = npz.get("s_f32");
                let out = h32.forward(&s).unwrap();
                assert_eq!(out.logits, h32.logits(&s).unwrap());
                assert_close(&format!("c{c}_b{k} f32"), &widen(&out.bfactor), &want, rtol);
            } else {
                let s: Array<f64, Ix3> = npz.get("s_f64");
                let out = h64.forward(&s).unwrap();
                assert_eq!(out.logits, h64.logits(&s).unwrap());
                assert_close(&format!("c{c}_b{k} f64"), &out.bfactor, &want, rtol);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// boundaries: torch.linspace(0, 100, k - 1) in float32, bit for bit
// ---------------------------------------------------------------------------

#[test]
fn boundaries_are_bit_exact_torch_linspace() {
    let mut npz = BOLTZ2.npz("boundaries.npz");
    let values: Array1<f32> = npz.get("values");
    let offsets: Array1<i64> = npz.get("offsets");
    assert_eq!(offsets.len(), 131);
    let mut mismatches = vec![];
    for k in 2..=130usize {
        let (lo, hi) = (offsets[k - 1] as usize, offsets[k] as usize);
        let want = values.slice(ndarray::s![lo..hi]);
        assert_eq!(want.len(), k - 1);
        let got = bins::boltz2_boundaries::<f32>(k);
        assert_eq!(got.len(), k - 1, "k = {k}");
        for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
            if g.to_bits() != w.to_bits() {
                mismatches.push(format!("k={k} i={i}: rust {g:e} torch {w:e}"));
            }
        }
        // f64: the same float32 values, widened exactly.
        let got64 = bins::boltz2_boundaries::<f64>(k);
        assert_eq!(got64, widen(&want), "k = {k} (f64)");
    }
    assert!(
        mismatches.is_empty(),
        "{} boundaries differ from torch:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(bins::boltz2_boundaries::<f32>(0).len(), 0);
    assert_eq!(bins::boltz2_boundaries::<f32>(1).len(), 0);
}

// ---------------------------------------------------------------------------
// the loss
// ---------------------------------------------------------------------------

struct LossCase {
    name: &'static str,
    npz: Npz,
}

impl LossCase {
    /// The logits `[.., K]` and the B-factors `[..]` at rank `D` of the logits.
    fn arrays<D: RemoveAxis>(&mut self) -> (Array<f32, D>, Array<f32, D::Smaller>) {
        (self.npz.get("logits"), self.npz.get("bfactor"))
    }
}

/// Runs `batched` on the 3-D batch cases and `single` on the 2-D one: each case
/// at its own rank.
fn for_each_case(batched: fn(&mut LossCase), single: fn(&mut LossCase)) {
    for name in ["batch64", "n10", "masked"] {
        let mut case = LossCase {
            name,
            npz: BOLTZ2.npz(&format!("loss/{name}.npz")),
        };
        if name == "n10" {
            single(&mut case);
        } else {
            batched(&mut case);
        }
    }
}

fn check_target_bins<D: RemoveAxis>(case: &mut LossCase) {
    let name = case.name;
    let (logits, b) = case.arrays::<D>();
    let want: Array<i64, D::Smaller> = case.npz.get("bins");
    let k = logits.shape()[logits.ndim() - 1];
    let got = loss::bfactor_bins(&b, k).unwrap();
    assert_eq!(got.mapv(|v| v as i64), want, "{name} f32");
    let got = loss::bfactor_bins(&widen(&b), k).unwrap();
    assert_eq!(got.mapv(|v| v as i64), want, "{name} f64");
}

#[test]
fn target_bins_match_torch_exactly() {
    for_each_case(check_target_bins::<Ix3>, check_target_bins::<Ix2>);
}

#[test]
fn boundary_values_stay_in_the_lower_bin() {
    // B exactly on boundary i (float32) has exactly i boundaries strictly below.
    for k in [3usize, 10, 64, 129] {
        let bounds = bins::boltz2_boundaries::<f32>(k);
        let got = loss::bfactor_bins(&bounds, k).unwrap();
        assert_eq!(got, Array1::from_iter(0..k - 1), "k = {k}");
    }
}

fn check_errors_and_loss<D: RemoveAxis>(case: &mut LossCase) {
    let name = case.name;
    let loss32: f32 = case.npz.scalar("loss32");
    let loss64: f64 = case.npz.scalar("loss64");
    let (logits, b) = case.arrays::<D>();
    let want32: Array<f32, D::Smaller> = case.npz.get("errors32");
    let want64: Array<f64, D::Smaller> = case.npz.get("errors64");
    let err = loss::binned_cross_entropy_per_token(&logits, &b).unwrap();
    assert_close(&format!("{name} errors f32"), &err, &want32, RTOL_F32);
    let (l64, b64) = (widen(&logits), widen(&b));
    let err = loss::binned_cross_entropy_per_token(&l64, &b64).unwrap();
    assert_close(&format!("{name} errors f64"), &err, &want64, RTOL_F64);
    let got32 = loss::binned_cross_entropy(&logits, &b).unwrap();
    let got64 = loss::binned_cross_entropy(&l64, &b64).unwrap();
    assert_close_scalar(
        &format!("{name} loss f32"),
        got32 as f64,
        loss32 as f64,
        RTOL_F32,
    );
    assert_close_scalar(&format!("{name} loss f64"), got64, loss64, RTOL_F64);
}

#[test]
fn per_token_errors_and_loss_match_torch() {
    for_each_case(check_errors_and_loss::<Ix3>, check_errors_and_loss::<Ix2>);
}

#[test]
fn explicit_mask_matches_torch() {
    let mut npz = BOLTZ2.npz("loss/batch64.npz");
    let logits: Array<f32, Ix3> = npz.get("logits");
    let b: Array<f32, Ix2> = npz.get("bfactor");
    let mask: Array<f32, Ix2> = npz.get("mask");
    let want32: f32 = npz.scalar("masked_loss32");
    let want64: f64 = npz.scalar("masked_loss64");
    let got = loss::binned_cross_entropy_masked(&logits, &b, &mask).unwrap();
    assert_close_scalar("masked f32", got as f64, want32 as f64, RTOL_F32);
    let got =
        loss::binned_cross_entropy_masked(&widen(&logits), &widen(&b), &widen(&mask)).unwrap();
    assert_close_scalar("masked f64", got, want64, RTOL_F64);

    // A mask of ones is the unmasked loss, bit for bit.
    let ones = Array2::<f64>::ones(b.raw_dim());
    let (l64, b64) = (widen(&logits), widen(&b));
    assert_eq!(
        loss::binned_cross_entropy_masked(&l64, &b64, &ones).unwrap(),
        loss::binned_cross_entropy(&l64, &b64).unwrap()
    );
    // A mask of zeros masks everything: exactly 0.
    let zeros = Array2::<f64>::zeros(b.raw_dim());
    assert_eq!(
        loss::binned_cross_entropy_masked(&l64, &b64, &zeros).unwrap(),
        0.0
    );
}

#[test]
fn fully_masked_batch_is_exactly_zero() {
    let mut npz = BOLTZ2.npz("loss/masked.npz");
    let logits: Array<f32, Ix3> = npz.get("logits");
    let b: Array<f32, Ix2> = npz.get("bfactor");
    assert_eq!(npz.scalar::<f32>("loss32"), 0.0);
    assert_eq!(npz.scalar::<f64>("loss64"), 0.0);
    let got = loss::binned_cross_entropy(&logits, &b).unwrap();
    assert_eq!(got.to_bits(), 0.0_f32.to_bits(), "{got:e}");
    let got = loss::binned_cross_entropy(&widen(&logits), &widen(&b)).unwrap();
    assert_eq!(got.to_bits(), 0.0_f64.to_bits(), "{got:e}");
}

#[test]
fn logits_at_plus_minus_1e4_stay_finite() {
    let mut npz = BOLTZ2.npz("loss/batch64.npz");
    let logits: Array<f32, Ix3> = npz.get("logits");
    let b: Array<f32, Ix2> = npz.get("bfactor");
    let extreme: Vec<(usize, usize)> = logits
        .lanes(Axis(2))
        .into_iter()
        .enumerate()
        .filter(|(_, r)| r.iter().any(|v| v.abs() == 1e4))
        .map(|(i, _)| (i / b.ncols(), i % b.ncols()))
        .collect();
    assert_eq!(extreme.len(), 4, "the fixture has four rows at +-1e4");
    let want32: Array<f32, Ix2> = npz.get("errors32");
    let err32 = loss::binned_cross_entropy_per_token(&logits, &b).unwrap();
    let err64 = loss::binned_cross_entropy_per_token(&widen(&logits), &widen(&b)).unwrap();
    for &(i, j) in &extreme {
        assert!(err32[[i, j]].is_finite() && err64[[i, j]].is_finite());
        assert_close_scalar(
            "1e4 row",
            err32[[i, j]] as f64,
            want32[[i, j]] as f64,
            RTOL_F32,
        );
    }
    // One row is uniform (all 1e4): ln 64; one has its target at 1e4: ~0;
    // one has another bin at 1e4 and the rest at -1e4: ~2e4.
    let errs: Vec<f64> = extreme.iter().map(|&(i, j)| err64[[i, j]]).collect();
    assert!(
        errs.iter().any(|&e| (e - 64f64.ln()).abs() < 1e-12),
        "{errs:?}"
    );
    assert!(errs.iter().any(|&e| e.abs() < 1e-12), "{errs:?}");
    assert!(errs.iter().any(|&e| (e - 2e4).abs() < 1e-9), "{errs:?}");

    // Every row at +-1e4, and the head's prediction on huge logits.
    let huge = Array::from_shape_fn((2, 5, 64), |(i, j, k)| {
        if (i + j + k) % 3 == 0 {
            1e4_f32
        } else {
            -1e4
        }
    });
    let bh = Array2::from_shape_fn((2, 5), |(i, j)| 7.0 + 19.0 * (i * 5 + j) as f32);
    assert!(loss::binned_cross_entropy(&huge, &bh).unwrap().is_finite());
    assert!(
        loss::binned_cross_entropy(&huge.mapv(f64::from), &bh.mapv(f64::from))
            .unwrap()
            .is_finite()
    );
    let e = ops::softmax_expectation(&huge, bins::boltz2_centers::<f32>(64).as_slice().unwrap())
        .unwrap();
    assert!(e.iter().all(|v| v.is_finite()));
}

// ---------------------------------------------------------------------------
// the notebook head's logits trained with the binned loss
// ---------------------------------------------------------------------------

#[test]
fn notebook_head_logits_with_binned_loss_match_torch() {
    let mut npz = BOLTZ2.npz("loss/notebook.npz");
    let s: Array<f32, Ix3> = npz.get("s");
    let w1: Array2<f32> = npz.get("w1");
    let w2: Array2<f32> = npz.get("w2");
    let b: Array<f32, Ix2> = npz.get("bfactor");
    let logits64: Array<f64, Ix3> = npz.get("logits64");
    let want32: f32 = npz.scalar("loss32");
    let want64: f64 = npz.scalar("loss64");
    let config = BFactorHeadConfig::new(w1.nrows());
    assert_eq!(config.num_bins, 64);

    let h32 = BFactorHead::from_weights(config.clone(), w1.clone(), w2.clone()).unwrap();
    let out = h32.forward(&s).unwrap();
    let got = loss::binned_cross_entropy(&out.logits, &b).unwrap();
    assert_close_scalar("notebook loss f32", got as f64, want32 as f64, RTOL_F32);

    let h64 = BFactorHead::from_weights(config, widen(&w1), widen(&w2)).unwrap();
    let out = h64.forward(&widen(&s)).unwrap();
    assert_close("notebook logits f64", &out.logits, &logits64, RTOL_F64);
    let got = loss::binned_cross_entropy(&out.logits, &widen(&b)).unwrap();
    assert_close_scalar("notebook loss f64", got, want64, RTOL_F64);
}

/// Finite weights and input can overflow to infinite logits; that must be an error,
/// not a NaN (or a NaN clamped to 0) in the decoded B-factors.
#[test]
fn overflowing_logits_are_an_error_for_both_heads() {
    use bfactor::{BFactorHead, BFactorHeadConfig, Error};
    let boltz = Boltz2Head::from_weights(
        ndarray::Array2::<f32>::from_elem((4, 3), 1e30),
        ndarray::Array1::<f32>::zeros(4),
    )
    .unwrap();
    let s = ndarray::Array2::<f32>::from_elem((2, 3), 1e30);
    for err in [
        boltz.logits(&s).unwrap_err(),
        boltz.forward(&s).unwrap_err(),
    ] {
        assert!(
            matches!(&err, Error::NonFinite { what, .. } if what.starts_with("logits")),
            "{err}"
        );
    }
    let config = BFactorHeadConfig::new(3).with_num_bins(4);
    let w1 = ndarray::Array2::<f32>::eye(3);
    let w2 = ndarray::Array2::<f32>::from_elem((3, 4), 3e38);
    let head = BFactorHead::from_weights(config, w1, w2).unwrap();
    let s = ndarray::array![[1.0_f32, 2.0, 3.0]];
    let err = head.forward(&s).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, .. } if what.starts_with("logits")),
        "{err}"
    );
}
