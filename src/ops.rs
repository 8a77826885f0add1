//! Row kernels shared by every head and loss: layer norm, ReLU, softmax,
//! log-softmax and the softmax expectation over bin values.
//!
//! Each kernel exists once, as a function over one contiguous row (`&[F]`), and the
//! heads, the losses and the array-level wrappers below all call it. The array
//! wrappers work over the last axis of any `[..., n]` array, like PyTorch's
//! `dim=-1`.
//!
//! ```
//! use bfactor::ops;
//! use ndarray::array;
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
#[inline]
pub fn layer_norm_row<F: Float>(row: &mut [F], eps: F) -> F {
    let n = F::from_usize(row.len()).unwrap_or_else(F::one);
    let mean = row.iter().copied().sum::<F>() / n;
    let var = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<F>() / n;
    let inv_std = F::one() / (var + eps).sqrt();
    for v in row.iter_mut() {
        *v = (*v - mean) * inv_std;
    }
    inv_std
}

/// Backward of [`layer_norm_row`]: turns `dy` (the gradient at the output `y`) into
/// the gradient at the input, in place: `inv_std · (dy - mean(dy) - y · mean(dy·y))`.
#[inline]
pub fn layer_norm_backward_row<F: Float>(dy: &mut [F], y: &[F], inv_std: F) {
    debug_assert_eq!(dy.len(), y.len());
    let n = F::from_usize(dy.len()).unwrap_or_else(F::one);
    let mean_dy = dy.iter().copied().sum::<F>() / n;
    let mean_dy_y = dy.iter().zip(y).map(|(&d, &v)| d * v).sum::<F>() / n;
    for (d, &v) in dy.iter_mut().zip(y) {
        *d = inv_std * (*d - mean_dy - v * mean_dy_y);
    }
}

/// ReLU followed by [`layer_norm_row`]; returns the layer norm's `1 / sqrt(var + eps)`.
#[inline]
pub fn relu_layer_norm_row<F: Float>(row: &mut [F], eps: F) -> F {
    for v in row.iter_mut() {
        *v = v.max(F::zero());
    }
    layer_norm_row(row, eps)
}

/// `log Σ exp(x)`, shifted by the maximum so that no term overflows.
#[inline]
pub fn logsumexp_row<F: Float>(logits: &[F]) -> F {
    let max = row_max(logits);
    max + logits.iter().map(|&l| (l - max).exp()).sum::<F>().ln()
}

/// Softmax of one row into `out` (same length), shifted by the row maximum.
#[inline]
pub fn softmax_row<F: Float>(logits: &[F], out: &mut [F]) {
    debug_assert_eq!(logits.len(), out.len());
    let max = row_max(logits);
    let mut sum = F::zero();
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        sum += *o;
    }
    let inv = F::one() / sum;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

/// Log-softmax of one row into `out`: `(x - max) - ln Σ exp(x - max)`, the order
/// of operations PyTorch's `log_softmax` uses.
#[inline]
pub fn log_softmax_row<F: Float>(logits: &[F], out: &mut [F]) {
    debug_assert_eq!(logits.len(), out.len());
    let max = row_max(logits);
    let log_sum = logits.iter().map(|&l| (l - max).exp()).sum::<F>().ln();
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = (l - max) - log_sum;
    }
}

/// Cross-entropy of one row against class `target`: `-log_softmax(logits)[target]`,
/// computed as [`log_softmax_row`] computes that entry. `target` must be in range.
#[inline]
pub fn cross_entropy_row<F: Float>(logits: &[F], target: usize) -> F {
    let max = row_max(logits);
    let log_sum = logits.iter().map(|&l| (l - max).exp()).sum::<F>().ln();
    -((logits[target] - max) - log_sum)
}

/// `Σ softmax(logits)_k · values_k` in one pass, without materialising the
/// probabilities. The result is clamped to `[min(values), max(values)]`, which it
/// lies in mathematically, so rounding cannot push it outside; a NaN (from
/// infinite logits) stays NaN.
#[inline]
pub fn softmax_expectation_row<F: Float>(logits: &[F], values: &[F]) -> F {
    debug_assert_eq!(logits.len(), values.len());
    let max = row_max(logits);
    let (mut sum, mut weighted) = (F::zero(), F::zero());
    for (&l, &v) in logits.iter().zip(values) {
        let e = (l - max).exp();
        sum += e;
        weighted += e * v;
    }
    let (lo, hi) = values
        .iter()
        .fold((F::infinity(), F::neg_infinity()), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let e = weighted / sum;
    if e < lo {
        lo
    } else if e > hi {
        hi
    } else {
        e
    }
}

#[inline]
fn row_max<F: Float>(row: &[F]) -> F {
    row.iter().copied().fold(F::neg_infinity(), F::max)
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
        return Err(Error::Config {
            field: "eps".into(),
            value: eps.to_string(),
            expected: "a finite number > 0".into(),
        });
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
        Err(Error::NonFinite {
            what: format!("{what} (the row's mean or variance overflows {})", F::NAME),
            index: vec![row],
            value: f64::INFINITY,
        })
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
        None => {
            return Err(Error::Rank {
                what: what.to_string(),
                expected: "at least 1".to_string(),
                got: 0,
                shape: vec![],
            })
        }
    };
    if n == 0 {
        return Err(Error::Empty {
            what: what.to_string(),
            shape: x.shape().to_vec(),
            unit: "element along the last axis".to_string(),
        });
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
