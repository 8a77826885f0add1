//! Losses and metrics on predicted against experimental B-factors: the notebook's
//! normalized MSE and Pearson's correlation, with optional per-residue masks, and
//! Boltz-2's binned cross-entropy on logits (see [`binned_cross_entropy`]).
//!
//! ```
//! use bfactor::loss;
//! use ndarray::array;
//!
//! let pred = array![10.0_f64, 20.0, 30.0, 99.0];
//! let target = array![31.0, 52.0, 73.0, 0.0];
//! let mask = array![1.0, 1.0, 1.0, 0.0]; // the last residue is padding
//! // z-scored on the valid residues, pred and target are identical:
//! assert!(loss::normalized_mse_masked(&pred, &target, &mask)? < 1e-12);
//! assert!((loss::pearson_masked(&pred, &target, &mask)? - 1.0).abs() < 1e-12);
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # Shapes
//! `pred`, `target` and `mask` share one shape, `[N]` (one protein) or `[B, N]`
//! (one protein per row). Each row is normalised on its own; the result is the mean
//! over the rows that have at least two valid residues (an error if none has).
//!
//! # Masks, and how they differ from the notebook
//! A mask holds finite weights `>= 0`: 1 for a valid residue, 0 for padding (other
//! weights act as frequency weights). The statistics (means, standard deviations,
//! the MSE's mean, Pearson's moments) are weighted by the mask, so padding has no
//! effect at all. The notebook instead takes the mean and standard deviation over
//! **all** residues and only masks the final average, so padding values shift its
//! loss. With no mask, or a mask of ones, both agree: the result is the notebook's
//! `bfactor_loss` (including its `+ 1e-8` on the standard deviations and on the
//! mask sum).
//!
//! All sums are accumulated in `f64` whatever `F` is.

mod binned;

pub(crate) use binned::token_weights;
pub use binned::{
    bfactor_bins, binned_cross_entropy, binned_cross_entropy_masked,
    binned_cross_entropy_per_token, MIN_VALID_BFACTOR, WEIGHT_SUM_EPS,
};

use ndarray::{ArrayBase, ArrayView2, Axis, Data, Dimension, Ix2};

use crate::{check, Error, Float, Result};

/// Added to each standard deviation before dividing, and to the weight sum, as the
/// notebook does.
pub const NORMALIZATION_EPS: f64 = 1e-8;

/// Normalized MSE: z-score `pred` and `target` (population std + 1e-8), then the
/// mean squared difference. Equals the notebook's `bfactor_loss(pred, target)`.
pub fn normalized_mse<F, S1, S2, D>(pred: &ArrayBase<S1, D>, target: &ArrayBase<S2, D>) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: Dimension,
{
    per_row(
        "normalized_mse",
        pred,
        target,
        None::<&ArrayBase<S1, D>>,
        row_mse,
    )
}

/// Normalized MSE with the statistics weighted by `mask` (see the
/// [module docs](self) for how this differs from the notebook).
pub fn normalized_mse_masked<F, S1, S2, S3, D>(
    pred: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D>,
    mask: &ArrayBase<S3, D>,
) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: Dimension,
{
    per_row("normalized_mse_masked", pred, target, Some(mask), row_mse)
}

/// Pearson's correlation of `pred` and `target`, as NumPy's
/// `np.corrcoef(pred, target)[0, 1]`. Errors if either is constant.
pub fn pearson<F, S1, S2, D>(pred: &ArrayBase<S1, D>, target: &ArrayBase<S2, D>) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: Dimension,
{
    per_row(
        "pearson",
        pred,
        target,
        None::<&ArrayBase<S1, D>>,
        row_pearson,
    )
}

/// Pearson's correlation with moments weighted by `mask`; with a 0/1 mask, equal to
/// `np.corrcoef` on the valid residues.
pub fn pearson_masked<F, S1, S2, S3, D>(
    pred: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D>,
    mask: &ArrayBase<S3, D>,
) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: Dimension,
{
    per_row("pearson_masked", pred, target, Some(mask), row_pearson)
}

/// Weighted first and second moments of one row, the shared core of both losses
/// and their gradients.
pub(crate) struct RowMoments {
    /// Σ w.
    pub weight: f64,
    /// Weighted means of prediction and target.
    pub mean_p: f64,
    pub mean_t: f64,
    /// Weighted population variances.
    pub var_p: f64,
    pub var_t: f64,
    /// Largest |value| over the valid residues, the scale rounding errors live at.
    scale_p: f64,
    scale_t: f64,
    valid: usize,
}

impl RowMoments {
    /// The moments of row `row`; an error if a sum overflows (values near
    /// `f64::MAX.sqrt()`, or huge mask weights).
    pub(crate) fn of<F: Float>(
        p: &[F],
        t: &[F],
        w: &[f64],
        what: &str,
        row: usize,
    ) -> Result<Self> {
        let m = Self::compute(p, t, w);
        let sums = [m.weight, m.mean_p, m.mean_t, m.var_p, m.var_t];
        if sums.iter().all(|v| v.is_finite()) {
            Ok(m)
        } else {
            Err(Error::NonFinite {
                what: format!(
                    "{what}: the weighted sums over row {row} (values or mask weights too large)"
                ),
                index: vec![row],
                value: f64::INFINITY,
            })
        }
    }

    /// Whether the prediction (`series = 0`) or target (`1`) is constant over the
    /// valid residues, up to the rounding of its mean: a variance at or below
    /// `(4 · n · ε · max|x|)²` is indistinguishable from zero.
    pub(crate) fn is_constant(&self, series: usize) -> bool {
        let (var, scale) = if series == 0 {
            (self.var_p, self.scale_p)
        } else {
            (self.var_t, self.scale_t)
        };
        let floor = 4.0 * self.valid as f64 * f64::EPSILON * scale;
        var <= floor * floor
    }

