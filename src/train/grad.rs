//! Exact gradients, derived by hand: for both heads (every weight, bias and the
//! input `s`) and for every loss.
//!
//! ```
//! use bfactor::train::grad::{loss_and_gradients, Objective};
//! use bfactor::BFactorHeadConfig;
//! use ndarray::{Array2, Array1};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let head = BFactorHeadConfig::new(8).init::<f64>(&mut StdRng::seed_from_u64(0))?;
//! let s = Array2::from_shape_fn((6, 8), |(i, j)| ((i * 3 + j) % 7) as f64 - 3.0);
//! let target = Array1::from(vec![50.0, 30.0, 20.0, 25.0, 35.0, 60.0]);
//! let g = loss_and_gradients(&head, Objective::NormalizedMse, &s, &target)?;
//! assert_eq!(g.params[0].shape(), &[8, 8]); // dL/dW1
//! assert_eq!(g.params[1].shape(), &[8, 64]); // dL/dW2
//! assert_eq!(g.input.shape(), &[6, 8]); // dL/ds
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # Shapes and masks
//! `s` is `[N, c_s]` (one protein) or `[B, N, c_s]` (a padded batch); `target` and
//! the optional `mask` are `[N]` or `[B, N]`. The losses are the ones in
//! [`crate::loss`], with the same semantics: the regression losses normalise each
//! protein on its own and average over proteins with at least two valid residues;
//! the binned cross-entropy pools all tokens of the batch. A token with mask weight
//! 0 (or, for the binned loss, a B-factor `<= 1e-5`) gets exactly zero gradient.
//!
//! # The chain
//! Regression losses differentiate through the decoded B-factor
//! `b = Σ_k softmax(l)_k c_k`, whose Jacobian is `∂b/∂l_k = p_k (c_k - b)`; the
//! binned loss gives `∂L/∂l_k = w (p_k - 1[k = target]) / (Σ w + 1e-5)` directly.
//! The heads then back-propagate `∂L/∂logits`.

use ndarray::{
    Array1, Array2, ArrayBase, ArrayD, ArrayView1, ArrayView2, Axis, Data, Dimension, RemoveAxis,
};

use crate::boltz2::Boltz2Head;
use crate::kernels::pool;
use crate::loss::{self, RowMoments, NORMALIZATION_EPS, WEIGHT_SUM_EPS};
use crate::{bins, check, matmul, ops, BFactorHead, Error, Float, Result};

/// The loss a head is trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// The notebook's normalized MSE ([`loss::normalized_mse_masked`]).
    NormalizedMse,
    /// `1 - r`, with `r` Pearson's correlation ([`loss::pearson_masked`]).
    Pearson,
    /// Boltz-2's binned cross-entropy ([`loss::binned_cross_entropy_masked`]).
    BinnedCrossEntropy,
}

/// A head that can be trained: a forward pass that keeps what its backward pass
/// needs, and access to its parameters as flat slices.
pub trait Trainable<F: Float>: Clone {
    /// What the forward pass keeps for the backward pass.
    type Cache;

    /// Width of the input's last axis.
    fn input_width(&self) -> usize;

    /// Bin values the logits are decoded with for the regression losses.
    fn decode_centers(&self) -> &[F];

    /// Logits `[n, num_bins]` for validated rows `[n, input_width]`, and the cache.
    fn forward_cached(&self, rows: Array2<F>) -> (Array2<F>, Self::Cache);

    /// Given `∂L/∂logits` `[n, num_bins]`, the gradients of every parameter (in
    /// [`parameters_mut`](Self::parameters_mut) order) and of the input rows.
    fn backward(&self, cache: &Self::Cache, d_logits: &Array2<F>) -> (Vec<ArrayD<F>>, Array2<F>);

    /// [`backward`](Self::backward) without the input's gradient, which training
    /// does not need. The default drops it; both heads skip computing it (for the
    /// notebook head, a `d · W1ᵀ` product and a layer-norm backward: 43 % of the
    /// backward pass's multiply-adds at `c_s = 384`, 64 bins, 29 % of the step's).
    fn backward_params(&self, cache: &Self::Cache, d_logits: &Array2<F>) -> Vec<ArrayD<F>> {
        self.backward(cache, d_logits).0
    }

    /// Every parameter tensor as a contiguous slice, in a fixed order.
    fn parameters_mut(&mut self) -> Vec<&mut [F]>;
}

