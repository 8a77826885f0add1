//! Flexibility from an ensemble of models (an NMR file, a trajectory written as
//! models): the spread of each token's representative atom after superposition,
//! as a B-factor.
//!
//! **Superposition**, as ProDy's `Ensemble.iterpose`: every model is
//! superposed onto a reference (least squares, Kabsch's rotation from faer's
//! SVD of the 3×3 covariance, without reflection) using the tokens present in
//! every model; the reference starts as the first model and becomes the mean of
//! the superposed models, until the mean moves by less than 10⁻⁴ Å RMSD or
//! after [`SUPERPOSITION_ITERATIONS`] rounds.
//!
//! **B-factors**: `RMSF_i = sqrt(mean_m |x_mi − x̄_i|²)` over the models that
//! hold token `i` (x̄ the mean of its superposed positions) and `B_i = 8π²/3 ·
//! RMSF_i²` (the isotropic B of a Gaussian spread with that mean square
//! displacement).
//!
//! ```
//! use bfactor::structure::{self, ReadOptions, TokenMode};
//!
//! // A synthetic NMR ensemble of ubiquitin: 5 models, no B-factors.
//! let options = ReadOptions::new().with_tokens(TokenMode::CaOnly);
//! let nmr = structure::read("tests/data/provenance/nmr.pdb", &options)?;
//! assert_eq!(nmr.models(), 5);
//! assert!(nmr.mask().iter().all(|&m| m == 0.0));
//! let b = nmr.ensemble_bfactors().unwrap(); // Å², one per token
//! assert_eq!(b.len(), nmr.tokens().len());
//! assert!(b.iter().all(|&v| v > 0.0));
//! # Ok::<(), bfactor::Error>(())
//! ```

use std::collections::HashMap;

use faer::Mat;
use ndarray::{Array1, Array3};

use super::sites::Site;
use super::token::Token;
use super::Structure;

/// The most rounds of superposition onto the mean.
pub const SUPERPOSITION_ITERATIONS: usize = 100;

/// The mean's change (Å RMSD) below which superposition stops.
const CONVERGED: f64 = 1e-4;

/// The representative atoms' coordinates in every model `[models, tokens, 3]`,
/// NaN where a model lacks the atom; `None` for fewer than two models. The
/// first model's are the tokens' own; a later model's is the first record with
/// the token's chain, residue number, insertion code and atom name.
pub(crate) fn coordinates(tokens: &[Token], sites: &[Site]) -> Option<Array3<f64>> {
    let models = sites.iter().map(|s| s.model + 1).max().unwrap_or(0);
    if models < 2 || tokens.is_empty() {
        return None;
    }
    let mut index: HashMap<(&str, isize, Option<&str>, &str), usize> = HashMap::new();
    for (i, t) in tokens.iter().enumerate().filter(|(_, t)| t.present) {
        index
            .entry((
                t.chain.as_str(),
                t.residue_number,
                t.insertion_code.as_deref(),
                t.atom_name.as_str(),
            ))
            .or_insert(i);
    }
    let mut out = Array3::from_elem((models, tokens.len(), 3), f64::NAN);
    for (i, t) in tokens.iter().enumerate().filter(|(_, t)| t.present) {
        for k in 0..3 {
            out[[0, i, k]] = t.coords[k];
        }
    }
    for s in sites.iter().filter(|s| s.model > 0) {
        let key = (
            s.chain.as_str(),
            s.res_seq,
            s.icode.as_deref(),
            s.atom.as_str(),
        );
        if let Some(&i) = index.get(&key) {
            if out[[s.model, i, 0]].is_nan() {
                for k in 0..3 {
                    out[[s.model, i, k]] = s.xyz[k];
                }
            }
        }
    }
    Some(out)
}

