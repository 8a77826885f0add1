//! First-order optimizers with PyTorch's update formulas, gradient clipping and
//! learning-rate schedules.
//!
//! - [`Sgd`] ([`SgdConfig`]): `torch.optim.SGD` (momentum, dampening, Nesterov,
//!   L2 weight decay).
//! - [`Adam`] ([`AdamConfig`]): `torch.optim.Adam` (L2 weight decay added to the
//!   gradient, optional AMSGrad).
//! - [`AdamW`] ([`AdamWConfig`]): `torch.optim.AdamW` (decoupled weight decay).
//! - [`clip_grad_norm`]: `torch.nn.utils.clip_grad_norm_` (global L2 norm).
//! - [`LrSchedule`]: constant, or linear warm-up followed by cosine decay.
//!
//! Every optimizer implements [`Optimizer`]: parameters and gradients are passed as
//! lists of contiguous slices, one per tensor, in the same order at every step. The
//! state (momentum buffers, moment estimates) is allocated at the first step and
//! reused afterwards. The arithmetic follows PyTorch's single-tensor implementation
//! (`foreach=False`) operation by operation, with the scalar coefficients (bias
//! corrections, `1 - beta`, ...) computed in `f64` as Python does and rounded to `F`
//! once, so `f64` runs reproduce PyTorch to rounding (the tests check `1e-12`
//! relative against real `torch.optim`).
//!
//! Configurations follow the builder style: `XConfig::new()` (`SgdConfig::new(lr)`)
//! gives PyTorch's defaults, `with_*` setters change one field, and
//! [`init`](AdamConfig::init) validates and returns the optimizer.
//!
//! ```
//! use bfactor::train::optim::{clip_grad_norm, AdamWConfig, LrSchedule, Optimizer};
//!
//! // Two parameter tensors, minimizing f(w, b) = |w - 1|^2 + |b + 2|^2.
//! let mut w = vec![0.0_f64; 3];
//! let mut b = vec![0.0_f64; 2];
//! let mut opt = AdamWConfig::new().with_weight_decay(0.0).init::<f64>()?;
//! let schedule = LrSchedule::WarmupCosine {
//!     peak_lr: 0.1,
//!     warmup_steps: 10,
//!     total_steps: 500,
//!     min_lr: 1e-3,
//! };
//! schedule.validate()?;
//! for step in 0..500 {
//!     let mut gw: Vec<f64> = w.iter().map(|x| 2.0 * (x - 1.0)).collect();
//!     let mut gb: Vec<f64> = b.iter().map(|x| 2.0 * (x + 2.0)).collect();
//!     clip_grad_norm(&mut [&mut gw[..], &mut gb[..]], 1.0);
//!     opt.set_learning_rate(schedule.lr_at(step));
//!     opt.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]])?;
//! }
//! assert!(w.iter().all(|x| (x - 1.0).abs() < 1e-2));
//! assert!(b.iter().all(|x| (x + 2.0).abs() < 1e-2));
//! # Ok::<(), bfactor::Error>(())
//! ```

use crate::{Error, Float, Result};

/// A first-order optimizer over a fixed list of parameter tensors.
///
/// The trait is object safe: `Box<dyn Optimizer<f32>>` works.
pub trait Optimizer<F: Float> {
    /// Applies one update. `params[i]` and `grads[i]` are the i-th tensor's values
    /// and gradient (same length); the list must have the same lengths in the same
    /// order at every call (state is kept per index).
    ///
    /// Nothing is modified when an error is returned. Errors:
    /// - [`Error::ShapeMismatch`] if `grads` and `params` differ in number or in a
    ///   tensor's length, or the lengths differ from those of the first step;
    /// - [`Error::NonFinite`] if a gradient holds NaN or ±inf (`what` is
    ///   `"grads[i]"`, `index` is `[j]`);
    /// - [`Error::Config`] if the current learning rate (see
    ///   [`set_learning_rate`](Optimizer::set_learning_rate)) is negative or not
    ///   finite.
    ///
    /// Parameters are not checked: a non-finite parameter stays non-finite.
    fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]) -> Result<()>;

    /// Current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (for schedules). It takes effect at the next
    /// [`step`](Optimizer::step), which rejects a negative or non-finite value.
    fn set_learning_rate(&mut self, lr: f64);
}

