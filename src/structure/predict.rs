//! B-factors predicted from a structure file alone, by a model learned from real
//! crystal structures and bundled in the crate.
//!
//! ```
//! use bfactor::structure::{self, predict::Predictor, ReadOptions, TokenMode};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/structures/1ubi.pdb");
//! let st = structure::read(path, &ReadOptions::new().with_tokens(TokenMode::CaOnly))?;
//! let predictor = Predictor::pretrained()?;
//! let b = predictor.predict(&st)?; // Å², one value per token, st.tokens() order
//! assert_eq!(b.len(), st.tokens().len());
//! let r = bfactor::loss::pearson_masked(&b, &st.bfactors(), &st.mask())?;
//! assert!(r > 0.5, "ubiquitin: r = {r}");
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! # The model
//! For every token, [`features::compute`] gives a vector of structural
//! descriptors (contact densities at several scales, GNM fluctuations, burial,
//! chain position, residue type, secondary structure, neighbourhood averages,
//! crystal-lattice contacts; the whole file is seen, all chains). The input of
//! the model is each descriptor twice, `[n, 2 · n_features]`:
//!
//! ```text
//! x_j       = (d_j - m_j) / s_j                   m, s: the training tokens' mean and standard deviation
//! x_{F + j} = (d_j - mean_chain d_j) / std_chain d_j   the same descriptor within its chain (0 if constant)
//! ```
//!
//! An ensemble of the crate's notebook heads ([`BFactorHead`], `c_s = 2 · n_features`,
//! 64 bins) maps each token's `x` to one value. The heads are trained with
//! [`crate::train::fit`] (AdamW) on the per-chain normalized MSE
//! ([`crate::loss::normalized_mse_masked`], one chain per row), so what they learn
//! is each chain's *profile*: which residues move more than others.
//!
//! # The absolute level
//! A head's output has no meaningful level (the loss ignores it), so each member's
//! output is turned into per-chain z-scores, the members' z-scores are averaged
//! ([`Predictor::predict_relative`]), and B-factors in Å² are
//!
//! ```text
//! B = μ(res) + σ_c · z               per chain c, σ_c = min(σ(res), 0.9 · μ(res) / −min_c z)
//! ln μ(res) = a_μ + b_μ · res,   ln σ(res) = a_σ + b_σ · res      (res clamped to [0.5, 4.5] Å)
//! ```
//!
//! where `res` is the resolution the file's header gives
//! ([`Structure::resolution`]); `a`, `b` are least-squares fits of the log of
//! each training chain's mean and standard deviation of B (each at least 1 Å²)
//! on its resolution, so that both stay positive at any resolution. `σ_c`
//! shrinks a chain's spread where its lowest `z` would otherwise fall below
//! `μ / 10` (a B-factor is positive; the chain's order, and so every Pearson
//! figure, is unchanged); per atom ([`Predictor::predict_atoms`]) the lowest is
//! taken over the chain's tokens and atoms together. Without a resolution, μ
//! and σ are the medians over the training chains. Weight files written before
//! the log fit (no `level_model` entry) keep their lines of μ and σ themselves,
//! each at least 1 Å². The level is a
//! rough guess (crystal B-factors depend on temperature, refinement and model
//! quality, none of which a coordinate file tells reliably): the per-chain ordering
//! is what is validated (README, "Evaluation").
//!
//! # Training your own
//! [`train`] runs the code that made the bundled weights on your structures;
//! [`Predictor::save`] / [`Predictor::load`] keep the result as a small
//! safetensors file whose metadata holds the descriptor list, the normalisation
//! and the configuration. `cargo run --release --example train_structure_predictor`
//! regenerates the bundled weights bit for bit from `data/`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use ndarray::{s, Array1, Array2};
use rand::rngs::StdRng;
use rand::SeedableRng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::features::{self, Descriptors, FeatureConfig};
use super::per_atom::{self, AtomExample, AtomModel, AtomPrediction, AtomSites};
use super::scale::{column_standardisation, zscore_or_zeros};
use super::Structure;
use crate::train::fit::{fit, FitConfig, OptimizerConfig, Protein};
use crate::train::optim::AdamWConfig;
use crate::{loss, BFactorHead, BFactorHeadConfig, Error, Result};

/// The format name stored in a predictor file's metadata.
pub const FORMAT: &str = "bfactor-structure-predictor";
/// The version of that format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The bundled weights (made by `examples/train_structure_predictor.rs`).
static PRETRAINED: &[u8] = include_bytes!("predictor.safetensors");