/// The rotation and translation that superpose `mobile` onto `target` (rows
/// `fit`), applied to every row of `mobile`.
fn superpose(mobile: &[[f64; 3]], target: &[[f64; 3]], fit: &[usize]) -> Option<Vec<[f64; 3]>> {
    let n = fit.len() as f64;
    let centroid = |x: &[[f64; 3]]| {
        let mut c = [0.0; 3];
        for &i in fit {
            for k in 0..3 {
                c[k] += x[i][k] / n;
            }
        }
        c
    };
    let (pc, qc) = (centroid(mobile), centroid(target));
    // H = Σ (p − p̄)(q − q̄)ᵀ; H = U S Vᵀ; R = V diag(1, 1, d) Uᵀ, d = sign det(V Uᵀ).
    let h = Mat::<f64>::from_fn(3, 3, |a, b| {
        fit.iter()
            .map(|&i| (mobile[i][a] - pc[a]) * (target[i][b] - qc[b]))
            .sum()
    });
    let svd = h.svd().ok()?;
    let (u, v) = (svd.U(), svd.V());
    let vu = v * u.transpose();
    let d = if vu.determinant() < 0.0 { -1.0 } else { 1.0 };
    let r = Mat::<f64>::from_fn(3, 3, |a, b| {
        (0..3)
            .map(|k| v[(a, k)] * u[(b, k)] * if k == 2 { d } else { 1.0 })
            .sum()
    });
    if (0..3).any(|a| (0..3).any(|b| !r[(a, b)].is_finite())) {
        return None;
    }
    Some(
        mobile
            .iter()
            .map(|p| {
                std::array::from_fn(|a| {
                    (0..3).map(|b| r[(a, b)] * (p[b] - pc[b])).sum::<f64>() + qc[a]
                })
            })
            .collect(),
    )
}

impl Structure {
    /// The number of models in the file (1 for most crystal structures and
    /// predicted models).
    pub fn models(&self) -> usize {
        self.ensemble.as_ref().map_or(1, |e| e.shape()[0])
    }

    /// The representative atoms' coordinates in every model `[models, tokens, 3]`
    /// (Å; NaN where a model lacks the atom), for a file of two or more models.
    pub fn ensemble_coords(&self) -> Option<&Array3<f64>> {
        self.ensemble.as_ref()
    }

    /// Per-token B-factors from the spread of the models, `8π²/3 · RMSF²` after
    /// superposition (see the [module docs](self)), `[n_tokens]`; NaN for a
    /// token held by fewer than two models. `None` for a single model, or if
    /// fewer than three tokens are present in every model.
    pub fn ensemble_bfactors(&self) -> Option<Array1<f64>> {
        let e = self.ensemble.as_ref()?;
        let (models, n) = (e.shape()[0], e.shape()[1]);
        let rows = |m: usize| -> Vec<[f64; 3]> {
            (0..n)
                .map(|i| std::array::from_fn(|k| e[[m, i, k]]))
                .collect()
        };
        let all: Vec<Vec<[f64; 3]>> = (0..models).map(rows).collect();
        let fit: Vec<usize> = (0..n)
            .filter(|&i| all.iter().all(|x| !x[i][0].is_nan()))
            .collect();
        if fit.len() < 3 {
            return None;
        }
        let mean_of = |xs: &[Vec<[f64; 3]>]| -> Vec<[f64; 3]> {
            (0..n)
                .map(|i| {
                    let held: Vec<&[f64; 3]> = xs
                        .iter()
                        .map(|x| &x[i])
                        .filter(|p| !p[0].is_nan())
                        .collect();
                    std::array::from_fn(|k| {
                        held.iter().map(|p| p[k]).sum::<f64>() / held.len() as f64
                    })
                })
                .collect()
        };
        let mut reference = all[0].clone();
        let mut moved = all.clone();
        for _ in 0..SUPERPOSITION_ITERATIONS {
            moved = all
                .iter()
                .map(|x| superpose(x, &reference, &fit))
                .collect::<Option<Vec<_>>>()?;
            let mean = mean_of(&moved);
            let change = (fit
                .iter()
                .map(|&i| {
                    (0..3)
                        .map(|k| (mean[i][k] - reference[i][k]).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / fit.len() as f64)
                .sqrt();
            reference = mean;
            if change < CONVERGED {
                break;
            }
        }
        let mean = mean_of(&moved);
        let scale = 8.0 * std::f64::consts::PI.powi(2) / 3.0;
        Some(
            (0..n)
                .map(|i| {
                    let d2: Vec<f64> = moved
                        .iter()
                        .filter(|x| !x[i][0].is_nan())
                        .map(|x| (0..3).map(|k| (x[i][k] - mean[i][k]).powi(2)).sum())
                        .collect();
                    if d2.len() < 2 {
                        f64::NAN
                    } else {
                        scale * d2.iter().sum::<f64>() / d2.len() as f64
                    }
                })
                .collect(),
        )
    }
}