// ---------------------------------------------------------------------------
// Validation helpers.
// ---------------------------------------------------------------------------

/// `value` must be finite and `>= 0`.
fn non_negative(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(field, value, "a finite number >= 0"))
    }
}

/// `value` must be in `[0, 1)`.
fn beta(field: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::config(field, value, "a number in [0, 1)"))
    }
}

/// `value` must be finite and `> 0`.
fn positive(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::config(field, value, "a finite number > 0"))
    }
}

/// The tensor lengths of a list of slices.
fn lengths<T: AsRef<[U]>, U>(tensors: &[T]) -> Vec<usize> {
    tensors.iter().map(|t| t.as_ref().len()).collect()
}

/// Checks one step's input before anything is modified: the learning rate, that
/// `grads` matches `params`, that both match the lengths of the first step (`state`,
/// if any), and that every gradient is finite.
fn check_step<F: Float>(
    lr: f64,
    state: Option<&[usize]>,
    params: &[&mut [F]],
    grads: &[&[F]],
) -> Result<()> {
    non_negative("lr", lr)?;
    let same =
        params.len() == grads.len() && params.iter().zip(grads).all(|(p, g)| p.len() == g.len());
    if !same {
        return Err(Error::shape_mismatch(
            "grads (tensor lengths)",
            lengths(params),
            lengths(grads),
            "grads[i] must have the length of params[i]",
        ));
    }
    if let Some(expected) = state {
        let same = expected.len() == params.len()
            && expected.iter().zip(params).all(|(&n, p)| n == p.len());
        if !same {
            return Err(Error::shape_mismatch(
                "params (tensor lengths)",
                expected,
                lengths(params),
                "the optimizer state was allocated for these tensor lengths at the first step",
            ));
        }
    }
    for (i, g) in grads.iter().enumerate() {
        if let Some((j, v)) = g.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::non_finite(
                format!("grads[{i}]"),
                vec![j],
                v.to_f64_exact(),
            ));
        }
    }
    Ok(())
}

/// `F` zeros shaped like `lens`.
fn zeros<F: Float>(lens: &[usize]) -> Vec<Vec<F>> {
    lens.iter().map(|&n| vec![F::zero(); n]).collect()
}

/// ATen's `lerp(start, end, weight)`: `start + weight * (end - start)` when
/// `|weight| < 0.5`, else `end - (end - start) * (1 - weight)`.
#[inline]
fn lerp<F: Float>(start: F, end: F, weight: F, small: bool) -> F {
    if small {
        start + weight * (end - start)
    } else {
        end - (end - start) * (F::one() - weight)
    }
}

// ---------------------------------------------------------------------------
// SGD.
// ---------------------------------------------------------------------------

/// Configuration of [`Sgd`], with `torch.optim.SGD`'s defaults (momentum 0,
/// dampening 0, weight decay 0, no Nesterov).
#[derive(Debug, Clone, PartialEq)]
pub struct SgdConfig {
    /// Learning rate `lr` (finite, `>= 0`).
    pub lr: f64,
    /// Momentum factor `mu` (finite, `>= 0`; 0 disables the momentum buffer).
    pub momentum: f64,
    /// Dampening `tau` of the momentum (finite).
    pub dampening: f64,
    /// L2 penalty `lambda` added to the gradient (finite, `>= 0`).
    pub weight_decay: f64,
    /// Nesterov momentum (requires `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }

    /// Sets the learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening.
    pub fn with_dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// Sets the L2 weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Enables or disables Nesterov momentum.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Validates the configuration (as `torch.optim.SGD`'s constructor, and
    /// rejecting non-finite values) and builds the optimizer.
    ///
    /// Errors with [`Error::Config`] if `lr`, `momentum` or `weight_decay` is
    /// negative or not finite, `dampening` is not finite, or `nesterov` is set
    /// without `momentum > 0` and `dampening == 0`.
    pub fn init<F: Float>(&self) -> Result<Sgd<F>> {
        non_negative("lr", self.lr)?;
        non_negative("momentum", self.momentum)?;
        if !self.dampening.is_finite() {
            return Err(Error::config(
                "dampening",
                self.dampening,
                "a finite number",
            ));
        }
        non_negative("weight_decay", self.weight_decay)?;
        if self.nesterov && !(self.momentum > 0.0 && self.dampening == 0.0) {
            return Err(Error::config(
                "nesterov",
                format!(
                    "true (momentum = {}, dampening = {})",
                    self.momentum, self.dampening
                ),
                "momentum > 0 and dampening == 0 for Nesterov momentum",
            ));
        }
        Ok(Sgd {
            config: self.clone(),
            lens: None,
            momentum_buffers: Vec::new(),
            steps: 0,
        })
    }
}

/// Stochastic gradient descent, `torch.optim.SGD` with `foreach=False`.
///
/// With gradient `g_t`, learning rate `lr`, momentum `mu`, dampening `tau` and
/// weight decay `lambda`, each step does, element by element:
///
/// ```text
/// if lambda != 0:  g = g + lambda * p
/// if mu != 0:
///     b = g                              (first step)
///     b = b * mu + (1 - tau) * g         (later steps)
///     g = g + mu * b   if nesterov   else   g = b
/// p = p + (-lr) * g
/// ```
///
/// Note that, as in PyTorch, the first step copies the gradient into the momentum
/// buffer without dampening.
#[derive(Debug, Clone)]
pub struct Sgd<F> {
    config: SgdConfig,
    lens: Option<Vec<usize>>,
    momentum_buffers: Vec<Vec<F>>,
    steps: usize,
}

impl<F: Float> Sgd<F> {
    /// The configuration (with the current learning rate).
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// The number of steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }
}

impl<F: Float> Optimizer<F> for Sgd<F> {
    fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]) -> Result<()> {
        let c = &self.config;
        check_step(c.lr, self.lens.as_deref(), params, grads)?;
        let first = self.lens.is_none();
        if first {
            let lens = lengths(params);
            if c.momentum != 0.0 {
                self.momentum_buffers = zeros(&lens);
            }
            self.lens = Some(lens);
        }

        let neg_lr = F::from_f64_lossy(-c.lr);
        let wd = F::from_f64_lossy(c.weight_decay);
        let use_wd = c.weight_decay != 0.0;
        let mu = F::from_f64_lossy(c.momentum);
        let one_minus_tau = F::from_f64_lossy(1.0 - c.dampening);
        let use_momentum = c.momentum != 0.0;
        let nesterov = c.nesterov;

        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            if use_momentum {
                let buf = &mut self.momentum_buffers[i];
                for ((p, &g), b) in p.iter_mut().zip(g.iter()).zip(buf.iter_mut()) {
                    let g = if use_wd { g + wd * *p } else { g };
                    *b = if first {
                        g
                    } else {
                        *b * mu + one_minus_tau * g
                    };
                    let d = if nesterov { g + mu * *b } else { *b };
                    *p += neg_lr * d;
                }
            } else {
                for (p, &g) in p.iter_mut().zip(g.iter()) {
                    let g = if use_wd { g + wd * *p } else { g };
                    *p += neg_lr * g;
                }
            }
        }
        self.steps += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}

// ---------------------------------------------------------------------------
// Adam and AdamW.
// ---------------------------------------------------------------------------

