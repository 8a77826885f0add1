//! Exact gradients, derived by hand: for both heads (every weight, bias and the
//! input `s`) and for every loss.
//!
//! ```
//! use bfactor::train::grad::{loss_and_gradients, Objective};
//! use bfactor::BFactorHeadConfig;
//! use bfactor::ndarray::{Array2, Array1};
//! use bfactor::rand::{rngs::StdRng, SeedableRng};
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
//!
//! # Where the code lives
//! This module holds the [`Trainable`] trait, the plumbing from a loss to a
//! head's backward pass ([`TrainWorkspace`] and the functions built on it) and the
//! losses' backward passes. Each head's own training forward and backward pass
//! sits beside its inference code (`src/heads/*/backward.rs`); their caches are
//! re-exported here. The regression losses' values and per-row gradients are
//! computed by the same code as [`crate::loss`]'s.

use ndarray::{
    Array, Array2, ArrayBase, ArrayD, ArrayView1, ArrayView2, Data, Dimension, IntoDimension,
    RemoveAxis,
};

use crate::kernels::pool;
use crate::loss::{self, Naming, Regression, WEIGHT_SUM_EPS};
use crate::{bins, check, ops, Error, Float, Result};

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

    /// [`forward_cached`](Self::forward_cached) on rows `[n, input_width]`,
    /// writing the logits to `logits` and the cache to `cache`, whose buffers
    /// (from an earlier call, on rows of any number) may be reused. The default
    /// makes new ones; both heads reuse them.
    fn forward_cached_into(
        &self,
        rows: ArrayView2<'_, F>,
        logits: &mut Array2<F>,
        cache: &mut Option<Self::Cache>,
    ) {
        let (l, c) = self.forward_cached(rows.to_owned());
        *logits = l;
        *cache = Some(c);
    }

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

pub use crate::heads::boltz2::backward::Boltz2Cache;
pub use crate::heads::head::backward::NotebookCache;

/// Gives `a` the shape `shape` in standard layout, keeping its allocation when
/// it is large enough; the contents are unspecified. For buffers reused from
/// step to step.
pub(crate) fn reuse<F: Float, D: Dimension>(
    a: &mut Array<F, D>,
    shape: impl IntoDimension<Dim = D>,
) {
    let dim = shape.into_dimension();
    if a.raw_dim() == dim && a.is_standard_layout() {
        return;
    }
    let (mut v, offset) = std::mem::take(a).into_raw_vec_and_offset();
    if offset.unwrap_or(0) != 0 {
        v.clear();
    }
    v.resize(dim.size(), F::zero());
    *a = Array::from_shape_vec(dim, v).expect("sized to the shape");
}

/// A loss value with the gradients of every parameter and of the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<F: Float, D: Dimension> {
    /// The loss, equal to what [`crate::loss`] computes for the same inputs.
    pub loss: F,
    /// `∂L/∂θ` per parameter tensor: `[W1, W2]` for [`crate::BFactorHead`],
    /// `[weight, bias]` for [`crate::Boltz2Head`].
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
    TrainWorkspace::new().loss_and_backward(head, objective, s, target, mask, want_input)
}

