//! Row kernels shared by every head and loss: layer norm, ReLU, softmax,
//! log-softmax and the softmax expectation over bin values.
//!
//! Each kernel exists once, as a crate-private function over one contiguous row
//! (`&[F]`, lengths guaranteed by the caller), and the heads, the losses and the
//! public array-level wrappers below all call it. The wrappers check shapes and
//! work over the last axis of any `[..., n]` array, like PyTorch's `dim=-1`.
//!
//! ```
//! use bfactor::ops;
//! use bfactor::ndarray::array;
//!
//! let logits = array![[1.0_f64, 2.0, 3.0], [1e4, -1e4, 0.0]];
//! let p = ops::softmax(&logits).unwrap();
//! assert!((p.row(0).sum() - 1.0).abs() < 1e-15);
//! assert_eq!(p[[1, 0]], 1.0); // no overflow at ±1e4
//! let e = ops::softmax_expectation(&logits, &[0.0, 50.0, 100.0]).unwrap();
//! assert!(e[0] > 50.0 && e[1] == 0.0);
//! ```

use ndarray::{Array, Array2, ArrayBase, Axis, Data, Dimension, RemoveAxis};

use crate::{check, Error, Float, Result};

/// Layer norm without scale or shift, in place: `(x - mean) / sqrt(var + eps)`,
/// with the population variance (NumPy's `np.var`, PyTorch's `LayerNorm`).
/// Returns `1 / sqrt(var + eps)`, which [`layer_norm_backward_row`] needs.
///
/// The sums run over 16 interleaved lanes (element `i` into lane `i % 16`, the
/// lanes then added pairwise), which vectorises and is a little more accurate than
/// one running sum; the result does not depend on the CPU.
#[inline]
pub(crate) fn layer_norm_row<F: Float>(row: &mut [F], eps: F) -> F {
    layer_norm_impl(row, eps)
}

/// Backward of [`layer_norm_row`]: turns `dy` (the gradient at the output `y`) into
/// the gradient at the input, in place: `inv_std · (dy - mean(dy) - y · mean(dy·y))`.
#[inline]
pub(crate) fn layer_norm_backward_row<F: Float>(dy: &mut [F], y: &[F], inv_std: F) {
    debug_assert_eq!(dy.len(), y.len());
    let n = F::from_usize(dy.len()).unwrap_or_else(F::one);
    let mean_dy = lane_sum(dy) / n;
    let mean_dy_y = lane_dot(dy, y) / n;
    for (d, &v) in dy.iter_mut().zip(y) {
        *d = inv_std * (*d - mean_dy - v * mean_dy_y);
    }
}

/// ReLU followed by [`layer_norm_row`]; returns the layer norm's `1 / sqrt(var + eps)`.
#[inline]
pub(crate) fn relu_layer_norm_row<F: Float>(row: &mut [F], eps: F) -> F {
    relu_layer_norm_impl(row, eps)
}

/// Softmax of one row into `out` (same length), shifted by the row maximum.
#[inline]
pub(crate) fn softmax_row<F: Float>(logits: &[F], out: &mut [F]) {
    softmax_impl(logits, out)
}

/// Log-softmax of one row into `out`: `(x - max) - ln Σ exp(x - max)`, the order
/// of operations PyTorch's `log_softmax` uses.
#[inline]
pub(crate) fn log_softmax_row<F: Float>(logits: &[F], out: &mut [F]) {
    debug_assert_eq!(logits.len(), out.len());
    let max = lane_max(logits);
    let log_sum = sum_exp_shifted(logits, max).ln();
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = (l - max) - log_sum;
    }
}

/// Cross-entropy of one row against class `target`: `-log_softmax(logits)[target]`,
/// computed as [`log_softmax_row`] computes that entry. `target` must be in range.
#[inline]
pub(crate) fn cross_entropy_row<F: Float>(logits: &[F], target: usize) -> F {
    let max = lane_max(logits);
    let log_sum = sum_exp_shifted(logits, max).ln();
    -((logits[target] - max) - log_sum)
}

