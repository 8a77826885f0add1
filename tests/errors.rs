//! Every bad input reachable through the public API gives the documented
//! [`bfactor::Error`] variant, with a message that names both what was expected
//! and what came.

mod common;

use bfactor::numpy_rng::NumpyRandom;
use bfactor::{loss, ops, BFactorHead, BFactorHeadConfig, Error};
use common::{assert_msg, assert_non_finite, assert_shape_mismatch};
use ndarray::{arr0, array, s, Array, Array1, Array2, Array3, IxDyn};
use rand::rngs::StdRng;
use rand::SeedableRng;

const C_S: usize = 8;
const BINS: usize = 16;

fn head64() -> BFactorHead<f64> {
    BFactorHeadConfig::new(C_S)
        .with_num_bins(BINS)
        .init::<f64>(&mut StdRng::seed_from_u64(7))
        .unwrap()
}

fn head32() -> BFactorHead<f32> {
    BFactorHeadConfig::new(C_S)
        .with_num_bins(BINS)
        .init::<f32>(&mut StdRng::seed_from_u64(7))
        .unwrap()
}

fn input(n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, C_S), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0)
}

// ---------------------------------------------------------------------------
// head: forward
// ---------------------------------------------------------------------------

#[test]
fn forward_wrong_last_axis() {
    let s = Array2::<f64>::zeros((4, C_S + 3));
    let err = head64().forward(&s).unwrap_err();
    assert_eq!(
        err,
        Error::LastAxis {
            what: "s".into(),
            meaning: "c_s".into(),
            expected: C_S,
            got: C_S + 3,
            shape: vec![4, C_S + 3],
        }
    );
    assert_msg(&err, &["s", "c_s", "8", "11", "[4, 11]"]);
}

#[test]
fn forward_wrong_last_axis_batched_f32() {
    let s = Array3::<f32>::zeros((2, 3, C_S - 1));
    let err = head32().forward(&s).unwrap_err();
    assert!(
        matches!(&err, Error::LastAxis { expected, got, shape, .. }
            if *expected == C_S && *got == C_S - 1 && shape == &vec![2, 3, C_S - 1]),
        "{err:?}"
    );
    assert_msg(&err, &["c_s", "8", "7"]);
}

#[test]
fn forward_zero_dim_input() {
    // `Ix0` has no axis to remove, so a 0-dim input reaches `forward` as `IxDyn`.
    let s = arr0(1.0_f64).into_dyn();
    let err = head64().forward(&s).unwrap_err();
    match &err {
        Error::Rank {
            what, got, shape, ..
        } => {
            assert_eq!(what, "s");
            assert_eq!(*got, 0);
            assert!(shape.is_empty());
        }
        other => panic!("expected Rank, got {other:?}"),
    }
    assert_msg(&err, &["s", "0 axes", "at least 1", "8"]);
}

#[test]
fn forward_empty_last_axis() {
    // c_s >= 1, so an empty feature axis is a last-axis mismatch.
    let s = Array2::<f64>::zeros((3, 0));
    let err = head64().forward(&s).unwrap_err();
    assert!(
        matches!(&err, Error::LastAxis { expected, got, .. } if *expected == C_S && *got == 0),
        "{err:?}"
    );
    assert_msg(&err, &["c_s", "8", "0"]);
}

#[test]
fn forward_nan_reports_index() {
    let mut s = input(5);
    s[[3, 2]] = f64::NAN;
    let err = head64().forward(&s).unwrap_err();
    assert_non_finite(&err, "s", &[3, 2], f64::NAN);
    assert_msg(&err, &["s", "NaN", "[3, 2]", "finite"]);
}

#[test]
fn forward_inf_reports_index_f32_batched() {
    let mut s = Array3::<f32>::ones((2, 4, C_S));
    s[[1, 0, 5]] = f32::NEG_INFINITY;
    let err = head32().forward(&s).unwrap_err();
    assert_non_finite(&err, "s", &[1, 0, 5], f64::NEG_INFINITY);
    assert_msg(&err, &["s", "-inf", "[1, 0, 5]"]);
}

