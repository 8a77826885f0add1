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