/// How [`train`] fits a [`Predictor`]: burn-style defaults and `with_*` setters.
/// Each ensemble member is one [`fit`] run with [`fit`](Self::fit), its seed
/// derived from `fit.seed` and the member's index.
///
/// ```
/// use bfactor::structure::predict::TrainConfig;
///
/// let config = TrainConfig::new()
///     .with_ensemble(5)
///     .with_fit(TrainConfig::default_fit().with_epochs(40).with_seed(7));
/// config.validate()?;
/// # Ok::<(), bfactor::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Descriptors the model sees. Default [`FeatureConfig::new`].
    pub features: FeatureConfig,
    /// How each member is fitted. Default [`TrainConfig::default_fit`]: at most
    /// 60 epochs, 8 chains per minibatch, AdamW with learning rate 1e-3 and
    /// decoupled weight decay 0.01, 15 % of the chains held out to pick the best
    /// epoch, early stopping after 12 epochs without a better validation loss,
    /// seed 0, no progress bar.
    pub fit: FitConfig,
    /// Number of heads averaged (each with its own seed and validation split).
    /// Default 3.
    pub ensemble: usize,
    /// A chain is used for training if it has at least this many tokens with a
    /// usable experimental B-factor. Default 20.
    pub min_chain_tokens: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TrainConfig {
    /// The defaults listed on the fields.
    pub fn new() -> Self {
        Self {
            features: FeatureConfig::new(),
            fit: Self::default_fit(),
            ensemble: 3,
            min_chain_tokens: 20,
        }
    }

    /// The members' default [`FitConfig`] (listed on [`fit`](Self::fit)).
    pub fn default_fit() -> FitConfig {
        FitConfig::new()
            .with_epochs(60)
            .with_batch_size(8)
            .with_optimizer(OptimizerConfig::AdamW(
                AdamWConfig::new().with_lr(1e-3).with_weight_decay(0.01),
            ))
            .with_validation_fraction(0.15)
            .with_patience(Some(12))
            .with_seed(0)
            .with_progress(false)
    }

    /// Sets the descriptors.
    pub fn with_features(mut self, features: FeatureConfig) -> Self {
        self.features = features;
        self
    }

    /// Sets how each member is fitted.
    pub fn with_fit(mut self, fit: FitConfig) -> Self {
        self.fit = fit;
        self
    }

    /// Sets the number of ensemble members.
    pub fn with_ensemble(mut self, ensemble: usize) -> Self {
        self.ensemble = ensemble;
        self
    }

    /// Sets the minimum number of usable tokens of a training chain.
    pub fn with_min_chain_tokens(mut self, min_chain_tokens: usize) -> Self {
        self.min_chain_tokens = min_chain_tokens;
        self
    }

    /// Checks every field ([`FitConfig::validate`] for `fit`, and at least one
    /// epoch).
    pub fn validate(&self) -> Result<()> {
        self.features.validate()?;
        self.fit.validate()?;
        if self.fit.epochs == 0 {
            return Err(Error::config("fit.epochs", 0, "at least 1"));
        }
        if self.ensemble == 0 || self.ensemble > 64 {
            return Err(Error::config("ensemble", self.ensemble, "1 to 64 members"));
        }
        if self.min_chain_tokens < 2 {
            return Err(Error::config(
                "min_chain_tokens",
                self.min_chain_tokens,
                "at least 2",
            ));
        }
        Ok(())
    }
}

/// What [`train`] reports after each epoch of each ensemble member.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// The ensemble member being trained, `0..members`.
    pub member: usize,
    /// Number of ensemble members.
    pub members: usize,
    /// The epoch just finished, `1..=epochs`.
    pub epoch: usize,
    /// The member's maximum number of epochs.
    pub epochs: usize,
    /// Mean training loss (per-chain normalized MSE) over the epoch.
    pub train_loss: f64,
    /// Mean per-chain Pearson on the member's validation chains.
    pub validation_pearson: Option<f64>,
}

/// One training chain: its descriptors, experimental B-factors and mask.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainExample {
    /// Descriptors of the chain's tokens, `[n, n_features]`.
    pub features: Array2<f64>,
    /// Experimental B-factors, `[n]`.
    pub bfactors: Array1<f64>,
    /// 1 where the B-factor is usable, else 0, `[n]`.
    pub mask: Array1<f64>,
    /// The resolution of the chain's file, if its header gives one.
    pub resolution: Option<f64>,
}

/// The chains of `st` that can train a model: those with at least
/// `min_tokens` usable B-factors that are not all equal, with the rows of
/// `descriptors` (computed for `st`) that belong to them.
pub fn chain_examples(
    st: &Structure,
    descriptors: &Descriptors,
    min_tokens: usize,
) -> Result<Vec<ChainExample>> {
    check_rows(st, descriptors)?;
    let (b, mask) = (st.bfactors(), st.mask());
    // Read once: it scans the file's header text.
    let resolution = st.resolution();
    let mut out = vec![];
    for chain in st.chains() {
        let r = chain.tokens.clone();
        let m = mask.slice(s![r.clone()]);
        let valid = m.iter().filter(|&&v| v > 0.0).count();
        if valid < min_tokens {
            continue;
        }
        let bb = b.slice(s![r.clone()]);
        let first = bb.iter().zip(m).find(|(_, &w)| w > 0.0).map(|(&v, _)| v);
        if bb
            .iter()
            .zip(m)
            .all(|(&v, &w)| w == 0.0 || Some(v) == first)
        {
            continue;
        }
        out.push(ChainExample {
            features: descriptors.values.slice(s![r.clone(), ..]).to_owned(),
            bfactors: bb.to_owned(),
            mask: m.to_owned(),
            resolution,
        });
    }
    Ok(out)
}

