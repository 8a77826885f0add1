//! Property tests: batching and layout independence of the head, softmax and
//! layer-norm identities, the losses' mask/scale/batch laws, and NumPy's normal
//! cache. Case counts are modest so the file runs in a few seconds at the test
//! profile's opt-level 1.

use bfactor::numpy_rng::NumpyRandom;
use bfactor::{loss, ops, BFactorHead, BFactorHeadConfig, Error, Float, HeadOutput};
use ndarray::{s, Array, Array1, Array2, Array3, Axis, ShapeBuilder};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::SeedableRng;

type TestResult = Result<(), TestCaseError>;

/// 64 cases per property; failures are reported, not persisted to a
/// regressions file.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(64)
    }
}

fn cast<F: Float>(v: &[f64]) -> Vec<F> {
    v.iter().map(|&x| F::from_f64_lossy(x)).collect()
}

fn f64s<F: Float>(a: impl IntoIterator<Item = F>) -> Vec<f64> {
    a.into_iter().map(Float::to_f64_exact).collect()
}

/// Unit roundoff of `F` (half an ulp of 1).
fn unit<F: Float>() -> f64 {
    F::epsilon().to_f64_exact() / 2.0
}

/// A head with the given sizes; `w2_scale` multiplies `W2` to make the logits
/// large (and the softmax sharp).
fn make_head<F: Float>(
    c_s: usize,
    num_bins: usize,
    max_bfactor: f64,
    seed: u64,
    w2_scale: f64,
) -> BFactorHead<F> {
    let cfg = BFactorHeadConfig::new(c_s)
        .with_num_bins(num_bins)
        .with_max_bfactor(max_bfactor);
    let head = cfg
        .init::<F>(&mut StdRng::seed_from_u64(seed))
        .expect("valid config");
    let w2 = head.w2().mapv(|v| v * F::from_f64_lossy(w2_scale));
    BFactorHead::from_weights(cfg, head.w1().clone(), w2).expect("finite weights")
}

/// `(c_s, num_bins, max_bfactor, seed, w2_scale)`.
fn head_params() -> impl Strategy<Value = (usize, usize, f64, u64, f64)> {
    (
        1usize..12,
        2usize..40,
        1.0f64..500.0,
        any::<u64>(),
        prop_oneof![Just(1.0), Just(30.0), Just(1000.0)],
    )
}

/// `[B, N, c_s]` inputs (as f64, values in ±`scale`) for a head of width `c_s`.
fn batch_input(c_s: usize) -> impl Strategy<Value = Array3<f64>> {
    (1usize..4, 0usize..7, prop_oneof![Just(1.0), Just(50.0)]).prop_flat_map(
        move |(b, n, scale)| {
            proptest::collection::vec(-scale..scale, b * n * c_s)
                .prop_map(move |v| Array3::from_shape_vec((b, n, c_s), v).expect("length matches"))
        },
    )
}

fn head_and_batch() -> impl Strategy<Value = ((usize, usize, f64, u64, f64), Array3<f64>)> {
    head_params().prop_flat_map(|p| (Just(p), batch_input(p.0)))
}

// ---------------------------------------------------------------------------
// head: batching and memory layout
// ---------------------------------------------------------------------------

