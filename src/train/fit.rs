//! Fitting a head to experimental B-factors over a set of proteins of different
//! lengths: seeded shuffled minibatches (padded and masked inside), a validation
//! split, per-epoch validation loss and Pearson, early stopping and best-weights
//! restore.
//!
//! ```
//! use bfactor::train::fit::{fit, FitConfig, Protein};
//! use bfactor::{synthetic, BFactorHeadConfig};
//! use bfactor::rand::{rngs::StdRng, SeedableRng};
//!
//! let data: Vec<Protein<f32>> = synthetic::flexibility_dataset(24, 16, 7);
//! let mut head = BFactorHeadConfig::new(16).init::<f32>(&mut StdRng::seed_from_u64(0))?;
//! let config = FitConfig::new().with_epochs(3).with_progress(false);
//! let history = fit(&mut head, &data, &config, |_| {})?;
//! assert_eq!(history.epochs.len(), 4); // epoch 0 (untrained) and 3 epochs
//! # Ok::<(), bfactor::Error>(())
//! ```
//!
//! The same seed gives the same weights bit for bit: shuffling and the split use a
//! seeded [`StdRng`], and every reduction runs in a fixed order on one thread.

use ndarray::{s, Array1, Array2, Array3};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::grad::{reuse, Objective, TrainWorkspace, Trainable};
use super::optim::{clip_grad_norm, AdamConfig, AdamWConfig, LrSchedule, Optimizer, SgdConfig};
use super::progress::progress_bar;
use crate::{check, loss, ops, Error, Float, Result};

/// One protein: its single representation `s` `[N, c_s]`, experimental B-factors
/// `[N]` and an optional per-residue mask `[N]` (1 = valid, 0 = missing).
#[derive(Clone, Debug, PartialEq)]
pub struct Protein<F: Float> {
    s: Array2<F>,
    target: Array1<F>,
    mask: Option<Array1<F>>,
}

impl<F: Float> Protein<F> {
    /// A protein; checks that `target` has one value per row of `s` and that both
    /// are finite.
    pub fn new(s: Array2<F>, target: Array1<F>) -> Result<Self> {
        check::same_shape(
            "target",
            target.shape(),
            &[s.nrows()],
            "one B-factor per row of s",
        )?;
        check::finite("s", &s)?;
        check::finite("target", &target)?;
        Ok(Self {
            s,
            target,
            mask: None,
        })
    }

    /// Adds a mask `[N]` of finite weights `>= 0`.
    pub fn with_mask(mut self, mask: Array1<F>) -> Result<Self> {
        check::same_shape(
            "mask",
            mask.shape(),
            &[self.s.nrows()],
            "one weight per row of s",
        )?;
        check::mask("mask", &mask)?;
        self.mask = Some(mask);
        Ok(self)
    }

    /// The single representation, `[N, c_s]`.
    pub fn s(&self) -> &Array2<F> {
        &self.s
    }

    /// The experimental B-factors, `[N]`.
    pub fn target(&self) -> &Array1<F> {
        &self.target
    }

    /// The mask, if any.
    pub fn mask(&self) -> Option<&Array1<F>> {
        self.mask.as_ref()
    }

    /// Number of residues (tokens).
    pub fn len(&self) -> usize {
        self.s.nrows()
    }

    /// Whether the protein has no residues.
    pub fn is_empty(&self) -> bool {
        self.s.nrows() == 0
    }
}

/// Which optimizer to train with.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimizerConfig {
    /// SGD with optional momentum and Nesterov.
    Sgd(SgdConfig),
    /// Adam.
    Adam(AdamConfig),
    /// AdamW (decoupled weight decay).
    AdamW(AdamWConfig),
}

impl OptimizerConfig {
    fn build<F: Float>(&self) -> Result<Box<dyn Optimizer<F>>> {
        Ok(match self {
            Self::Sgd(c) => Box::new(c.init::<F>()?),
            Self::Adam(c) => Box::new(c.init::<F>()?),
            Self::AdamW(c) => Box::new(c.init::<F>()?),
        })
    }
}