#[test]
fn forward_nan_in_transposed_view_reports_logical_index() {
    // Stored as [c_s, N] and passed transposed: the index must be in the view's
    // logical order, not memory order.
    let mut st = input(6).reversed_axes().as_standard_layout().into_owned();
    st[[2, 4]] = f64::INFINITY;
    let err = head64().forward(&st.t()).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { index, value, .. }
            if index == &vec![4, 2] && *value == f64::INFINITY),
        "{err:?}"
    );
    assert_msg(&err, &["inf", "[4, 2]"]);
}

#[test]
fn forward_nan_in_stepped_view_reports_view_index() {
    let mut s = input(7);
    s[[4, 1]] = f64::NAN; // row 4 is row 2 of s[..;2]
    s[[3, 0]] = f64::NAN; // not in the view
    let err = head64().forward(&s.slice(s![..;2, ..])).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { index, .. } if index == &vec![2, 1]),
        "{err:?}"
    );
}

#[test]
fn forward_zero_tokens_is_empty_not_error() {
    let head = head64();
    let out = head.forward(&Array2::<f64>::zeros((0, C_S))).unwrap();
    assert_eq!(out.logits.shape(), &[0, BINS]);
    assert_eq!(out.bfactor.shape(), &[0]);
    assert_eq!(out.probabilities().shape(), &[0, BINS]);

    let out = head32()
        .forward(&Array3::<f32>::zeros((2, 0, C_S)))
        .unwrap();
    assert_eq!(out.logits.shape(), &[2, 0, BINS]);
    assert_eq!(out.bfactor.shape(), &[2, 0]);

    let out = head
        .forward(&Array::<f64, _>::zeros(IxDyn(&[0, 3, C_S])))
        .unwrap();
    assert_eq!(out.logits.shape(), &[0, 3, BINS]);
    assert_eq!(out.bfactor.shape(), &[0, 3]);
}

#[test]
fn forward_single_token_1d() {
    // A 1-D input is a single token: logits [num_bins], bfactor 0-dim.
    let out = head64().forward(&input(1).row(0)).unwrap();
    assert_eq!(out.logits.shape(), &[BINS]);
    assert_eq!(out.bfactor.ndim(), 0);
}

