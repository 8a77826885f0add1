//! Losses and metrics on predicted against experimental B-factors: the notebook's
//! normalized MSE and Pearson's correlation, with optional per-residue masks, and
//! Boltz-2's binned cross-entropy on logits (see [`binned_cross_entropy`]).
//!
//! ```
//! use bfactor::loss;
//! use bfactor::ndarray::array;
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

use crate::kernels::ops::{reduce_lanes, LANES};
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
        Regression::NormalizedMse,
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
    per_row(
        "normalized_mse_masked",
        pred,
        target,
        Some(mask),
        Regression::NormalizedMse,
    )
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
        Regression::Pearson,
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
    per_row(
        "pearson_masked",
        pred,
        target,
        Some(mask),
        Regression::Pearson,
    )
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
    /// Weighted population covariance.
    pub cov: f64,
    /// Largest |value| over the valid residues, the scale rounding errors live at.
    scale_p: f64,
    scale_t: f64,
    valid: usize,
}

impl RowMoments {
    /// The moments of row `row` with weights `w`; an error if a sum overflows
    /// (values near `f64::MAX.sqrt()`, or huge mask weights).
    pub(crate) fn of<F: Float>(
        p: &[F],
        t: &[F],
        w: &[f64],
        what: &str,
        row: usize,
    ) -> Result<Self> {
        Self::checked(moments(p, t, Some(w)), what, row)
    }

    fn checked(m: Self, what: &str, row: usize) -> Result<Self> {
        let sums = [m.weight, m.mean_p, m.mean_t, m.var_p, m.var_t, m.cov];
        if sums.iter().all(|v| v.is_finite()) {
            Ok(m)
        } else {
            Err(Error::non_finite(
                format!(
                    "{what}: the weighted sums over row {row} (values or mask weights too large)"
                ),
                vec![row],
                f64::INFINITY,
            ))
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
}

/// A mask weight as `f64`: the loss's masks are `F`, the gradients' are `f64`.
pub(crate) trait Weight: Copy + Send + Sync {
    fn get(self) -> f64;
}
impl<F: Float> Weight for F {
    #[inline(always)]
    fn get(self) -> f64 {
        self.to_f64_exact()
    }
}

/// Elements per chunk: each chunk is summed twice (its mean, then the squared
/// deviations from it) while it sits in L1, and the chunks are merged with Chan's
/// update, so the data is read from memory once and the variances are as
/// accurate as a two-pass computation.
const CHUNK: usize = 512;

/// All the moments of one row in one pass over memory, in `f64`. `w = None` means
/// every weight is 1.
fn moments<F: Float, W: Weight>(p: &[F], t: &[F], w: Option<&[W]>) -> RowMoments {
    crate::cpu::dispatch(Moments { p, t, w })
}

/// [`moments`]' arguments, compiled per [`crate::cpu::Level`].
struct Moments<'a, F, W> {
    p: &'a [F],
    t: &'a [F],
    w: Option<&'a [W]>,
}

impl<F: Float, W: Weight> crate::cpu::Kernel for Moments<'_, F, W> {
    type Output = RowMoments;
    #[inline(always)]
    fn run(self) -> RowMoments {
        moments_generic(self.p, self.t, self.w)
    }
}

#[inline(always)]
fn lanes_max(a: [f64; LANES]) -> f64 {
    a.iter().copied().fold(0.0, fmax)
}