/// What the notebook head's forward pass keeps.
#[derive(Debug)]
pub struct NotebookCache<F: Float> {
    x_norm: Array2<F>,
    inv_std1: Vec<F>,
    pre_relu: Array2<F>,
    h_norm: Array2<F>,
    inv_std2: Vec<F>,
}

impl<F: Float> Trainable<F> for BFactorHead<F> {
    type Cache = NotebookCache<F>;

    fn input_width(&self) -> usize {
        self.config().c_s
    }

    fn decode_centers(&self) -> &[F] {
        self.centers_slice()
    }

    fn forward_cached(&self, mut x: Array2<F>) -> (Array2<F>, NotebookCache<F>) {
        let eps = self.eps_f();
        let inv_std1 = layer_norm_rows(&mut x, eps, ops::layer_norm_row);
        let pre_relu = matmul::matmul_packed(&x.view(), &self.packed_weights().0);
        let mut h = pre_relu.clone();
        let inv_std2 = layer_norm_rows(&mut h, eps, ops::relu_layer_norm_row);
        let logits = matmul::matmul_packed(&h.view(), &self.packed_weights().1);
        let cache = NotebookCache {
            x_norm: x,
            inv_std1,
            pre_relu,
            h_norm: h,
            inv_std2,
        };
        (logits, cache)
    }

    fn backward(&self, c: &NotebookCache<F>, g: &Array2<F>) -> (Vec<ArrayD<F>>, Array2<F>) {
        let (params, d) = notebook_backward(self, c, g);
        let mut ds = matmul::matmul(&d.view(), &self.w1().t());
        layer_norm_backward_rows(&mut ds, &c.x_norm, &c.inv_std1, |_, _| {});
        (params, ds)
    }

    fn backward_params(&self, c: &NotebookCache<F>, g: &Array2<F>) -> Vec<ArrayD<F>> {
        notebook_backward(self, c, g).0
    }

    fn parameters_mut(&mut self) -> Vec<&mut [F]> {
        let (w1, w2) = self.weights_mut();
        vec![
            w1.as_slice_mut().expect("owned standard layout"),
            w2.as_slice_mut().expect("owned standard layout"),
        ]
    }
}

/// The notebook head's parameter gradients `[dW1, dW2]`, and `∂L/∂x_norm` (the
/// gradient at the first layer norm's output), from which `∂L/∂s` follows.
fn notebook_backward<F: Float>(
    head: &BFactorHead<F>,
    c: &NotebookCache<F>,
    g: &Array2<F>,
) -> (Vec<ArrayD<F>>, Array2<F>) {
    let d_w2 = matmul::matmul(&c.h_norm.t(), &g.view());
    let mut d = matmul::matmul(&g.view(), &head.w2().t());
    // Through the second layer norm, then ReLU's derivative: a select, not a
    // branch (the signs are random, so a branch would be mispredicted half the
    // time).
    let pre = c.pre_relu.as_slice().expect("fresh");
    layer_norm_backward_rows(&mut d, &c.h_norm, &c.inv_std2, |row, dr| {
        let w = dr.len();
        for (d, &a) in dr.iter_mut().zip(&pre[row * w..(row + 1) * w]) {
            *d = if a <= F::zero() { F::zero() } else { *d };
        }
    });
    let d_w1 = matmul::matmul(&c.x_norm.t(), &d.view());
    (vec![d_w1.into_dyn(), d_w2.into_dyn()], d)
}

/// Multiply-adds a row kernel costs per element, roughly, for the thread split.
const ROW_COST: usize = 8;
/// The same for kernels with an `exp` per element.
const EXP_COST: usize = 24;

/// `norm(row, eps)` on every row of `x` in parallel; the rows' `1/σ`.
fn layer_norm_rows<F: Float>(x: &mut Array2<F>, eps: F, norm: fn(&mut [F], F) -> F) -> Vec<F> {
    let width = x.ncols();
    let mut inv_std = vec![F::zero(); x.nrows()];
    let xs = x.as_slice_mut().expect("fresh");
    pool::par_rows(xs, width, &mut inv_std, 1, ROW_COST, |_, xs, inv| {
        for (row, i) in xs.chunks_exact_mut(width).zip(inv) {
            *i = norm(row, eps);
        }
    });
    inv_std
}