fn check_rows(st: &Structure, d: &Descriptors) -> Result<()> {
    if d.values.nrows() != st.tokens().len() || d.values.ncols() != d.names.len() {
        return Err(Error::shape_mismatch(
            "descriptors",
            vec![st.tokens().len(), d.names.len()],
            d.values.shape(),
            "one row per token of the structure, one column per descriptor name",
        ));
    }
    Ok(())
}

/// How a chain's B-factor level follows the resolution (see the module docs).
#[derive(Clone, Debug, PartialEq)]
struct Level {
    mean: [f64; 2],
    std: [f64; 2],
    default_mean: f64,
    default_std: f64,
    /// Whether the lines are fits of `ln` of the mean and standard deviation
    /// (files written before it was kept hold lines of the values themselves).
    log: bool,
}

const RES_RANGE: (f64, f64) = (0.5, 4.5);
const MIN_STD: f64 = 1.0;

impl Level {
    fn fit(chains: &[&ChainExample]) -> Self {
        let stats: Vec<(Option<f64>, f64, f64)> = chains
            .iter()
            .map(|c| {
                let (mut n, mut s, mut ss) = (0.0, 0.0, 0.0);
                for (&b, &w) in c.bfactors.iter().zip(&c.mask) {
                    if w > 0.0 {
                        n += 1.0;
                        s += b;
                        ss += b * b;
                    }
                }
                let mean = s / n;
                let std = (ss / n - mean * mean).max(0.0).sqrt();
                (c.resolution, mean, std)
            })
            .collect();
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            if v.is_empty() {
                return f64::NAN;
            }
            let m = v.len() / 2;
            if v.len() % 2 == 1 {
                v[m]
            } else {
                0.5 * (v[m - 1] + v[m])
            }
        };
        let default_mean = median(stats.iter().map(|s| s.1).collect());
        let default_std = median(stats.iter().map(|s| s.2).collect()).max(MIN_STD);
        let with_res: Vec<(f64, f64, f64)> = stats
            .iter()
            .filter_map(|&(r, m, s)| {
                r.map(|r| {
                    (
                        r.clamp(RES_RANGE.0, RES_RANGE.1),
                        m.max(MIN_STD).ln(),
                        s.max(MIN_STD).ln(),
                    )
                })
            })
            .collect();
        let line = |y: &dyn Fn(&(f64, f64, f64)) -> f64, default: f64| -> [f64; 2] {
            let n = with_res.len() as f64;
            if with_res.len() < 3 {
                return [default, 0.0];
            }
            let mx = with_res.iter().map(|t| t.0).sum::<f64>() / n;
            let my = with_res.iter().map(y).sum::<f64>() / n;
            let sxx: f64 = with_res.iter().map(|t| (t.0 - mx).powi(2)).sum();
            let sxy: f64 = with_res.iter().map(|t| (t.0 - mx) * (y(t) - my)).sum();
            if sxx <= 1e-12 {
                return [my, 0.0];
            }
            let b = sxy / sxx;
            [my - b * mx, b]
        };
        Self {
            mean: line(&|t| t.1, default_mean.max(MIN_STD).ln()),
            std: line(&|t| t.2, default_std.ln()),
            default_mean,
            default_std,
            log: true,
        }
    }

    /// `(μ, σ)` at `resolution` (module docs), both at least [`MIN_STD`].
    fn at(&self, resolution: Option<f64>) -> (f64, f64) {
        match resolution {
            Some(r) if r.is_finite() && r > 0.0 => {
                let r = r.clamp(RES_RANGE.0, RES_RANGE.1);
                let m = self.mean[0] + self.mean[1] * r;
                let s = self.std[0] + self.std[1] * r;
                let (m, s) = if self.log { (m.exp(), s.exp()) } else { (m, s) };
                (m.max(MIN_STD), s.max(MIN_STD))
            }
            _ => (self.default_mean, self.default_std),
        }
    }

    /// `μ + σ_c · z` for each of `z` (one chain's values), with `σ_c` the
    /// largest scale up to `σ` that keeps the lowest at `μ / 10` or above
    /// (module docs).
    fn apply(
        mu: f64,
        sigma: f64,
        z: impl Iterator<Item = f64> + Clone,
    ) -> impl Iterator<Item = f64> {
        let lowest = z.clone().fold(0.0_f64, f64::min);
        let sigma = if lowest < 0.0 {
            sigma.min(0.9 * mu / -lowest)
        } else {
            sigma
        };
        z.map(move |v| mu + sigma * v)
    }

    fn to_vec(&self) -> Vec<f64> {
        vec![
            self.mean[0],
            self.mean[1],
            self.std[0],
            self.std[1],
            self.default_mean,
            self.default_std,
        ]
    }

    fn from_slice(v: &[f64], log: bool) -> Self {
        Self {
            mean: [v[0], v[1]],
            std: [v[2], v[3]],
            default_mean: v[4],
            default_std: v[5],
            log,
        }
    }
}

