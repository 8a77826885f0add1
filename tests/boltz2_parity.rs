//! Boltz-2's head and binned loss against real PyTorch: `torch.nn.Linear`,
//! `torch.linspace`, `log_softmax` and Boltz-2's `bfactor_loss_fn` arithmetic.
//! The fixtures in `tests/fixtures/boltz2/` come from
//! `scripts/gen_boltz2_fixtures.py` (see its docstring for every array).
//!
//! Tolerances: `|actual - expected| <= rtol * max(|expected|, 1)` with
//! `rtol = 1e-5` for `f32` and `1e-12` for `f64`; boundaries and target bins are
//! compared exactly.

use std::fs::File;
use std::path::PathBuf;

use bfactor::boltz2::Boltz2Head;
use bfactor::{bins, loss, ops, BFactorHead, BFactorHeadConfig, Float};
use ndarray::{Array, Array1, Array2, ArrayBase, Axis, Data, Dimension, Ix1, Ix2, Ix3, RemoveAxis};
use ndarray_npy::{NpzReader, ReadableElement};

const RTOL_F32: f64 = 1e-5;
const RTOL_F64: f64 = 1e-12;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/boltz2")
        .join(rel)
}

struct Npz(NpzReader<File>, String);

impl Npz {
    fn open(rel: &str) -> Self {
        let path = fixture(rel);
        let file = File::open(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `python scripts/gen_boltz2_fixtures.py`",
                path.display()
            )
        });
        Npz(NpzReader::new(file).expect("npz"), rel.to_string())
    }

    fn get<T: ReadableElement, D: Dimension>(&mut self, name: &str) -> Array<T, D> {
        self.0
            .by_name(name)
            .unwrap_or_else(|e| panic!("{}: {name}: {e}", self.1))
    }

    /// A one-element array as a number.
    fn scalar<T: ReadableElement + Copy>(&mut self, name: &str) -> T {
        let a: Array1<T> = self.get(name);
        assert_eq!(a.len(), 1, "{name}");
        a[0]
    }
}

fn widen<S: Data<Elem = f32>, D: Dimension>(a: &ArrayBase<S, D>) -> Array<f64, D> {
    a.mapv(f64::from)
}

/// `|a - e| <= rtol * max(|e|, 1)` element-wise, after checking the shapes.
#[track_caller]
fn assert_close<A, S1, S2, D>(
    actual: &ArrayBase<S1, D>,
    expected: &ArrayBase<S2, D>,
    rtol: f64,
    what: &str,
) where
    A: Float,
    S1: Data<Elem = A>,
    S2: Data<Elem = A>,
    D: Dimension,
{
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    for ((idx, &a), &e) in actual.view().into_dyn().indexed_iter().zip(expected.iter()) {
        let (a, e) = (a.to_f64_exact(), e.to_f64_exact());
        let bound = rtol * e.abs().max(1.0);
        let err = (a - e).abs();
        assert!(
            err <= bound,
            "{what}: at {:?}: got {a:e}, expected {e:e} (|diff| {err:e} > {bound:e})",
            idx.slice()
        );
    }
}

#[track_caller]
fn assert_close_scalar(actual: f64, expected: f64, rtol: f64, what: &str) {
    let bound = rtol * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= bound,
        "{what}: got {actual:e}, expected {expected:e} (|diff| {:e} > {bound:e})",
        (actual - expected).abs()
    );
}

const MODULE_CASES: &[(usize, usize)] = &[(384, 64), (16, 10), (7, 3)];