/// `Σ softmax(logits)_k · values_k` in one pass, without materialising the
/// probabilities. The result is clamped to `[min(values), max(values)]`, which it
/// lies in mathematically, so rounding cannot push it outside; a NaN (from
/// infinite logits) stays NaN.
#[inline]
pub(crate) fn softmax_expectation_row<F: Float>(logits: &[F], values: &[F]) -> F {
    softmax_expectation_impl(logits, values)
}

// ---------------------------------------------------------------- lane kernels
//
// Every reduction below accumulates element `i` into lane `i % LANES` and then adds
// the lanes pairwise in a fixed order. The order is part of the definition, so the
// results are the same bits whether the compiler emits SSE2, AVX2 or AVX-512
// (`mul_add` is never used here, so nothing is fused differently either). The
// heads call these through `#[target_feature]` wrappers to get wide vectors.

pub(crate) const LANES: usize = 16;

/// The lanes added pairwise (lane `l` with lane `l + w/2`, halving `w`).
#[inline(always)]
pub(crate) fn reduce_lanes<F: Float>(mut acc: [F; LANES]) -> F {
    let mut w = LANES / 2;
    while w > 0 {
        for l in 0..w {
            acc[l] += acc[l + w];
        }
        w /= 2;
    }
    acc[0]
}

#[inline(always)]
pub(crate) fn lane_sum<F: Float>(x: &[F]) -> F {
    lane_sum_by(x, |v| v)
}

/// `Σ f(x)`, over lanes.
#[inline(always)]
fn lane_sum_by<F: Float>(x: &[F], f: impl Fn(F) -> F) -> F {
    let mut acc = [F::zero(); LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] += f(c[l]);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += f(v);
    }
    reduce_lanes(acc)
}

#[inline(always)]
fn lane_dot<F: Float>(x: &[F], y: &[F]) -> F {
    let mut acc = [F::zero(); LANES];
    let mut cx = x.chunks_exact(LANES);
    let mut cy = y.chunks_exact(LANES);
    for (a, b) in (&mut cx).zip(&mut cy) {
        for l in 0..LANES {
            acc[l] += a[l] * b[l];
        }
    }
    for ((s, &a), &b) in acc.iter_mut().zip(cx.remainder()).zip(cy.remainder()) {
        *s += a * b;
    }
    reduce_lanes(acc)
}

/// Σ (f(x) - m)², over lanes.
#[inline(always)]
fn lane_sq_dev_by<F: Float>(x: &[F], m: F, f: impl Fn(F) -> F) -> F {
    lane_sum_by(x, |v| {
        let d = f(v) - m;
        d * d
    })
}

/// The maximum (NaN-ignoring, as `F::max`), over lanes.
#[inline(always)]
fn lane_max<F: Float>(x: &[F]) -> F {
    let mut acc = [F::neg_infinity(); LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] = acc[l].max(c[l]);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a = a.max(v);
    }
    let mut w = LANES / 2;
    while w > 0 {
        for l in 0..w {
            acc[l] = acc[l].max(acc[l + w]);
        }
        w /= 2;
    }
    acc[0]
}

#[inline(always)]
fn lane_min<F: Float>(x: &[F]) -> F {
    let mut acc = [F::infinity(); LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] = acc[l].min(c[l]);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a = a.min(v);
    }
    let mut w = LANES / 2;
    while w > 0 {
        for l in 0..w {
            acc[l] = acc[l].min(acc[l + w]);
        }
        w /= 2;
    }
    acc[0]
}

/// Whether every value of `x` is finite (and, with `nonneg`, `>= 0`), in one
/// vectorised pass with the widest instructions the CPU has.
pub(crate) fn screen<F: Float>(x: &[F], nonneg: bool) -> bool {
    crate::cpu::dispatch(Screen { x, nonneg })
}

/// [`screen`]'s arguments, compiled per [`crate::cpu::Level`].
struct Screen<'a, F> {
    x: &'a [F],
    nonneg: bool,
}

impl<F: Float> crate::cpu::Kernel for Screen<'_, F> {
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        if self.nonneg {
            screen_in_place::<F, true>(self.x)
        } else {
            screen_in_place::<F, false>(self.x)
        }
    }
}