/// A trained structure-to-B-factor model: descriptor normalisation, an ensemble
/// of heads and the level model (see the module docs).
#[derive(Clone, Debug)]
pub struct Predictor {
    features: FeatureConfig,
    names: Vec<String>,
    mean: Array1<f64>,
    scale: Array1<f64>,
    heads: Vec<BFactorHead<f32>>,
    level: Level,
    /// Mean over members of the per-chain Pearson on their validation chains
    /// at their best epoch (`None` in files written before it was kept).
    validation_pearson: Option<f64>,
    /// The per-atom offsets ([`per_atom`]), if fitted.
    atoms: Option<AtomModel>,
}

impl Predictor {
    /// The bundled model, trained on the crystal structures in the repository's
    /// `data/` (README, "Evaluation", for how well it does). Needs no file and no
    /// network.
    pub fn pretrained() -> Result<Self> {
        Self::from_bytes(PRETRAINED)
    }

    /// A model saved by [`save`](Self::save) (for example by `bfactor train`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            Error::Format {
                path: what,
                message,
            } => Error::format(format!("{} ({what})", path.display()), message),
            other => other,
        })
    }

    /// Saves the model as a safetensors file (weights in `f32`, the descriptor
    /// names, normalisation, configuration and level model in its metadata).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|e| Error::io(path.display(), e))
    }

    /// The names of the descriptors the model reads, in its input order.
    pub fn feature_names(&self) -> &[String] {
        &self.names
    }

    /// The descriptor settings the model was trained with.
    pub fn feature_config(&self) -> &FeatureConfig {
        &self.features
    }

    /// Number of heads in the ensemble.
    pub fn ensemble_size(&self) -> usize {
        self.heads.len()
    }

    /// Mean over the ensemble's members of the per-chain Pearson on the chains
    /// each held out of its training to pick its epoch (`None` for a model
    /// file that does not keep it). The per-atom model's `α` ([`per_atom`]).
    pub fn validation_pearson(&self) -> Option<f64> {
        self.validation_pearson
    }

    /// The per-atom model, if the predictor has one (the bundled one does).
    pub fn atom_model(&self) -> Option<&AtomModel> {
        self.atoms.as_ref()
    }

    /// Fits the per-atom model ([`per_atom`]) on `examples` (from
    /// [`per_atom::atom_examples`] on the training structures, sites computed
    /// with this predictor's lattice setting) and keeps it.
    ///
    /// Errors: [`Error::Config`] if the predictor has no validation Pearson
    /// (trained with `validation_fraction = 0`, or loaded from an old file);
    /// those of [`AtomModel::fit`].
    pub fn fit_atoms(&mut self, examples: &[AtomExample]) -> Result<()> {
        let alpha = self.validation_pearson.ok_or_else(|| {
            Error::config(
                "validation_pearson",
                "none",
                "a predictor trained with validation chains (validation_fraction > 0)",
            )
        })?;
        self.atoms = Some(AtomModel::fit(examples, alpha)?);
        Ok(())
    }

    /// Per-atom B-factors (Å²) for every heavy atom of the amino-acid residues
    /// of `st` ([`per_atom`]), with the residue-level values.
    ///
    /// Errors: [`Error::Config`] if the predictor has no per-atom model; those of
    /// [`predict`](Self::predict).
    pub fn predict_atoms(&self, st: &Structure) -> Result<AtomPrediction> {
        let d = features::compute(st, &self.features)?;
        let sites = per_atom::atom_sites(st, self.features.lattice)?;
        self.predict_atoms_with(st, &d, sites)
    }

    /// [`predict_atoms`](Self::predict_atoms) with descriptors and sites already
    /// computed for `st` ([`features::compute`] with
    /// [`feature_config`](Self::feature_config), [`per_atom::atom_sites`]).
    pub fn predict_atoms_with(
        &self,
        st: &Structure,
        descriptors: &Descriptors,
        sites: AtomSites,
    ) -> Result<AtomPrediction> {
        let model = self.atoms.as_ref().ok_or_else(|| {
            Error::config(
                "predictor",
                "no per-atom model",
                "a predictor with one (the bundled one, or fit_atoms after training)",
            )
        })?;
        per_atom::check_sites(st, &sites)?;
        let z = self.predict_relative_with(st, descriptors)?;
        let (mu, sigma) = self.level.at(st.resolution());
        let offsets = model.offsets(&sites);
        // Each atom's z (its residue's plus its offset), then the level chain by
        // chain over the chain's tokens and atoms together.
        let atom_z: Vec<f64> = sites
            .tokens
            .iter()
            .zip(&offsets)
            .map(|(&t, &o)| z[t] + o)
            .collect();
        let chains = st.chains();
        let atoms_of = sites.by_chain(&chains);
        let mut values = Array1::zeros(atom_z.len());
        let mut token_values = Array1::zeros(z.len());
        for (chain, atoms) in chains.iter().zip(&atoms_of) {
            let r = chain.tokens.clone();
            let all = r
                .clone()
                .map(|i| z[i])
                .chain(atoms.iter().map(|&a| atom_z[a]));
            let mut out = Level::apply(mu, sigma, all);
            for v in token_values.slice_mut(s![r]).iter_mut() {
                *v = out.next().unwrap_or(f64::NAN);
            }
            for &a in atoms {
                values[a] = out.next().unwrap_or(f64::NAN);
            }
        }
        Ok(AtomPrediction {
            sites,
            values,
            token_values,
        })
    }

    /// Predicted B-factors (Å²), one per token of `st`, in [`Structure::tokens`]
    /// order. The per-chain profile is [`predict_relative`](Self::predict_relative);
    /// its level comes from the resolution (module docs).
    pub fn predict(&self, st: &Structure) -> Result<Array1<f64>> {
        let d = features::compute(st, &self.features)?;
        self.predict_with(st, &d)
    }

    /// [`predict`](Self::predict) with descriptors already computed by
    /// [`features::compute`] for `st` with [`feature_config`](Self::feature_config).
    pub fn predict_with(&self, st: &Structure, descriptors: &Descriptors) -> Result<Array1<f64>> {
        let z = self.predict_relative_with(st, descriptors)?;
        let (mu, sigma) = self.level.at(st.resolution());
        let mut b = Array1::zeros(z.len());
        for c in st.chains() {
            let r = c.tokens;
            let values = Level::apply(mu, sigma, r.clone().map(|i| z[i]));
            for (out, v) in b.slice_mut(s![r]).iter_mut().zip(values) {
                *out = v;
            }
        }
        Ok(b)
    }

    /// The predicted profile: per-chain z-scores (mean 0, standard deviation 1
    /// over each chain's tokens; 0 for a chain of one token), one per token.
    pub fn predict_relative(&self, st: &Structure) -> Result<Array1<f64>> {
        let d = features::compute(st, &self.features)?;
        self.predict_relative_with(st, &d)
    }

    /// [`predict_relative`](Self::predict_relative) with precomputed descriptors.
    pub fn predict_relative_with(
        &self,
        st: &Structure,
        descriptors: &Descriptors,
    ) -> Result<Array1<f64>> {
        check_rows(st, descriptors)?;
        if descriptors.names != self.names {
            return Err(Error::config(
                "descriptors",
                format!("{} columns", descriptors.names.len()),
                format!(
                    "the {} descriptors the model was trained on, in its order",
                    self.names.len()
                ),
            ));
        }
        let n = st.tokens().len();
        let mut z = Array1::zeros(n);
        if n == 0 {
            return Ok(z);
        }
        let spans: Vec<_> = st.chains().into_iter().map(|c| c.tokens).collect();
        let x = self.inputs(&descriptors.values, &spans);
        for head in &self.heads {
            let out = head.forward(&x)?.bfactor.mapv(f64::from);
            for r in &spans {
                let mut part = z.slice_mut(s![r.clone()]);
                part += &zscore_or_zeros(out.slice(s![r.clone()]));
            }
        }
        z /= self.heads.len() as f64;
        Ok(z)
    }

    /// The heads' input `[n, 2 · n_features]`: each descriptor standardised with
    /// the training statistics, then the same descriptor as a z-score within its
    /// chain (`spans`; 0 where it is constant over the chain).
    fn inputs(&self, values: &Array2<f64>, spans: &[Range<usize>]) -> Array2<f32> {
        let f = values.ncols();
        let mut x = Array2::<f32>::zeros((values.nrows(), 2 * f));
        for (mut row, v) in x.rows_mut().into_iter().zip(values.rows()) {
            for j in 0..f {
                row[j] = ((v[j] - self.mean[j]) / self.scale[j]) as f32;
            }
        }
        for r in spans {
            for j in 0..f {
                let z = zscore_or_zeros(values.slice(s![r.clone(), j]));
                for (k, i) in r.clone().enumerate() {
                    x[[i, f + j]] = z[k] as f32;
                }
            }
        }
        x
    }

    /// The model as safetensors bytes (what [`save`](Self::save) writes).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let le = |v: &mut dyn Iterator<Item = f32>| -> Vec<u8> {
            v.flat_map(|x| x.to_le_bytes()).collect()
        };
        let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = vec![
            (
                "feature_mean".into(),
                vec![self.mean.len()],
                self.mean.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            (
                "feature_scale".into(),
                vec![self.scale.len()],
                self.scale.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
        ];
        for (k, h) in self.heads.iter().enumerate() {
            buffers.push((
                format!("head{k}.w1"),
                h.w1().shape().to_vec(),
                le(&mut h.w1().iter().copied()),
            ));
            buffers.push((
                format!("head{k}.w2"),
                h.w2().shape().to_vec(),
                le(&mut h.w2().iter().copied()),
            ));
        }
        if let Some(m) = &self.atoms {
            for (name, part) in ["atom.coef", "atom.mean", "atom.scale"]
                .iter()
                .zip(m.parts())
            {
                buffers.push((
                    name.to_string(),
                    vec![part.len()],
                    part.iter().flat_map(|x| x.to_le_bytes()).collect(),
                ));
            }
        }
        let mut views = vec![];
        for (name, shape, data) in &buffers {
            let dtype = if name.starts_with("feature_") || name.starts_with("atom.") {
                Dtype::F64
            } else {
                Dtype::F32
            };
            let view = TensorView::new(dtype, shape.clone(), data)
                .map_err(|e| format_err("tensors", e.to_string()))?;
            views.push((name.clone(), view));
        }
        let c = self.heads[0].config();
        // One metadata entry of sorted `key=value` lines: safetensors writes its
        // metadata map in hash order, and the file must be the same bytes each time.
        let mut meta = BTreeMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("version".to_string(), FORMAT_VERSION.to_string());
        meta.insert("features".to_string(), self.names.join(","));
        meta.insert(
            "feature_config".to_string(),
            feature_config_metadata(&self.features),
        );
        meta.insert("ensemble".to_string(), self.heads.len().to_string());
        meta.insert("c_s".to_string(), c.c_s.to_string());
        meta.insert("num_bins".to_string(), c.num_bins.to_string());
        meta.insert("max_bfactor".to_string(), format!("{:?}", c.max_bfactor));
        meta.insert("eps".to_string(), format!("{:?}", c.eps));
        if self.level.log {
            meta.insert("level_model".to_string(), "log".to_string());
        }
        meta.insert(
            "level".to_string(),
            self.level
                .to_vec()
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(","),
        );
        if let Some(r) = self.validation_pearson {
            meta.insert("validation_pearson".to_string(), format!("{r:?}"));
        }
        if let Some(m) = &self.atoms {
            meta.insert("atom_alpha".to_string(), format!("{:?}", m.alpha()));
        }
        let text: String = meta.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let meta = HashMap::from([(FORMAT.to_string(), text)]);
        safetensors::serialize(views, Some(meta)).map_err(|e| format_err("tensors", e.to_string()))
    }

    /// A model from safetensors bytes (what [`to_bytes`](Self::to_bytes) makes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| format_err("safetensors", e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| format_err("safetensors", e.to_string()))?;
        let text = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(FORMAT))
            .ok_or_else(|| {
                format_err(
                    "metadata",
                    format!("no `{FORMAT}` entry in __metadata__: not a predictor file"),
                )
            })?;
        let meta: BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = |key: &str| -> Result<&String> {
            meta.get(key)
                .ok_or_else(|| format_err("metadata", format!("missing key `{key}`")))
        };
        if get("format")? != FORMAT {
            return Err(format_err(
                "metadata",
                format!("format `{}`, expected `{FORMAT}`", get("format")?),
            ));
        }
        let version: u32 = parse(get("version")?, "version")?;
        if version != FORMAT_VERSION {
            return Err(format_err(
                "metadata",
                format!("format version {version}, this build reads {FORMAT_VERSION}"),
            ));
        }
        let names: Vec<String> = get("features")?.split(',').map(str::to_string).collect();
        let features = feature_config_from_metadata(get("feature_config")?)?;
        let expected = features::names();
        if expected != names {
            return Err(Error::config(
                "features",
                format!("{} descriptors in the file", names.len()),
                format!(
                    "the {} descriptors this build computes for the file's feature config",
                    expected.len()
                ),
            ));
        }
        let members: usize = parse(get("ensemble")?, "ensemble")?;
        let c_s: usize = parse(get("c_s")?, "c_s")?;
        let num_bins: usize = parse(get("num_bins")?, "num_bins")?;
        let max_bfactor: f64 = parse(get("max_bfactor")?, "max_bfactor")?;
        let eps: f64 = parse(get("eps")?, "eps")?;
        if c_s != 2 * names.len() || members == 0 || members > 64 {
            return Err(format_err(
                "metadata",
                format!(
                    "c_s = {c_s} for {} descriptors, {members} members",
                    names.len()
                ),
            ));
        }
        let level: Vec<f64> = get("level")?
            .split(',')
            .map(|v| parse(v, "level"))
            .collect::<Result<_>>()?;
        if level.len() != 6 || level.iter().any(|v| !v.is_finite()) {
            return Err(format_err(
                "metadata",
                "`level` must hold 6 finite numbers".into(),
            ));
        }
        let log_level = match meta.get("level_model").map(String::as_str) {
            None => false,
            Some("log") => true,
            Some(other) => {
                return Err(format_err(
                    "metadata",
                    format!("`level_model` is `{other}`, expected `log` or no entry"),
                ))
            }
        };
        let config = BFactorHeadConfig::new(c_s)
            .with_num_bins(num_bins)
            .with_max_bfactor(max_bfactor)
            .with_eps(eps);
        config.validate()?;
        let mean = tensor_f64(&st, "feature_mean", names.len())?;
        let scale = tensor_f64(&st, "feature_scale", names.len())?;
        if scale.iter().any(|&v| v.is_nan() || v <= 0.0) {
            return Err(format_err(
                "feature_scale",
                "every scale must be > 0".into(),
            ));
        }
        let mut heads = vec![];
        for k in 0..members {
            let w1 = tensor_f32(&st, &format!("head{k}.w1"), &[c_s, c_s])?;
            let w2 = tensor_f32(&st, &format!("head{k}.w2"), &[c_s, num_bins])?;
            heads.push(BFactorHead::from_weights(config.clone(), w1, w2)?);
        }
        let validation_pearson = match meta.get("validation_pearson") {
            Some(v) => Some(parse::<f64>(v, "validation_pearson")?),
            None => None,
        };
        let atoms = match meta.get("atom_alpha") {
            None => None,
            Some(alpha) => {
                let alpha: f64 = parse(alpha, "atom_alpha")?;
                let coef = tensor_f64_any(&st, "atom.coef")?;
                let mean = tensor_f64_any(&st, "atom.mean")?;
                let scale = tensor_f64_any(&st, "atom.scale")?;
                Some(
                    AtomModel::from_parts(coef, mean, scale, alpha)
                        .map_err(|m| format_err("atom model", m))?,
                )
            }
        };
        Ok(Self {
            features,
            names,
            mean,
            scale,
            heads,
            level: Level::from_slice(&level, log_level),
            validation_pearson,
            atoms,
        })
    }
}