/// Buffers a training step reuses from one step to the next: the input rows,
/// the forward pass's cache, the flattened targets and mask, the decoded
/// B-factors and the loss's gradients. [`fit`](super::fit::fit) keeps one for
/// the whole run; the free functions of this module make a fresh one per call.
/// The results are the same bits either way.
///
/// ```
/// use bfactor::train::grad::{loss_and_parameter_gradients_masked, Objective, TrainWorkspace};
/// use bfactor::BFactorHeadConfig;
/// use bfactor::ndarray::{Array2, Array3};
/// use bfactor::rand::{rngs::StdRng, SeedableRng};
///
/// let head = BFactorHeadConfig::new(8).init::<f32>(&mut StdRng::seed_from_u64(0))?;
/// let mut ws = TrainWorkspace::new();
/// for n in [5, 7, 6] {
///     let s = Array3::from_shape_fn((2, n, 8), |(b, i, j)| ((b + i * 3 + j) % 7) as f32);
///     let target = Array2::from_shape_fn((2, n), |(b, i)| 20.0 + (b * 5 + i) as f32);
///     let mask = Array2::ones((2, n));
///     let g = ws.loss_and_parameter_gradients_masked(
///         &head, Objective::NormalizedMse, &s, &target, &mask,
///     )?;
///     let fresh = loss_and_parameter_gradients_masked(
///         &head, Objective::NormalizedMse, &s, &target, &mask,
///     )?;
///     assert_eq!(g, fresh);
/// }
/// # Ok::<(), bfactor::Error>(())
/// ```
pub struct TrainWorkspace<F: Float, H: Trainable<F>> {
    cache: Option<H::Cache>,
    logits: Array2<F>,
    target: Array2<F>,
    mask: Array2<F>,
    bfactor: Array2<F>,
    d_bfactor: Array2<F>,
    d_logits: Array2<F>,
    scratch: Vec<f64>,
}

impl<F: Float, H: Trainable<F>> Default for TrainWorkspace<F, H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float, H: Trainable<F>> std::fmt::Debug for TrainWorkspace<F, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrainWorkspace({} logits)", self.logits.len())
    }
}

impl<F: Float, H: Trainable<F>> TrainWorkspace<F, H> {
    /// An empty workspace; buffers grow on first use.
    pub fn new() -> Self {
        Self {
            cache: None,
            logits: Array2::zeros((0, 0)),
            target: Array2::zeros((0, 0)),
            mask: Array2::zeros((0, 0)),
            bfactor: Array2::zeros((0, 0)),
            d_bfactor: Array2::zeros((0, 0)),
            d_logits: Array2::zeros((0, 0)),
            scratch: Vec::new(),
        }
    }

    /// [`loss_and_parameter_gradients_masked`] with this workspace's buffers.
    pub fn loss_and_parameter_gradients_masked<S1, S2, S3, D>(
        &mut self,
        head: &H,
        objective: Objective,
        s: &ArrayBase<S1, D>,
        target: &ArrayBase<S2, D::Smaller>,
        mask: &ArrayBase<S3, D::Smaller>,
    ) -> Result<ParameterGradients<F>>
    where
        S1: Data<Elem = F>,
        S2: Data<Elem = F>,
        S3: Data<Elem = F>,
        D: RemoveAxis,
    {
        Ok(self
            .loss_and_backward(head, objective, s, target, Some(mask), false)?
            .0)
    }