fn module_case(c: usize, k: usize) -> Npz {
    Npz::open(&format!("module/c{c}_b{k}.npz"))
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
        let out = h32.forward(&s).unwrap();
        let want: Array<f32, Ix3> = npz.get("logits3_f32");
        assert_close(&out, &want, RTOL_F32, &format!("c{c}_b{k} f32 [B, N, C]"));
        // 2-D input, from a view: torch's separate 2-D call.
        let out = h32.forward(&s.index_axis(Axis(0), 0)).unwrap();
        let want: Array<f32, Ix2> = npz.get("logits2_f32");
        assert_close(&out, &want, RTOL_F32, &format!("c{c}_b{k} f32 [N, C]"));

        let s: Array<f64, Ix3> = npz.get("s_f64");
        let out = h64.forward(&s).unwrap();
        let want: Array<f64, Ix3> = npz.get("logits3_f64");
        assert_close(&out, &want, RTOL_F64, &format!("c{c}_b{k} f64 [B, N, C]"));
        let out = h64.forward(&s.index_axis(Axis(0), 0)).unwrap();
        let want: Array<f64, Ix2> = npz.get("logits2_f64");
        assert_close(&out, &want, RTOL_F64, &format!("c{c}_b{k} f64 [N, C]"));
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
    assert_close(&h64.forward(&view).unwrap(), &want, RTOL_F64, "permuted");
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
            assert_close_scalar(ci, (i as f64 - 0.5) * w, 1e-15, "center");
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
                let out = h32.predict(&s).unwrap();
                assert_eq!(out.logits, h32.forward(&s).unwrap());
                assert_close(&widen(&out.bfactor), &want, rtol, &format!("c{c}_b{k} f32"));
            } else {
                let s: Array<f64, Ix3> = npz.get("s_f64");
                let out = h64.predict(&s).unwrap();
                assert_eq!(out.logits, h64.forward(&s).unwrap());
                assert_close(&out.bfactor, &want, rtol, &format!("c{c}_b{k} f64"));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// boundaries: torch.linspace(0, 100, k - 1) in float32, bit for bit
// ---------------------------------------------------------------------------

#[test]
fn boundaries_are_bit_exact_torch_linspace() {
    let mut npz = Npz::open("boundaries.npz");
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

fn loss_cases() -> Vec<LossCase> {
    ["batch64", "n10", "masked"]
        .into_iter()
        .map(|name| LossCase {
            name,
            npz: Npz::open(&format!("loss/{name}.npz")),
        })
        .collect()
}

/// Runs `f` on the case's arrays at their own rank (3-D batch or 2-D).
macro_rules! with_case {
    ($case:expr, |$logits:ident, $b:ident, $dim:ty, $bdim:ty| $body:block) => {{
        let $logits: Array<f32, $dim> = $case.npz.get("logits");
        let $b: Array<f32, $bdim> = $case.npz.get("bfactor");
        $body
    }};
}

fn for_each_case(mut f: impl FnMut(&mut LossCase, bool)) {
    for mut case in loss_cases() {
        let batched = case.name != "n10";
        f(&mut case, batched);
    }
}

#[test]
fn target_bins_match_torch_exactly() {
    for_each_case(|case, batched| {
        let name = case.name;
        if batched {
            with_case!(case, |logits, b, Ix3, Ix2| {
                let want: Array<i64, Ix2> = case.npz.get("bins");
                let k = logits.shape()[2];
                let got = loss::bfactor_bins(&b, k).unwrap();
                assert_eq!(got.mapv(|v| v as i64), want, "{name} f32");
                let got = loss::bfactor_bins(&widen(&b), k).unwrap();
                assert_eq!(got.mapv(|v| v as i64), want, "{name} f64");
            })
        } else {
            with_case!(case, |logits, b, Ix2, Ix1| {
                let want: Array<i64, Ix1> = case.npz.get("bins");
                let k = logits.shape()[1];
                let got = loss::bfactor_bins(&b, k).unwrap();
                assert_eq!(got.mapv(|v| v as i64), want, "{name} f32");
                let got = loss::bfactor_bins(&widen(&b), k).unwrap();
                assert_eq!(got.mapv(|v| v as i64), want, "{name} f64");
            })
        }
    });
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

#[test]
fn per_token_errors_and_loss_match_torch() {
    for_each_case(|case, batched| {
        let name = case.name;
        let e32 = format!("{name} errors f32");
        let e64 = format!("{name} errors f64");
        let loss32: f32 = case.npz.scalar("loss32");
        let loss64: f64 = case.npz.scalar("loss64");
        let (got32, got64) = if batched {
            with_case!(case, |logits, b, Ix3, Ix2| {
                let want32: Array<f32, Ix2> = case.npz.get("errors32");
                let want64: Array<f64, Ix2> = case.npz.get("errors64");
                let err = loss::binned_cross_entropy_per_token(&logits, &b).unwrap();
                assert_close(&err, &want32, RTOL_F32, &e32);
                let (l64, b64) = (widen(&logits), widen(&b));
                let err = loss::binned_cross_entropy_per_token(&l64, &b64).unwrap();
                assert_close(&err, &want64, RTOL_F64, &e64);
                (
                    loss::binned_cross_entropy(&logits, &b).unwrap(),
                    loss::binned_cross_entropy(&l64, &b64).unwrap(),
                )
            })
        } else {
            with_case!(case, |logits, b, Ix2, Ix1| {
                let want32: Array<f32, Ix1> = case.npz.get("errors32");
                let want64: Array<f64, Ix1> = case.npz.get("errors64");
                let err = loss::binned_cross_entropy_per_token(&logits, &b).unwrap();
                assert_close(&err, &want32, RTOL_F32, &e32);
                let (l64, b64) = (widen(&logits), widen(&b));
                let err = loss::binned_cross_entropy_per_token(&l64, &b64).unwrap();
                assert_close(&err, &want64, RTOL_F64, &e64);
                (
                    loss::binned_cross_entropy(&logits, &b).unwrap(),
                    loss::binned_cross_entropy(&l64, &b64).unwrap(),
                )
            })
        };
        assert_close_scalar(
            got32 as f64,
            loss32 as f64,
            RTOL_F32,
            &format!("{name} loss f32"),
        );
        assert_close_scalar(got64, loss64, RTOL_F64, &format!("{name} loss f64"));
    });
}

#[test]
fn explicit_mask_matches_torch() {
    let mut npz = Npz::open("loss/batch64.npz");
    let logits: Array<f32, Ix3> = npz.get("logits");
    let b: Array<f32, Ix2> = npz.get("bfactor");
    let mask: Array<f32, Ix2> = npz.get("mask");
    let want32: f32 = npz.scalar("masked_loss32");
    let want64: f64 = npz.scalar("masked_loss64");
    let got = loss::binned_cross_entropy_masked(&logits, &b, &mask).unwrap();
    assert_close_scalar(got as f64, want32 as f64, RTOL_F32, "masked f32");
    let got =
        loss::binned_cross_entropy_masked(&widen(&logits), &widen(&b), &widen(&mask)).unwrap();
    assert_close_scalar(got, want64, RTOL_F64, "masked f64");

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
    let mut npz = Npz::open("loss/masked.npz");
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
    let mut npz = Npz::open("loss/batch64.npz");
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
            err32[[i, j]] as f64,
            want32[[i, j]] as f64,
            RTOL_F32,
            "1e4 row",
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
    let mut npz = Npz::open("loss/notebook.npz");
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
    assert_close_scalar(got as f64, want32 as f64, RTOL_F32, "notebook loss f32");

    let h64 = BFactorHead::from_weights(config, widen(&w1), widen(&w2)).unwrap();
    let out = h64.forward(&widen(&s)).unwrap();
    assert_close(&out.logits, &logits64, RTOL_F64, "notebook logits f64");
    let got = loss::binned_cross_entropy(&out.logits, &widen(&b)).unwrap();
    assert_close_scalar(got, want64, RTOL_F64, "notebook loss f64");
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
        boltz.forward(&s).unwrap_err(),
        boltz.predict(&s).unwrap_err(),
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
