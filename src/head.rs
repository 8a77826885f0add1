//! The reference notebook's B-factor head: layer norm → `W1` → ReLU → layer norm →
//! `W2` → bin logits → softmax expectation over bin centers.
//!
//! ```
//! use bfactor::{BFactorHeadConfig, numpy_rng::NumpyRandom};
//!
//! // The notebook's test cell: np.random.seed(42); s = randn(50, 128); head draws W1, W2.
//! let mut rng = NumpyRandom::seed(42);
//! let s = rng.randn((50, 128));
//! let head = BFactorHeadConfig::new(128).init_numpy::<f64>(&mut rng)?;
//! let out = head.forward(&s)?;
//! assert_eq!(out.logits.shape(), &[50, 64]);
//! assert_eq!(out.bfactor.shape(), &[50]);
//! assert!(out.bfactor.iter().all(|&b| (0.0..=100.0).contains(&b)));
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! Inputs are `[..., c_s]`: `[N, c_s]` for one protein, `[B, N, c_s]` for a batch,
//! any number of leading axes, owned arrays or views, `f32` or `f64`. Every row is
//! computed independently, so a batch gives exactly the per-protein results.

use ndarray::{Array, Array1, Array2, ArrayBase, Axis, Data, RemoveAxis};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::numpy_rng::NumpyRandom;
use crate::{bins, check, ops, Error, Float, Result};

/// Sizes and constants of a [`BFactorHead`], with the notebook's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct BFactorHeadConfig {
    /// Width of the single representation `s` (the last axis of the input).
    pub c_s: usize,
    /// Number of B-factor bins (logits per token). Default 64.
    pub num_bins: usize,
    /// B-factor of the last bin center; centers are `linspace(0, max_bfactor,
    /// num_bins)`. Default 100.
    pub max_bfactor: f64,
    /// Added to the variance inside both layer norms' square roots. Default 1e-5.
    pub eps: f64,
}

impl BFactorHeadConfig {
    /// A config for inputs of width `c_s` with the notebook's defaults:
    /// 64 bins, `max_bfactor = 100`, `eps = 1e-5`.
    pub fn new(c_s: usize) -> Self {
        Self {
            c_s,
            num_bins: 64,
            max_bfactor: 100.0,
            eps: 1e-5,
        }
    }

    /// Sets the number of bins.
    pub fn with_num_bins(mut self, num_bins: usize) -> Self {
        self.num_bins = num_bins;
        self
    }

    /// Sets the B-factor of the last bin center.
    pub fn with_max_bfactor(mut self, max_bfactor: f64) -> Self {
        self.max_bfactor = max_bfactor;
        self
    }

    /// Sets the layer norms' epsilon.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Checks that `c_s >= 1`, `num_bins >= 2`, `max_bfactor` is finite and
    /// positive and `eps` is finite and positive.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, value: String, expected: &str| {
            Err(Error::Config {
                field: field.into(),
                value,
                expected: expected.into(),
            })
        };
        if self.c_s == 0 {
            return bad("c_s", "0".into(), "at least 1");
        }
        if self.num_bins < 2 {
            return bad("num_bins", self.num_bins.to_string(), "at least 2");
        }
        if !(self.max_bfactor.is_finite() && self.max_bfactor > 0.0) {
            return bad(
                "max_bfactor",
                self.max_bfactor.to_string(),
                "a finite number > 0",
            );
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", self.eps.to_string(), "a finite number > 0");
        }
        Ok(())
    }

    /// Builds a head with `W1 ~ N(0, 1)·c_s^-0.5` (`[c_s, c_s]`) and
    /// `W2 ~ N(0, 1)·c_s^-0.5` (`[c_s, num_bins]`), drawn from `rng` in float64 and
    /// rounded to `F`, so `f32` and `f64` heads from the same seed agree.
    pub fn init<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<BFactorHead<F>> {
        self.validate()?;
        let scale = self.init_scale();
        let mut draw = |rows, cols| {
            Array2::from_shape_simple_fn((rows, cols), || {
                F::from_f64_lossy(rng.sample::<f64, _>(StandardNormal) * scale)
            })
        };
        let w1 = draw(self.c_s, self.c_s);
        let w2 = draw(self.c_s, self.num_bins);
        BFactorHead::from_weights(self.clone(), w1, w2)
    }

    /// Builds a head exactly as the notebook's `bfactor_head` does after
    /// `np.random.seed(...)`: `W1 = randn(c_s, c_s) * c_s**-0.5`, then
    /// `W2 = randn(c_s, num_bins) * c_s**-0.5`, from NumPy's legacy stream.
    pub fn init_numpy<F: Float>(&self, rng: &mut NumpyRandom) -> Result<BFactorHead<F>> {
        self.validate()?;
        let scale = self.init_scale();
        let w1 = rng.randn((self.c_s, self.c_s));
        let w2 = rng.randn((self.c_s, self.num_bins));
        BFactorHead::from_weights(
            self.clone(),
            w1.mapv(|v| F::from_f64_lossy(v * scale)),
            w2.mapv(|v| F::from_f64_lossy(v * scale)),
        )
    }

    fn init_scale(&self) -> f64 {
        (self.c_s as f64).powf(-0.5)
    }
}

/// The notebook's B-factor head with its two weight matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct BFactorHead<F: Float> {
    config: BFactorHeadConfig,
    w1: Array2<F>,
    w2: Array2<F>,
    centers: Array1<F>,
    eps: F,
}