    /// The loss and the parameter gradients, and `∂L/∂s` if `want_input`.
    fn loss_and_backward<S1, S2, S3, D>(
        &mut self,
        head: &H,
        objective: Objective,
        s: &ArrayBase<S1, D>,
        target: &ArrayBase<S2, D::Smaller>,
        mask: Option<&ArrayBase<S3, D::Smaller>>,
        want_input: bool,
    ) -> Result<Backward<F, D>>
    where
        S1: Data<Elem = F>,
        S2: Data<Elem = F>,
        S3: Data<Elem = F>,
        D: RemoveAxis,
    {
        if !(2..=3).contains(&s.ndim()) {
            return Err(Error::rank(
                "s",
                "2 ([N, c_s]) or 3 ([B, N, c_s])",
                s.ndim(),
                s.shape(),
            ));
        }
        let width = head.input_width();
        check::last_axis("s", "c_s", s, width)?;
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
        check::finite("s", s)?;
        let n = tokens_shape[tokens_shape.len() - 1];
        let tokens = s.len() / width;
        let proteins = tokens / n.max(1);
        let shape = (proteins, n);
        flatten_into(&mut self.target, target, shape);
        if let Some(m) = mask {
            flatten_into(&mut self.mask, m, shape);
        }
        let mask2 = mask.map(|_| self.mask.view());

        let x = s.as_standard_layout();
        let rows = x
            .view()
            .into_shape_with_order((tokens, width))
            .expect("standard layout reshapes");
        head.forward_cached_into(rows, &mut self.logits, &mut self.cache);
        let logits = &self.logits;
        let loss = match objective {
            Objective::BinnedCrossEntropy => binned_cross_entropy_backward_into(
                logits,
                flat_tokens(self.target.view(), tokens),
                mask2.map(|m| flat_tokens(m, tokens)),
                &mut self.d_logits,
            )?,
            Objective::NormalizedMse | Objective::Pearson => {
                let centers = head.decode_centers();
                reuse(&mut self.bfactor, shape);
                let b = self.bfactor.as_slice_mut().expect("standard layout");
                for (b, r) in b.iter_mut().zip(logits.rows()) {
                    *b = ops::softmax_expectation_row(r.as_slice().expect("fresh"), centers);
                }
                let regression = if objective == Objective::Pearson {
                    Regression::Pearson
                } else {
                    Regression::NormalizedMse
                };
                reuse(&mut self.d_bfactor, shape);
                let loss = regression_backward(
                    regression,
                    self.bfactor.view(),
                    self.target.view(),
                    mask2,
                    &mut self.scratch,
                    self.d_bfactor.as_slice_mut().expect("standard layout"),
                )?;
                let d_b = self
                    .d_bfactor
                    .view()
                    .into_shape_with_order(tokens)
                    .expect("tokens");
                softmax_expectation_backward_into(logits, centers, d_b, &mut self.d_logits);
                loss
            }
        };
        let cache = self.cache.as_ref().expect("filled by the forward pass");
        if want_input {
            let (params, d_rows) = head.backward(cache, &self.d_logits);
            let input = ops::unflatten(d_rows, s.raw_dim());
            Ok((ParameterGradients { loss, params }, Some(input)))
        } else {
            let params = head.backward_params(cache, &self.d_logits);
            Ok((ParameterGradients { loss, params }, None))
        }
    }
}