/// Configuration of [`Adam`], with `torch.optim.Adam`'s defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamConfig {
    /// Learning rate `lr` (finite, `>= 0`). Default `1e-3`.
    pub lr: f64,
    /// Decay rates `(beta1, beta2)` of the moment estimates, each in `[0, 1)`.
    /// Default `(0.9, 0.999)`.
    pub betas: (f64, f64),
    /// Term `eps` added to the denominator (finite, `> 0`). Default `1e-8`.
    pub eps: f64,
    /// L2 penalty `lambda` added to the gradient (finite, `>= 0`). Default 0.
    pub weight_decay: f64,
    /// Use the AMSGrad variant (the running maximum of the second moment).
    /// Default `false`.
    pub amsgrad: bool,
}

/// Configuration of [`AdamW`], with `torch.optim.AdamW`'s defaults (as
/// [`AdamConfig`] but `weight_decay = 1e-2`, applied decoupled).
#[derive(Debug, Clone, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate `lr` (finite, `>= 0`). Default `1e-3`.
    pub lr: f64,
    /// Decay rates `(beta1, beta2)` of the moment estimates, each in `[0, 1)`.
    /// Default `(0.9, 0.999)`.
    pub betas: (f64, f64),
    /// Term `eps` added to the denominator (finite, `> 0`). Default `1e-8`.
    pub eps: f64,
    /// Decoupled weight decay `lambda`: `p *= 1 - lr * lambda` before the update
    /// (finite, `>= 0`). Default `1e-2`.
    pub weight_decay: f64,
    /// Use the AMSGrad variant (the running maximum of the second moment).
    /// Default `false`.
    pub amsgrad: bool,
}

macro_rules! adam_config {
    ($config:ident, $opt:ident, $wd:expr, $decoupled:expr) => {
        impl Default for $config {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $config {
            /// PyTorch's defaults.
            pub fn new() -> Self {
                Self {
                    lr: 1e-3,
                    betas: (0.9, 0.999),
                    eps: 1e-8,
                    weight_decay: $wd,
                    amsgrad: false,
                }
            }

            /// Sets the learning rate.
            pub fn with_lr(mut self, lr: f64) -> Self {
                self.lr = lr;
                self
            }

            /// Sets `(beta1, beta2)`.
            pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
                self.betas = (beta1, beta2);
                self
            }

            /// Sets `eps`.
            pub fn with_eps(mut self, eps: f64) -> Self {
                self.eps = eps;
                self
            }

            /// Sets the weight decay.
            pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
                self.weight_decay = weight_decay;
                self
            }

            /// Enables or disables AMSGrad.
            pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
                self.amsgrad = amsgrad;
                self
            }

            /// Validates the configuration and builds the optimizer.
            ///
            /// Errors with [`Error::Config`] if `lr` or `weight_decay` is negative
            /// or not finite, a beta is outside `[0, 1)` (`field` is `"betas.0"` or
            /// `"betas.1"`), or `eps` is not a finite number `> 0`.
            pub fn init<F: Float>(&self) -> Result<$opt<F>> {
                non_negative("lr", self.lr)?;
                beta("betas.0", self.betas.0)?;
                beta("betas.1", self.betas.1)?;
                positive("eps", self.eps)?;
                non_negative("weight_decay", self.weight_decay)?;
                Ok($opt {
                    config: self.clone(),
                    state: AdamState::default(),
                })
            }
        }

        impl<F: Float> $opt<F> {
            /// The configuration (with the current learning rate).
            pub fn config(&self) -> &$config {
                &self.config
            }

            /// The number of steps taken so far (PyTorch's `state["step"]`).
            pub fn steps(&self) -> usize {
                self.state.steps
            }
        }

        impl<F: Float> Optimizer<F> for $opt<F> {
            fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]) -> Result<()> {
                let c = &self.config;
                let hyper = AdamHyper {
                    lr: c.lr,
                    beta1: c.betas.0,
                    beta2: c.betas.1,
                    eps: c.eps,
                    weight_decay: c.weight_decay,
                    amsgrad: c.amsgrad,
                    decoupled: $decoupled,
                };
                self.state.step(&hyper, params, grads)
            }

            fn learning_rate(&self) -> f64 {
                self.config.lr
            }

            fn set_learning_rate(&mut self, lr: f64) {
                self.config.lr = lr;
            }
        }
    };
}

