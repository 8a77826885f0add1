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

use std::ops::Range;
use std::sync::OnceLock;

use ndarray::{Array, Array1, Array2, ArrayBase, Axis, Data, Dimension, RemoveAxis};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::kernels::pool;
use crate::matmul::{self, AlignedBuf, MatRef, PackedB};
use crate::numpy_rng::NumpyRandom;
use crate::{bins, check, cpu, ops, Error, Float, Result};

pub(crate) mod backward;

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

    /// Checks that `c_s >= 1`, `num_bins >= 2`, the head's parameter count
    /// `c_s · (c_s + num_bins)` is at most [`MAX_HEAD_PARAMETERS`], `max_bfactor`
    /// is finite and positive and `eps` is finite and positive (all in `f64`).
    ///
    /// [`validate_for`](Self::validate_for) adds the limits of a float type; the
    /// heads' constructors call that.
    pub fn validate(&self) -> Result<()> {
        if self.c_s == 0 {
            return Err(Error::config("c_s", 0, "at least 1"));
        }
        if self.num_bins < 2 {
            return Err(Error::config("num_bins", self.num_bins, "at least 2"));
        }
        let params = self
            .c_s
            .checked_add(self.num_bins)
            .and_then(|n| n.checked_mul(self.c_s));
        if params.is_none_or(|n| n > MAX_HEAD_PARAMETERS) {
            return Err(Error::config(
                "c_s, num_bins",
                format!("{}, {}", self.c_s, self.num_bins),
                format!(
                    "c_s · (c_s + num_bins) parameters at most {MAX_HEAD_PARAMETERS} \
                     (MAX_HEAD_PARAMETERS)"
                ),
            ));
        }
        if !(self.max_bfactor.is_finite() && self.max_bfactor > 0.0) {
            return Err(Error::config(
                "max_bfactor",
                self.max_bfactor,
                "a finite number > 0",
            ));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::config("eps", self.eps, "a finite number > 0"));
        }
        Ok(())
    }

    /// [`validate`](Self::validate), and that `max_bfactor` and `eps` survive
    /// rounding to `F`: `max_bfactor` at most `F::MAX` (`3.4e38` for `f32`) and `eps`
    /// at least `F::MIN_POSITIVE` (`1.2e-38` for `f32`), so that neither becomes
    /// infinite or zero (or subnormal) in the head's arithmetic.
    pub fn validate_for<F: Float>(&self) -> Result<()> {
        self.validate()?;
        let max = F::max_value().to_f64_exact();
        if self.max_bfactor > max {
            return Err(Error::config(
                "max_bfactor",
                self.max_bfactor,
                format!("at most {max:e} (the largest {})", F::NAME),
            ));
        }
        let tiny = F::min_positive_value().to_f64_exact();
        if self.eps < tiny {
            return Err(Error::config(
                "eps",
                self.eps,
                format!(
                    "at least {tiny:e} (the smallest normal {}), or it rounds to \
                     zero or loses precision",
                    F::NAME
                ),
            ));
        }
        Ok(())
    }

    /// Builds a head with `W1 ~ N(0, 1)·c_s^-0.5` (`[c_s, c_s]`) and
    /// `W2 ~ N(0, 1)·c_s^-0.5` (`[c_s, num_bins]`), drawn from `rng` in float64 and
    /// rounded to `F`, so `f32` and `f64` heads from the same seed agree.
    ///
    /// Errors as [`validate_for`](Self::validate_for) before anything is
    /// allocated.
    pub fn init<F: Float>(&self, rng: &mut (impl Rng + ?Sized)) -> Result<BFactorHead<F>> {
        self.validate_for::<F>()?;
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
        self.validate_for::<F>()?;
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

/// The most parameters a head's config may ask for: `2^30` (4 GiB of `f32`
/// weights, 8 GiB of `f64`). [`BFactorHeadConfig::validate`] and
/// [`crate::boltz2::Boltz2HeadConfig::validate`] reject larger sizes (and sizes
/// whose product overflows) before anything is allocated.
pub const MAX_HEAD_PARAMETERS: usize = 1 << 30;

/// The notebook's B-factor head with its two weight matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct BFactorHead<F: Float> {
    config: BFactorHeadConfig,
    w1: Array2<F>,
    w2: Array2<F>,
    centers: Array1<F>,
    eps: F,
    /// `W1` and `W2` packed for the matrix-product kernel, made on first use and
    /// dropped whenever the weights are handed out mutably.
    packed: PackCache<(PackedB<F>, PackedB<F>)>,
    /// Scratch space [`forward`](Self::forward) reuses between calls.
    scratch: ScratchCache<HeadWorkspace<F>>,
}