/// Back through a layer norm, row by row in parallel: `d` (`∂L/∂y` in, `∂L/∂x`
/// out) given its output `y` and `1/σ`; then `then(row, d_row)` on each row.
fn layer_norm_backward_rows<F: Float>(
    d: &mut Array2<F>,
    y: &Array2<F>,
    inv_std: &[F],
    then: impl Fn(usize, &mut [F]) + Sync,
) {
    let width = d.ncols();
    let y = y.as_slice().expect("fresh");
    let ds = d.as_slice_mut().expect("fresh");
    pool::par_rows(ds, width, &mut [(); 0], 0, ROW_COST, |r0, ds, _| {
        for (i, dr) in ds.chunks_exact_mut(width).enumerate() {
            let r = r0 + i;
            ops::layer_norm_backward_row(dr, &y[r * width..(r + 1) * width], inv_std[r]);
            then(r, dr);
        }
    });
}

/// What the Boltz-2 head's forward pass keeps: its input rows.
#[derive(Debug)]
pub struct Boltz2Cache<F: Float> {
    x: Array2<F>,
}

impl<F: Float> Trainable<F> for Boltz2Head<F> {
    type Cache = Boltz2Cache<F>;

    fn input_width(&self) -> usize {
        self.config().token_s
    }

    fn decode_centers(&self) -> &[F] {
        self.bin_centers().as_slice().expect("owned 1-D array")
    }

    fn forward_cached(&self, x: Array2<F>) -> (Array2<F>, Boltz2Cache<F>) {
        let mut logits = matmul::matmul_packed(&x.view(), self.packed_weight_t());
        logits += self.bias();
        (logits, Boltz2Cache { x })
    }

    fn backward(&self, c: &Boltz2Cache<F>, g: &Array2<F>) -> (Vec<ArrayD<F>>, Array2<F>) {
        let ds = matmul::matmul(&g.view(), &self.weight().view());
        (self.backward_params(c, g), ds)
    }

    fn backward_params(&self, c: &Boltz2Cache<F>, g: &Array2<F>) -> Vec<ArrayD<F>> {
        let d_weight = matmul::matmul(&g.t(), &c.x.view());
        let d_bias = g.sum_axis(Axis(0));
        vec![d_weight.into_dyn(), d_bias.into_dyn()]
    }

    fn parameters_mut(&mut self) -> Vec<&mut [F]> {
        let (w, b) = self.weights_mut();
        vec![
            w.as_slice_mut().expect("owned standard layout"),
            b.as_slice_mut().expect("owned standard layout"),
        ]
    }
}

/// A loss value with the gradients of every parameter and of the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<F: Float, D: Dimension> {
    /// The loss, equal to what [`crate::loss`] computes for the same inputs.
    pub loss: F,
    /// `∂L/∂θ` per parameter tensor: `[W1, W2]` for [`BFactorHead`], `[weight,
    /// bias]` for [`Boltz2Head`].
    pub params: Vec<ArrayD<F>>,
    /// `∂L/∂s`, the shape of `s`.
    pub input: ndarray::Array<F, D>,
}

/// The loss of `head` on `s` against `target` and its gradients. See the
/// [module docs](self) for shapes and semantics; [`loss_and_gradients_masked`]
/// takes a mask.
pub fn loss_and_gradients<F, H, S1, S2, D>(
    head: &H,
    objective: Objective,
    s: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D::Smaller>,
) -> Result<Gradients<F, D>>
where
    F: Float,
    H: Trainable<F>,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: RemoveAxis,
{
    gradients(
        head,
        objective,
        s,
        target,
        None::<&ndarray::Array<F, D::Smaller>>,
    )
}

/// [`loss_and_gradients`] with per-token weights `mask` (the shape of
/// `target`; see the [module docs](self)).
pub fn loss_and_gradients_masked<F, H, S1, S2, S3, D>(
    head: &H,
    objective: Objective,
    s: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D::Smaller>,
    mask: &ArrayBase<S3, D::Smaller>,
) -> Result<Gradients<F, D>>
where
    F: Float,
    H: Trainable<F>,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: RemoveAxis,
{
    gradients(head, objective, s, target, Some(mask))
}

fn gradients<F, H, S1, S2, S3, D>(
    head: &H,
    objective: Objective,
    s: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D::Smaller>,
    mask: Option<&ArrayBase<S3, D::Smaller>>,
) -> Result<Gradients<F, D>>
where
    F: Float,
    H: Trainable<F>,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: RemoveAxis,
{
    let (g, input) = loss_and_backward(head, objective, s, target, mask, true)?;
    Ok(Gradients {
        loss: g.loss,
        params: g.params,
        input: input.expect("input gradient requested"),
    })
}