/// `max` for values known not to be NaN: one `vmaxpd`, where `f64::max` adds the
/// NaN handling that keeps the lanes from vectorising cleanly.
#[inline(always)]
fn fmax(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// Calls `step(lane, weight, p, t)` for every element, element `i` on lane
/// `i % LANES`, so that each lane's sums vectorise; the weight is 1 without a mask.
#[inline(always)]
fn for_each_lane<F: Float, W: Weight>(
    p: &[F],
    t: &[F],
    w: Option<&[W]>,
    step: &mut impl FnMut(usize, f64, f64, f64),
) {
    let (pc, tc) = (p.chunks_exact(LANES), t.chunks_exact(LANES));
    let (pr, tr) = (pc.remainder(), tc.remainder());
    match w {
        Some(w) => {
            let wc = w.chunks_exact(LANES);
            let wr = wc.remainder();
            for ((pp, tt), ww) in pc.zip(tc).zip(wc) {
                for l in 0..LANES {
                    step(l, ww[l].get(), pp[l].to_f64_exact(), tt[l].to_f64_exact());
                }
            }
            for (l, ((&x, &y), &wi)) in pr.iter().zip(tr).zip(wr).enumerate() {
                step(l, wi.get(), x.to_f64_exact(), y.to_f64_exact());
            }
        }
        None => {
            for (pp, tt) in pc.zip(tc) {
                for l in 0..LANES {
                    step(l, 1.0, pp[l].to_f64_exact(), tt[l].to_f64_exact());
                }
            }
            for (l, (&x, &y)) in pr.iter().zip(tr).enumerate() {
                step(l, 1.0, x.to_f64_exact(), y.to_f64_exact());
            }
        }
    }
}

/// The first sweep over a chunk: `[Σw, Σw·p, Σw·t, #valid]` and the scales.
#[inline(always)]
fn sweep1<F: Float, W: Weight>(p: &[F], t: &[F], w: Option<&[W]>) -> ([f64; 4], f64, f64) {
    let z = [0.0_f64; LANES];
    let (mut sw, mut sp, mut st, mut nv, mut ap, mut at) = (z, z, z, z, z, z);
    let mut step = |l: usize, wi: f64, x: f64, y: f64| {
        let on = if wi > 0.0 { 1.0 } else { 0.0 };
        sw[l] += wi;
        sp[l] += wi * x;
        st[l] += wi * y;
        nv[l] += on;
        ap[l] = fmax(ap[l], on * x.abs());
        at[l] = fmax(at[l], on * y.abs());
    };
    for_each_lane(p, t, w, &mut step);
    (
        [
            reduce_lanes(sw),
            reduce_lanes(sp),
            reduce_lanes(st),
            reduce_lanes(nv),
        ],
        lanes_max(ap),
        lanes_max(at),
    )
}

/// The second sweep: `[Σw(p-mp)², Σw(t-mt)², Σw(p-mp)(t-mt)]`.
#[inline(always)]
fn sweep2<F: Float, W: Weight>(p: &[F], t: &[F], w: Option<&[W]>, mp: f64, mt: f64) -> [f64; 3] {
    let z = [0.0_f64; LANES];
    let (mut qp, mut qt, mut qc) = (z, z, z);
    let mut step = |l: usize, wi: f64, x: f64, y: f64| {
        let (dp, dt) = (x - mp, y - mt);
        qp[l] += wi * (dp * dp);
        qt[l] += wi * (dt * dt);
        qc[l] += wi * (dp * dt);
    };
    for_each_lane(p, t, w, &mut step);
    [reduce_lanes(qp), reduce_lanes(qt), reduce_lanes(qc)]
}

#[inline(always)]
fn moments_generic<F: Float, W: Weight>(p: &[F], t: &[F], w: Option<&[W]>) -> RowMoments {
    let n = p.len();
    debug_assert_eq!(t.len(), n);
    let (mut weight, mut mean_p, mut mean_t) = (0.0_f64, 0.0_f64, 0.0_f64);
    let (mut m2p, mut m2t, mut c) = (0.0_f64, 0.0_f64, 0.0_f64);
    let (mut scale_p, mut scale_t, mut valid) = (0.0_f64, 0.0_f64, 0usize);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let (pc, tc) = (&p[start..end], &t[start..end]);
        let wc = w.map(|w| &w[start..end]);
        let ([wc_sum, sp, st, nv], ap, at) = sweep1(pc, tc, wc);
        valid += nv as usize;
        scale_p = scale_p.max(ap);
        scale_t = scale_t.max(at);
        if wc_sum > 0.0 {
            let (mp, mt) = (sp / wc_sum, st / wc_sum);
            // Second sweep, on the same (cached) chunk: deviations from its means.
            let [qp, qt, qc] = sweep2(pc, tc, wc, mp, mt);
            // Chan et al.'s merge of (weight, means, co-moments).
            let total = weight + wc_sum;
            let (dp, dt) = (mp - mean_p, mt - mean_t);
            let f = weight * wc_sum / total;
            m2p += qp + (dp * dp) * f;
            m2t += qt + (dt * dt) * f;
            c += qc + (dp * dt) * f;
            mean_p += dp * (wc_sum / total);
            mean_t += dt * (wc_sum / total);
            weight = total;
        } else {
            weight += wc_sum;
        }
        start = end;
    }
    let (var_p, var_t, cov) = if weight > 0.0 {
        (m2p / weight, m2t / weight, c / weight)
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    };
    RowMoments {
        weight,
        mean_p,
        mean_t,
        var_p,
        var_t,
        cov,
        scale_p,
        scale_t,
        valid,
    }
}