fn check_batched_equals_per_sequence<F: Float>(
    (c_s, k, max_b, seed, w2_scale): (usize, usize, f64, u64, f64),
    s64: &Array3<f64>,
) -> TestResult {
    let head = make_head::<F>(c_s, k, max_b, seed, w2_scale);
    let s = s64.mapv(F::from_f64_lossy);
    let out = head.forward(&s).expect("valid input");
    let (b, n) = (s.shape()[0], s.shape()[1]);
    prop_assert_eq!(out.logits.shape(), &[b, n, k]);
    prop_assert_eq!(out.bfactor.shape(), &[b, n]);
    for i in 0..b {
        let one = head.forward(&s.slice(s![i, .., ..])).expect("valid input");
        prop_assert_eq!(out.logits.slice(s![i, .., ..]), one.logits.view());
        prop_assert_eq!(out.bfactor.slice(s![i, ..]), one.bfactor.view());
        // ... and every token on its own, as a 1-D input.
        for j in 0..n {
            let tok = head.forward(&s.slice(s![i, j, ..])).expect("valid input");
            prop_assert_eq!(out.logits.slice(s![i, j, ..]), tok.logits.view());
            prop_assert_eq!(out.bfactor[[i, j]], tok.bfactor[()]);
        }
    }

    // Non-contiguous views give exactly what their standard-layout copies give.
    let stepped = s.slice(s![.., ..;2, ..]);
    let permuted = s.view().permuted_axes([1, 0, 2]);
    let reversed = s.slice(s![..;-1, .., ..;-1]);
    for view in [stepped, permuted, reversed] {
        let owned = view.as_standard_layout().into_owned();
        let a = head.forward(&view).expect("valid input");
        let o = head.forward(&owned).expect("valid input");
        prop_assert_eq!(&a, &o);
    }
    // A stepped view of the flattened tokens selects the matching output rows.
    let flat = s.to_shape((b * n, c_s)).expect("reshape").into_owned();
    let all = head.forward(&flat).expect("valid input");
    let even = head
        .forward(&flat.slice(s![..;2, ..]))
        .expect("valid input");
    prop_assert_eq!(all.logits.slice(s![..;2, ..]), even.logits.view());
    prop_assert_eq!(all.bfactor.slice(s![..;2]), even.bfactor.view());
    Ok(())
}