/// Adam, `torch.optim.Adam` with `foreach=False`; weight decay is an L2 penalty
/// added to the gradient.
///
/// At step `t = 1, 2, ...`, with the scalars computed in `f64`
///
/// ```text
/// bias_correction1 = 1 - beta1^t
/// bias_correction2 = 1 - beta2^t
/// step_size        = lr / bias_correction1
/// ```
///
/// each element does
///
/// ```text
/// if lambda != 0:  g = g + lambda * p
/// m = lerp(m, g, 1 - beta1)              (ATen lerp, see below)
/// v = v * beta2 + ((1 - beta2) * g) * g
/// if amsgrad:  v_max = max(v_max, v)  and  v_max replaces v below
/// denom = sqrt(v) / sqrt(bias_correction2) + eps
/// p = p + ((-step_size) * m) / denom
/// ```
///
/// where `lerp(a, b, w) = a + w * (b - a)` if `|w| < 0.5`, else
/// `b - (b - a) * (1 - w)`. `m`, `v` and `v_max` start at zero.
#[derive(Debug, Clone)]
pub struct Adam<F> {
    config: AdamConfig,
    state: AdamState<F>,
}

/// AdamW, `torch.optim.AdamW` with `foreach=False`: [`Adam`] with decoupled weight
/// decay.
///
/// Each step first shrinks the parameters, `p = p * (1 - lr * lambda)` (the factor
/// computed in `f64`), then applies the [`Adam`] update with the raw gradient
/// (no L2 term).
#[derive(Debug, Clone)]
pub struct AdamW<F> {
    config: AdamWConfig,
    state: AdamState<F>,
}

adam_config!(AdamConfig, Adam, 0.0, false);
adam_config!(AdamWConfig, AdamW, 1e-2, true);

/// The hyper-parameters of one Adam(W) step.
struct AdamHyper {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    decoupled: bool,
}

/// Adam's per-tensor state, shared by [`Adam`] and [`AdamW`].
#[derive(Debug, Clone)]
struct AdamState<F> {
    lens: Option<Vec<usize>>,
    exp_avg: Vec<Vec<F>>,
    exp_avg_sq: Vec<Vec<F>>,
    max_exp_avg_sq: Vec<Vec<F>>,
    steps: usize,
}

impl<F> Default for AdamState<F> {
    fn default() -> Self {
        Self {
            lens: None,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            max_exp_avg_sq: Vec::new(),
            steps: 0,
        }
    }
}

