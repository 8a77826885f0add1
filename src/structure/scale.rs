//! Per-chain scaling, so that predictions can be shown on the experimental B
//! scale: experimental B-factors differ between crystals and between chains
//! (resolution, packing, refinement), so a prediction is best compared with, or
//! written in place of, the experiment chain by chain.
//!
//! Each function takes the chains as [`ChainSpan`]s ([`super::Structure::chains`],
//! or any subset of it): statistics are computed over each span's valid tokens
//! (mask weight `> 0`; weights act as frequency weights, as in [`crate::loss`]),
//! and every token of the span, masked or not, is transformed. Tokens outside all
//! spans are copied unchanged, so leaving a chain out of `chains` leaves it as it
//! is. Standard deviations are population ones (ddof = 0).
//!
//! ```
//! use bfactor::structure::{scale, ChainSpan};
//! use bfactor::ndarray::array;
//!
//! let chains = [
//!     ChainSpan { id: "A".into(), tokens: 0..3 },
//!     ChainSpan { id: "B".into(), tokens: 3..6 },
//! ];
//! let prediction = array![1.0_f64, 2.0, 3.0, 0.1, 0.2, 0.3];
//! let experiment = array![20.0, 30.0, 40.0, 50.0, 55.0, 60.0];
//! let mask = array![1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
//! let shown = scale::rescale_to_reference_per_chain(&prediction, &experiment, &mask, &chains)?;
//! assert!((&shown - &experiment).iter().all(|d| d.abs() < 1e-9));
//! let z = scale::zscore_per_chain(&prediction, &mask, &chains)?;
//! assert!((z[0] + 1.224744871391589).abs() < 1e-12);
//! # Ok::<(), bfactor::Error>(())
//! ```

use ndarray::{Array1, Array2, ArrayBase, ArrayView1, Axis, Data, Ix1};

use super::ChainSpan;
use crate::{check, Error, Float, Result};

/// `(values - mean) / std` chain by chain, with the mean and standard deviation
/// taken over each chain's valid tokens.
///
/// Errors if the shapes differ, a value is not finite, a mask weight is negative
/// or not finite, a span is out of range or overlaps another, or a chain has fewer
/// than 2 valid tokens ([`Error::TooFewValid`]) or constant values over them
/// ([`Error::ZeroVariance`]).
pub fn zscore_per_chain<F, S1, S2>(
    values: &ArrayBase<S1, Ix1>,
    mask: &ArrayBase<S2, Ix1>,
    chains: &[ChainSpan],
) -> Result<Array1<F>>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
{
    check_inputs(values, None::<&ArrayBase<S1, Ix1>>, mask, chains)?;
    let mut out = values.to_owned();
    for (c, span) in chains.iter().enumerate() {
        let r = span.tokens.clone();
        let (mean, std) = moments(values, mask, span, c, "values", "zscore_per_chain")?;
        for i in r {
            out[i] = F::from_f64_lossy((values[i].to_f64_exact() - mean) / std);
        }
    }
    Ok(out)
}

/// The z-score of `values` as one chain, every value valid (the moments of
/// [`zscore_per_chain`]), or zeros where the values are constant: fewer than 2,
/// a standard deviation that is not finite, or one at or below
/// `1e-12 · max(|mean|, 1)` (descriptors equal up to their summation noise).
/// The within-chain z-score of the predictor's inputs and of its members'
/// outputs.
pub(crate) fn zscore_or_zeros(values: ArrayView1<'_, f64>) -> Array1<f64> {
    let n = values.len();
    let (mean, std) = mean_std(&values, &Array1::ones(n), 0..n);
    if n < 2 || !std.is_finite() || std <= 1e-12 * mean.abs().max(1.0) {
        return Array1::zeros(n);
    }
    values.mapv(|x| (x - mean) / std)
}

/// Per column, the mean and (population) standard deviation over every row of
/// `blocks` (1 where the column is constant, at or below 1e-12): the
/// standardisation of the predictor's descriptors and of the atom model's
/// features.
pub(crate) fn column_standardisation<'a>(
    blocks: impl Iterator<Item = &'a Array2<f64>> + Clone,
    width: usize,
) -> (Array1<f64>, Array1<f64>) {
    let rows: usize = blocks.clone().map(|b| b.nrows()).sum();
    let mut mean = Array1::<f64>::zeros(width);
    for b in blocks.clone() {
        mean += &b.sum_axis(Axis(0));
    }
    mean /= rows as f64;
    let mut var = Array1::<f64>::zeros(width);
    for b in blocks {
        for row in b.rows() {
            var.zip_mut_with(&(&row - &mean), |v, d| *v += d * d);
        }
    }
    let scale = var.mapv(|v| {
        let sd = (v / rows as f64).sqrt();
        if sd > 1e-12 {
            sd
        } else {
            1.0
        }
    });
    (mean, scale)
}

/// `values` rescaled chain by chain to the mean and standard deviation of
/// `reference` (e.g. predictions put on the experimental B scale):
/// `(values - mean_v) / std_v * std_ref + mean_ref`, all moments taken over each
/// chain's valid tokens (where the reference is known; a token with a missing
/// reference is still rescaled).
///
/// A chain with fewer than 2 valid tokens has no moments to rescale with and is
/// skipped: its values are copied unchanged (as for a chain left out of `chains`).
///
/// Errors as [`zscore_per_chain`], for either series, except that chains with
/// fewer than 2 valid tokens are skipped instead.
pub fn rescale_to_reference_per_chain<F, S1, S2, S3>(
    values: &ArrayBase<S1, Ix1>,
    reference: &ArrayBase<S2, Ix1>,
    mask: &ArrayBase<S3, Ix1>,
    chains: &[ChainSpan],
) -> Result<Array1<F>>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
{
    check_inputs(values, Some(reference), mask, chains)?;
    let what = "rescale_to_reference_per_chain";
    let mut out = values.to_owned();
    for (c, span) in chains.iter().enumerate() {
        if valid_tokens(mask, span) < 2 {
            continue;
        }
        let (mean_v, std_v) = moments(values, mask, span, c, "values", what)?;
        let (mean_r, std_r) = moments(reference, mask, span, c, "reference", what)?;
        for i in span.tokens.clone() {
            let z = (values[i].to_f64_exact() - mean_v) / std_v;
            out[i] = F::from_f64_lossy(z * std_r + mean_r);
        }
    }
    Ok(out)
}