fn check_output_distribution<F: Float>(
    (c_s, k, max_b, seed, w2_scale): (usize, usize, f64, u64, f64),
    s64: &Array3<f64>,
    sum_tol: f64,
) -> TestResult {
    let head = make_head::<F>(c_s, k, max_b, seed, w2_scale);
    let out = head
        .forward(&s64.mapv(F::from_f64_lossy))
        .expect("valid input");
    let probs = out.probabilities();
    prop_assert_eq!(probs.shape(), out.logits.shape());
    // The same kernel as ops::softmax, bit for bit.
    prop_assert_eq!(&probs, &ops::softmax(&out.logits).expect("finite logits"));
    let centers = f64s(head.bin_centers().iter().copied());
    prop_assert_eq!(centers.len(), k);
    // Rounding of the f32/f64 expectation (k products and sums) and of the
    // probabilities (exp, one division, one multiplication), relative to max_b.
    let expect_tol = (k as f64 + 4.0) * 2.0 * unit::<F>() * max_b;
    for (p, &b) in probs.lanes(Axis(2)).into_iter().zip(&out.bfactor) {
        let p = f64s(p.iter().copied());
        let sum: f64 = p.iter().sum();
        prop_assert!((sum - 1.0).abs() <= sum_tol, "probabilities sum to {}", sum);
        prop_assert!(p.iter().all(|v| (0.0..=1.0).contains(v)), "{:?}", p);
        let b = b.to_f64_exact();
        // The last center is max_bfactor rounded to F.
        let top = F::from_f64_lossy(max_b).to_f64_exact();
        prop_assert!(
            (0.0..=top).contains(&b),
            "bfactor {} not in [0, {}]",
            b,
            top
        );
        let expectation: f64 = p.iter().zip(&centers).map(|(p, c)| p * c).sum();
        prop_assert!(
            (b - expectation).abs() <= expect_tol,
            "bfactor {} vs sum(p * centers) {} (tol {})",
            b,
            expectation,
            expect_tol
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn batched_equals_per_sequence_f64((p, s) in head_and_batch()) {
        check_batched_equals_per_sequence::<f64>(p, &s)?;
    }

    #[test]
    fn batched_equals_per_sequence_f32((p, s) in head_and_batch()) {
        check_batched_equals_per_sequence::<f32>(p, &s)?;
    }

    #[test]
    fn output_is_a_distribution_f64((p, s) in head_and_batch()) {
        check_output_distribution::<f64>(p, &s, 1e-12)?;
    }

    #[test]
    fn output_is_a_distribution_f32((p, s) in head_and_batch()) {
        check_output_distribution::<f32>(p, &s, 1e-5)?;
    }
}

/// `probabilities()` on a `HeadOutput` whose logits are not in standard layout
/// (the fields are public, so callers can build one, e.g. from logits stored in
/// Fortran order) must equal `ops::softmax`, not panic.
#[test]
fn probabilities_of_fortran_order_logits() {
    let v: Vec<f64> = (0..12).map(|i| (i as f64 * 0.7).sin() * 3.0).collect();
    let logits = Array2::from_shape_vec((3, 4).f(), v).unwrap();
    let out = HeadOutput {
        logits: logits.clone(),
        bfactor: Array1::zeros(3),
    };
    assert_eq!(out.probabilities(), ops::softmax(&logits).unwrap());
}

// ---------------------------------------------------------------------------
// ops: softmax family at extreme logits
// ---------------------------------------------------------------------------

/// Rows of logits mixing ±1e4 with values in between.
fn extreme_logits() -> impl Strategy<Value = Array2<f64>> {
    (1usize..4, 1usize..20).prop_flat_map(|(r, n)| {
        proptest::collection::vec(
            prop_oneof![
                Just(1e4),
                Just(-1e4),
                Just(0.0),
                -1e4f64..1e4,
                -10.0f64..10.0,
            ],
            r * n,
        )
        .prop_map(move |v| Array2::from_shape_vec((r, n), v).expect("length matches"))
    })
}

fn check_softmax_family<F: Float>(l64: &Array2<f64>, values64: &[f64], sum_tol: f64) -> TestResult {
    let logits = l64.mapv(F::from_f64_lossy);
    let n = logits.ncols();
    let p = ops::softmax(&logits).expect("finite");
    let lp = ops::log_softmax(&logits).expect("finite");
    prop_assert!(p
        .iter()
        .all(|v| v.is_finite() && (F::zero()..=F::one()).contains(v)));
    prop_assert!(
        lp.iter().all(|v| v.is_finite() && *v <= F::zero()),
        "{:?}",
        lp
    );
    let u = unit::<F>();
    for ((row, prow), lrow) in logits.rows().into_iter().zip(p.rows()).zip(lp.rows()) {
        let sum: f64 = prow.iter().map(|v| v.to_f64_exact()).sum();
        prop_assert!((sum - 1.0).abs() <= sum_tol, "sum {}", sum);
        let max = row.iter().fold(F::neg_infinity(), |m, &v| m.max(v));
        for ((&l, &pv), &lv) in row.iter().zip(prow).zip(lrow) {
            if l == max {
                // The maximum's probability is at least 1/n.
                let nf = n as f64;
                prop_assert!(pv.to_f64_exact() >= (1.0 - 2.0 * (nf + 1.0) * u) / nf);
            }
            if pv >= F::min_positive_value() {
                // log_softmax = l - lse and ln(softmax) = (l - max) - ln(sum) both
                // carry an absolute error of a few ulps of |l|, |max| and |l - max|.
                let scale = 1.0 + l.to_f64_exact().abs() + max.to_f64_exact().abs();
                let diff = (lv.to_f64_exact() - pv.to_f64_exact().ln()).abs();
                prop_assert!(
                    diff <= 8.0 * (n as f64 + 2.0) * u * scale,
                    "log_softmax {} vs ln(softmax) {}",
                    lv,
                    pv.ln()
                );
            }
        }
    }
    let values: Vec<F> = cast(values64);
    let e = ops::softmax_expectation(&logits, &values).expect("valid");
    let (lo, hi) = values
        .iter()
        .fold((F::infinity(), F::neg_infinity()), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    prop_assert_eq!(e.len(), logits.nrows());
    prop_assert!(
        e.iter().all(|v| v.is_finite() && *v >= lo && *v <= hi),
        "{:?}",
        e
    );
    // The expectation agrees with the probabilities.
    for (prow, &ev) in p.rows().into_iter().zip(&e) {
        let direct: f64 = prow
            .iter()
            .zip(&values)
            .map(|(p, v)| p.to_f64_exact() * v.to_f64_exact())
            .sum();
        let vmax = values64.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        prop_assert!(
            (ev.to_f64_exact() - direct).abs() <= (n as f64 + 4.0) * 2.0 * u * vmax,
            "{} vs {}",
            ev,
            direct
        );
    }
    Ok(())
}

/// Logits `k / 8` (|x| <= 1e4) shifted by an integer `c` (|c| <= 1000): `x + c`
/// and `x + c - max` are exact in f32 and f64, so the softmax is bitwise the same
/// (and the log-softmax the same up to the rounding of its log-sum-exp).
fn check_shift_exact<F: Float>(ks: &[i32], c: i32) -> TestResult {
    let x = Array1::from_iter(ks.iter().map(|&k| F::from_f64_lossy(k as f64 / 8.0)));
    let shifted = x.mapv(|v| v + F::from_f64_lossy(c as f64));
    prop_assert_eq!(ops::softmax(&x).unwrap(), ops::softmax(&shifted).unwrap());
    // log_softmax = x - (max + ln Σ): the sum `max + ln Σ` rounds differently for
    // max and max + c, by at most an ulp of |max| + |c| + ln(n) each.
    let (a, b) = (
        ops::log_softmax(&x).unwrap(),
        ops::log_softmax(&shifted).unwrap(),
    );
    let max = ks.iter().map(|k| k.abs()).max().unwrap_or(0) as f64 / 8.0;
    let tol = 8.0 * unit::<F>() * (max + c.abs() as f64 + 1.0 + ks.len() as f64);
    for (a, b) in a.iter().zip(&b) {
        let d = (a.to_f64_exact() - b.to_f64_exact()).abs();
        prop_assert!(d <= tol, "log_softmax {} vs {} (tol {})", a, b, tol);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn softmax_family_at_extremes_f64(
        l in extreme_logits(),
        values in proptest::collection::vec(-100.0f64..100.0, 20),
    ) {
        check_softmax_family::<f64>(&l, &values[..l.ncols()], 1e-12)?;
    }

    #[test]
    fn softmax_family_at_extremes_f32(
        l in extreme_logits(),
        values in proptest::collection::vec(-100.0f64..100.0, 20),
    ) {
        check_softmax_family::<f32>(&l, &values[..l.ncols()], 1e-5)?;
    }

    #[test]
    fn softmax_shift_invariant_exact(
        ks in proptest::collection::vec(-80_000i32..=80_000, 1..20),
        c in -1000i32..=1000,
    ) {
        check_shift_exact::<f64>(&ks, c)?;
        check_shift_exact::<f32>(&ks, c)?;
    }

    /// Arbitrary f64 shift: `x + c` rounds by at most half an ulp of 2e4 (~1.8e-12),
    /// which moves each probability by a relative ~4e-12.
    #[test]
    fn softmax_shift_invariant_f64(l in extreme_logits(), c in -1e4f64..1e4) {
        let p = ops::softmax(&l).unwrap();
        let q = ops::softmax(&l.mapv(|v| v + c)).unwrap();
        for (a, b) in p.iter().zip(&q) {
            prop_assert!((a - b).abs() <= 1e-10, "{} vs {}", a, b);
        }
    }
}

// ---------------------------------------------------------------------------
// ops: layer norm
// ---------------------------------------------------------------------------

fn check_layer_norm<F: Float>(x64: &Array2<f64>, eps64: f64) -> TestResult {
    let x = x64.mapv(F::from_f64_lossy);
    let eps = F::from_f64_lossy(eps64);
    let y = ops::layer_norm(&x, eps).expect("finite");
    prop_assert_eq!(y.shape(), x.shape());
    let u = unit::<F>();
    let n = x.ncols() as f64;
    let eps = eps.to_f64_exact();
    for (xr, yr) in x.rows().into_iter().zip(y.rows()) {
        let xr = f64s(xr.iter().copied());
        let yr = f64s(yr.iter().copied());
        let mean = xr.iter().sum::<f64>() / n;
        let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let big = xr.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let inv = 1.0 / (var + eps).sqrt();
        let ymean = yr.iter().sum::<f64>() / n;
        let yvar = yr.iter().map(|v| (v - ymean).powi(2)).sum::<f64>() / n;
        // The kernel's mean is off by at most delta ~ n·u·max|x|; that shifts the
        // output mean by delta/sqrt(var + eps) and the output variance by
        // (delta/sqrt(var + eps))^2, plus a few n·u of rounding.
        let shift = 2.0 * n * u * big * inv;
        let mean_tol = shift + 4.0 * n * u * (1.0 + big * inv);
        let ratio = var / (var + eps);
        let var_tol = shift * shift + 8.0 * (n + 2.0) * u;
        prop_assert!(ymean.abs() <= mean_tol, "mean {} (tol {})", ymean, mean_tol);
        prop_assert!(
            (yvar - ratio).abs() <= var_tol,
            "variance {} vs var/(var+eps) {} (tol {})",
            yvar,
            ratio,
            var_tol
        );
    }
    Ok(())
}

fn layer_norm_input() -> impl Strategy<Value = (Array2<f64>, f64)> {
    (
        1usize..4,
        1usize..40,
        prop_oneof![Just(1e-3), Just(1.0), Just(100.0)],
        prop_oneof![Just(1e-5), Just(1e-3), Just(1.0)],
    )
        .prop_flat_map(|(r, n, scale, eps)| {
            (
                proptest::collection::vec(-scale..scale, r * n)
                    .prop_map(move |v| Array2::from_shape_vec((r, n), v).expect("length")),
                Just(eps),
            )
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn layer_norm_standardizes_f64((x, eps) in layer_norm_input()) {
        check_layer_norm::<f64>(&x, eps)?;
    }

    #[test]
    fn layer_norm_standardizes_f32((x, eps) in layer_norm_input()) {
        check_layer_norm::<f32>(&x, eps)?;
    }
}

// ---------------------------------------------------------------------------
// loss
// ---------------------------------------------------------------------------

/// `|a - b| <= rel · max(|a|, |b|) + abs`.
fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + abs
}

/// Both `Ok` and close, or the same error.
fn same_result<F: Float>(
    a: &Result<F, Error>,
    b: &Result<F, Error>,
    rel: f64,
    abs: f64,
) -> TestResult {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            let (x, y) = (x.to_f64_exact(), y.to_f64_exact());
            prop_assert!(close(x, y, rel, abs), "{} vs {}", x, y);
        }
        (a, b) => prop_assert_eq!(a, b),
    }
    Ok(())
}

/// `(pred, target, 0/1 mask)` of one length, values in ±100.
fn masked_row(min_len: usize) -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<bool>)> {
    (min_len..30).prop_flat_map(|n| {
        (
            proptest::collection::vec(-100.0f64..100.0, n),
            proptest::collection::vec(-100.0f64..100.0, n),
            proptest::collection::vec(any::<bool>(), n),
        )
    })
}

fn check_ones_mask<F: Float>(p: &[f64], t: &[f64], rel: f64) -> TestResult {
    let (p, t) = (Array1::from(cast::<F>(p)), Array1::from(cast::<F>(t)));
    let ones = Array1::<F>::ones(p.len());
    same_result(
        &loss::normalized_mse(&p, &t),
        &loss::normalized_mse_masked(&p, &t, &ones),
        rel,
        0.0,
    )?;
    same_result(
        &loss::pearson(&p, &t),
        &loss::pearson_masked(&p, &t, &ones),
        rel,
        0.0,
    )?;
    // Same for a [B, N] batch (two copies and a reversed row).
    let pb = ndarray::stack(Axis(0), &[p.view(), p.slice(s![..;-1])]).unwrap();
    let tb = ndarray::stack(Axis(0), &[t.view(), t.slice(s![..;-1])]).unwrap();
    let ones = Array2::<F>::ones(pb.raw_dim());
    same_result(
        &loss::normalized_mse(&pb, &tb),
        &loss::normalized_mse_masked(&pb, &tb, &ones),
        rel,
        0.0,
    )?;
    same_result(
        &loss::pearson(&pb, &tb),
        &loss::pearson_masked(&pb, &tb, &ones),
        rel,
        0.0,
    )?;
    Ok(())
}

/// A 0/1 mask gives exactly the statistics of the valid subset: zero weights add
/// exact zeros to every sum, and `Σw = N` for the subset (so both add the same
/// 1e-8 to it).
fn check_mask_is_subset<F: Float>(p: &[f64], t: &[f64], keep: &[bool]) -> TestResult {
    let (p, t) = (cast::<F>(p), cast::<F>(t));
    let mask = Array1::from_iter(keep.iter().map(|&k| if k { F::one() } else { F::zero() }));
    let pick = |v: &[F]| -> Array1<F> {
        v.iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(&x, _)| x)
            .collect()
    };
    let (ps, ts) = (pick(&p), pick(&t));
    let (p, t) = (Array1::from(p), Array1::from(t));
    let masked = loss::normalized_mse_masked(&p, &t, &mask);
    let subset = loss::normalized_mse(&ps, &ts);
    if ps.len() < 2 {
        prop_assert!(
            matches!(subset, Err(Error::TooFewValid { got, .. }) if got == ps.len()),
            "{:?}",
            subset
        );
        prop_assert!(
            matches!(masked, Err(Error::TooFewValid { got, .. }) if got == ps.len()),
            "{:?}",
            masked
        );
        return Ok(());
    }
    same_result(&masked, &subset, 1e-10, 0.0)?;
    same_result(
        &loss::pearson_masked(&p, &t, &mask),
        &loss::pearson(&ps, &ts),
        1e-10,
        0.0,
    )?;
    Ok(())
}

/// `(B, N, pred, target, mask)` with 0/1 mask entries or general weights.
fn masked_batch() -> impl Strategy<Value = (Array2<f64>, Array2<f64>, Array2<f64>)> {
    (1usize..5, 1usize..12).prop_flat_map(|(b, n)| {
        let vals = move || {
            proptest::collection::vec(-100.0f64..100.0, b * n)
                .prop_map(move |v| Array2::from_shape_vec((b, n), v).expect("length"))
        };
        let weight = prop_oneof![3 => Just(1.0), 2 => Just(0.0), 1 => 0.0f64..5.0];
        (
            vals(),
            vals(),
            proptest::collection::vec(weight, b * n)
                .prop_map(move |v| Array2::from_shape_vec((b, n), v).expect("length")),
        )
    })
}

/// The `[B, N]` result is the mean over rows with >= 2 valid residues of the
/// per-row results (the first failing row's error, if any; TooFewValid if no row
/// qualifies).
fn check_batch_is_row_mean<F: Float>(
    p64: &Array2<f64>,
    t64: &Array2<f64>,
    m64: &Array2<f64>,
    rel: f64,
) -> TestResult {
    let (p, t, m) = (
        p64.mapv(F::from_f64_lossy),
        t64.mapv(F::from_f64_lossy),
        m64.mapv(F::from_f64_lossy),
    );
    type Masked<F> = fn(&Array1<F>, &Array1<F>, &Array1<F>) -> Result<F, Error>;
    type Batch<F> = fn(&Array2<F>, &Array2<F>, &Array2<F>) -> Result<F, Error>;
    let funcs: [(Masked<F>, Batch<F>); 2] = [
        (
            |p, t, m| loss::normalized_mse_masked(p, t, m),
            |p, t, m| loss::normalized_mse_masked(p, t, m),
        ),
        (
            |p, t, m| loss::pearson_masked(p, t, m),
            |p, t, m| loss::pearson_masked(p, t, m),
        ),
    ];
    for (row_fn, batch_fn) in funcs {
        let batch = batch_fn(&p, &t, &m);
        let mut expected: Option<Result<F, Error>> = None;
        let (mut total, mut total_abs, mut rows, mut most_valid) = (0.0f64, 0.0f64, 0usize, 0usize);
        for i in 0..p.nrows() {
            let valid = m.row(i).iter().filter(|&&w| w > F::zero()).count();
            most_valid = most_valid.max(valid);
            let r = row_fn(
                &p.row(i).to_owned(),
                &t.row(i).to_owned(),
                &m.row(i).to_owned(),
            );
            if valid < 2 {
                prop_assert!(matches!(r, Err(Error::TooFewValid { .. })), "{:?}", r);
                continue;
            }
            match r {
                Ok(v) => {
                    total += v.to_f64_exact();
                    total_abs += v.to_f64_exact().abs();
                    rows += 1;
                }
                Err(Error::ZeroVariance { what, series, .. }) => {
                    // The batch reports the row's index.
                    expected = Some(Err(Error::ZeroVariance {
                        what,
                        series,
                        row: i,
                    }));
                    break;
                }
                Err(e) => return Err(TestCaseError::fail(format!("row {i}: {e}"))),
            }
        }
        let expected = expected.unwrap_or_else(|| {
            if rows == 0 {
                Err(Error::TooFewValid {
                    what: String::new(),
                    needed: 2,
                    got: most_valid,
                })
            } else {
                Ok(F::from_f64_lossy(total / rows as f64))
            }
        });
        match (&batch, &expected) {
            (
                Err(Error::TooFewValid { needed, got, .. }),
                Err(Error::TooFewValid { got: g, .. }),
            ) => {
                prop_assert_eq!(*needed, 2);
                prop_assert_eq!(got, g);
            }
            // Per-row rounding (f32) is relative to each row's value, not to
            // their mean, which can cancel.
            _ => same_result(
                &batch,
                &expected,
                rel,
                rel * total_abs / rows.max(1) as f64 + 1e-12,
            )?,
        }
    }
    Ok(())
}

/// pred = a·x + b with a > 0.
fn affine_case() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, f64, f64)> {
    (2usize..30).prop_flat_map(|n| {
        (
            proptest::collection::vec(-100.0f64..100.0, n),
            proptest::collection::vec(-100.0f64..100.0, n),
            0.1f64..10.0,
            -1000.0f64..1000.0,
        )
    })
}

