//! Bin definitions: where each bin of a head's logits sits on the B-factor axis.
//!
//! The notebook head decodes with `np.linspace(0, max_bfactor, num_bins)` bin
//! centers. [`linspace`] reproduces NumPy's arithmetic to the last bit
//! (`i · step + start`, with the last value set to `stop`), so decoded B-factors
//! match the notebook exactly.
//!
//! ```
//! let c = bfactor::bins::notebook_centers::<f64>(64, 100.0);
//! assert_eq!(c.len(), 64);
//! assert_eq!((c[0], c[63]), (0.0, 100.0));
//! assert_eq!(c[1], 100.0 / 63.0);
//! ```

use ndarray::Array1;

use crate::Float;

/// `num` evenly spaced values from `start` to `stop` inclusive, computed as NumPy's
/// `np.linspace(start, stop, num)` computes them in float64, then rounded to `F`.
pub fn linspace<F: Float>(start: f64, stop: f64, num: usize) -> Array1<F> {
    let values: Vec<F> = match num {
        0 => vec![],
        1 => vec![F::from_f64_lossy(start)],
        _ => {
            let step = (stop - start) / (num - 1) as f64;
            (0..num)
                .map(|i| {
                    let v = if i == num - 1 {
                        stop
                    } else {
                        i as f64 * step + start
                    };
                    F::from_f64_lossy(v)
                })
                .collect()
        }
    };
    Array1::from(values)
}

/// The notebook head's bin centers: `linspace(0, max_bfactor, num_bins)`.
pub fn notebook_centers<F: Float>(num_bins: usize, max_bfactor: f64) -> Array1<F> {
    linspace(0.0, max_bfactor, num_bins)
}

/// Boltz-2's bin boundaries for `num_bins` bins: `torch.linspace(0, 100,
/// num_bins - 1)` in float32, as its loss computes them, widened exactly to `F`.
///
/// PyTorch fills the first half of a linspace forward from the start
/// (`start + step·i`) and the second half backward from the end
/// (`end - step·(steps - 1 - i)`), all in float32; this reproduces that, so a
/// B-factor lying exactly on a boundary falls into the same bin as in Boltz-2.
/// Returns an empty array for fewer than two bins.
pub fn boltz2_boundaries<F: Float>(num_bins: usize) -> Array1<F> {
    let steps = num_bins.saturating_sub(1);
    let (start, end) = (0.0_f32, BOLTZ2_MAX_BFACTOR as f32);
    let values: Vec<F> = match steps {
        0 => vec![],
        1 => vec![F::from_f64_lossy(start as f64)],
        _ => {
            let step = (end - start) / (steps - 1) as f32;
            let halfway = steps / 2;
            (0..steps)
                .map(|i| {
                    // PyTorch's CPU build contracts these to fused multiply-adds
                    // (one rounding); plain `a + b * c` differs in the last bit
                    // for some bin counts (e.g. 64).
                    let v = if i < halfway {
                        step.mul_add(i as f32, start)
                    } else {
                        (-step).mul_add((steps - 1 - i) as f32, end)
                    };
                    F::from_f64_lossy(v as f64)
                })
                .collect()
        }
    };
    Array1::from(values)
}

/// The B-factor Boltz-2's last boundary sits at (its loss hard-codes 100 Å²).
pub const BOLTZ2_MAX_BFACTOR: f64 = 100.0;

/// The bin a B-factor falls into: the number of `boundaries` strictly below it
/// (Boltz-2's `(b > boundaries).sum(-1)`), so `b <= boundaries[0]` is bin 0 and
/// `b > boundaries[last]` the last bin. `boundaries` must be sorted ascending.
#[inline]
pub fn bin_index<F: Float>(b: F, boundaries: &[F]) -> usize {
    boundaries.partition_point(|&x| x < b)
}

/// Representative B-factors ("centers") of Boltz-2's `num_bins` bins, for decoding
/// logits into one expected B-factor.
///
/// Boltz-2 defines its bins by the boundaries `linspace(0, 100, num_bins - 1)`
/// (spacing `w = 100 / (num_bins - 2)`) and never decodes them. This crate's
/// convention: each inner bin `(b_{k-1}, b_k]` is represented by its midpoint
/// `(k - ½)·w`; the open first bin `(-∞, 0]` by 0; the open last bin `(100, ∞)` by
/// `100 + w/2`, half a bin beyond the last boundary, as if it had the inner width.
/// Computed in float64 from the exact spacing, then rounded to `F`. (With fewer
/// than three bins there is no inner bin: the centers are `linspace(0, 100, n)`.)
///
/// ```
/// let c = bfactor::bins::boltz2_centers::<f64>(64);
/// let w = 100.0 / 62.0;
/// assert_eq!(c[0], 0.0);
/// assert!((c[1] - w / 2.0).abs() < 1e-12);
/// assert!((c[63] - (100.0 + w / 2.0)).abs() < 1e-12);
/// ```
pub fn boltz2_centers<F: Float>(num_bins: usize) -> Array1<F> {
    if num_bins < 3 {
        // With at most one boundary there is no inner bin to take a width from.
        return linspace(0.0, BOLTZ2_MAX_BFACTOR, num_bins);
    }
    let w = BOLTZ2_MAX_BFACTOR / (num_bins - 2) as f64;
    Array1::from_iter(
        (0..num_bins).map(|k| F::from_f64_lossy(if k == 0 { 0.0 } else { (k as f64 - 0.5) * w })),
    )
}
