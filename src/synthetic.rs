//! Synthetic B-factor profiles for examples, tests and demos.
//!
//! ```
//! let b = bfactor::synthetic::termini_profile(50);
//! assert_eq!(b.len(), 50);
//! assert!(b[0] > b[10] && b[49] > b[40]); // flexible termini
//! ```

use ndarray::Array1;

/// The notebook's simulated ground truth for `n` residues: a Gaussian bump of 20 Å²
/// over a 30 Å² baseline, centred at `n / 2` with width `n / 4`, plus 20 Å² on the
/// first five and the last five residues (flexible termini).
///
/// `30 + 20·exp(-((i - n//2) / (n/4))²)`, then `[:5] += 20` and `[-5:] += 20`.
pub fn termini_profile(n: usize) -> Array1<f64> {
    let centre = (n / 2) as f64;
    let width = n as f64 / 4.0;
    let mut b = Array1::from_iter((0..n).map(|i| {
        let z = (i as f64 - centre) / width;
        30.0 + 20.0 * (-(z * z)).exp()
    }));
    let ends = n.min(5);
    b.slice_mut(ndarray::s![..ends]).mapv_inplace(|v| v + 20.0);
    b.slice_mut(ndarray::s![n - ends..])
        .mapv_inplace(|v| v + 20.0);
    b
}