fn population_std(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ones_mask_equals_no_mask((p, t, _) in masked_row(2)) {
        check_ones_mask::<f64>(&p, &t, 1e-12)?;
        check_ones_mask::<f32>(&p, &t, 1e-12)?;
    }

    #[test]
    fn zero_one_mask_equals_valid_subset((p, t, keep) in masked_row(1)) {
        check_mask_is_subset::<f64>(&p, &t, &keep)?;
        // f32 values widen exactly to f64, and all sums are in f64: same law.
        check_mask_is_subset::<f32>(&p, &t, &keep)?;
    }

    /// normalized_mse(a·p + b, t) vs normalized_mse(p, t).
    ///
    /// Not exactly invariant: with σ the population std of p and ε = 1e-8, the
    /// z-scores of a·p + b are (p - m)/(σ + ε/a) = k·z_p with
    /// k = (σ + ε)/(σ + ε/a), so |k - 1| <= ε·|1 - 1/a|/σ (<= 9e-8/σ for a in
    /// [0.1, 10]). MSE' - MSE = (k - 1)·((k + 1)·mean(z_p²) - 2·mean(z_p·z_t)),
    /// and mean(z_p²) <= 1, |mean(z_p·z_t)| <= 1, so
    /// |MSE' - MSE| <= |k - 1|·(4 + |k - 1|). On top, a·p + b rounds by half an
    /// ulp of |a·p + b| <= 10·100 + 1000, i.e. relative to a·σ by ~2.5e-13/(a·σ).
    /// The std is kept >= 1 so that both terms stay far below 1e-6; for
    /// B-factor-like spreads (σ >= 10) the bound is below 1e-8 relative.
    #[test]
    fn normalized_mse_affine_invariant((p, t, a, b) in affine_case()) {
        let sigma = population_std(&p);
        prop_assume!(sigma >= 1.0);
        let pa = Array1::from(p.clone());
        let t = Array1::from(t);
        let base = loss::normalized_mse(&pa, &t).unwrap();
        let moved = loss::normalized_mse(&pa.mapv(|v| a * v + b), &t).unwrap();
        let dk = 1e-8 * (1.0 - 1.0 / a).abs() / sigma;
        let rounding = 64.0 * f64::EPSILON * (2000.0 / (a * sigma) + 1.0);
        let tol = dk * (4.0 + dk) + rounding;
        prop_assert!((moved - base).abs() <= tol, "{} vs {} (tol {})", moved, base, tol);
        // Rounded to the ~1e-9 relative the brief asks for when sigma is large.
        if sigma >= 100.0 {
            prop_assert!(close(moved, base, 1e-9, 1e-12), "{} vs {}", moved, base);
        }
        // The loss is symmetric in its arguments, bit for bit.
        prop_assert_eq!(loss::normalized_mse(&t, &pa).unwrap(), base);
    }

    #[test]
    fn pearson_in_unit_interval(
        (p, t, m) in masked_batch(),
    ) {
        for r in [loss::pearson(&p, &t), loss::pearson_masked(&p, &t, &m)] {
            match r {
                Ok(r) => prop_assert!((-1.0..=1.0).contains(&r), "{}", r),
                Err(e) => prop_assert!(
                    matches!(e, Error::ZeroVariance { .. } | Error::TooFewValid { .. }),
                    "{:?}", e
                ),
            }
        }
        let (p32, t32, m32) = (p.mapv(|v| v as f32), t.mapv(|v| v as f32), m.mapv(|v| v as f32));
        if let Ok(r) = loss::pearson_masked(&p32, &t32, &m32) {
            prop_assert!((-1.0..=1.0).contains(&r), "{}", r);
        }
    }

    /// pearson(x, a·x + b) = ±1: a·x + b rounds by at most ~1e-13 relative to
    /// a·σ, which moves r from ±1 by far less than 1e-9.
    #[test]
    fn pearson_of_affine_is_one((x, _, a, b) in affine_case(), negate in any::<bool>()) {
        let x = Array1::from(x);
        prop_assume!(population_std(x.as_slice().unwrap()) >= 1e-3);
        let a = if negate { -a } else { a };
        let y = x.mapv(|v| a * v + b);
        let r = loss::pearson(&x, &y).unwrap();
        let want = a.signum();
        prop_assert!((r - want).abs() <= 1e-9, "{} vs {}", r, want);
        let r = loss::pearson(&y, &x).unwrap();
        prop_assert!((r - want).abs() <= 1e-9, "{} vs {}", r, want);
        // f32 inputs: x and a·x + b are each rounded to f32, by up to half an
        // ulp of 1000 (3e-5) against a spread a·σ >= 0.1, so r moves from ±1 by
        // ~(3e-4)² at most.
        if population_std(x.as_slice().unwrap()) >= 1.0 {
            let (x32, y32) = (x.mapv(|v| v as f32), y.mapv(|v| v as f32));
            let r = loss::pearson(&x32, &y32).unwrap();
            prop_assert!((r - want as f32).abs() <= 1e-4, "{} vs {}", r, want);
        }
    }

    #[test]
    fn batch_is_mean_of_rows_f64((p, t, m) in masked_batch()) {
        check_batch_is_row_mean::<f64>(&p, &t, &m, 1e-13)?;
    }

    #[test]
    fn batch_is_mean_of_rows_f32((p, t, m) in masked_batch()) {
        // Per-row results are rounded to f32 before this test averages them.
        check_batch_is_row_mean::<f32>(&p, &t, &m, 1e-6)?;
    }

    /// Without a mask every row of [B, N >= 2] counts.
    #[test]
    fn unmasked_batch_is_mean_of_rows((p, t, _) in masked_batch()) {
        prop_assume!(p.ncols() >= 2);
        let ones = Array2::ones(p.raw_dim());
        same_result(&loss::normalized_mse(&p, &t), &loss::normalized_mse_masked(&p, &t, &ones), 1e-12, 0.0)?;
        check_batch_is_row_mean::<f64>(&p, &t, &ones, 1e-13)?;
    }
}