/// What [`BFactorHead::forward`] returns for input `[..., c_s]`.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadOutput<F: Float, D: RemoveAxis> {
    /// Bin logits, `[..., num_bins]`.
    pub logits: Array<F, D>,
    /// Expected B-factor per token, `[...]`: `Σ softmax(logits)_k · center_k`.
    pub bfactor: Array<F, D::Smaller>,
}

impl<F: Float, D: RemoveAxis> HeadOutput<F, D> {
    /// Bin probabilities, `softmax(logits)` over the last axis, `[..., num_bins]`.
    /// Works for logits in any memory layout.
    pub fn probabilities(&self) -> Array<F, D> {
        let mut p = Array::zeros(self.logits.raw_dim());
        let bins = self.logits.shape().last().copied().unwrap_or(0);
        if bins == 0 {
            return p;
        }
        let logits = self.logits.as_standard_layout();
        let src = logits.as_slice().expect("standard layout");
        let dst = p.as_slice_mut().expect("fresh array is standard layout");
        for (l, q) in src.chunks(bins).zip(dst.chunks_mut(bins)) {
            ops::softmax_row(l, q);
        }
        p
    }
}

impl<F: Float> BFactorHead<F> {
    /// A head from given weights: `w1` `[c_s, c_s]` and `w2` `[c_s, num_bins]`, as
    /// the notebook multiplies them (`x @ W1`, `h @ W2`). Checks the config, both
    /// shapes and that every weight is finite.
    pub fn from_weights(config: BFactorHeadConfig, w1: Array2<F>, w2: Array2<F>) -> Result<Self> {
        config.validate()?;
        let (c, k) = (config.c_s, config.num_bins);
        check::same_shape("W1", w1.shape(), &[c, c], "[c_s, c_s] from the config")?;
        check::same_shape("W2", w2.shape(), &[c, k], "[c_s, num_bins] from the config")?;
        check::finite("W1", &w1)?;
        check::finite("W2", &w2)?;
        Ok(Self {
            centers: bins::notebook_centers(k, config.max_bfactor),
            eps: F::from_f64_lossy(config.eps),
            config,
            w1,
            w2,
        })
    }

    /// The config the head was built with.
    pub fn config(&self) -> &BFactorHeadConfig {
        &self.config
    }

    /// `W1`, `[c_s, c_s]`.
    pub fn w1(&self) -> &Array2<F> {
        &self.w1
    }

    /// `W2`, `[c_s, num_bins]`.
    pub fn w2(&self) -> &Array2<F> {
        &self.w2
    }

    /// The bin centers the expectation uses, `linspace(0, max_bfactor, num_bins)`.
    pub fn bin_centers(&self) -> &Array1<F> {
        &self.centers
    }

    /// Logits and expected B-factors for `s` of shape `[..., c_s]`.
    ///
    /// Errors if `s` has no axes, its last axis is not `c_s`, or it holds NaN or
    /// infinity.
    pub fn forward<S: Data<Elem = F>, D: RemoveAxis>(
        &self,
        s: &ArrayBase<S, D>,
    ) -> Result<HeadOutput<F, D>> {
        check::last_axis("s", "c_s", s, self.config.c_s)?;
        let (mut x, dim) = ops::rows_of("s", s)?;
        let logits = self.logits_rows(&mut x)?;
        // Finite inputs and weights can still overflow (weights near f32::MAX).
        check::finite("logits (overflowed: weights too large)", &logits)?;
        let bfactor: Array1<F> = logits
            .rows()
            .into_iter()
            .map(|r| {
                ops::softmax_expectation_row(r.as_slice().expect("fresh"), self.centers_slice())
            })
            .collect();
        let b_dim = dim.remove_axis(Axis(dim.ndim() - 1));
        Ok(HeadOutput {
            bfactor: bfactor.into_shape_with_order(b_dim).expect("one per row"),
            logits: ops::unflatten(logits, dim),
        })
    }

    /// The head on validated rows `[n, c_s]`, normalised in place; returns `[n, num_bins]`.
    fn logits_rows(&self, x: &mut Array2<F>) -> Result<Array2<F>> {
        for (i, mut row) in x.rows_mut().into_iter().enumerate() {
            let inv_std = ops::layer_norm_row(row.as_slice_mut().expect("fresh"), self.eps);
            ops::check_layer_norm("layer norm of s", i, inv_std)?;
        }
        let mut h = x.dot(&self.w1);
        for (i, mut row) in h.rows_mut().into_iter().enumerate() {
            let inv_std = ops::relu_layer_norm_row(row.as_slice_mut().expect("fresh"), self.eps);
            ops::check_layer_norm("layer norm of ReLU(x · W1)", i, inv_std)?;
        }
        Ok(h.dot(&self.w2))
    }

    /// The layer norms' epsilon in `F`.
    pub(crate) fn eps_f(&self) -> F {
        self.eps
    }

    /// Mutable weights for the optimizers; the training code keeps them finite.
    pub(crate) fn weights_mut(&mut self) -> (&mut Array2<F>, &mut Array2<F>) {
        (&mut self.w1, &mut self.w2)
    }

    pub(crate) fn centers_slice(&self) -> &[F] {
        self.centers.as_slice().expect("owned 1-D array")
    }
}