/// A loss value with the gradients of every parameter (not of the input).
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterGradients<F: Float> {
    /// The loss, equal to what [`crate::loss`] computes for the same inputs.
    pub loss: F,
    /// `∂L/∂θ` per parameter tensor, as in [`Gradients::params`].
    pub params: Vec<ArrayD<F>>,
}

/// [`loss_and_gradients`] without `∂L/∂s`, which a training step does not use:
/// the same loss and the same parameter gradients (bit for bit), with less work
/// ([`Trainable::backward_params`]).
pub fn loss_and_parameter_gradients<F, H, S1, S2, D>(
    head: &H,
    objective: Objective,
    s: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D::Smaller>,
) -> Result<ParameterGradients<F>>
where
    F: Float,
    H: Trainable<F>,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: RemoveAxis,
{
    let none = None::<&ndarray::Array<F, D::Smaller>>;
    Ok(loss_and_backward(head, objective, s, target, none, false)?.0)
}

/// [`loss_and_parameter_gradients`] with per-token weights `mask`, as
/// [`loss_and_gradients_masked`]. [`fit`](super::fit::fit) trains with it.
pub fn loss_and_parameter_gradients_masked<F, H, S1, S2, S3, D>(
    head: &H,
    objective: Objective,
    s: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D::Smaller>,
    mask: &ArrayBase<S3, D::Smaller>,
) -> Result<ParameterGradients<F>>
where
    F: Float,
    H: Trainable<F>,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: RemoveAxis,
{
    Ok(loss_and_backward(head, objective, s, target, Some(mask), false)?.0)
}

/// The loss and parameter gradients, and `∂L/∂s` (the shape of `s`) if asked for.
type Backward<F, D> = (ParameterGradients<F>, Option<ndarray::Array<F, D>>);

/// The loss and the parameter gradients, and `∂L/∂s` if `want_input`.
fn loss_and_backward<F, H, S1, S2, S3, D>(
    head: &H,
    objective: Objective,
    s: &ArrayBase<S1, D>,
    target: &ArrayBase<S2, D::Smaller>,
    mask: Option<&ArrayBase<S3, D::Smaller>>,
    want_input: bool,
) -> Result<Backward<F, D>>
where
    F: Float,
    H: Trainable<F>,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: RemoveAxis,
{
    if !(2..=3).contains(&s.ndim()) {
        return Err(Error::Rank {
            what: "s".into(),
            expected: "2 ([N, c_s]) or 3 ([B, N, c_s])".into(),
            got: s.ndim(),
            shape: s.shape().to_vec(),
        });
    }
    check::last_axis("s", "c_s", s, head.input_width())?;
    let tokens_shape = &s.shape()[..s.ndim() - 1];
    check::same_shape(
        "target",
        target.shape(),
        tokens_shape,
        "the shape of s without its last axis",
    )?;
    check::finite("target", target)?;
    if let Some(m) = mask {
        check::same_shape(
            "mask",
            m.shape(),
            tokens_shape,
            "the shape of s without its last axis",
        )?;
        check::mask("mask", m)?;
    }
    let (rows, dim) = ops::rows_of("s", s)?;
    let n = tokens_shape[tokens_shape.len() - 1];
    let proteins = rows.nrows() / n.max(1);
    let flat = |a: ndarray::ArrayView<'_, F, D::Smaller>| {
        a.as_standard_layout()
            .into_owned()
            .into_shape_with_order((proteins, n))
            .expect("token count")
    };
    let target2 = flat(target.view());
    let mask2 = mask.map(|m| flat(m.view()));

    let (logits, cache) = head.forward_cached(rows);
    let (loss, d_logits) = match objective {
        Objective::BinnedCrossEntropy => binned_cross_entropy_backward(
            &logits,
            target2
                .view()
                .into_shape_with_order(logits.nrows())
                .expect("tokens"),
            mask2.as_ref().map(|m| {
                m.view()
                    .into_shape_with_order(logits.nrows())
                    .expect("tokens")
            }),
        )?,
        Objective::NormalizedMse | Objective::Pearson => {
            let centers = head.decode_centers();
            let b: Array1<F> = logits
                .rows()
                .into_iter()
                .map(|r| ops::softmax_expectation_row(r.as_slice().expect("fresh"), centers))
                .collect();
            let b = b.into_shape_with_order((proteins, n)).expect("tokens");
            let (loss, d_b) = if objective == Objective::Pearson {
                pearson_loss_backward(b.view(), target2.view(), mask2.as_ref().map(|m| m.view()))?
            } else {
                normalized_mse_backward(b.view(), target2.view(), mask2.as_ref().map(|m| m.view()))?
            };
            let d_b = d_b.into_shape_with_order(logits.nrows()).expect("tokens");
            (
                loss,
                softmax_expectation_backward(&logits, centers, d_b.view()),
            )
        }
    };
    if want_input {
        let (params, d_rows) = head.backward(&cache, &d_logits);
        let input = ops::unflatten(d_rows, dim);
        Ok((ParameterGradients { loss, params }, Some(input)))
    } else {
        let params = head.backward_params(&cache, &d_logits);
        Ok((ParameterGradients { loss, params }, None))
    }
}