/// Settings of [`fit`], burn-style: [`FitConfig::new`] gives the defaults and the
/// `with_*` setters change them.
#[derive(Clone, Debug, PartialEq)]
pub struct FitConfig {
    /// The loss. Default [`Objective::NormalizedMse`].
    pub objective: Objective,
    /// Maximum number of passes over the training proteins. Default 50.
    pub epochs: usize,
    /// Proteins per minibatch. Default 8.
    pub batch_size: usize,
    /// The optimizer. Default AdamW with lr 1e-3 and PyTorch's other defaults.
    pub optimizer: OptimizerConfig,
    /// Learning rate per optimizer step; `None` keeps the optimizer's own.
    pub schedule: Option<LrSchedule>,
    /// Clip the global gradient norm to this value before each step. Default `None`.
    pub clip_grad_norm: Option<f64>,
    /// Fraction of proteins held out for validation (at least one when > 0).
    /// Default 0.2.
    pub validation_fraction: f64,
    /// Stop after this many epochs without a lower validation loss. Default
    /// `Some(10)`.
    pub patience: Option<usize>,
    /// Seed of the split and the shuffling. Default 0.
    pub seed: u64,
    /// Draw a progress bar on stderr when it is a terminal (with the cargo
    /// feature `progress`, on by default). Default `true`.
    pub progress: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl FitConfig {
    /// The defaults listed on the fields.
    pub fn new() -> Self {
        Self {
            objective: Objective::NormalizedMse,
            epochs: 50,
            batch_size: 8,
            optimizer: OptimizerConfig::AdamW(AdamWConfig::new()),
            schedule: None,
            clip_grad_norm: None,
            validation_fraction: 0.2,
            patience: Some(10),
            seed: 0,
            progress: true,
        }
    }

    /// Sets the loss.
    pub fn with_objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Sets the maximum number of epochs.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets the number of proteins per minibatch.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets the optimizer.
    pub fn with_optimizer(mut self, optimizer: OptimizerConfig) -> Self {
        self.optimizer = optimizer;
        self
    }

    /// Sets a learning-rate schedule, evaluated at every optimizer step.
    pub fn with_schedule(mut self, schedule: LrSchedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Clips the global gradient norm before each step.
    pub fn with_clip_grad_norm(mut self, max_norm: f64) -> Self {
        self.clip_grad_norm = Some(max_norm);
        self
    }

    /// Sets the validation fraction.
    pub fn with_validation_fraction(mut self, fraction: f64) -> Self {
        self.validation_fraction = fraction;
        self
    }

    /// Sets (or with `None` disables) early stopping.
    pub fn with_patience(mut self, patience: Option<usize>) -> Self {
        self.patience = patience;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Turns the progress bar on or off.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Checks `batch_size >= 1`, `validation_fraction` in `[0, 1)`, a finite
    /// positive `clip_grad_norm`, the optimizer's settings and the learning-rate
    /// schedule ([`LrSchedule::validate`]). [`fit`] calls it first.
    pub fn validate(&self) -> Result<()> {
        self.optimizer.build::<f64>()?;
        if let Some(schedule) = &self.schedule {
            schedule.validate()?;
        }
        if self.batch_size == 0 {
            return Err(Error::config("batch_size", 0, "at least 1"));
        }
        if !(0.0..1.0).contains(&self.validation_fraction) {
            return Err(Error::config(
                "validation_fraction",
                self.validation_fraction,
                "a number in [0, 1)",
            ));
        }
        if let Some(c) = self.clip_grad_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config("clip_grad_norm", c, "a finite number > 0"));
            }
        }
        Ok(())
    }
}

/// The numbers of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// Epoch number: 0 is the untrained head (evaluated before the first step),
    /// `k >= 1` the head after `k` passes over the training proteins.
    pub epoch: usize,
    /// Mean training loss over the epoch's minibatches (`None` for epoch 0).
    pub train_loss: Option<f64>,
    /// Mean loss over the validation proteins (`None` without a validation set).
    pub val_loss: Option<f64>,
    /// Mean per-protein Pearson correlation on validation (proteins whose
    /// correlation is defined).
    pub val_pearson: Option<f64>,
    /// Learning rate at the epoch's last step.
    pub learning_rate: f64,
}