/// What both heads' `forward` returns ([`BFactorHead::forward`],
/// [`Boltz2Head::forward`](crate::Boltz2Head::forward)) for input `[..., c_s]`.
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
        config.validate_for::<F>()?;
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
            packed: PackCache::default(),
            scratch: ScratchCache::default(),
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
    ///
    /// Large inputs are split over the cores by rows (see [`crate::matmul`]); every
    /// token's result is the same bits whatever the batch, the thread count or the
    /// input's memory layout. [`forward_into`](Self::forward_into) does the same
    /// without allocating.
    pub fn forward<S: Data<Elem = F>, D: RemoveAxis>(
        &self,
        s: &ArrayBase<S, D>,
    ) -> Result<HeadOutput<F, D>> {
        let mut out = HeadOutput {
            logits: Array::zeros(D::zeros(s.ndim())),
            bfactor: Array::zeros(<D::Smaller>::zeros(s.ndim().saturating_sub(1))),
        };
        // The head's own workspace, unless another thread is using it right now.
        match self.scratch.0.try_lock() {
            Ok(mut ws) => self.forward_into(s, &mut ws, &mut out)?,
            Err(_) => self.forward_into(s, &mut HeadWorkspace::new(), &mut out)?,
        }
        Ok(out)
    }

    /// Only the bin logits `[..., num_bins]` of [`forward`](Self::forward) (which
    /// computes the B-factors with them). Errors as `forward`.
    pub fn logits<S: Data<Elem = F>, D: RemoveAxis>(
        &self,
        s: &ArrayBase<S, D>,
    ) -> Result<Array<F, D>> {
        Ok(self.forward(s)?.logits)
    }

    /// [`forward`](Self::forward) into `out`, with scratch space from `workspace`:
    /// when `out` already has the right shapes (standard layout) and the workspace
    /// has been used for an input this large, nothing is allocated.
    ///
    /// `out` is resized if its shapes do not match `s`. On error its contents are
    /// unspecified.
    ///
    /// ```
    /// use bfactor::head::{HeadOutput, HeadWorkspace};
    /// use bfactor::BFactorHeadConfig;
    /// use bfactor::ndarray::{Array1, Array2};
    /// use bfactor::rand::{rngs::StdRng, SeedableRng};
    ///
    /// let head = BFactorHeadConfig::new(32).init::<f32>(&mut StdRng::seed_from_u64(0))?;
    /// let mut ws = HeadWorkspace::new();
    /// let mut out = HeadOutput { logits: Array2::zeros((100, 64)), bfactor: Array1::zeros(100) };
    /// for step in 0..3 {
    ///     let s = Array2::<f32>::from_shape_fn((100, 32), |(i, j)| ((i + j + step) % 7) as f32);
    ///     head.forward_into(&s, &mut ws, &mut out)?; // no allocation after the first call
    ///     assert_eq!(out, head.forward(&s)?);
    /// }
    /// # Ok::<(), bfactor::Error>(())
    /// ```
    pub fn forward_into<S: Data<Elem = F>, D: RemoveAxis>(
        &self,
        s: &ArrayBase<S, D>,
        workspace: &mut HeadWorkspace<F>,
        out: &mut HeadOutput<F, D>,
    ) -> Result<()> {
        check::last_axis("s", "c_s", s, self.config.c_s)?;
        let (c, k) = (self.config.c_s, self.config.num_bins);
        let rows = s.len() / c;
        // The output shapes: [..., num_bins] and [...].
        let mut logits_dim = s.raw_dim();
        logits_dim[s.ndim() - 1] = k;
        let b_dim = s.raw_dim().remove_axis(Axis(s.ndim() - 1));
        if out.logits.raw_dim() != logits_dim || !out.logits.is_standard_layout() {
            out.logits = Array::zeros(logits_dim);
        }
        if out.bfactor.raw_dim() != b_dim || !out.bfactor.is_standard_layout() {
            out.bfactor = Array::zeros(b_dim);
        }
        let input: &[F] = match s.as_slice() {
            Some(x) => x,
            None => {
                workspace.input.clear();
                workspace.input.extend(s.iter().copied());
                &workspace.input
            }
        };
        let logits = out.logits.as_slice_mut().expect("standard layout");
        let bfactor = out.bfactor.as_slice_mut().expect("standard layout");
        let (w1, w2) = self.packed_weights();
        let threads = pool::threads_for(rows, rows * c * (c + k));
        if workspace.blocks.len() < threads {
            workspace.blocks.resize_with(threads, Default::default);
        }
        let job = Job {
            input,
            c,
            k,
            w1,
            w2,
            centers: self.centers_slice(),
            eps: self.eps,
        };
        let errors = job.run(
            0..rows,
            threads,
            logits,
            bfactor,
            &mut workspace.blocks[..threads],
        );
        // Report what the unfused pass would report first: bad input, then the
        // first layer norm, the second, and overflowing logits.
        if let Some(row) = errors.ln1 {
            check::finite("s", s)?;
            return ops::check_layer_norm("layer norm of s", row, F::nan());
        }
        if let Some(row) = errors.ln2 {
            return ops::check_layer_norm("layer norm of ReLU(x · W1)", row, F::nan());
        }
        if errors.logits {
            check::finite("logits (overflowed: weights too large)", &out.logits)?;
        }
        Ok(())
    }

    /// Mutable weights for the optimizers; the training code keeps them finite.
    fn weights_mut(&mut self) -> (&mut Array2<F>, &mut Array2<F>) {
        self.packed = PackCache::default();
        (&mut self.w1, &mut self.w2)
    }

    /// `W1` and `W2` packed for [`matmul`], built on first use.
    fn packed_weights(&self) -> &(PackedB<F>, PackedB<F>) {
        self.packed
            .get_or_init(|| (PackedB::new(&self.w1.view()), PackedB::new(&self.w2.view())))
    }

    fn centers_slice(&self) -> &[F] {
        self.centers.as_slice().expect("owned 1-D array")
    }
}