/// The normalized MSE from the moments: with `a = σp/sp`, `b = σt/st` (`s = σ +
/// 1e-8`) and `ρ` the correlation, `Σ w (z_p - z_t)² = W·((a - b)² + 2ab(1 - ρ))`,
/// a sum of two non-negative terms, symmetric in prediction and target.
fn mse_from(m: &RowMoments) -> f64 {
    let (sd_p, sd_t) = (m.var_p.sqrt(), m.var_t.sqrt());
    let a = sd_p / (sd_p + NORMALIZATION_EPS);
    let b = sd_t / (sd_t + NORMALIZATION_EPS);
    let norm = sd_p * sd_t;
    let rho = if norm > 0.0 {
        (m.cov / norm).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let d = a - b;
    m.weight * (d * d + 2.0 * (a * b) * (1.0 - rho)) / (m.weight + NORMALIZATION_EPS)
}

/// A regression loss of one row: the statistic it is built on (from the row's
/// [`RowMoments`]) and that loss's gradient. The losses and their gradients
/// ([`crate::train::grad`]) share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Regression {
    /// The normalized MSE; its statistic is the loss itself.
    NormalizedMse,
    /// `1 - r`; its statistic is Pearson's `r`.
    Pearson,
}

impl Regression {
    /// The loss's name in the errors of its gradient.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::NormalizedMse => "normalized_mse",
            Self::Pearson => "pearson",
        }
    }

    /// The statistic of row `row`: the normalized MSE, or Pearson's `r` (an error
    /// if either series is constant).
    fn statistic(self, m: &RowMoments, row: usize) -> Result<f64> {
        match self {
            Self::NormalizedMse => Ok(mse_from(m)),
            Self::Pearson => {
                for (i, series) in ["prediction", "target"].into_iter().enumerate() {
                    if m.is_constant(i) {
                        return Err(Error::zero_variance("pearson", series, row));
                    }
                }
                Ok((m.cov / m.var_p.sqrt() / m.var_t.sqrt()).clamp(-1.0, 1.0))
            }
        }
    }

    /// `∂L/∂p` of the row's loss (the normalized MSE, or `1 - r`) into `d`, given
    /// the row's moments `m` (whose statistic succeeded).
    fn gradient<F: Float>(self, m: &RowMoments, p: &[F], t: &[F], w: Option<&[F]>, d: &mut [f64]) {
        let weight = |i: usize| w.map_or(1.0, |w| w[i].to_f64_exact());
        match self {
            Self::NormalizedMse => {
                let (sd_p, sd_t) = (m.var_p.sqrt(), m.var_t.sqrt());
                let (sp, st) = (sd_p + NORMALIZATION_EPS, sd_t + NORMALIZATION_EPS);
                let denom = m.weight + NORMALIZATION_EPS;
                // g_i = ∂L/∂z_i with z the z-scored prediction.
                let (mut g_sum, mut g_dev) = (0.0, 0.0);
                for (i, ((&p, &t), g)) in p.iter().zip(t).zip(d.iter_mut()).enumerate() {
                    let dev = p.to_f64_exact() - m.mean_p;
                    let diff = dev / sp - (t.to_f64_exact() - m.mean_t) / st;
                    *g = 2.0 * weight(i) * diff / denom;
                    g_sum += *g;
                    g_dev += *g * dev;
                }
                // ∂z_i/∂p_j = (δ_ij - w_j/W)/s - (p_i - μ)/s² · w_j (p_j - μ)/(W σ).
                let var_term = if sd_p > 0.0 {
                    g_dev / (sp * sp * m.weight * sd_p)
                } else {
                    0.0
                };
                for (i, (&p, g)) in p.iter().zip(d.iter_mut()).enumerate() {
                    let (w, dev) = (weight(i), p.to_f64_exact() - m.mean_p);
                    *g = (*g - w / m.weight * g_sum) / sp - var_term * w * dev;
                }
            }
            Self::Pearson => {
                // `r` from a direct weighted sum of the deviations, the summation
                // order the gradient's values are defined by (the statistic uses
                // the merged `m.cov`; the two agree to rounding).
                let norm = (m.var_p * m.var_t).sqrt();
                let cov = p
                    .iter()
                    .zip(t)
                    .enumerate()
                    .map(|(i, (&p, &t))| {
                        weight(i) * (p.to_f64_exact() - m.mean_p) * (t.to_f64_exact() - m.mean_t)
                    })
                    .sum::<f64>()
                    / m.weight;
                let r = cov / norm;
                // ∂r/∂p_j = w_j/W · ((t_j - μt)/√(vp vt) - r (p_j - μp)/vp); the loss is 1 - r.
                for (i, ((&p, &t), g)) in p.iter().zip(t).zip(d.iter_mut()).enumerate() {
                    let dr = weight(i) / m.weight
                        * ((t.to_f64_exact() - m.mean_t) / norm
                            - r * (p.to_f64_exact() - m.mean_p) / m.var_p);
                    *g = -dr;
                }
            }
        }
    }
}

