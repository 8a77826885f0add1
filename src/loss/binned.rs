//! Boltz-2's training loss: cross-entropy of bin logits against the bin each
//! experimental B-factor falls into
//! (defined at [`binned_cross_entropy`]).

use ndarray::{Array, ArrayBase, Axis, Data, Dimension, RemoveAxis};

use crate::{bins, check, ops, Error, Float, Result};

/// B-factors at or below this are treated as missing (Boltz-2's `bfactor > 1e-5`).
pub const MIN_VALID_BFACTOR: f64 = 1e-5;

/// Added to the weight sum in the denominator, as Boltz-2 does.
pub const WEIGHT_SUM_EPS: f64 = 1e-5;

/// Boltz-2's binned cross-entropy of `logits` `[..., K]` against B-factors `[...]`.
///
/// For logits `[..., K]` and B-factors `[...]`:
/// 1. boundaries = [`bins::boltz2_boundaries`]`(K)` = `linspace(0, 100, K - 1)`;
/// 2. target bin = number of boundaries strictly below the B-factor;
/// 3. token weight = `B > 1e-5` (drops padding and atoms with no B-factor), times
///    an optional explicit mask;
/// 4. error = `-log_softmax(logits)[target]`;
/// 5. loss = `Σ weight · error / (Σ weight + 1e-5)` over **all** tokens of the
///    batch together (not per protein), so a fully masked batch gives 0.
///
/// Nothing here depends on which head made the logits: the notebook head's logits
/// train against crystallographic bins just as Boltz-2's do.
///
/// ```
/// use bfactor::loss::{binned_cross_entropy, bfactor_bins};
/// use bfactor::ndarray::{array, Array2};
///
/// let logits = Array2::<f32>::zeros((3, 64)); // uniform over 64 bins
/// let b = array![25.0_f32, 0.0, 130.0]; // the 0 is padding: masked out
/// assert_eq!(bfactor_bins(&b, 64)?, array![16, 0, 63]);
/// let loss = binned_cross_entropy(&logits, &b)?;
/// assert!((loss - (64.0_f32).ln() * 2.0 / (2.0 + 1e-5)).abs() < 1e-5);
/// # Ok::<(), bfactor::Error>(())
/// ```
pub fn binned_cross_entropy<F, S1, S2, D>(
    logits: &ArrayBase<S1, D>,
    bfactor: &ArrayBase<S2, D::Smaller>,
) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: RemoveAxis,
{
    reduce(logits, bfactor, None::<&ArrayBase<S2, D::Smaller>>)
}

/// [`binned_cross_entropy`] with an explicit validity mask `[...]` (finite weights
/// `>= 0`), multiplied into Boltz-2's `B > 1e-5` rule. For callers whose padding is
/// not a zero B-factor.
pub fn binned_cross_entropy_masked<F, S1, S2, S3, D>(
    logits: &ArrayBase<S1, D>,
    bfactor: &ArrayBase<S2, D::Smaller>,
    mask: &ArrayBase<S3, D::Smaller>,
) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: RemoveAxis,
{
    reduce(logits, bfactor, Some(mask))
}

/// The per-token errors `-log_softmax(logits)[target]`, `[...]`, before any
/// masking (masked tokens get their error too).
pub fn binned_cross_entropy_per_token<F, S1, S2, D>(
    logits: &ArrayBase<S1, D>,
    bfactor: &ArrayBase<S2, D::Smaller>,
) -> Result<Array<F, D::Smaller>>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: RemoveAxis,
{
    let (rows, dim) = validate(logits, bfactor)?;
    let boundaries = bins::boltz2_boundaries::<F>(rows.ncols());
    let b = bfactor.as_standard_layout();
    let b = b.as_slice().expect("standard layout");
    let errors: Vec<F> = rows
        .rows()
        .into_iter()
        .zip(b)
        .map(|(r, &b)| {
            let target = bins::bin_index(b, boundaries.as_slice().expect("owned"));
            ops::cross_entropy_row(r.as_slice().expect("fresh"), target)
        })
        .collect();
    Ok(
        Array::from_shape_vec(dim.remove_axis(Axis(dim.ndim() - 1)), errors)
            .expect("one error per token"),
    )
}

/// The target bin of each B-factor for `num_bins` Boltz-2 bins, `[...]`.
pub fn bfactor_bins<F, S, D>(bfactor: &ArrayBase<S, D>, num_bins: usize) -> Result<Array<usize, D>>
where
    F: Float,
    S: Data<Elem = F>,
    D: Dimension,
{
    check_num_bins(num_bins)?;
    check::finite("bfactor", bfactor)?;
    let boundaries = bins::boltz2_boundaries::<F>(num_bins);
    let boundaries = boundaries.as_slice().expect("owned");
    Ok(bfactor.map(|&b| bins::bin_index(b, boundaries)))
}

fn check_num_bins(num_bins: usize) -> Result<()> {
    if num_bins < 2 {
        return Err(Error::config(
            "num_bins",
            num_bins,
            "at least 2 for a binned loss",
        ));
    }
    Ok(())
}

fn validate<F, S1, S2, D>(
    logits: &ArrayBase<S1, D>,
    bfactor: &ArrayBase<S2, D::Smaller>,
) -> Result<(ndarray::Array2<F>, D)>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    D: RemoveAxis,
{
    if logits.ndim() == 0 {
        return Err(Error::rank(
            "logits",
            "at least 1 ([..., num_bins])",
            0,
            vec![],
        ));
    }
    let shape = logits.shape();
    check_num_bins(shape[shape.len() - 1])?;
    check::same_shape(
        "bfactor",
        bfactor.shape(),
        &shape[..shape.len() - 1],
        "the shape of logits without its last (bin) axis",
    )?;
    check::finite("bfactor", bfactor)?;
    ops::rows_of("logits", logits)
}

fn reduce<F, S1, S2, S3, D>(
    logits: &ArrayBase<S1, D>,
    bfactor: &ArrayBase<S2, D::Smaller>,
    mask: Option<&ArrayBase<S3, D::Smaller>>,
) -> Result<F>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
    D: RemoveAxis,
{
    if let Some(m) = mask {
        check::same_shape("mask", m.shape(), bfactor.shape(), "the shape of bfactor")?;
        check::mask("mask", m)?;
    }
    let errors = binned_cross_entropy_per_token(logits, bfactor)?;
    let weights = token_weights(bfactor.iter().copied(), mask.map(|m| m.iter().copied()));
    let num: f64 = errors
        .iter()
        .zip(&weights)
        .map(|(&e, &w)| w * e.to_f64_exact())
        .sum();
    let den: f64 = weights.iter().sum();
    Ok(F::from_f64_lossy(num / (den + WEIGHT_SUM_EPS)))
}

/// Each token's weight in the binned loss: its explicit mask weight (1 without a
/// mask) where `B > 1e-5`, else 0. Shared by the loss and its gradient.
pub(crate) fn token_weights<F: Float>(
    bfactor: impl Iterator<Item = F>,
    mask: Option<impl Iterator<Item = F>>,
) -> Vec<f64> {
    let min_b = F::from_f64_lossy(MIN_VALID_BFACTOR);
    let valid = bfactor.map(move |b| if b > min_b { 1.0 } else { 0.0 });
    match mask {
        Some(m) => valid.zip(m).map(|(v, w)| v * w.to_f64_exact()).collect(),
        None => valid.collect(),
    }
}