/// `∂L/∂logits` from `∂L/∂b`, where `b = Σ_k softmax(logits)_k · values_k` per row.
pub fn softmax_expectation_backward<F: Float>(
    logits: &Array2<F>,
    values: &[F],
    d_b: ArrayView1<'_, F>,
) -> Array2<F> {
    let mut d = Array2::zeros(logits.raw_dim());
    let k = logits.ncols().max(1);
    let l = logits.as_standard_layout();
    let l = l.as_slice().expect("standard layout");
    let ds = d.as_slice_mut().expect("fresh");
    pool::par_rows(ds, k, &mut [(); 0], 0, EXP_COST, |r0, ds, _| {
        for (i, dl) in ds.chunks_exact_mut(k).enumerate() {
            let r = r0 + i;
            let g = d_b.get(r).copied().unwrap_or_else(F::zero);
            if g == F::zero() {
                continue; // masked token: exactly zero gradient
            }
            ops::softmax_row(&l[r * k..(r + 1) * k], dl);
            let b = dl.iter().zip(values).map(|(&p, &v)| p * v).sum::<F>();
            for (p, &v) in dl.iter_mut().zip(values) {
                *p = g * *p * (v - b);
            }
        }
    });
    d
}

/// Normalized MSE over rows `[R, N]` and `∂L/∂pred`, as
/// [`loss::normalized_mse_masked`] (all-ones weights when `mask` is `None`).
pub fn normalized_mse_backward<F: Float>(
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
) -> Result<(F, Array2<F>)> {
    regression_backward("normalized_mse", pred, target, mask, |p, t, w, d, row| {
        let m = RowMoments::of(p, t, w, "normalized_mse", row)?;
        let (sd_p, sd_t) = (m.var_p.sqrt(), m.var_t.sqrt());
        let (sp, st) = (sd_p + NORMALIZATION_EPS, sd_t + NORMALIZATION_EPS);
        let denom = m.weight + NORMALIZATION_EPS;
        // g_i = ∂L/∂z_i with z the z-scored prediction.
        let (mut loss, mut g_sum, mut g_dev) = (0.0, 0.0, 0.0);
        for (((&p, &t), &w), g) in p.iter().zip(t).zip(w).zip(d.iter_mut()) {
            let dev = p.to_f64_exact() - m.mean_p;
            let diff = dev / sp - (t.to_f64_exact() - m.mean_t) / st;
            loss += w * diff * diff / denom;
            *g = 2.0 * w * diff / denom;
            g_sum += *g;
            g_dev += *g * dev;
        }
        // ∂z_i/∂p_j = (δ_ij - w_j/W)/s - (p_i - μ)/s² · w_j (p_j - μ)/(W σ).
        let var_term = if sd_p > 0.0 {
            g_dev / (sp * sp * m.weight * sd_p)
        } else {
            0.0
        };
        for ((&p, &w), g) in p.iter().zip(w).zip(d.iter_mut()) {
            let dev = p.to_f64_exact() - m.mean_p;
            *g = (*g - w / m.weight * g_sum) / sp - var_term * w * dev;
        }
        Ok(loss)
    })
}