/// Scratch space for [`BFactorHead::forward_into`]: per-thread row buffers (and a
/// copy of a non-contiguous input), kept between calls so that repeated forward
/// passes allocate nothing. One workspace serves heads of any size and both
/// precisions' heads of its own `F`.
#[derive(Clone, Debug, Default)]
pub struct HeadWorkspace<F: Float> {
    blocks: Vec<BlockScratch<F>>,
    input: Vec<F>,
}

impl<F: Float> HeadWorkspace<F> {
    /// An empty workspace; buffers grow on first use.
    pub fn new() -> Self {
        Self {
            blocks: Vec::new(),
            input: Vec::new(),
        }
    }
}

/// One thread's buffers: a block of layer-normed rows, its hidden layer, and the
/// packed left-hand operand of the matrix products.
#[derive(Clone, Default)]
struct BlockScratch<F: Float> {
    x: Vec<F>,
    h: Vec<F>,
    apack: AlignedBuf<F>,
}

impl<F: Float> std::fmt::Debug for BlockScratch<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlockScratch({} values)", self.x.len() + self.h.len())
    }
}

/// Rows processed together: the layer norms, both products and the softmax run on
/// one block of rows while it is in cache.
const BLOCK_ROWS: usize = 96;

/// The first failing row of each stage, in the flattened row order.
#[derive(Clone, Copy, Debug, Default)]
struct StageErrors {
    ln1: Option<usize>,
    ln2: Option<usize>,
    logits: bool,
}

impl StageErrors {
    fn merge(self, later: Self) -> Self {
        Self {
            ln1: self.ln1.or(later.ln1),
            ln2: self.ln2.or(later.ln2),
            logits: self.logits || later.logits,
        }
    }
}

/// One block of rows of a forward pass, compiled per [`cpu::Level`].
struct Block<'a, 'j, F: Float> {
    job: &'a Job<'j, F>,
    rows: Range<usize>,
    logits: &'a mut [F],
    bfactor: &'a mut [F],
    scratch: &'a mut BlockScratch<F>,
}

impl<F: Float> cpu::Kernel for Block<'_, '_, F> {
    type Output = StageErrors;
    #[inline(always)]
    fn run(self) -> StageErrors {
        self.job
            .block_generic(self.rows, self.logits, self.bfactor, self.scratch)
    }
}

/// One forward pass's shared, read-only inputs.
struct Job<'a, F: Float> {
    input: &'a [F],
    c: usize,
    k: usize,
    w1: &'a PackedB<F>,
    w2: &'a PackedB<F>,
    centers: &'a [F],
    eps: F,
}