/// [`screen`] compiled into the caller (for callers already inside a
/// `#[target_feature]` function): chunks of 64 are reduced with `&` (no branch
/// inside, so it vectorises to compares and mask ands), stopping at the first
/// bad chunk.
#[inline(always)]
fn screen_in_place<F: Float, const NONNEG: bool>(x: &[F]) -> bool {
    #[inline(always)]
    fn ok<F: Float, const NONNEG: bool>(c: &[F]) -> bool {
        // `v · 0` is ±0 for finite `v` and NaN for ±inf and NaN.
        c.iter().fold(true, |ok, &v| {
            ok & (v * F::zero() == F::zero()) & (!NONNEG | (v >= F::zero()))
        })
    }
    let mut chunks = x.chunks_exact(64);
    chunks.by_ref().all(ok::<F, NONNEG>) && ok::<F, NONNEG>(chunks.remainder())
}

/// Whether every value is finite, compiled into the caller.
#[inline(always)]
pub(crate) fn all_finite<F: Float>(x: &[F]) -> bool {
    screen_in_place::<F, false>(x)
}

/// `Σ exp(x - max)`, over lanes.
#[inline(always)]
fn sum_exp_shifted<F: Float>(x: &[F], max: F) -> F {
    let mut acc = [F::zero(); LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] += exp(c[l] - max);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += exp(v - max);
    }
    reduce_lanes(acc)
}

/// The mean and `1 / sqrt(var + eps)` of `f(x)`.
#[inline(always)]
fn norm_stats<F: Float>(x: &[F], eps: F, f: impl Fn(F) -> F + Copy) -> (F, F) {
    let n = F::from_usize(x.len()).unwrap_or_else(F::one);
    let mean = lane_sum_by(x, f) / n;
    let var = lane_sq_dev_by(x, mean, f) / n;
    (mean, F::one() / (var + eps).sqrt())
}

#[inline(always)]
pub(crate) fn layer_norm_impl<F: Float>(row: &mut [F], eps: F) -> F {
    let (mean, inv_std) = norm_stats(row, eps, |v| v);
    for v in row.iter_mut() {
        *v = (*v - mean) * inv_std;
    }
    inv_std
}

/// [`layer_norm_impl`] of `src` written to `dst` (the same bits, without a copy).
#[inline(always)]
pub(crate) fn layer_norm_into<F: Float>(src: &[F], dst: &mut [F], eps: F) -> F {
    let (mean, inv_std) = norm_stats(src, eps, |v| v);
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = (v - mean) * inv_std;
    }
    inv_std
}

/// Layer norm of `max(x, 0)` in place, the ReLU applied on the fly in every
/// sweep (the same bits as applying it first, one pass fewer).
#[inline(always)]
pub(crate) fn relu_layer_norm_impl<F: Float>(row: &mut [F], eps: F) -> F {
    let relu = |v: F| v.max(F::zero());
    let (mean, inv_std) = norm_stats(row, eps, relu);
    for v in row.iter_mut() {
        *v = (relu(*v) - mean) * inv_std;
    }
    inv_std
}

#[inline(always)]
pub(crate) fn softmax_impl<F: Float>(logits: &[F], out: &mut [F]) {
    debug_assert_eq!(logits.len(), out.len());
    let max = lane_max(logits);
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = exp(l - max);
    }
    let inv = F::one() / lane_sum(out);
    for o in out.iter_mut() {
        *o *= inv;
    }
}

#[inline(always)]
pub(crate) fn softmax_expectation_impl<F: Float>(logits: &[F], values: &[F]) -> F {
    softmax_expectation_bounded(logits, values, lane_min(values), lane_max(values))
}