// ---------------------------------------------------------------------------
// numpy_rng
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// randn(n) then randn(m) equals randn(n + m): the second normal of each
    /// polar pair is cached across calls (NumPy's `has_gauss`).
    #[test]
    fn randn_split_equals_all_at_once(seed in any::<u32>(), n in 0usize..16, m in 0usize..16, k in 0usize..5) {
        let all = NumpyRandom::seed(seed).randn(n + m + k);
        let mut rng = NumpyRandom::seed(seed);
        let a = rng.randn(n);
        let b = rng.randn((m, 1));
        let c: Vec<f64> = (0..k).map(|_| rng.standard_normal()).collect();
        let joined: Vec<f64> = a.iter().chain(b.iter()).chain(&c).copied().collect();
        prop_assert_eq!(all.to_vec(), joined);
        // Clones carry the cache too.
        let mut rng = NumpyRandom::seed(seed);
        let _ = rng.randn(n);
        let mut twin = rng.clone();
        prop_assert_eq!(rng.randn(m), twin.randn(m));
    }
}

/// `np.random.seed(42); np.random.randn(5)` and `np.random.seed(0); np.random.randn(3)`
/// (NumPy 2.4), drawn in odd-sized pieces.
#[test]
fn randn_pieces_match_numpy() {
    let mut rng = NumpyRandom::seed(42);
    let mut got = rng.randn(1).to_vec();
    got.extend(rng.randn(3));
    got.push(rng.standard_normal());
    assert_eq!(
        got,
        [
            0.4967141530112327,
            -0.13826430117118466,
            0.6476885381006925,
            1.5230298564080254,
            -0.23415337472333597
        ]
    );
    let mut rng = NumpyRandom::seed(0);
    let mut got = vec![rng.standard_normal()];
    got.extend(rng.randn((1, 2)));
    assert_eq!(
        got,
        [1.764052345967664, 0.4001572083672233, 0.9787379841057392]
    );
}

/// A smoke check that empty batches flow through every path above.
#[test]
fn empty_batch_forward_and_probabilities() {
    let head = make_head::<f32>(4, 5, 100.0, 1, 1.0);
    let out = head.forward(&Array::<f32, _>::zeros((3, 0, 4))).unwrap();
    assert_eq!(out.probabilities().shape(), &[3, 0, 5]);
    assert_eq!(out.bfactor.shape(), &[3, 0]);
}