/// `[proteins, n]` as `[tokens]`.
fn flat_tokens<F: Float>(a: ArrayView2<'_, F>, tokens: usize) -> ArrayView1<'_, F> {
    a.into_shape_with_order(tokens).expect("tokens")
}

/// `a` (the shape of `s` without its last axis) into `dst` as `[proteins, n]`.
fn flatten_into<F: Float, S: Data<Elem = F>, D: Dimension>(
    dst: &mut Array2<F>,
    a: &ArrayBase<S, D>,
    shape: (usize, usize),
) {
    reuse(dst, shape);
    for (d, &v) in dst.iter_mut().zip(a.iter()) {
        *d = v;
    }
}

/// `∂L/∂logits` from `∂L/∂b`, where `b = Σ_k softmax(logits)_k · values_k` per row.
pub fn softmax_expectation_backward<F: Float>(
    logits: &Array2<F>,
    values: &[F],
    d_b: ArrayView1<'_, F>,
) -> Array2<F> {
    let mut d = Array2::zeros((0, 0));
    softmax_expectation_backward_into(logits, values, d_b, &mut d);
    d
}

/// Multiply-adds per element of a row kernel with an `exp` per element, roughly,
/// for the thread split.
const EXP_COST: usize = 24;

/// [`softmax_expectation_backward`] into `d`, reshaped to the logits' shape.
fn softmax_expectation_backward_into<F: Float>(
    logits: &Array2<F>,
    values: &[F],
    d_b: ArrayView1<'_, F>,
    d: &mut Array2<F>,
) {
    reuse(d, logits.dim());
    d.fill(F::zero());
    let k = logits.ncols().max(1);
    let l = logits.as_standard_layout();
    let l = l.as_slice().expect("standard layout");
    let ds = d.as_slice_mut().expect("standard layout");
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
}

/// Normalized MSE over rows `[R, N]` and `∂L/∂pred`, as
/// [`loss::normalized_mse_masked`] (all-ones weights when `mask` is `None`).
pub fn normalized_mse_backward<F: Float>(
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
) -> Result<(F, Array2<F>)> {
    regression_loss_and_gradient(Regression::NormalizedMse, pred, target, mask)
}

/// `1 - r` (Pearson's `r`, averaged over rows) and its gradient, as
/// [`loss::pearson_masked`].
pub fn pearson_loss_backward<F: Float>(
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
) -> Result<(F, Array2<F>)> {
    regression_loss_and_gradient(Regression::Pearson, pred, target, mask)
}

/// [`regression_backward`] into a new array.
fn regression_loss_and_gradient<F: Float>(
    loss: Regression,
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
) -> Result<(F, Array2<F>)> {
    let mut d = Array2::zeros(pred.raw_dim());
    let d_slice = d.as_slice_mut().expect("fresh");
    let loss = regression_backward(loss, pred, target, mask, &mut Vec::new(), d_slice)?;
    Ok((loss, d))
}

/// Boltz-2's binned cross-entropy over token rows `[T, K]` and `∂L/∂logits`, as
/// [`loss::binned_cross_entropy_masked`].
pub fn binned_cross_entropy_backward<F: Float>(
    logits: &Array2<F>,
    bfactor: ArrayView1<'_, F>,
    mask: Option<ArrayView1<'_, F>>,
) -> Result<(F, Array2<F>)> {
    let mut d = Array2::zeros((0, 0));
    let loss = binned_cross_entropy_backward_into(logits, bfactor, mask, &mut d)?;
    Ok((loss, d))
}

/// [`binned_cross_entropy_backward`] with `∂L/∂logits` into `d`, reshaped to the
/// logits' shape.
fn binned_cross_entropy_backward_into<F: Float>(
    logits: &Array2<F>,
    bfactor: ArrayView1<'_, F>,
    mask: Option<ArrayView1<'_, F>>,
    d: &mut Array2<F>,
) -> Result<F> {
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
    reuse(d, logits.dim());
    d.fill(F::zero());
    let logits = logits.as_standard_layout();
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
        let dl = dl.as_slice_mut().expect("standard layout");
        ops::softmax_row(l.as_slice().expect("standard layout"), dl);
        dl[bins::bin_index(b, boundaries)] -= F::one();
        let f = F::from_f64_lossy(w * scale);
        dl.iter_mut().for_each(|v| *v *= f);
    }
    Ok(loss)
}