/// [`softmax_expectation_row`] with `lo = min(values)` and `hi = max(values)`
/// given, for callers that reuse one `values` for many rows.
#[inline(always)]
pub(crate) fn softmax_expectation_bounded<F: Float>(logits: &[F], values: &[F], lo: F, hi: F) -> F {
    debug_assert_eq!(logits.len(), values.len());
    let max = lane_max(logits);
    let mut sum = [F::zero(); LANES];
    let mut weighted = [F::zero(); LANES];
    let mut cl = logits.chunks_exact(LANES);
    let mut cv = values.chunks_exact(LANES);
    for (l, v) in (&mut cl).zip(&mut cv) {
        for i in 0..LANES {
            let e = exp(l[i] - max);
            sum[i] += e;
            weighted[i] += e * v[i];
        }
    }
    for (i, (&l, &v)) in cl.remainder().iter().zip(cv.remainder()).enumerate() {
        let e = exp(l - max);
        sum[i] += e;
        weighted[i] += e * v;
    }
    let e = reduce_lanes(weighted) / reduce_lanes(sum);
    if e < lo {
        lo
    } else if e > hi {
        hi
    } else {
        e
    }
}

// ---------------------------------------------------------------- exp

/// `e^x`, branch-free so that loops over it vectorise: Cody–Waite reduction
/// `x = n·ln 2 + r`, `|r| <= ln 2 / 2`, a Taylor polynomial for `e^r` (within
/// about 2 ulp of the correctly rounded value in both types), and `2^n` built from
/// its bits in two halves so that results down to the subnormals are right.
/// `exp(-inf) = 0`, `exp(NaN)` is NaN; arguments above `ln(MAX)` give `inf`.
#[inline(always)]
pub(crate) fn exp<F: Float>(x: F) -> F {
    F::exp_kernel(x)
}

/// [`exp`] for `f32`.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4; // 355/512, exact times any |n| < 2^15
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-104.0, 88.8); // NaN stays NaN
    let shifted = x * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // n as an integer, read off the low bits of `shifted` (integer lanes
    // vectorise; `n as i32`, a saturating conversion, does not).
    let ni = shifted.to_bits() as i32 - MAGIC.to_bits() as i32;
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    p * s1 * s2
}

/// [`exp`] for `f64`.
#[inline(always)]
pub(crate) fn exp_f64(x: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
                                                // fdlibm's ln2_hi (32 trailing zero bits, so n · LN2_HI is exact) and ln2_lo.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    let x = x.clamp(-746.0, 709.8); // NaN stays NaN
    let shifted = x * std::f64::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let mut p = C[13];
    for &c in C[..13].iter().rev() {
        p = c + r * p;
    }
    let ni = shifted.to_bits() as i64 - MAGIC.to_bits() as i64; // as in exp_f32
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f64::from_bits(((n1 + 1023) as u64) << 52);
    let s2 = f64::from_bits(((n2 + 1023) as u64) << 52);
    p * s1 * s2
}

/// Layer norm over the last axis of `[..., n]` (no scale or shift).
///
/// Errors if `eps` is not finite and positive, and if a row's values are so large
/// that its mean or variance overflows `F` (about `1e19` in `f32`).
pub fn layer_norm<F: Float, S: Data<Elem = F>, D: Dimension>(
    x: &ArrayBase<S, D>,
    eps: F,
) -> Result<Array<F, D>> {
    if !(eps.is_finite() && eps > F::zero()) {
        return Err(Error::config("eps", eps, "a finite number > 0"));
    }
    let (mut rows, dim) = rows_of("x", x)?;
    for (i, mut row) in rows.rows_mut().into_iter().enumerate() {
        let inv_std = layer_norm_row(row.as_slice_mut().expect("standard layout"), eps);
        check_layer_norm("layer norm of x", i, inv_std)?;
    }
    Ok(unflatten(rows, dim))
}

/// A layer norm's `1 / sqrt(var + eps)` is finite and positive unless the row's
/// mean or variance overflowed `F`; then the normalised row would be NaN or all
/// zeros, so report it instead.
pub(crate) fn check_layer_norm<F: Float>(what: &str, row: usize, inv_std: F) -> Result<()> {
    if inv_std.is_finite() && inv_std > F::zero() {
        Ok(())
    } else {
        Err(Error::non_finite(
            format!("{what} (the row's mean or variance overflows {})", F::NAME),
            vec![row],
            f64::INFINITY,
        ))
    }
}

/// Softmax over the last axis of `[..., n]`.
pub fn softmax<F: Float, S: Data<Elem = F>, D: Dimension>(
    logits: &ArrayBase<S, D>,
) -> Result<Array<F, D>> {
    map_rows(logits, softmax_row)
}