impl<F: Float> AdamState<F> {
    fn step(&mut self, h: &AdamHyper, params: &mut [&mut [F]], grads: &[&[F]]) -> Result<()> {
        check_step(h.lr, self.lens.as_deref(), params, grads)?;
        if self.lens.is_none() {
            let lens = lengths(params);
            self.exp_avg = zeros(&lens);
            self.exp_avg_sq = zeros(&lens);
            if h.amsgrad {
                self.max_exp_avg_sq = zeros(&lens);
            }
            self.lens = Some(lens);
        }
        self.steps += 1;

        // Scalars exactly as Python computes them (f64), rounded to F once.
        let t = self.steps as f64;
        let bias_correction1 = 1.0 - h.beta1.powf(t);
        let bias_correction2 = 1.0 - h.beta2.powf(t);
        let step_size = h.lr / bias_correction1;
        let bias_correction2_sqrt = F::from_f64_lossy(bias_correction2.sqrt());
        let neg_step_size = F::from_f64_lossy(-step_size);
        let weight1 = 1.0 - h.beta1;
        let small = weight1.abs() < 0.5;
        let weight1 = F::from_f64_lossy(weight1);
        let beta2 = F::from_f64_lossy(h.beta2);
        let one_minus_beta2 = F::from_f64_lossy(1.0 - h.beta2);
        let eps = F::from_f64_lossy(h.eps);
        let use_wd = h.weight_decay != 0.0;
        let wd = F::from_f64_lossy(h.weight_decay);
        let decay = F::from_f64_lossy(1.0 - h.lr * h.weight_decay);

        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            // Equal lengths (checked above); the re-slicing lets the compiler drop
            // the bounds checks.
            let n = p.len();
            let (g, m, v) = (
                &g[..n],
                &mut self.exp_avg[i][..n],
                &mut self.exp_avg_sq[i][..n],
            );
            // An empty slice when AMSGrad is off (never indexed then).
            let vmax: &mut [F] = if h.amsgrad {
                &mut self.max_exp_avg_sq[i][..n]
            } else {
                &mut []
            };
            for j in 0..n {
                let mut g = g[j];
                if use_wd {
                    if h.decoupled {
                        p[j] *= decay;
                    } else {
                        g += wd * p[j];
                    }
                }
                m[j] = lerp(m[j], g, weight1, small);
                v[j] = v[j] * beta2 + one_minus_beta2 * g * g;
                let second = if h.amsgrad {
                    if v[j] > vmax[j] {
                        vmax[j] = v[j];
                    }
                    vmax[j]
                } else {
                    v[j]
                };
                let denom = second.sqrt() / bias_correction2_sqrt + eps;
                p[j] += neg_step_size * m[j] / denom;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Gradient clipping.
// ---------------------------------------------------------------------------

/// The L2 norm of `values` (widened to `f64`), rescaled by the largest magnitude if
/// the plain sum of squares overflows. NaN if any value is NaN, infinity if any is
/// infinite.
fn l2_norm<F: Float>(values: &[F]) -> f64 {
    let sum_sq: f64 = values
        .iter()
        .map(|v| {
            let v = v.to_f64_exact();
            v * v
        })
        .sum();
    if !sum_sq.is_infinite() {
        return sum_sq.sqrt();
    }
    let scale = values
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.to_f64_exact().abs()));
    if scale.is_infinite() {
        return f64::INFINITY;
    }
    let scaled: f64 = values
        .iter()
        .map(|v| {
            let v = v.to_f64_exact() / scale;
            v * v
        })
        .sum();
    scale * scaled.sqrt()
}

/// Clips gradients by their global L2 norm, as `torch.nn.utils.clip_grad_norm_`
/// (`norm_type = 2`), and returns the total norm before clipping.
///
/// The total norm is the L2 norm of the per-tensor L2 norms (the norm of all
/// gradients viewed as one vector), accumulated in `f64`. With
/// `coef = max_norm / (total + 1e-6)`, every gradient is multiplied by `coef`
/// (rounded to `F`) if `coef < 1`, and left untouched otherwise — PyTorch
/// multiplies by `min(coef, 1)`, which is the same.
///
/// `max_norm` should be finite and `>= 0` (a negative one flips the gradients, as
/// in PyTorch). If a gradient is NaN or infinite the returned norm is NaN or
/// infinite; a NaN norm leaves the gradients untouched (PyTorch would turn them all
/// into NaN) so that the following [`Optimizer::step`] reports the bad value. An
/// empty list has norm 0.
///
/// ```
/// use bfactor::train::optim::clip_grad_norm;
///
/// let mut a = vec![3.0_f64];
/// let mut b = vec![4.0_f64];
/// let total = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 1.0);
/// assert_eq!(total, 5.0);
/// assert!((a[0] - 0.6).abs() < 1e-6 && (b[0] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm<F: Float>(grads: &mut [&mut [F]], max_norm: f64) -> f64 {
    let total = grads
        .iter()
        .map(|g| {
            let n = l2_norm(g);
            n * n
        })
        .sum::<f64>()
        .sqrt();
    // Recompute robustly if squaring the per-tensor norms overflowed.
    let total = if total.is_infinite() {
        let norms: Vec<f64> = grads.iter().map(|g| l2_norm(g)).collect();
        l2_norm(&norms)
    } else {
        total
    };
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        let coef = F::from_f64_lossy(coef);
        for g in grads.iter_mut() {
            for x in g.iter_mut() {
                *x *= coef;
            }
        }
    }
    total
}