fn check_inputs<F, S1, S2, S3>(
    values: &ArrayBase<S1, Ix1>,
    reference: Option<&ArrayBase<S2, Ix1>>,
    mask: &ArrayBase<S3, Ix1>,
    chains: &[ChainSpan],
) -> Result<()>
where
    F: Float,
    S1: Data<Elem = F>,
    S2: Data<Elem = F>,
    S3: Data<Elem = F>,
{
    let n = values.len();
    check::finite("values", values)?;
    if let Some(reference) = reference {
        check::same_shape("reference", reference.shape(), &[n], "the shape of values")?;
        check::finite("reference", reference)?;
    }
    check::same_shape("mask", mask.shape(), &[n], "the shape of values")?;
    check::mask("mask", mask)?;
    let mut spans: Vec<(usize, &ChainSpan)> = chains.iter().enumerate().collect();
    spans.sort_by_key(|(_, s)| s.tokens.start);
    let mut end = 0;
    for (c, span) in spans {
        let r = &span.tokens;
        if r.start > r.end || r.end > n {
            return Err(Error::shape_mismatch(
                format!("chains[{c}] (chain {}, tokens {r:?})", span.id),
                vec![n],
                vec![r.end],
                "a token range within the values",
            ));
        }
        if r.start < end && !r.is_empty() {
            return Err(Error::config(
                format!("chains[{c}]"),
                format!("chain {} tokens {r:?}", span.id),
                "token ranges that do not overlap",
            ));
        }
        end = end.max(r.end);
    }
    Ok(())
}

fn valid_tokens<F: Float, S: Data<Elem = F>>(mask: &ArrayBase<S, Ix1>, span: &ChainSpan) -> usize {
    span.tokens.clone().filter(|&i| mask[i] > F::zero()).count()
}

/// The mask-weighted mean and (population) standard deviation of `x[r]`, in
/// `f64`.
fn mean_std<F: Float, S1: Data<Elem = F>, S2: Data<Elem = F>>(
    x: &ArrayBase<S1, Ix1>,
    mask: &ArrayBase<S2, Ix1>,
    r: std::ops::Range<usize>,
) -> (f64, f64) {
    let (mut sw, mut swx) = (0.0, 0.0);
    for i in r.clone() {
        let w = mask[i].to_f64_exact();
        sw += w;
        swx += w * x[i].to_f64_exact();
    }
    let mean = swx / sw;
    let var = r
        .map(|i| mask[i].to_f64_exact() * (x[i].to_f64_exact() - mean).powi(2))
        .sum::<f64>()
        / sw;
    (mean, var.sqrt())
}

/// Weighted mean and population standard deviation of `x` over the span's valid
/// tokens, in `f64`.
///
/// A series that is constant up to rounding is [`Error::ZeroVariance`]: the rule
/// of [`crate::loss::pearson`], with the rounding unit of `F`, a variance at or
/// below `(4 · n · ε · max|x|)²` over `n` valid tokens, so that values differing
/// by an ulp or two are not blown up to the reference's spread.
fn moments<F: Float, S1: Data<Elem = F>, S2: Data<Elem = F>>(
    x: &ArrayBase<S1, Ix1>,
    mask: &ArrayBase<S2, Ix1>,
    span: &ChainSpan,
    c: usize,
    series: &str,
    what: &str,
) -> Result<(f64, f64)> {
    let r = span.tokens.clone();
    let valid = valid_tokens(mask, span);
    if valid < 2 {
        return Err(Error::too_few_valid(
            format!("{what} (chain {}, tokens {:?})", span.id, span.tokens),
            2,
            valid,
        ));
    }
    let (mean, std) = mean_std(x, mask, r.clone());
    let scale = r
        .filter(|&i| mask[i] > F::zero())
        .map(|i| x[i].to_f64_exact().abs())
        .fold(0.0, f64::max);
    let floor = 4.0 * valid as f64 * F::epsilon().to_f64_exact() * scale;
    if std.is_nan() || std <= floor || std.is_infinite() {
        return Err(Error::zero_variance(
            format!("{what} (chain {})", span.id),
            series,
            c,
        ));
    }
    Ok((mean, std))
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn zscore_or_zeros_standardises_and_zeroes_constants() {
        let z = zscore_or_zeros(array![1.0, 2.0, 4.0].view());
        // NumPy: (x - x.mean()) / x.std() for x = [1, 2, 4].
        let want = [-1.0690449676496978, -0.2672612419124245, 1.3363062095621219];
        for (g, w) in z.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{g} vs {w}");
        }
        let noise = array![3.0, 3.0 + 1e-13, 3.0 - 1e-13];
        assert_eq!(zscore_or_zeros(noise.view()), Array1::<f64>::zeros(3));
        assert_eq!(zscore_or_zeros(array![5.0].view()), Array1::<f64>::zeros(1));
        assert_eq!(zscore_or_zeros(Array1::<f64>::zeros(0).view()).len(), 0);
        let nan = array![1.0, f64::NAN, 2.0];
        assert_eq!(zscore_or_zeros(nan.view()), Array1::<f64>::zeros(3));
    }
}
