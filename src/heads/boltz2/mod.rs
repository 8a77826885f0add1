//! Boltz-2's released B-factor module: one linear layer with bias from the single
//! representation to bin logits, `logits = s · Wᵀ + b`.
//!
//! ```
//! use bfactor::boltz2::Boltz2HeadConfig;
//! use bfactor::ndarray::Array3;
//! use bfactor::rand::{rngs::StdRng, SeedableRng};
//!
//! let head = Boltz2HeadConfig::new().init::<f32>(&mut StdRng::seed_from_u64(0))?;
//! let s = Array3::<f32>::zeros((2, 10, 384)); // [B, N, token_s]
//! let out = head.forward(&s)?; // logits and an expected B-factor per token
//! assert_eq!(out.logits.shape(), &[2, 10, 64]); // what Boltz-2 returns as `pbfactor`
//! assert_eq!(out.bfactor.shape(), &[2, 10]);
//! assert_eq!(head.logits(&s)?, out.logits); // the logits alone
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! Weights follow PyTorch's `nn.Linear` layout: `weight` is `[num_bins, token_s]`,
//! `bias` is `[num_bins]`. Boltz-2 itself never decodes the logits into a number;
//! [`Boltz2Head::forward`] does so with the bin centers of
//! [`bins::boltz2_centers`] and documents that convention there.

use ndarray::{Array, Array1, Array2, ArrayBase, ArrayView2, Axis, Data, RemoveAxis};
use rand::Rng;

use crate::head::{PackCache, MAX_HEAD_PARAMETERS};
use crate::matmul::{self, PackedB};
use crate::{bins, check, ops, Error, Float, HeadOutput, Result};

pub(crate) mod backward;

/// Sizes of a [`Boltz2Head`], with Boltz-2's released values as defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boltz2HeadConfig {
    /// Width of the single representation (`token_s`). Default 384.
    pub token_s: usize,
    /// Number of B-factor bins. Default 64.
    pub num_bins: usize,
}

impl Default for Boltz2HeadConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl Boltz2HeadConfig {
    /// Boltz-2's released sizes: `token_s = 384`, `num_bins = 64`.
    pub fn new() -> Self {
        Self {
            token_s: 384,
            num_bins: 64,
        }
    }

    /// Sets the width of the single representation.
    pub fn with_token_s(mut self, token_s: usize) -> Self {
        self.token_s = token_s;
        self
    }

    /// Sets the number of bins.
    pub fn with_num_bins(mut self, num_bins: usize) -> Self {
        self.num_bins = num_bins;
        self
    }

    /// Checks `token_s >= 1`, `num_bins >= 3` (at least one inner bin between
    /// Boltz-2's boundaries at 0 and 100) and that the head's parameter count
    /// `num_bins · (token_s + 1)` is at most [`MAX_HEAD_PARAMETERS`].
    pub fn validate(&self) -> Result<()> {
        if self.token_s == 0 {
            return Err(Error::config("token_s", 0, "at least 1"));
        }
        if self.num_bins < 3 {
            return Err(Error::config("num_bins", self.num_bins, "at least 3"));
        }
        let params = self
            .token_s
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.num_bins));
        if params.is_none_or(|n| n > MAX_HEAD_PARAMETERS) {
            return Err(Error::config(
                "token_s, num_bins",
                format!("{}, {}", self.token_s, self.num_bins),
                format!(
                    "num_bins · (token_s + 1) parameters at most {MAX_HEAD_PARAMETERS} \
                     (MAX_HEAD_PARAMETERS)"
                ),
            ));
        }
        Ok(())
    }

    /// Builds a head initialised like PyTorch's `nn.Linear`: weight and bias
    /// uniform in `±1/sqrt(token_s)`, drawn in float64 and rounded to `F`.
    pub fn init<F: Float>(&self, rng: &mut (impl Rng + ?Sized)) -> Result<Boltz2Head<F>> {
        self.validate()?;
        let bound = 1.0 / (self.token_s as f64).sqrt();
        let mut draw = || F::from_f64_lossy(rng.random_range(-bound..bound));
        let weight = Array2::from_shape_simple_fn((self.num_bins, self.token_s), &mut draw);
        let bias = Array1::from_shape_simple_fn(self.num_bins, &mut draw);
        Boltz2Head::from_weights(weight, bias)
    }
}

/// Boltz-2's B-factor module (`BFactorModule`): a linear layer to bin logits.
#[derive(Clone, Debug, PartialEq)]
pub struct Boltz2Head<F: Float> {
    config: Boltz2HeadConfig,
    weight: Array2<F>,
    bias: Array1<F>,
    centers: Array1<F>,
    /// `weightᵀ` packed for the matrix-product kernel, made on first use and
    /// dropped whenever the weights are handed out mutably.
    packed: PackCache<PackedB<F>>,
}