// ---------------------------------------------------------------------------
// Learning-rate schedules.
// ---------------------------------------------------------------------------

/// A learning rate as a function of the (0-based) step index.
///
/// Use it as `opt.set_learning_rate(schedule.lr_at(s))` before the `s`-th
/// [`Optimizer::step`] (`s = 0` before the first one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrSchedule {
    /// The same learning rate at every step.
    Constant {
        /// The learning rate.
        lr: f64,
    },
    /// Linear warm-up to `peak_lr`, then cosine decay to `min_lr`.
    ///
    /// With `W = warmup_steps`, `T = total_steps`:
    ///
    /// ```text
    /// lr(s) = peak_lr * (s + 1) / W                                    for s < W
    /// lr(s) = min_lr + (peak_lr - min_lr) * (1 + cos(pi * (s - W) / (T - W))) / 2
    ///                                                                  for W <= s < T
    /// lr(s) = min_lr                                                   for s >= T
    /// ```
    ///
    /// The warm-up reaches `peak_lr` at `s = W - 1`; the cosine starts at
    /// `peak_lr` (`s = W`) and would reach `min_lr` at `s = T`. `W = 0` means no
    /// warm-up. This equals PyTorch's `SequentialLR` of
    /// `LinearLR(start_factor = 1/W, total_iters = W - 1)` and
    /// `CosineAnnealingLR(T_max = T - W, eta_min = min_lr)` for `s <= T`.
    WarmupCosine {
        /// The learning rate at the end of the warm-up.
        peak_lr: f64,
        /// The number of warm-up steps `W`.
        warmup_steps: usize,
        /// The step `T` from which the learning rate stays at `min_lr`.
        total_steps: usize,
        /// The final learning rate.
        min_lr: f64,
    },
}

impl LrSchedule {
    /// The learning rate for the `step`-th update (0-based); see the variants for
    /// the formulas.
    pub fn lr_at(&self, step: usize) -> f64 {
        match *self {
            LrSchedule::Constant { lr } => lr,
            LrSchedule::WarmupCosine {
                peak_lr,
                warmup_steps,
                total_steps,
                min_lr,
            } => {
                if step < warmup_steps {
                    peak_lr * (step + 1) as f64 / warmup_steps as f64
                } else if step >= total_steps {
                    min_lr
                } else {
                    let progress =
                        (step - warmup_steps) as f64 / (total_steps - warmup_steps) as f64;
                    min_lr
                        + 0.5 * (peak_lr - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
                }
            }
        }
    }

    /// Checks the schedule: learning rates finite and `>= 0`, `min_lr <= peak_lr`,
    /// `warmup_steps <= total_steps`. Errors with [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        match *self {
            LrSchedule::Constant { lr } => non_negative("lr", lr),
            LrSchedule::WarmupCosine {
                peak_lr,
                warmup_steps,
                total_steps,
                min_lr,
            } => {
                non_negative("peak_lr", peak_lr)?;
                non_negative("min_lr", min_lr)?;
                if min_lr > peak_lr {
                    return Err(Error::config(
                        "min_lr",
                        min_lr,
                        format!("at most peak_lr = {peak_lr}"),
                    ));
                }
                if warmup_steps > total_steps {
                    return Err(Error::config(
                        "warmup_steps",
                        warmup_steps,
                        format!("at most total_steps = {total_steps}"),
                    ));
                }
                Ok(())
            }
        }
    }
}