/// `gnm_cutoff=7.3;gnm_max_nodes=2000;lattice=true`.
fn feature_config_metadata(c: &FeatureConfig) -> String {
    format!(
        "gnm_cutoff={:?};gnm_max_nodes={};lattice={}",
        c.gnm_cutoff, c.gnm_max_nodes, c.lattice
    )
}

fn feature_config_from_metadata(text: &str) -> Result<FeatureConfig> {
    let mut c = FeatureConfig::new();
    for item in text.split(';') {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format_err("metadata", format!("feature_config item `{item}`")))?;
        match key {
            "gnm_cutoff" => c.gnm_cutoff = parse(value, key)?,
            "gnm_max_nodes" => c.gnm_max_nodes = parse(value, key)?,
            "lattice" => {
                c.lattice = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format_err("metadata", format!("lattice = `{value}`"))),
                }
            }
            _ => {
                return Err(format_err(
                    "metadata",
                    format!("unknown feature_config key `{key}`"),
                ))
            }
        }
    }
    c.validate()?;
    Ok(c)
}

fn format_err(what: &str, message: String) -> Error {
    Error::format(format!("predictor weights, {what}"), message)
}

fn parse<T: std::str::FromStr>(v: &str, key: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| format_err("metadata", format!("`{key}` = `{v}` is not a valid number")))
}