/// Finite but huge inputs. Layer norm is scale invariant, so `s · 1e20` must give
/// (nearly) the result of `s`, or an error. (No NaN reaches the output here only
/// because the ReLU's `max(NaN, 0)` turns NaN into 0.)
#[test]
fn forward_huge_finite_input_is_scale_invariant() {
    let head = head32();
    let s = input(3).mapv(|v| v as f32);
    let reference = head.forward(&s).unwrap();
    match head.forward(&s.mapv(|v| v * 1e20)) {
        Err(_) => {}
        Ok(out) => {
            for (a, b) in out.logits.iter().zip(&reference.logits) {
                assert!((a - b).abs() <= 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// head: from_weights
// ---------------------------------------------------------------------------

fn config() -> BFactorHeadConfig {
    BFactorHeadConfig::new(C_S).with_num_bins(BINS)
}

#[test]
fn from_weights_wrong_w1_shape() {
    let err = BFactorHead::from_weights(
        config(),
        Array2::<f64>::zeros((C_S, C_S + 1)),
        Array2::zeros((C_S, BINS)),
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "W1", &[C_S, C_S], &[C_S, C_S + 1]);
    assert_msg(&err, &["W1", "[8, 9]", "[8, 8]", "c_s"]);
}

#[test]
fn from_weights_wrong_w2_shape() {
    let err = BFactorHead::from_weights(
        config(),
        Array2::<f32>::zeros((C_S, C_S)),
        Array2::zeros((BINS, C_S)),
    )
    .unwrap_err();
    assert_shape_mismatch(&err, "W2", &[C_S, BINS], &[BINS, C_S]);
    assert_msg(&err, &["W2", "[16, 8]", "[8, 16]", "num_bins"]);
}

#[test]
fn from_weights_nan_w1() {
    let mut w1 = Array2::<f64>::zeros((C_S, C_S));
    w1[[1, 6]] = f64::NAN;
    let err = BFactorHead::from_weights(config(), w1, Array2::zeros((C_S, BINS))).unwrap_err();
    assert_non_finite(&err, "W1", &[1, 6], f64::NAN);
    assert_msg(&err, &["W1", "NaN", "[1, 6]"]);
}

#[test]
fn from_weights_inf_w2() {
    let mut w2 = Array2::<f32>::zeros((C_S, BINS));
    w2[[7, 15]] = f32::INFINITY;
    let err = BFactorHead::from_weights(config(), Array2::zeros((C_S, C_S)), w2).unwrap_err();
    assert_non_finite(&err, "W2", &[7, 15], f64::INFINITY);
    assert_msg(&err, &["W2", "inf", "[7, 15]"]);
}

// ---------------------------------------------------------------------------
// head: config validation, through init, init_numpy and from_weights
// ---------------------------------------------------------------------------

/// Asserts that `cfg` is rejected with `Error::Config { field, value }` by
/// `validate`, `init` (f32 and f64), `init_numpy` and `from_weights`.
#[track_caller]
fn assert_config_error(cfg: BFactorHeadConfig, field: &str, value: &str, expected: &str) {
    let check = |err: Error| {
        assert_eq!(
            err,
            Error::Config {
                field: field.into(),
                value: value.into(),
                expected: expected.into(),
            }
        );
        assert_msg(&err, &["invalid configuration", field, value, expected]);
    };
    check(cfg.validate().unwrap_err());
    check(cfg.init::<f64>(&mut StdRng::seed_from_u64(0)).unwrap_err());
    check(cfg.init::<f32>(&mut StdRng::seed_from_u64(0)).unwrap_err());
    check(
        cfg.init_numpy::<f64>(&mut NumpyRandom::seed(0))
            .unwrap_err(),
    );
    // Correctly shaped weights for the (bad) config where that is possible, and
    // deliberately wrong ones: the config is checked first either way.
    let (c, k) = (cfg.c_s, cfg.num_bins);
    check(
        BFactorHead::from_weights(
            cfg.clone(),
            Array2::<f64>::zeros((c, c)),
            Array2::zeros((c, k)),
        )
        .unwrap_err(),
    );
    check(
        BFactorHead::from_weights(
            cfg.clone(),
            Array2::<f32>::zeros((1, 2)),
            Array2::zeros((3, 4)),
        )
        .unwrap_err(),
    );
}

#[test]
fn config_c_s_zero() {
    assert_config_error(BFactorHeadConfig::new(0), "c_s", "0", "at least 1");
}

#[test]
fn config_num_bins_below_two() {
    assert_config_error(config().with_num_bins(1), "num_bins", "1", "at least 2");
    assert_config_error(config().with_num_bins(0), "num_bins", "0", "at least 2");
}

#[test]
fn config_max_bfactor_nan() {
    assert_config_error(
        config().with_max_bfactor(f64::NAN),
        "max_bfactor",
        "NaN",
        "a finite number > 0",
    );
}

#[test]
fn config_max_bfactor_negative() {
    assert_config_error(
        config().with_max_bfactor(-5.0),
        "max_bfactor",
        "-5",
        "a finite number > 0",
    );
}

#[test]
fn config_max_bfactor_zero() {
    assert_config_error(
        config().with_max_bfactor(0.0),
        "max_bfactor",
        "0",
        "a finite number > 0",
    );
}

#[test]
fn config_max_bfactor_inf() {
    assert_config_error(
        config().with_max_bfactor(f64::INFINITY),
        "max_bfactor",
        "inf",
        "a finite number > 0",
    );
}

#[test]
fn config_eps_zero() {
    assert_config_error(config().with_eps(0.0), "eps", "0", "a finite number > 0");
}

#[test]
fn config_eps_negative() {
    assert_config_error(
        config().with_eps(-1e-5),
        "eps",
        "-0.00001",
        "a finite number > 0",
    );
}

#[test]
fn config_eps_nan_and_inf() {
    assert_config_error(
        config().with_eps(f64::NAN),
        "eps",
        "NaN",
        "a finite number > 0",
    );
    assert_config_error(
        config().with_eps(f64::INFINITY),
        "eps",
        "inf",
        "a finite number > 0",
    );
}

// ---------------------------------------------------------------------------
// loss
// ---------------------------------------------------------------------------

#[test]
fn loss_target_shape_mismatch() {
    let pred = array![[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]];
    let target = array![[1.0, 2.0], [4.0, 5.0]];
    for err in [
        loss::normalized_mse(&pred, &target).unwrap_err(),
        loss::pearson(&pred, &target).unwrap_err(),
    ] {
        assert_shape_mismatch(&err, "target", &[2, 3], &[2, 2]);
        assert_msg(&err, &["target", "[2, 2]", "[2, 3]", "prediction"]);
    }
}

#[test]
fn loss_mask_shape_mismatch() {
    let pred = array![1.0_f32, 2.0, 3.0, 4.0];
    let target = array![2.0_f32, 1.0, 4.0, 3.0];
    let mask = array![1.0_f32, 1.0, 1.0];
    for err in [
        loss::normalized_mse_masked(&pred, &target, &mask).unwrap_err(),
        loss::pearson_masked(&pred, &target, &mask).unwrap_err(),
    ] {
        assert_shape_mismatch(&err, "mask", &[4], &[3]);
        assert_msg(&err, &["mask", "[3]", "[4]"]);
    }
}

#[test]
fn loss_rank_zero() {
    let err = loss::normalized_mse(&arr0(1.0_f64), &arr0(2.0)).unwrap_err();
    assert_eq!(
        err,
        Error::Rank {
            what: "prediction".into(),
            expected: "1 ([N]) or 2 ([B, N])".into(),
            got: 0,
            shape: vec![],
        }
    );
    assert_msg(&err, &["prediction", "0 axes", "1 ([N]) or 2 ([B, N])"]);
    let err = loss::pearson_masked(&arr0(1.0_f32), &arr0(2.0), &arr0(1.0)).unwrap_err();
    assert!(matches!(err, Error::Rank { got: 0, .. }), "{err:?}");
}

#[test]
fn loss_rank_three() {
    let a = Array3::<f64>::from_shape_fn((2, 3, 4), |(i, j, k)| (i + 2 * j + 3 * k) as f64);
    let err = loss::pearson(&a, &a).unwrap_err();
    match &err {
        Error::Rank { got, shape, .. } => {
            assert_eq!(*got, 3);
            assert_eq!(shape, &vec![2, 3, 4]);
        }
        other => panic!("expected Rank, got {other:?}"),
    }
    assert_msg(&err, &["prediction", "3 axes", "[2, 3, 4]", "1 ([N]) or 2"]);
    let err = loss::normalized_mse_masked(&a, &a, &a.mapv(|_| 1.0)).unwrap_err();
    assert!(matches!(err, Error::Rank { got: 3, .. }), "{err:?}");
}

#[test]
fn loss_nan_in_prediction() {
    let pred = array![[1.0, 2.0, 3.0], [4.0, f64::NAN, 6.0]];
    let target = array![[1.0, 2.0, 4.0], [4.0, 5.0, 7.0]];
    let err = loss::normalized_mse(&pred, &target).unwrap_err();
    assert_non_finite(&err, "prediction", &[1, 1], f64::NAN);
    assert_msg(&err, &["prediction", "NaN", "[1, 1]"]);
}

#[test]
fn loss_inf_in_prediction_f32() {
    let pred = array![1.0_f32, f32::INFINITY, 3.0];
    let target = array![1.0_f32, 2.0, 4.0];
    let err = loss::pearson(&pred, &target).unwrap_err();
    assert_non_finite(&err, "prediction", &[1], f64::INFINITY);
    assert_msg(&err, &["prediction", "inf", "[1]"]);
}

#[test]
fn loss_nan_in_target() {
    let pred = array![1.0_f64, 2.0, 3.0];
    let target = array![1.0, 2.0, f64::NAN];
    let mask = array![1.0, 1.0, 0.0];
    // Non-finite values are rejected even where the mask is 0.
    let err = loss::pearson_masked(&pred, &target, &mask).unwrap_err();
    assert_non_finite(&err, "target", &[2], f64::NAN);
    assert_msg(&err, &["target", "NaN", "[2]"]);
}

#[test]
fn loss_inf_in_target() {
    let pred = array![[1.0_f64, 2.0], [3.0, 4.0]];
    let target = array![[1.0, 2.0], [f64::NEG_INFINITY, 4.0]];
    let err = loss::normalized_mse(&pred, &target).unwrap_err();
    assert_non_finite(&err, "target", &[1, 0], f64::NEG_INFINITY);
    assert_msg(&err, &["target", "-inf", "[1, 0]"]);
}

#[track_caller]
fn assert_invalid_mask(mask: Array2<f64>, index: &[usize], shown: &str) {
    let pred = Array2::from_shape_fn(mask.raw_dim(), |(i, j)| (i * 3 + j * j) as f64);
    let target = Array2::from_shape_fn(mask.raw_dim(), |(i, j)| (i + 2 * j) as f64);
    for err in [
        loss::normalized_mse_masked(&pred, &target, &mask).unwrap_err(),
        loss::pearson_masked(&pred, &target, &mask).unwrap_err(),
    ] {
        match &err {
            Error::InvalidMask {
                what,
                index: i,
                value,
            } => {
                assert_eq!(what, "mask");
                assert_eq!(i, index);
                assert_eq!(value.to_string(), shown);
            }
            other => panic!("expected InvalidMask, got {other:?}"),
        }
        assert_msg(&err, &["mask", shown, &format!("{index:?}"), ">= 0"]);
    }
}

#[test]
fn loss_negative_mask_weight() {
    let mut m = Array2::ones((2, 4));
    m[[1, 3]] = -1.0;
    assert_invalid_mask(m, &[1, 3], "-1");
}

#[test]
fn loss_nan_mask_weight() {
    let mut m = Array2::ones((2, 4));
    m[[0, 2]] = f64::NAN;
    assert_invalid_mask(m, &[0, 2], "NaN");
}

#[test]
fn loss_inf_mask_weight() {
    let mut m = Array2::ones((3, 3));
    m[[2, 0]] = f64::INFINITY;
    assert_invalid_mask(m, &[2, 0], "inf");
}

#[test]
fn loss_one_residue() {
    let one = array![5.0_f64];
    for (err, what) in [
        (
            loss::normalized_mse(&one, &one).unwrap_err(),
            "normalized_mse",
        ),
        (loss::pearson(&one, &one).unwrap_err(), "pearson"),
    ] {
        assert_eq!(
            err,
            Error::TooFewValid {
                what: what.into(),
                needed: 2,
                got: 1
            }
        );
        assert_msg(&err, &[what, "1 valid residue", "at least 2"]);
    }
}

#[test]
fn loss_zero_residues() {
    let none64 = Array1::<f64>::zeros(0);
    let none32 = Array2::<f32>::zeros((0, 5));
    for err in [
        loss::normalized_mse(&none64, &none64).unwrap_err(),
        loss::pearson(&none32, &none32).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                Error::TooFewValid {
                    got: 0,
                    needed: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn loss_mask_leaves_one_valid() {
    let pred = array![1.0_f32, 2.0, 3.0, 4.0];
    let target = array![4.0_f32, 1.0, 3.0, 2.0];
    let mask = array![0.0_f32, 0.0, 1.0, 0.0];
    for (err, what) in [
        (
            loss::normalized_mse_masked(&pred, &target, &mask).unwrap_err(),
            "normalized_mse_masked",
        ),
        (
            loss::pearson_masked(&pred, &target, &mask).unwrap_err(),
            "pearson_masked",
        ),
    ] {
        assert_eq!(
            err,
            Error::TooFewValid {
                what: what.into(),
                needed: 2,
                got: 1
            }
        );
        assert_msg(&err, &[what, "1 valid", "at least 2"]);
    }
}

#[test]
fn loss_every_row_too_few_valid() {
    let pred = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
    let target = array![[3.0, 2.0, 1.0], [6.0, 4.0, 5.0], [9.0, 7.0, 8.0]];
    let mask = array![[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]];
    let err = loss::pearson_masked(&pred, &target, &mask).unwrap_err();
    assert_eq!(
        err,
        Error::TooFewValid {
            what: "pearson_masked (every one of 3 rows)".into(),
            needed: 2,
            got: 1
        }
    );
    assert_msg(&err, &["every one of 3 rows", "1 valid", "at least 2"]);
    // A [B, 1] batch without a mask.
    let err = loss::normalized_mse(&array![[1.0], [2.0]], &array![[3.0], [4.0]]).unwrap_err();
    assert!(
        matches!(&err, Error::TooFewValid { what, got: 1, needed: 2 }
            if what == "normalized_mse (every one of 2 rows)"),
        "{err:?}"
    );
}

#[test]
fn pearson_constant_prediction() {
    let err = loss::pearson(&array![2.5, 2.5, 2.5, 2.5], &array![1.0, 3.0, 2.0, 4.0]).unwrap_err();
    assert_eq!(
        err,
        Error::ZeroVariance {
            what: "pearson".into(),
            series: "prediction".into(),
            row: 0
        }
    );
    assert_msg(&err, &["pearson", "prediction", "zero variance", "row 0"]);
}

#[test]
fn pearson_constant_target() {
    let err = loss::pearson(&array![1.0_f32, 3.0, 2.0], &array![7.0_f32, 7.0, 7.0]).unwrap_err();
    assert_eq!(
        err,
        Error::ZeroVariance {
            what: "pearson".into(),
            series: "target".into(),
            row: 0
        }
    );
    assert_msg(&err, &["target", "zero variance", "row 0"]);
}

#[test]
fn pearson_constant_in_later_row() {
    let pred = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [1.0, 2.0, 3.0]];
    let target = array![[3.0, 2.0, 1.0], [6.0, 4.0, 5.0], [-2.0, -2.0, -2.0]];
    let err = loss::pearson(&pred, &target).unwrap_err();
    assert_eq!(
        err,
        Error::ZeroVariance {
            what: "pearson".into(),
            series: "target".into(),
            row: 2
        }
    );
    assert_msg(&err, &["target", "row 2"]);
}

#[test]
fn pearson_masked_constant_over_valid_residues() {
    // The prediction varies only where the mask is 0.
    let pred = array![[1.0, 2.0, 3.0, 4.0], [9.0, 5.0, 5.0, 5.0]];
    let target = array![[3.0, 2.0, 1.0, 0.0], [1.0, 2.0, 3.0, 4.0]];
    let mask = array![[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]];
    let err = loss::pearson_masked(&pred, &target, &mask).unwrap_err();
    assert_eq!(
        err,
        Error::ZeroVariance {
            what: "pearson".into(),
            series: "prediction".into(),
            row: 1
        }
    );
    assert_msg(&err, &["prediction", "row 1"]);
}

/// A constant prediction whose float64 mean rounds (3 × 0.1 = 0.30000000000000004):
/// the documented contract is "errors if either is constant".
#[test]
fn pearson_constant_prediction_with_rounding_mean() {
    let err = loss::pearson(&array![0.1, 0.1, 0.1], &array![1.0, 2.0, 3.0]);
    assert_eq!(
        err,
        Err(Error::ZeroVariance {
            what: "pearson".into(),
            series: "prediction".into(),
            row: 0
        })
    );
}

/// Accepted (finite, >= 0) mask weights must not make the loss NaN. Weights act
/// as frequency weights, so scaling all of them must not change the result.
#[test]
fn loss_huge_mask_weights_are_not_nan() {
    let pred = array![1.0_f64, 2.0, 4.0];
    let target = array![2.0_f64, 1.0, 3.0];
    let mask = array![1e308, 1e308, 1e308];
    let plain = loss::normalized_mse(&pred, &target).unwrap();
    match loss::normalized_mse_masked(&pred, &target, &mask) {
        Err(_) => {}
        Ok(v) => assert!((v - plain).abs() < 1e-9, "{v} vs {plain}"),
    }
}

/// Finite f64 inputs whose squares overflow must not give NaN (or a wrong
/// correlation): Pearson is scale invariant.
#[test]
fn loss_huge_finite_values_are_not_nan() {
    let pred = array![1.7e308_f64, 1.7e308, -1.7e308];
    let target = array![1.0, 2.0, 4.0];
    for v in [
        loss::pearson(&pred, &target),
        loss::normalized_mse(&pred, &target),
    ]
    .into_iter()
    .flatten()
    {
        assert!(v.is_finite(), "{v}");
    }
    if let Ok(r) = loss::pearson(&array![1e200_f64, 2e200, 3e200], &array![1.0, 2.0, 3.0]) {
        assert!((r - 1.0).abs() < 1e-12, "{r}");
    }
}

// ---------------------------------------------------------------------------
// ops
// ---------------------------------------------------------------------------

#[test]
fn softmax_expectation_wrong_number_of_values() {
    let logits = Array2::<f64>::zeros((3, 5));
    let err = ops::softmax_expectation(&logits, &[0.0, 1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(
        err,
        Error::LastAxis {
            what: "logits".into(),
            meaning: "number of bins".into(),
            expected: 4,
            got: 5,
            shape: vec![3, 5],
        }
    );
    assert_msg(&err, &["logits", "number of bins", "4", "5", "[3, 5]"]);
}

#[test]
fn softmax_expectation_zero_dim() {
    let err = ops::softmax_expectation(&arr0(1.0_f32).into_dyn(), &[1.0]).unwrap_err();
    assert!(
        matches!(&err, Error::Rank { what, got: 0, .. } if what == "logits"),
        "{err:?}"
    );
}

#[test]
fn softmax_expectation_nan_logits() {
    let mut logits = Array2::<f32>::zeros((2, 3));
    logits[[1, 2]] = f32::NAN;
    let err = ops::softmax_expectation(&logits, &[0.0, 1.0, 2.0]).unwrap_err();
    assert_non_finite(&err, "logits", &[1, 2], f64::NAN);
    assert_msg(&err, &["logits", "NaN", "[1, 2]"]);
}

#[test]
fn softmax_expectation_nan_values() {
    let logits = Array1::<f64>::zeros(3);
    let err = ops::softmax_expectation(&logits, &[0.0, f64::NAN, 2.0]).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, index, .. }
            if what == "bin values" && index == &vec![1]),
        "{err:?}"
    );
    assert_msg(&err, &["bin values", "NaN", "[1]"]);
}

#[test]
fn softmax_expectation_empty_last_axis() {
    let err = ops::softmax_expectation(&Array2::<f64>::zeros((2, 0)), &[]).unwrap_err();
    assert!(
        matches!(&err, Error::Empty { what, shape, .. } if what == "logits" && shape == &vec![2, 0]),
        "{err:?}"
    );
    assert_msg(&err, &["logits", "empty", "[2, 0]"]);
}

#[test]
fn softmax_and_log_softmax_nan_logits() {
    let logits = array![[0.0, 1.0], [f64::NAN, 2.0]];
    for err in [
        ops::softmax(&logits).unwrap_err(),
        ops::log_softmax(&logits).unwrap_err(),
    ] {
        assert!(
            matches!(&err, Error::NonFinite { what, index, .. }
                if what == "logits" && index == &vec![1, 0]),
            "{err:?}"
        );
    }
}

#[test]
fn softmax_zero_dim_and_empty() {
    let err = ops::softmax(&arr0(1.0_f64)).unwrap_err();
    assert!(matches!(err, Error::Rank { got: 0, .. }), "{err:?}");
    let err = ops::log_softmax(&Array2::<f32>::zeros((3, 0))).unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err:?}");
}

/// `ops::layer_norm` on finite input near `F::MAX`: the row sum overflows, the
/// mean is inf and `inf - inf` is NaN.
#[test]
fn layer_norm_huge_finite_input_is_not_nan() {
    let x = array![[3.0e38_f32, 3.0e38], [3.0e38, -1.0e38]];
    if let Ok(y) = ops::layer_norm(&x, 1e-5) {
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
    }
    let x = array![[1.7e308_f64, 1.7e308, 1.0]];
    if let Ok(y) = ops::layer_norm(&x, 1e-5) {
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
    }
}

#[test]
fn layer_norm_inf_input() {
    let x = array![[1.0_f32, 2.0], [3.0, f32::INFINITY]];
    let err = ops::layer_norm(&x, 1e-5).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, index, .. } if what == "x" && index == &vec![1, 1]),
        "{err:?}"
    );
    assert_msg(&err, &["x", "inf", "[1, 1]"]);
}

/// `eps` is not validated by `ops::layer_norm`: with eps = 0 a constant row is
/// 0 / 0. The crate promises an Error rather than NaN for bad input.
#[test]
fn layer_norm_bad_eps_is_error() {
    let x = array![[2.0_f64, 2.0, 2.0]];
    for eps in [0.0, -1.0, f64::NAN] {
        match ops::layer_norm(&x, eps) {
            Err(Error::Config { .. }) => {}
            other => panic!("eps = {eps}: expected a Config error, got {other:?}"),
        }
    }
}