    fn compute<F: Float>(p: &[F], t: &[F], w: &[f64]) -> Self {
        let scale = |x: &[F]| {
            x.iter()
                .zip(w)
                .filter(|(_, &w)| w > 0.0)
                .fold(0.0_f64, |m, (&v, _)| m.max(v.to_f64_exact().abs()))
        };
        let valid = w.iter().filter(|&&w| w > 0.0).count();
        let weight: f64 = w.iter().sum();
        let mean = |x: &[F]| {
            x.iter()
                .zip(w)
                .map(|(&v, &w)| w * v.to_f64_exact())
                .sum::<f64>()
                / weight
        };
        let (mean_p, mean_t) = (mean(p), mean(t));
        let var = |x: &[F], m: f64| {
            x.iter()
                .zip(w)
                .map(|(&v, &w)| w * (v.to_f64_exact() - m).powi(2))
                .sum::<f64>()
                / weight
        };
        Self {
            weight,
            var_p: var(p, mean_p),
            var_t: var(t, mean_t),
            mean_p,
            mean_t,
            scale_p: scale(p),
            scale_t: scale(t),
            valid,
        }
    }
}

fn row_mse<F: Float>(p: &[F], t: &[F], w: &[f64], row: usize) -> Result<f64> {
    let m = RowMoments::of(p, t, w, "normalized_mse", row)?;
    let sp = m.var_p.sqrt() + NORMALIZATION_EPS;
    let st = m.var_t.sqrt() + NORMALIZATION_EPS;
    let sum: f64 = p
        .iter()
        .zip(t)
        .zip(w)
        .map(|((&p, &t), &w)| {
            let d = (p.to_f64_exact() - m.mean_p) / sp - (t.to_f64_exact() - m.mean_t) / st;
            w * d * d
        })
        .sum();
    Ok(sum / (m.weight + NORMALIZATION_EPS))
}

fn row_pearson<F: Float>(p: &[F], t: &[F], w: &[f64], row: usize) -> Result<f64> {
    let m = RowMoments::of(p, t, w, "pearson", row)?;
    for (i, series) in ["prediction", "target"].into_iter().enumerate() {
        if m.is_constant(i) {
            return Err(Error::ZeroVariance {
                what: "pearson".into(),
                series: series.into(),
                row,
            });
        }
    }
    let cov: f64 = p
        .iter()
        .zip(t)
        .zip(w)
        .map(|((&p, &t), &w)| w * (p.to_f64_exact() - m.mean_p) * (t.to_f64_exact() - m.mean_t))
        .sum::<f64>()
        / m.weight;
    Ok((cov / m.var_p.sqrt() / m.var_t.sqrt()).clamp(-1.0, 1.0))
}

type RowStat<F> = fn(&[F], &[F], &[f64], usize) -> Result<f64>;

/// Validates the inputs, applies `stat` to every row with at least two valid
/// residues, and averages.
fn per_row<F, S1, S2, S3, D>(
    name: &str,
    pred: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D>,
    mask: Option<&ArrayBase<S3, D>>,
    stat: RowStat<F>,
) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: Dimension,
{
    if !(1..=2).contains(&pred.ndim()) {
        return Err(Error::Rank {
            what: "prediction".into(),
            expected: "1 ([N]) or 2 ([B, N])".into(),
            got: pred.ndim(),
            shape: pred.shape().to_vec(),
        });
    }
    check::same_shape(
        "target",
        target.shape(),
        pred.shape(),
        "the shape of prediction",
    )?;
    check::finite("prediction", pred)?;
    check::finite("target", target)?;
    if let Some(m) = mask {
        check::same_shape("mask", m.shape(), pred.shape(), "the shape of prediction")?;
        check::mask("mask", m)?;
    }
    let p = as_rows(pred);
    let t = as_rows(target);
    let m = mask.map(as_rows);
    let n = p.ncols();
    let (mut total, mut rows, mut most_valid) = (0.0, 0usize, 0usize);
    let (mut pbuf, mut tbuf, mut wbuf) = (vec![F::zero(); n], vec![F::zero(); n], vec![1.0; n]);
    for i in 0..p.nrows() {
        copy_row(&mut pbuf, p.row(i));
        copy_row(&mut tbuf, t.row(i));
        if let Some(m) = &m {
            for (w, &v) in wbuf.iter_mut().zip(m.row(i)) {
                *w = v.to_f64_exact();
            }
        }
        let valid = wbuf.iter().filter(|&&w| w > 0.0).count();
        most_valid = most_valid.max(valid);
        if valid >= 2 {
            total += stat(&pbuf, &tbuf, &wbuf, i)?;
            rows += 1;
        }
    }
    if rows == 0 {
        return Err(Error::TooFewValid {
            what: if p.nrows() > 1 {
                format!("{name} (every one of {} rows)", p.nrows())
            } else {
                name.to_string()
            },
            needed: 2,
            got: most_valid,
        });
    }
    Ok(F::from_f64_lossy(total / rows as f64))
}

fn as_rows<F, S: Data<Elem = F>, D: Dimension>(a: &ArrayBase<S, D>) -> ArrayView2<'_, F> {
    let v = a.view().into_dyn();
    let v = if v.ndim() == 1 {
        v.insert_axis(Axis(0))
    } else {
        v
    };
    v.into_dimensionality::<Ix2>().expect("rank checked")
}

fn copy_row<F: Float>(dst: &mut [F], src: ndarray::ArrayView1<'_, F>) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s;
    }
}