impl<F: Float> Job<'_, F> {
    /// Rows `rows` into `logits` / `bfactor` (those rows' slices), split over
    /// `scratch.len()` threads by recursive halving.
    fn run(
        &self,
        rows: Range<usize>,
        parts: usize,
        logits: &mut [F],
        bfactor: &mut [F],
        scratch: &mut [BlockScratch<F>],
    ) -> StageErrors {
        if parts <= 1 {
            return self.rows(rows, logits, bfactor, &mut scratch[0]);
        }
        let left = parts / 2;
        // Equal shares in whole tail steps of rows (the right part takes the rest).
        let per = pool::share_len(rows.len(), parts, self.w1.tail_rows());
        let mid = (rows.start + per * left).min(rows.end);
        let (l_logits, r_logits) = logits.split_at_mut((mid - rows.start) * self.k);
        let (l_b, r_b) = bfactor.split_at_mut(mid - rows.start);
        let (l_s, r_s) = scratch.split_at_mut(left);
        let (a, b) = pool::join(
            || self.run(rows.start..mid, left, l_logits, l_b, l_s),
            || self.run(mid..rows.end, parts - left, r_logits, r_b, r_s),
        );
        a.merge(b)
    }

    /// Rows `rows` on this thread, one block at a time.
    fn rows(
        &self,
        rows: Range<usize>,
        logits: &mut [F],
        bfactor: &mut [F],
        scratch: &mut BlockScratch<F>,
    ) -> StageErrors {
        let mut errors = StageErrors::default();
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + BLOCK_ROWS).min(rows.end);
            let (lo, hi) = (start - rows.start, end - rows.start);
            let e = self.block(
                start..end,
                &mut logits[lo * self.k..hi * self.k],
                &mut bfactor[lo..hi],
                scratch,
            );
            errors = errors.merge(e);
            start = end;
        }
        errors
    }

    fn block(
        &self,
        rows: Range<usize>,
        logits: &mut [F],
        bfactor: &mut [F],
        scratch: &mut BlockScratch<F>,
    ) -> StageErrors {
        cpu::dispatch(Block {
            job: self,
            rows,
            logits,
            bfactor,
            scratch,
        })
    }

    /// The whole head on one block of rows. Compiled once per instruction set; the
    /// row kernels' lane order makes every version give the same bits.
    #[inline(always)]
    fn block_generic(
        &self,
        rows: Range<usize>,
        logits: &mut [F],
        bfactor: &mut [F],
        scratch: &mut BlockScratch<F>,
    ) -> StageErrors {
        let (c, k, n) = (self.c, self.k, rows.len());
        let mut errors = StageErrors::default();
        scratch.x.resize(n * c, F::zero());
        scratch.h.resize(n * c, F::zero());
        let src = &self.input[rows.start * c..rows.end * c];
        // x = LN(s)
        for (i, (x, s)) in scratch
            .x
            .chunks_exact_mut(c)
            .zip(src.chunks_exact(c))
            .enumerate()
        {
            let inv_std = ops::layer_norm_into(s, x, self.eps);
            if errors.ln1.is_none() && !(inv_std.is_finite() && inv_std > F::zero()) {
                errors.ln1 = Some(rows.start + i);
            }
        }
        // h = LN(ReLU(x · W1))
        let x = MatRef::from_slice(&scratch.x, n, c);
        matmul::gemm_serial(&x, self.w1, &mut scratch.h, c, &mut scratch.apack);
        for (i, h) in scratch.h.chunks_exact_mut(c).enumerate() {
            let inv_std = ops::relu_layer_norm_impl(h, self.eps);
            if errors.ln2.is_none() && !(inv_std.is_finite() && inv_std > F::zero()) {
                errors.ln2 = Some(rows.start + i);
            }
        }
        // logits = h · W2; B = Σ softmax(logits) · centers
        let h = MatRef::from_slice(&scratch.h, n, c);
        matmul::gemm_serial(&h, self.w2, logits, k, &mut scratch.apack);
        errors.logits = !ops::all_finite(logits);
        let lo = self.centers.iter().copied().fold(F::infinity(), F::min);
        let hi = self.centers.iter().copied().fold(F::neg_infinity(), F::max);
        for (l, b) in logits.chunks_exact(k).zip(bfactor.iter_mut()) {
            *b = ops::softmax_expectation_bounded(l, self.centers, lo, hi);
        }
        errors
    }
}