/// A regression loss over rows `[R, N]` (the statistic averaged over the rows
/// with at least two valid residues, as [`crate::loss`] computes it) and its
/// gradient `∂L/∂pred` into `d` (`R · N` values), with the per-row gradients
/// accumulated in `scratch` (`f64`, reused between calls).
fn regression_backward<F: Float>(
    loss: Regression,
    pred: ArrayView2<'_, F>,
    target: ArrayView2<'_, F>,
    mask: Option<ArrayView2<'_, F>>,
    scratch: &mut Vec<f64>,
    d: &mut [F],
) -> Result<F> {
    loss::check_inputs(&pred, &target, mask.as_ref())?;
    scratch.clear();
    scratch.resize(pred.len(), 0.0);
    let naming = Naming {
        name: loss.name(),
        count_rows: false,
    };
    let (mean, used) = loss::mean_over_rows(
        loss,
        naming,
        pred,
        target,
        mask,
        Some(scratch.as_mut_slice()),
    )?;
    let scale = 1.0 / used as f64;
    for (d, &g) in d.iter_mut().zip(scratch.iter()) {
        *d = F::from_f64_lossy(g * scale);
    }
    Ok(match loss {
        Regression::NormalizedMse => F::from_f64_lossy(mean),
        Regression::Pearson => F::one() - F::from_f64_lossy(mean),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boltz2::Boltz2HeadConfig;
    use crate::BFactorHeadConfig;
    use ndarray::{Array3, Axis};
    use rand::{rngs::StdRng, SeedableRng};

    fn value(i: usize, j: usize, salt: usize) -> f64 {
        ((i * 131 + j * 17 + salt * 7) % 29) as f64 * 0.7 - 5.0
    }

    /// The regression gradients report the loss [`crate::loss`] computes, to the
    /// bit: one implementation of the value.
    fn losses_are_the_public_losses<F: Float>() {
        let (r, n) = (4, 45);
        let pred = Array2::from_shape_fn((r, n), |(i, j)| F::from_f64_lossy(value(i, j, 1)));
        let target = Array2::from_shape_fn((r, n), |(i, j)| F::from_f64_lossy(value(j, i, 2)));
        // Row 2 has a single valid residue and is skipped; row 3 has weights != 1.
        let mask = Array2::from_shape_fn((r, n), |(i, j)| {
            F::from_f64_lossy(match i {
                2 => (j == 4) as u8 as f64,
                3 => (j % 3) as f64 * 0.5,
                _ => (j % 7 != 0) as u8 as f64,
            })
        });
        let (p, t, m) = (pred.view(), target.view(), mask.view());
        let (l, _) = normalized_mse_backward(p, t, Some(m)).unwrap();
        assert_eq!(
            l,
            loss::normalized_mse_masked(&pred, &target, &mask).unwrap()
        );
        let (l, _) = normalized_mse_backward(p, t, None).unwrap();
        assert_eq!(l, loss::normalized_mse(&pred, &target).unwrap());
        let (l, _) = pearson_loss_backward(p, t, Some(m)).unwrap();
        assert_eq!(
            l,
            F::one() - loss::pearson_masked(&pred, &target, &mask).unwrap()
        );
        // A row with too few valid residues gets exactly zero gradient.
        let (_, d) = pearson_loss_backward(p, t, Some(m)).unwrap();
        assert!(d.index_axis(Axis(0), 2).iter().all(|&g| g == F::zero()));
        assert!(d.index_axis(Axis(0), 0).iter().any(|&g| g != F::zero()));
    }

    #[test]
    fn regression_losses_are_the_public_losses() {
        losses_are_the_public_losses::<f32>();
        losses_are_the_public_losses::<f64>();
    }

    /// One workspace over batches of different sizes gives the bits of a fresh
    /// one each time, for both heads and every objective.
    fn workspace_reuse_gives_fresh_bits<H: Trainable<f64>>(head: &H) {
        let c = head.input_width();
        let mut ws = TrainWorkspace::new();
        for (b, n) in [(2, 9), (3, 5), (1, 12), (3, 5)] {
            let s = Array3::from_shape_fn((b, n, c), |(i, j, k)| value(i * 13 + j, k, 3));
            let target = Array2::from_shape_fn((b, n), |(i, j)| 30.0 + value(i, j, 4) * 4.0);
            let mask = Array2::from_shape_fn((b, n), |(i, j)| ((i + j) % 4 != 0) as u8 as f64);
            for objective in [
                Objective::NormalizedMse,
                Objective::Pearson,
                Objective::BinnedCrossEntropy,
            ] {
                let reused = ws
                    .loss_and_parameter_gradients_masked(head, objective, &s, &target, &mask)
                    .unwrap();
                let fresh =
                    loss_and_parameter_gradients_masked(head, objective, &s, &target, &mask)
                        .unwrap();
                assert_eq!(reused, fresh, "{objective:?} [{b}, {n}]");
            }
        }
    }

    #[test]
    fn a_reused_workspace_gives_the_bits_of_a_fresh_one() {
        let mut rng = StdRng::seed_from_u64(5);
        let nb = BFactorHeadConfig::new(6).init::<f64>(&mut rng).unwrap();
        workspace_reuse_gives_fresh_bits(&nb);
        let bz = Boltz2HeadConfig::new()
            .with_token_s(6)
            .init::<f64>(&mut rng)
            .unwrap();
        workspace_reuse_gives_fresh_bits(&bz);
    }
}