/// Log-softmax over the last axis of `[..., n]`.
pub fn log_softmax<F: Float, S: Data<Elem = F>, D: Dimension>(
    logits: &ArrayBase<S, D>,
) -> Result<Array<F, D>> {
    map_rows(logits, log_softmax_row)
}

/// The expectation of `values` (one per bin) under the softmax of `logits`
/// `[..., n]`, giving `[...]`.
pub fn softmax_expectation<F: Float, S: Data<Elem = F>, D: RemoveAxis>(
    logits: &ArrayBase<S, D>,
    values: &[F],
) -> Result<Array<F, D::Smaller>> {
    check::last_axis("logits", "number of bins", logits, values.len())?;
    check::finite("bin values", &ndarray::aview1(values))?;
    let (rows, dim) = rows_of("logits", logits)?;
    let out: Vec<F> = rows
        .rows()
        .into_iter()
        .map(|r| softmax_expectation_row(r.as_slice().expect("standard layout"), values))
        .collect();
    let out_dim = dim.remove_axis(Axis(dim.ndim() - 1));
    Ok(Array::from_shape_vec(out_dim, out).expect("one value per row"))
}

fn map_rows<F: Float, S: Data<Elem = F>, D: Dimension>(
    x: &ArrayBase<S, D>,
    kernel: fn(&[F], &mut [F]),
) -> Result<Array<F, D>> {
    let (rows, dim) = rows_of("logits", x)?;
    let mut out = Array2::zeros(rows.raw_dim());
    for (src, mut dst) in rows.rows().into_iter().zip(out.rows_mut()) {
        kernel(
            src.as_slice().expect("standard layout"),
            dst.as_slice_mut().expect("standard layout"),
        );
    }
    Ok(unflatten(out, dim))
}

/// Copies `[..., n]` into a standard-layout `[rows, n]` array after checking that it
/// has at least one axis, a non-empty last axis and only finite values.
pub(crate) fn rows_of<F: Float, S: Data<Elem = F>, D: Dimension>(
    what: &str,
    x: &ArrayBase<S, D>,
) -> Result<(Array2<F>, D)> {
    let n = match x.shape().last() {
        Some(&n) => n,
        None => return Err(Error::rank(what, "at least 1", 0, vec![])),
    };
    if n == 0 {
        return Err(Error::empty(what, x.shape(), "element along the last axis"));
    }
    check::finite(what, x)?;
    let rows = x.len() / n;
    let flat = x
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((rows, n))
        .expect("standard layout reshapes");
    Ok((flat, x.raw_dim()))
}

/// Inverse of [`rows_of`]: `[rows, n]` back to `dim` with its last axis set to `n`.
pub(crate) fn unflatten<F: Float, D: Dimension>(rows: Array2<F>, mut dim: D) -> Array<F, D> {
    let last = dim.ndim() - 1;
    dim[last] = rows.ncols();
    rows.into_shape_with_order(dim)
        .expect("same number of elements")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_std() {
        let mut worst = (0.0_f64, 0.0_f32);
        for i in 0..=200_000 {
            let x = -745.0 + 1455.0 * i as f64 / 200_000.0;
            let (got, want) = (exp(x), x.exp());
            if want > f64::MIN_POSITIVE {
                worst.0 = worst.0.max(((got - want) / want).abs() / f64::EPSILON);
            }
            let xf = (-103.0 + 191.0 * i as f64 / 200_000.0) as f32;
            let (got, want) = (exp(xf), xf.exp());
            if want > f32::MIN_POSITIVE && want.is_finite() {
                worst.1 = worst.1.max(((got - want) / want).abs() / f32::EPSILON);
            }
        }
        assert!(worst.0 <= 4.0 && worst.1 <= 4.0, "{worst:?}");
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(0.0_f32), 1.0);
        assert!(exp(f64::NAN).is_nan() && exp(f32::NAN).is_nan());
        assert_eq!(exp(1000.0_f64), f64::INFINITY);
        assert_eq!(exp(-1e4_f32), 0.0);
    }
}