fn tensor_bytes<'a>(
    st: &'a SafeTensors<'a>,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> Result<&'a [u8]> {
    let t = st.tensor(name).map_err(|_| {
        Error::missing_tensor(name, st.names().iter().map(|s| s.to_string()).collect())
    })?;
    if t.dtype() != dtype || t.shape() != shape {
        return Err(format_err(
            name,
            format!(
                "{:?} {:?}, expected {dtype:?} {shape:?}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    Ok(t.data())
}

fn tensor_f64(st: &SafeTensors<'_>, name: &str, n: usize) -> Result<Array1<f64>> {
    let b = tensor_bytes(st, name, Dtype::F64, &[n])?;
    let v: Array1<f64> = b
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    if v.iter().any(|x| !x.is_finite()) {
        return Err(format_err(name, "holds NaN or infinity".into()));
    }
    Ok(v)
}

/// A 1-D `f64` tensor of any length.
fn tensor_f64_any(st: &SafeTensors<'_>, name: &str) -> Result<Array1<f64>> {
    let t = st.tensor(name).map_err(|_| {
        Error::missing_tensor(name, st.names().iter().map(|s| s.to_string()).collect())
    })?;
    let n = match t.shape() {
        [n] => *n,
        other => {
            return Err(format_err(
                name,
                format!("shape {other:?}, expected one axis"),
            ))
        }
    };
    tensor_f64(st, name, n)
}

fn tensor_f32(st: &SafeTensors<'_>, name: &str, shape: &[usize; 2]) -> Result<Array2<f32>> {
    let b = tensor_bytes(st, name, Dtype::F32, shape)?;
    let v: Vec<f32> = b
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Array2::from_shape_vec((shape[0], shape[1]), v).map_err(|e| format_err(name, e.to_string()))
}

/// Trains a [`Predictor`] on `structures` (their own B columns are the targets):
/// descriptors for each, then [`train_chains`], then, when at least two chains
/// have side chains and the members kept validation chains, the per-atom model
/// ([`Predictor::fit_atoms`] on [`per_atom::atom_examples`]).
pub fn train(
    structures: &[Structure],
    config: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Predictor> {
    config.validate()?;
    let mut chains = vec![];
    let mut atoms = vec![];
    for st in structures {
        let d = features::compute(st, &config.features)?;
        chains.extend(chain_examples(st, &d, config.min_chain_tokens)?);
        let sites = per_atom::atom_sites(st, config.features.lattice)?;
        atoms.extend(per_atom::atom_examples(
            st,
            &sites,
            config.min_chain_tokens,
        )?);
    }
    let mut predictor = train_chains(&chains, config, on_epoch)?;
    if predictor.validation_pearson.is_some() && atoms.iter().filter(|a| !a.is_empty()).count() >= 2
    {
        predictor.fit_atoms(&atoms)?;
    }
    Ok(predictor)
}

/// Trains a [`Predictor`] on chains prepared by [`chain_examples`] (descriptors
/// computed with `config.features`).
pub fn train_chains(
    chains: &[ChainExample],
    config: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Predictor> {
    config.validate()?;
    let names = features::names();
    let width = names.len();
    let chains: Vec<&ChainExample> = chains
        .iter()
        .filter(|c| c.mask.iter().filter(|&&w| w > 0.0).count() >= config.min_chain_tokens)
        .collect();
    if chains.len() < 2 {
        return Err(Error::too_few_valid(
            "training chains (with enough usable, non-constant B-factors)",
            2,
            chains.len(),
        ));
    }
    for (i, c) in chains.iter().enumerate() {
        if c.features.ncols() != width {
            return Err(Error::last_axis(
                format!("chains[{i}].features"),
                "descriptors of the feature config",
                width,
                c.features.ncols(),
                c.features.shape(),
            ));
        }
    }
    // Standardisation over every token of the training chains.
    let (mean, scale) = column_standardisation(chains.iter().map(|c| &c.features), width);
    let mut proto = Predictor {
        features: config.features,
        names,
        mean,
        scale,
        heads: vec![],
        level: Level::fit(&chains),
        validation_pearson: None,
        atoms: None,
    };
    let mut validation = vec![];
    let data: Vec<Protein<f32>> = chains
        .iter()
        .map(|c| {
            Protein::new(
                proto.inputs(&c.features, std::slice::from_ref(&(0..c.features.nrows()))),
                c.bfactors.mapv(|v| v as f32),
            )?
            .with_mask(c.mask.mapv(|v| v as f32))
        })
        .collect::<Result<_>>()?;
    let head_config = BFactorHeadConfig::new(2 * width);
    for member in 0..config.ensemble {
        let seed = config
            .fit
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(member as u64);
        let mut head = head_config.init::<f32>(&mut StdRng::seed_from_u64(seed))?;
        let fit_config = config.fit.clone().with_seed(seed);
        let members = config.ensemble;
        let epochs = config.fit.epochs;
        let history = fit(&mut head, &data, &fit_config, |stats| {
            if let Some(train_loss) = stats.train_loss {
                on_epoch(&EpochReport {
                    member,
                    members,
                    epoch: stats.epoch,
                    epochs,
                    train_loss,
                    validation_pearson: stats.val_pearson,
                });
            }
        })?;
        if let Some(r) = history
            .epochs
            .get(history.best_epoch)
            .and_then(|e| e.val_pearson)
        {
            validation.push(r);
        }
        proto.heads.push(head);
    }
    if validation.len() == proto.heads.len() {
        proto.validation_pearson = Some(validation.iter().sum::<f64>() / validation.len() as f64);
    }
    Ok(proto)
}

/// Mean over chains of the per-chain Pearson correlation between `prediction`
/// and the experimental B-factors of `st`, over chains with at least `min_tokens`
/// usable tokens (chains whose correlation is undefined are left out). Also
/// returns how many chains were counted.
pub fn mean_chain_pearson(
    st: &Structure,
    prediction: &Array1<f64>,
    min_tokens: usize,
) -> Result<(f64, usize)> {
    let rs = chain_pearsons(st, prediction, min_tokens)?;
    let n = rs.len();
    let sum: f64 = rs.iter().map(|(_, r)| r).sum();
    Ok((if n > 0 { sum / n as f64 } else { f64::NAN }, n))
}

/// Per-chain Pearson correlations of `prediction` against the file's own B
/// column: `(chain id, r)` for every chain with at least `min_tokens` usable
/// tokens whose correlation is defined.
pub fn chain_pearsons(
    st: &Structure,
    prediction: &Array1<f64>,
    min_tokens: usize,
) -> Result<Vec<(String, f64)>> {
    if prediction.len() != st.tokens().len() {
        return Err(Error::shape_mismatch(
            "prediction",
            vec![st.tokens().len()],
            vec![prediction.len()],
            "one value per token",
        ));
    }
    let (b, mask) = (st.bfactors(), st.mask());
    let mut out = vec![];
    for chain in st.chains() {
        let r = chain.tokens.clone();
        let m = mask.slice(s![r.clone()]);
        if m.iter().filter(|&&w| w > 0.0).count() < min_tokens {
            continue;
        }
        if let Ok(p) = loss::pearson_masked(
            &prediction.slice(s![r.clone()]),
            &b.slice(s![r.clone()]),
            &m,
        ) {
            out.push((chain.id.clone(), p));
        }
    }
    Ok(out)
}