impl<F: Float> Boltz2Head<F> {
    /// A head from `weight` `[num_bins, token_s]` and `bias` `[num_bins]` (the
    /// sizes are read from `weight`). Checks the shapes and that every value is
    /// finite.
    pub fn from_weights(weight: Array2<F>, bias: Array1<F>) -> Result<Self> {
        let (num_bins, token_s) = weight.dim();
        let config = Boltz2HeadConfig { token_s, num_bins };
        config.validate()?;
        check::same_shape(
            "bias",
            bias.shape(),
            &[num_bins],
            "[num_bins], the rows of weight",
        )?;
        check::finite("weight", &weight)?;
        check::finite("bias", &bias)?;
        Ok(Self {
            centers: bins::boltz2_centers(num_bins),
            config,
            weight,
            bias,
            packed: PackCache::default(),
        })
    }

    /// The sizes of this head.
    pub fn config(&self) -> &Boltz2HeadConfig {
        &self.config
    }

    /// The weight, `[num_bins, token_s]` (PyTorch's `nn.Linear` layout).
    pub fn weight(&self) -> &Array2<F> {
        &self.weight
    }

    /// The bias, `[num_bins]`.
    pub fn bias(&self) -> &Array1<F> {
        &self.bias
    }

    /// The centers [`forward`](Self::forward) decodes with
    /// ([`bins::boltz2_centers`]).
    pub fn bin_centers(&self) -> &Array1<F> {
        &self.centers
    }

    /// Logits and the expected B-factor per token for `s` of shape
    /// `[..., token_s]`: the logits `[..., num_bins]` are Boltz-2's `pbfactor`,
    /// decoded under the softmax with [`bins::boltz2_centers`].
    ///
    /// Errors if `s` has no axes, its last axis is not `token_s`, it holds NaN or
    /// infinity, or the logits overflow.
    pub fn forward<S: Data<Elem = F>, D: RemoveAxis>(
        &self,
        s: &ArrayBase<S, D>,
    ) -> Result<HeadOutput<F, D>> {
        let (logits, dim) = self.logits_rows(s)?;
        let centers = self.centers.as_slice().expect("owned 1-D array");
        let bfactor: Array1<F> = logits
            .rows()
            .into_iter()
            .map(|r| ops::softmax_expectation_row(r.as_slice().expect("fresh"), centers))
            .collect();
        let b_dim = dim.remove_axis(Axis(dim.ndim() - 1));
        Ok(HeadOutput {
            bfactor: bfactor.into_shape_with_order(b_dim).expect("one per row"),
            logits: ops::unflatten(logits, dim),
        })
    }

    /// Only the bin logits `[..., num_bins]` of [`forward`](Self::forward)
    /// (Boltz-2's `pbfactor`), without decoding them. Errors as `forward`.
    pub fn logits<S: Data<Elem = F>, D: RemoveAxis>(
        &self,
        s: &ArrayBase<S, D>,
    ) -> Result<Array<F, D>> {
        let (logits, dim) = self.logits_rows(s)?;
        Ok(ops::unflatten(logits, dim))
    }

    /// Mutable weight and bias for the optimizers.
    fn weights_mut(&mut self) -> (&mut Array2<F>, &mut Array1<F>) {
        self.packed = PackCache::default();
        (&mut self.weight, &mut self.bias)
    }

    /// `weightᵀ` packed for [`matmul`], built on first use.
    fn packed_weight_t(&self) -> &PackedB<F> {
        self.packed.get_or_init(|| PackedB::new(&self.weight.t()))
    }

    /// The linear layer on rows `[n, token_s]`: `x · weightᵀ + bias`.
    fn linear(&self, x: &ArrayView2<'_, F>) -> Array2<F> {
        let mut logits = matmul::matmul_packed(x, self.packed_weight_t());
        logits += &self.bias;
        logits
    }

    fn logits_rows<S: Data<Elem = F>, D: RemoveAxis>(
        &self,
        s: &ArrayBase<S, D>,
    ) -> Result<(Array2<F>, D)> {
        check::last_axis("s", "token_s", s, self.config.token_s)?;
        check::finite("s", s)?;
        let x = s.as_standard_layout();
        let rows = x.len() / self.config.token_s;
        let x = x
            .view()
            .into_shape_with_order((rows, self.config.token_s))
            .expect("standard layout reshapes");
        let logits = self.linear(&x);
        let dim = s.raw_dim();
        // Finite inputs and weights can still overflow.
        check::finite("logits (overflowed: inputs or weights too large)", &logits)?;
        Ok((logits, dim))
    }
}