/// What [`fit`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// One entry per epoch, starting with epoch 0 (the untrained head), so
    /// `epochs[k].epoch == k`.
    pub epochs: Vec<EpochStats>,
    /// The epoch whose weights the head holds now: lowest validation loss (or
    /// training loss without a validation set); 0 if training never improved on
    /// the untrained head's validation loss.
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Indices (into the data) of the validation proteins.
    pub validation: Vec<usize>,
}

/// Trains `head` on `data` and leaves it holding the best weights seen.
/// `on_epoch` is called with the untrained head's numbers (epoch 0) and then after
/// every epoch.
///
/// Errors, besides invalid config and data shapes:
/// - [`Error::NothingToTrain`] when no step can be taken: no training protein has
///   2 valid residues (1 valid token with a B-factor for the binned
///   cross-entropy), or under [`Objective::Pearson`] every such protein has a
///   constant target; also when a whole epoch skipped every minibatch. The head
///   is unchanged. With `epochs = 0` (evaluation only) this is not checked.
/// - [`Error::Diverged`] when a weight, a gradient or the loss becomes NaN or
///   infinite (e.g. a learning rate far too large): the head is restored to the
///   best finite weights seen, and the error says in which epoch it happened.
pub fn fit<F: Float, H: Trainable<F>>(
    head: &mut H,
    data: &[Protein<F>],
    config: &FitConfig,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<History> {
    config.validate()?;
    if data.is_empty() {
        return Err(Error::empty("data", vec![0], "protein"));
    }
    let width = head.input_width();
    for (i, p) in data.iter().enumerate() {
        check::last_axis(&format!("data[{i}].s"), "c_s", &p.s, width)?;
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.shuffle(&mut rng);
    let n_val = if config.validation_fraction > 0.0 && data.len() > 1 {
        ((data.len() as f64 * config.validation_fraction).round() as usize).clamp(1, data.len() - 1)
    } else {
        0
    };
    let (val_idx, train_idx) = order.split_at(n_val);
    let mut train_idx = train_idx.to_vec();
    if config.epochs > 0 {
        check_trainable(data, &train_idx, config.objective)?;
    }
    let mut optimizer = config.optimizer.build::<F>()?;
    let (mut workspace, mut padded) = (TrainWorkspace::new(), Batch::default());
    let bar = progress_bar(config);

    let mut history = History {
        epochs: vec![],
        best_epoch: 0,
        stopped_early: false,
        validation: val_idx.to_vec(),
    };
    let (val_loss, val_pearson) = evaluate(head, data, val_idx, config.objective)?;
    let initial = EpochStats {
        epoch: 0,
        train_loss: None,
        val_loss,
        val_pearson,
        learning_rate: optimizer.learning_rate(),
    };
    let (mut best_loss, mut best_head, mut step) =
        (val_loss.unwrap_or(f64::INFINITY), head.clone(), 0usize);
    on_epoch(&initial);
    history.epochs.push(initial);
    for epoch in 1..=config.epochs {
        train_idx.shuffle(&mut rng);
        let mut losses = vec![];
        for batch in train_idx.chunks(config.batch_size) {
            if let Some(schedule) = &config.schedule {
                optimizer.set_learning_rate(schedule.lr_at(step));
            }
            padded.fill(data, batch, width);
            let (s, target, mask) = (&padded.s, &padded.target, &padded.mask);
            let diverged = |cause: String, best_head: &H, head: &mut H, best_epoch: usize| {
                *head = best_head.clone();
                Err(Error::diverged(epoch, cause, best_epoch))
            };
            let mut g = match workspace.loss_and_parameter_gradients_masked(
                head,
                config.objective,
                s,
                target,
                mask,
            ) {
                Ok(g) => g,
                // A minibatch with nothing to learn from (e.g. every protein constant
                // under Pearson) is skipped rather than ending the run.
                Err(Error::TooFewValid { .. } | Error::ZeroVariance { .. }) => continue,
                // The data is finite (checked by `Protein`), so a non-finite value
                // here comes from the weights.
                Err(e @ Error::NonFinite { .. }) => {
                    return diverged(e.to_string(), &best_head, head, history.best_epoch)
                }
                Err(e) => return Err(e),
            };
            if !g.loss.is_finite() {
                return diverged(
                    format!("training loss {}", g.loss),
                    &best_head,
                    head,
                    history.best_epoch,
                );
            }
            let mut grads: Vec<&mut [F]> = g
                .params
                .iter_mut()
                .map(|t| t.as_slice_mut().expect("owned standard layout"))
                .collect();
            if let Some(max_norm) = config.clip_grad_norm {
                clip_grad_norm(&mut grads, max_norm);
            }
            let grads: Vec<&[F]> = grads.into_iter().map(|g| &*g).collect();
            match optimizer.step(&mut head.parameters_mut(), &grads) {
                Ok(()) => {}
                Err(e @ Error::NonFinite { .. }) => {
                    return diverged(e.to_string(), &best_head, head, history.best_epoch)
                }
                Err(e) => return Err(e),
            }
            if let Some((t, i)) = first_non_finite(&mut head.parameters_mut()) {
                return diverged(
                    format!("parameter tensor {t} holds a non-finite value at flat index {i} after step {step}"),
                    &best_head,
                    head,
                    history.best_epoch,
                );
            }
            losses.push(g.loss.to_f64_exact());
            step += 1;
        }
        if step == 0 {
            *head = best_head;
            return Err(Error::nothing_to_train(format!(
                "every minibatch of epoch 1 was skipped (each had too few valid \
                 residues or a constant series under {:?})",
                config.objective
            )));
        }
        let train_loss = mean(&losses);
        let (val_loss, val_pearson) = evaluate(head, data, val_idx, config.objective)?;
        let stats = EpochStats {
            epoch,
            train_loss,
            val_loss,
            val_pearson,
            learning_rate: optimizer.learning_rate(),
        };
        let watched = val_loss.or(train_loss).unwrap_or(f64::INFINITY);
        if watched < best_loss {
            best_loss = watched;
            best_head = head.clone();
            history.best_epoch = epoch;
        }
        if let Some(bar) = &bar {
            bar.set_message(format!(
                "loss {} val {} r {}",
                fmt_opt(train_loss, 4),
                fmt_opt(val_loss, 4),
                fmt_opt(val_pearson, 3)
            ));
            bar.inc(1);
        }
        on_epoch(&stats);
        history.epochs.push(stats);
        if let Some(patience) = config.patience {
            if epoch >= history.best_epoch + patience {
                history.stopped_early = true;
                break;
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    *head = best_head;
    Ok(history)
}

/// The first parameter (tensor, flat index) that is NaN or infinite.
fn first_non_finite<F: Float>(params: &mut [&mut [F]]) -> Option<(usize, usize)> {
    params.iter().enumerate().find_map(|(t, p)| {
        if ops::all_finite(p) {
            None
        } else {
            p.iter().position(|v| !v.is_finite()).map(|i| (t, i))
        }
    })
}

/// [`Error::NothingToTrain`] unless some training protein has something the
/// objective can learn from: 2 valid residues (a valid token with a B-factor for
/// the binned cross-entropy) and, under Pearson, a non-constant target.
fn check_trainable<F: Float>(
    data: &[Protein<F>],
    train_idx: &[usize],
    objective: Objective,
) -> Result<()> {
    let (mut too_few, mut constant) = (0usize, 0usize);
    for &i in train_idx {
        let p = &data[i];
        let w: Vec<f64> = match &p.mask {
            Some(m) => m.iter().map(|v| v.to_f64_exact()).collect(),
            None => vec![1.0; p.len()],
        };
        let usable = match objective {
            Objective::BinnedCrossEntropy => {
                let weights = loss::token_weights(
                    p.target.iter().copied(),
                    p.mask.as_ref().map(|m| m.iter().copied()),
                );
                weights.iter().any(|&w| w > 0.0)
            }
            Objective::NormalizedMse | Objective::Pearson => {
                if w.iter().filter(|&&w| w > 0.0).count() < 2 {
                    false
                } else if objective == Objective::Pearson {
                    let t = p
                        .target
                        .as_slice()
                        .map(<[F]>::to_vec)
                        .unwrap_or_else(|| p.target.to_vec());
                    match loss::RowMoments::of(&t, &t, &w, "fit", i) {
                        Ok(m) if m.is_constant(1) => {
                            constant += 1;
                            continue;
                        }
                        Ok(_) => true,
                        Err(_) => false,
                    }
                } else {
                    true
                }
            }
        };
        if usable {
            return Ok(());
        }
        too_few += 1;
    }
    let needed = match objective {
        Objective::BinnedCrossEntropy => "1 valid token with a B-factor",
        _ => "2 valid residues",
    };
    Err(Error::nothing_to_train(format!(
        "none of the {} training proteins can be learnt from under {objective:?}: \
         {too_few} have fewer than {needed}{}",
        train_idx.len(),
        if objective == Objective::Pearson {
            format!(", {constant} have a constant target over their valid residues")
        } else {
            String::new()
        }
    )))
}

/// Validation loss (mean over proteins) and mean per-protein Pearson.
fn evaluate<F: Float, H: Trainable<F>>(
    head: &H,
    data: &[Protein<F>],
    idx: &[usize],
    objective: Objective,
) -> Result<(Option<f64>, Option<f64>)> {
    let (mut losses, mut rs) = (vec![], vec![]);
    // The forward pass's buffers, reused from protein to protein.
    let (mut logits, mut cache) = (Array2::zeros((0, 0)), None);
    for &i in idx {
        let p = &data[i];
        head.forward_cached_into(p.s.view(), &mut logits, &mut cache);
        let centers = head.decode_centers();
        let b: Array1<F> = logits
            .rows()
            .into_iter()
            .map(|r| ops::softmax_expectation_row(r.as_slice().expect("fresh"), centers))
            .collect();
        let ones = Array1::ones(p.len());
        let mask = p.mask.as_ref().unwrap_or(&ones);
        let l = match objective {
            Objective::NormalizedMse => loss::normalized_mse_masked(&b, &p.target, mask),
            Objective::Pearson => loss::pearson_masked(&b, &p.target, mask).map(|r| F::one() - r),
            Objective::BinnedCrossEntropy => {
                loss::binned_cross_entropy_masked(&logits, &p.target, mask)
            }
        };
        if let Ok(l) = l {
            losses.push(l.to_f64_exact());
        }
        if let Ok(r) = loss::pearson_masked(&b, &p.target, mask) {
            rs.push(r.to_f64_exact());
        }
    }
    Ok((mean(&losses), mean(&rs)))
}

/// A minibatch stacked into `[B, L, c_s]`, `[B, L]`, `[B, L]` padded with zeros;
/// the mask is the protein's own (or ones) over its residues and 0 over the
/// padding. The arrays are reused from batch to batch.
#[derive(Default)]
struct Batch<F: Float> {
    s: Array3<F>,
    target: Array2<F>,
    mask: Array2<F>,
}

impl<F: Float> Batch<F> {
    /// Stacks the proteins `batch` of `data`.
    fn fill(&mut self, data: &[Protein<F>], batch: &[usize], width: usize) {
        let len = batch.iter().map(|&i| data[i].len()).max().unwrap_or(0);
        reuse(&mut self.s, (batch.len(), len, width));
        reuse(&mut self.target, (batch.len(), len));
        reuse(&mut self.mask, (batch.len(), len));
        self.s.fill(F::zero());
        self.target.fill(F::zero());
        self.mask.fill(F::zero());
        for (b, &i) in batch.iter().enumerate() {
            let p = &data[i];
            let n = p.len();
            self.s.slice_mut(s![b, ..n, ..]).assign(&p.s);
            self.target.slice_mut(s![b, ..n]).assign(&p.target);
            match &p.mask {
                Some(m) => self.mask.slice_mut(s![b, ..n]).assign(m),
                None => self.mask.slice_mut(s![b, ..n]).fill(F::one()),
            }
        }
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