/// Checks a regression loss's inputs: `pred` of rank 1 or 2, `target` (and
/// `mask`) of its shape, finite values and a valid mask. Shared by the losses and
/// their gradients.
pub(crate) fn check_inputs<F, S1, S2, S3, D>(
    pred: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D>,
    mask: Option<&ArrayBase<S3, D>>,
) -> Result<()>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: Dimension,
{
    if !(1..=2).contains(&pred.ndim()) {
        return Err(Error::rank(
            "prediction",
            "1 ([N]) or 2 ([B, N])",
            pred.ndim(),
            pred.shape(),
        ));
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
    Ok(())
}

/// How a batch in which no row has two valid residues is reported: under `name`,
/// and whether the message counts the rows.
#[derive(Clone, Copy)]
pub(crate) struct Naming<'a> {
    pub name: &'a str,
    pub count_rows: bool,
}

/// `loss`'s statistic averaged over the rows of checked `[R, N]` inputs that have
/// at least two valid residues, and the number of those rows. With `grad`
/// (`[R, N]`), each such row's loss gradient is written into its row (the others
/// are left as they are).
pub(crate) fn mean_over_rows<F: Float>(
    loss: Regression,
    naming: Naming<'_>,
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
    mut grad: Option<&mut [f64]>,
) -> Result<(f64, usize)> {
    let (mut total, mut rows, mut most_valid) = (0.0, 0usize, 0usize);
    let n = pred.ncols();
    // Rows are used in place when contiguous, else copied once.
    let (mut pbuf, mut tbuf, mut wbuf) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pred.nrows() {
        let pr = row_slice(pred.row(i), &mut pbuf);
        let tr = row_slice(target.row(i), &mut tbuf);
        let wr = mask.as_ref().map(|m| row_slice(m.row(i), &mut wbuf));
        let mo = moments(pr, tr, wr);
        most_valid = most_valid.max(mo.valid);
        if mo.valid >= 2 {
            let mo = RowMoments::checked(mo, name_of(naming.name), i)?;
            total += loss.statistic(&mo, i)?;
            if let Some(g) = grad.as_deref_mut() {
                loss.gradient(&mo, pr, tr, wr, &mut g[i * n..(i + 1) * n]);
            }
            rows += 1;
        }
    }
    if rows == 0 {
        let name = naming.name;
        let what = if naming.count_rows && pred.nrows() > 1 {
            format!("{name} (every one of {} rows)", pred.nrows())
        } else {
            name.to_string()
        };
        return Err(Error::too_few_valid(what, 2, most_valid));
    }
    Ok((total / rows as f64, rows))
}

/// Checks the inputs, applies `loss`'s statistic to every row with at least two
/// valid residues, and averages.
fn per_row<F, S1, S2, S3, D>(
    name: &str,
    pred: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D>,
    mask: Option<&ArrayBase<S3, D>>,
    loss: Regression,
) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: Dimension,
{
    check_inputs(pred, target, mask)?;
    let naming = Naming {
        name,
        count_rows: true,
    };
    let m = mask.map(as_rows);
    let (mean, _) = mean_over_rows(loss, naming, as_rows(pred), as_rows(target), m, None)?;
    Ok(F::from_f64_lossy(mean))
}

/// The loss's name in overflow messages (`normalized_mse_masked` reports as
/// `normalized_mse`, as before).
fn name_of(name: &str) -> &str {
    name.strip_suffix("_masked").unwrap_or(name)
}

/// The row as a slice: itself when contiguous, else a copy in `buf`.
fn row_slice<'a, F: Float>(row: ndarray::ArrayView1<'a, F>, buf: &'a mut Vec<F>) -> &'a [F] {
    match row.to_slice() {
        Some(s) => s,
        None => {
            buf.clear();
            buf.extend(row.iter().copied());
            buf
        }
    }
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
