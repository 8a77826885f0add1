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

/// A synthetic training set of `n_proteins` proteins whose representations carry a
/// flexibility signal, for examples, tests and benchmarks of training.
///
/// How it is made (all from `seed`):
/// - each protein has 40 to 120 residues and a few loop segments (4 to 10 residues
///   each, about a quarter of the chain);
/// - per residue, six features: proximity to the N and C termini (`exp(-d/4)`
///   with `d` the distance in residues), a loop indicator, the relative position,
///   a constant 1 (so that layer norm keeps the scale of the rest) and one pure
///   noise feature;
/// - `s` `[N, c_s]` = features · `P` + N(0, 0.6²) noise, with one random projection
///   `P` `[6, c_s]` shared by all proteins;
/// - target B-factors: the notebook's termini profile idea with per-protein
///   variation, `base + amp · (1.5·max(termini) + 0.8·loop + 0.2·bump)` plus
///   N(0, 1) noise, with `base` in [15, 35] Å², `amp` in [15, 35] Å² and `bump` a
///   Gaussian over the middle of the chain.
pub fn flexibility_dataset<F: crate::Float>(
    n_proteins: usize,
    c_s: usize,
    seed: u64,
) -> Vec<crate::train::fit::Protein<F>> {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use rand_distr::StandardNormal;

    const FEATURES: usize = 6;
    let mut rng = StdRng::seed_from_u64(seed);
    let projection = ndarray::Array2::<f64>::from_shape_simple_fn((FEATURES, c_s), || {
        rng.sample::<f64, _>(StandardNormal)
    });
    (0..n_proteins)
        .map(|_| {
            let n = rng.random_range(40..=120usize);
            let mut in_loop = vec![false; n];
            for _ in 0..(n / 24).max(1) {
                let len = rng.random_range(4..=10usize).min(n);
                let start = rng.random_range(0..=n - len);
                in_loop[start..start + len]
                    .iter_mut()
                    .for_each(|l| *l = true);
            }
            let base = rng.random_range(15.0..35.0);
            let amp = rng.random_range(15.0..35.0);
            let mut features = ndarray::Array2::<f64>::zeros((n, FEATURES));
            let mut target = Array1::<f64>::zeros(n);
            for j in 0..n {
                let n_term = (-(j as f64) / 4.0).exp();
                let c_term = (-((n - 1 - j) as f64) / 4.0).exp();
                let lp = if in_loop[j] { 1.0 } else { 0.0 };
                let rel = j as f64 / (n - 1) as f64;
                let noise: f64 = rng.sample(StandardNormal);
                features
                    .row_mut(j)
                    .assign(&ndarray::arr1(&[n_term, c_term, lp, rel, 1.0, noise]));
                let bump = (-((rel - 0.5) / 0.2).powi(2)).exp();
                let b_noise: f64 = rng.sample(StandardNormal);
                target[j] =
                    base + amp * (1.5 * n_term.max(c_term) + 0.8 * lp + 0.2 * bump) + b_noise;
            }
            let mut s = features.dot(&projection);
            s.mapv_inplace(|v| v + 0.6 * rng.sample::<f64, _>(StandardNormal));
            crate::train::fit::Protein::new(
                s.mapv(F::from_f64_lossy),
                target.mapv(F::from_f64_lossy),
            )
            .expect("finite by construction")
        })
        .collect()
}