/// Scratch space owned by a head but not part of its identity: always equal,
/// cloned empty.
#[derive(Default)]
pub(crate) struct ScratchCache<T>(std::sync::Mutex<T>);

impl<T: Default> Clone for ScratchCache<T> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<T> PartialEq for ScratchCache<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for ScratchCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scratch")
    }
}

/// A lazily built value that is not part of its owner's identity: always equal,
/// printed without its contents, cloned as is.
#[derive(Clone)]
pub(crate) struct PackCache<T>(OnceLock<T>);

impl<T> Default for PackCache<T> {
    fn default() -> Self {
        Self(OnceLock::new())
    }
}

impl<T> PackCache<T> {
    pub(crate) fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(f)
    }
}

impl<T> PartialEq for PackCache<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for PackCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "packed"
        } else {
            "not packed"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array3};
    use rand::{rngs::StdRng, SeedableRng};

    fn check<F: Float>() {
        // Large enough to be split over threads and into several row blocks, with
        // a row tail that is not a multiple of any kernel's tile.
        let (b, n, c) = (3, 331, 80);
        let head = BFactorHeadConfig::new(c)
            .init::<F>(&mut StdRng::seed_from_u64(7))
            .unwrap();
        let s = Array3::from_shape_fn((b, n, c), |(i, j, k)| {
            F::from_f64_lossy(((i * 131 + j * 17 + k * 7) % 23) as f64 * 0.4 - 4.0)
        });
        assert!(pool::threads_for(b * n, b * n * c * (c + 64)) > 1 || matmul::num_threads() == 1);
        let all = head.forward(&s).unwrap();
        // One thread gives the same bits as several (the setting is global, but
        // results never depend on it, so concurrent tests are unaffected).
        matmul::set_num_threads(1);
        let serial = head.forward(&s);
        matmul::set_num_threads(0);
        assert_eq!(serial.unwrap(), all);
        for i in 0..b {
            let one = head.forward(&s.slice(s![i, .., ..])).unwrap();
            assert_eq!(all.logits.slice(s![i, .., ..]), one.logits);
            assert_eq!(all.bfactor.slice(s![i, ..]), one.bfactor);
            for j in [0, 1, 95, 96, 200, n - 1] {
                let tok = head.forward(&s.slice(s![i, j, ..])).unwrap();
                assert_eq!(all.logits.slice(s![i, j, ..]), tok.logits);
                assert_eq!(all.bfactor[[i, j]], tok.bfactor[()]);
            }
        }
        // Reversed (non-contiguous) input: the same rows, the same bits.
        let rev = head.forward(&s.slice(s![..;-1, .., ..])).unwrap();
        assert_eq!(rev.logits.slice(s![..;-1, .., ..]), all.logits);
        // Workspace reuse over different sizes gives the same bits.
        let mut ws = HeadWorkspace::new();
        let mut out = head.forward(&s.slice(s![..1, ..5, ..])).unwrap();
        head.forward_into(&s, &mut ws, &mut out).unwrap();
        assert_eq!(out, all);
        head.forward_into(&s.slice(s![1..2, ..7, ..]), &mut ws, &mut out)
            .unwrap();
        assert_eq!(out.logits, all.logits.slice(s![1..2, ..7, ..]));
    }

    #[test]
    fn batch_rows_and_threads_give_the_same_bits() {
        check::<f32>();
        check::<f64>();
    }

    #[test]
    fn errors_name_the_first_bad_stage() {
        let head = BFactorHeadConfig::new(4)
            .init::<f64>(&mut StdRng::seed_from_u64(1))
            .unwrap();
        let mut s = Array2::<f64>::ones((500, 4));
        s[[300, 2]] = f64::NAN;
        s[[10, 0]] = 1e300; // overflows the variance of row 10
        match head.forward(&s).unwrap_err() {
            Error::NonFinite { what, index, .. } => {
                assert_eq!((what.as_str(), index), ("s", vec![300, 2]))
            }
            e => panic!("{e:?}"),
        }
        s[[300, 2]] = 0.0;
        match head.forward(&s).unwrap_err() {
            Error::NonFinite { what, index, .. } => {
                assert!(what.starts_with("layer norm of s"), "{what}");
                assert_eq!(index, vec![10]);
            }
            e => panic!("{e:?}"),
        }
    }
}