/// `1 - r` (Pearson's `r`, averaged over rows) and its gradient, as
/// [`loss::pearson_masked`].
pub fn pearson_loss_backward<F: Float>(
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
) -> Result<(F, Array2<F>)> {
    let (mean_r, d) = regression_backward("pearson", pred, target, mask, |p, t, w, d, row| {
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
        let norm = (m.var_p * m.var_t).sqrt();
        let cov = p
            .iter()
            .zip(t)
            .zip(w)
            .map(|((&p, &t), &w)| w * (p.to_f64_exact() - m.mean_p) * (t.to_f64_exact() - m.mean_t))
            .sum::<f64>()
            / m.weight;
        let r = cov / norm;
        // ∂r/∂p_j = w_j/W · ((t_j - μt)/√(vp vt) - r (p_j - μp)/vp); the loss is 1 - r.
        for (((&p, &t), &w), g) in p.iter().zip(t).zip(w).zip(d.iter_mut()) {
            let dr = w / m.weight
                * ((t.to_f64_exact() - m.mean_t) / norm
                    - r * (p.to_f64_exact() - m.mean_p) / m.var_p);
            *g = -dr;
        }
        Ok(r.clamp(-1.0, 1.0))
    })?;
    Ok((F::one() - mean_r, d))
}

/// Boltz-2's binned cross-entropy over token rows `[T, K]` and `∂L/∂logits`, as
/// [`loss::binned_cross_entropy_masked`].
pub fn binned_cross_entropy_backward<F: Float>(
    logits: &Array2<F>,
    bfactor: ArrayView1<'_, F>,
    mask: Option<ArrayView1<'_, F>>,
) -> Result<(F, Array2<F>)> {
    let loss = match mask {
        Some(m) => loss::binned_cross_entropy_masked(logits, &bfactor, &m)?,
        None => loss::binned_cross_entropy(logits, &bfactor)?,
    };
    let boundaries = bins::boltz2_boundaries::<F>(logits.ncols());
    let boundaries = boundaries.as_slice().expect("owned");
    let weights = loss::token_weights(
        bfactor.iter().copied(),
        mask.map(|m| m.into_iter().copied()),
    );
    let scale = 1.0 / (weights.iter().sum::<f64>() + WEIGHT_SUM_EPS);
    let mut d = Array2::zeros(logits.raw_dim());
    for (((l, mut dl), &b), &w) in logits
        .rows()
        .into_iter()
        .zip(d.rows_mut())
        .zip(bfactor)
        .zip(&weights)
    {
        if w == 0.0 {
            continue;
        }
        let dl = dl.as_slice_mut().expect("fresh");
        ops::softmax_row(l.as_slice().expect("fresh"), dl);
        dl[bins::bin_index(b, boundaries)] -= F::one();
        let f = F::from_f64_lossy(w * scale);
        dl.iter_mut().for_each(|v| *v *= f);
    }
    Ok((loss, d))
}

/// Runs `row` on every row with at least two valid residues, averages the values
/// and scales the per-row gradients by `1 / rows`.
fn regression_backward<F: Float>(
    name: &str,
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
    row: impl Fn(&[F], &[F], &[f64], &mut [f64], usize) -> Result<f64>,
) -> Result<(F, Array2<F>)> {
    check::same_shape(
        "target",
        target.shape(),
        pred.shape(),
        "the shape of prediction",
    )?;
    check::finite("prediction", &pred)?;
    check::finite("target", &target)?;
    if let Some(m) = mask {
        check::same_shape("mask", m.shape(), pred.shape(), "the shape of prediction")?;
        check::mask("mask", &m)?;
    }
    let (r, n) = pred.dim();
    let mut grads = Array2::<f64>::zeros((r, n));
    let (mut total, mut used, mut most_valid) = (0.0, 0usize, 0usize);
    let mut w = vec![1.0; n];
    for i in 0..r {
        if let Some(m) = mask {
            w.iter_mut()
                .zip(m.row(i))
                .for_each(|(w, &v)| *w = v.to_f64_exact());
        }
        let valid = w.iter().filter(|&&w| w > 0.0).count();
        most_valid = most_valid.max(valid);
        if valid < 2 {
            continue;
        }
        let p = pred.row(i).to_vec();
        let t = target.row(i).to_vec();
        let mut g = grads.row_mut(i);
        total += row(&p, &t, &w, g.as_slice_mut().expect("fresh"), i)?;
        used += 1;
    }
    if used == 0 {
        return Err(Error::TooFewValid {
            what: name.to_string(),
            needed: 2,
            got: most_valid,
        });
    }
    let scale = 1.0 / used as f64;
    Ok((
        F::from_f64_lossy(total * scale),
        grads.mapv(|g| F::from_f64_lossy(g * scale)),
    ))
}
