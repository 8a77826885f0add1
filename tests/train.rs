//! The fit loop: determinism, learning, best-weights restore, padding and masks.

use bfactor::boltz2::Boltz2HeadConfig;
use bfactor::train::fit::{fit, FitConfig, OptimizerConfig, Protein};
use bfactor::train::grad::{loss_and_gradients, loss_and_gradients_masked, Objective};
use bfactor::train::optim::{AdamWConfig, LrSchedule, SgdConfig};
use bfactor::{synthetic, BFactorHead, BFactorHeadConfig, Error};
use ndarray::{s, Array1, Array2, Array3};
use rand::{rngs::StdRng, SeedableRng};

fn head(c_s: usize, seed: u64) -> BFactorHead<f32> {
    BFactorHeadConfig::new(c_s)
        .init(&mut StdRng::seed_from_u64(seed))
        .unwrap()
}

fn quiet() -> FitConfig {
    FitConfig::new().with_progress(false)
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let data = synthetic::flexibility_dataset::<f32>(20, 16, 1);
    let config = quiet().with_epochs(3).with_batch_size(4).with_seed(9);
    let (mut a, mut b) = (head(16, 0), head(16, 0));
    let ha = fit(&mut a, &data, &config, |_| {}).unwrap();
    let hb = fit(&mut b, &data, &config, |_| {}).unwrap();
    assert_eq!(ha, hb);
    assert_eq!(a.w1(), b.w1());
    assert_eq!(a.w2(), b.w2());
    // A different seed shuffles differently and so ends elsewhere.
    let mut c = head(16, 0);
    fit(&mut c, &data, &config.clone().with_seed(10), |_| {}).unwrap();
    assert_ne!(a.w1(), c.w1());
}

#[test]
fn notebook_head_learns_the_flexibility_signal() {
    let data = synthetic::flexibility_dataset::<f32>(60, 32, 2026);
    let mut h = head(32, 0);
    let config = quiet()
        .with_epochs(15)
        .with_optimizer(OptimizerConfig::AdamW(AdamWConfig::new().with_lr(3e-3)))
        .with_seed(3);
    let history = fit(&mut h, &data, &config, |_| {}).unwrap();
    let first = history.epochs[0].val_pearson.unwrap();
    let best = history.epochs[history.best_epoch].val_pearson.unwrap();
    assert!(
        first.abs() < 0.5,
        "untrained head correlates already: {first}"
    );
    assert!(best >= 0.9, "validation Pearson only reached {best}");
    // The head holds the best epoch's weights: re-evaluating gives its loss.
    let val: Vec<Protein<f32>> = history
        .validation
        .iter()
        .map(|&i| data[i].clone())
        .collect();
    let mut reeval = h.clone();
    let again = fit(
        &mut reeval,
        &val,
        &quiet().with_epochs(0).with_validation_fraction(0.0),
        |_| {},
    )
    .unwrap();
    assert_eq!(again.epochs.len(), 1);
    let mut losses = vec![];
    for p in &val {
        let b = h.forward(p.s()).unwrap().bfactor;
        losses.push(bfactor::loss::normalized_mse(&b, p.target()).unwrap() as f64);
    }
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    let recorded = history.epochs[history.best_epoch].val_loss.unwrap();
    assert!(
        (mean - recorded).abs() <= 1e-6 * recorded.max(1e-3),
        "{mean} vs {recorded}"
    );
}

#[test]
fn every_objective_and_optimizer_lowers_the_loss_for_both_heads() {
    let data = synthetic::flexibility_dataset::<f64>(16, 8, 5);
    for objective in [
        Objective::NormalizedMse,
        Objective::Pearson,
        Objective::BinnedCrossEntropy,
    ] {
        for optimizer in [
            OptimizerConfig::AdamW(AdamWConfig::new().with_lr(1e-2)),
            OptimizerConfig::Sgd(SgdConfig::new(0.05).with_momentum(0.9).with_nesterov(true)),
        ] {
            let config = quiet()
                .with_objective(objective)
                .with_optimizer(optimizer.clone())
                .with_epochs(6)
                .with_validation_fraction(0.0)
                .with_patience(None)
                .with_clip_grad_norm(5.0);
            let mut nb = BFactorHeadConfig::new(8)
                .init::<f64>(&mut StdRng::seed_from_u64(1))
                .unwrap();
            let h = fit(&mut nb, &data, &config, |_| {}).unwrap();
            let (first, last) = (
                h.epochs[1].train_loss.unwrap(),
                h.epochs[6].train_loss.unwrap(),
            );
            assert!(
                last < first,
                "notebook head, {objective:?}, {optimizer:?}: {first} -> {last}"
            );

            let mut bz = Boltz2HeadConfig::new()
                .with_token_s(8)
                .init::<f64>(&mut StdRng::seed_from_u64(1))
                .unwrap();
            let h = fit(&mut bz, &data, &config, |_| {}).unwrap();
            let (first, last) = (
                h.epochs[1].train_loss.unwrap(),
                h.epochs[6].train_loss.unwrap(),
            );
            assert!(
                last < first,
                "Boltz-2 head, {objective:?}, {optimizer:?}: {first} -> {last}"
            );
        }
    }
}

#[test]
fn schedule_sets_the_learning_rate_per_step() {
    let data = synthetic::flexibility_dataset::<f32>(10, 8, 2);
    let schedule = LrSchedule::WarmupCosine {
        peak_lr: 1e-2,
        warmup_steps: 2,
        total_steps: 6,
        min_lr: 1e-4,
    };
    let config = quiet()
        .with_epochs(3)
        .with_batch_size(4)
        .with_validation_fraction(0.0)
        .with_patience(None)
        .with_schedule(schedule);
    let mut h = head(8, 0);
    let history = fit(&mut h, &data, &config, |_| {}).unwrap();
    // 10 proteins in batches of 4 = 3 steps per epoch; epoch k ends at step 3k - 1.
    for e in 1..=3 {
        assert_eq!(history.epochs[e].learning_rate, schedule.lr_at(3 * e - 1));
    }
}

#[test]
fn padding_in_a_batch_changes_nothing() {
    // One short protein alone, or padded next to a long one: the short protein's
    // gradient contribution is the same, and padded tokens get zero input gradient.
    let data = synthetic::flexibility_dataset::<f64>(2, 8, 4);
    let (a, b) = (&data[0], &data[1]);
    let h = BFactorHeadConfig::new(8)
        .init::<f64>(&mut StdRng::seed_from_u64(0))
        .unwrap();
    let len = a.len().max(b.len());
    let (short, n) = if a.len() < b.len() {
        (a, a.len())
    } else {
        (b, b.len())
    };
    let mut s3 = Array3::zeros((1, len, 8));
    s3.slice_mut(s![0, ..n, ..]).assign(short.s());
    let mut t = Array2::zeros((1, len));
    t.slice_mut(s![0, ..n]).assign(short.target());
    let mut m = Array2::zeros((1, len));
    m.slice_mut(s![0, ..n]).fill(1.0);
    for objective in [
        Objective::NormalizedMse,
        Objective::Pearson,
        Objective::BinnedCrossEntropy,
    ] {
        let alone = loss_and_gradients(&h, objective, short.s(), short.target()).unwrap();
        let padded = loss_and_gradients_masked(&h, objective, &s3, &t, &m).unwrap();
        assert!((alone.loss - padded.loss).abs() <= 1e-12 * alone.loss.abs().max(1.0));
        for (x, y) in alone.params.iter().zip(&padded.params) {
            let err = (x - y).mapv(f64::abs).fold(0.0_f64, |a, &b| a.max(b));
            let scale = x.mapv(f64::abs).fold(0.0_f64, |a, &b| a.max(b));
            assert!(
                err <= 1e-12 * scale.max(1e-12),
                "{objective:?}: {err} vs {scale}"
            );
        }
        assert!(padded.input.slice(s![0, n.., ..]).iter().all(|&g| g == 0.0));
    }
}

#[test]
fn bad_inputs_are_errors() {
    let data = synthetic::flexibility_dataset::<f32>(4, 8, 2);
    let mut h = head(16, 0); // wrong width for the data
    let err = fit(&mut h, &data, &quiet(), |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LastAxis {
                expected: 16,
                got: 8,
                ..
            }
        ),
        "{err}"
    );
    let mut h = head(8, 0);
    assert!(matches!(
        fit(&mut h, &[], &quiet(), |_| {}),
        Err(Error::Empty { .. })
    ));
    let err = fit(&mut h, &data, &quiet().with_batch_size(0), |_| {}).unwrap_err();
    assert!(
        matches!(err, Error::Config { ref field, .. } if field == "batch_size"),
        "{err}"
    );
    let err = fit(
        &mut h,
        &data,
        &quiet().with_validation_fraction(1.5),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, Error::Config { ref field, .. } if field == "validation_fraction"));
    let s = Array2::<f32>::zeros((3, 8));
    assert!(matches!(
        Protein::new(s.clone(), Array1::zeros(4)),
        Err(Error::ShapeMismatch { .. })
    ));
    let p = Protein::new(s, Array1::zeros(3)).unwrap();
    assert!(matches!(
        p.with_mask(Array1::from(vec![1.0, -1.0, 1.0])),
        Err(Error::InvalidMask { .. })
    ));
}

/// Proteins of `n` residues with a linear target profile (or `constant`).
fn proteins(count: usize, n: usize, constant: bool) -> Vec<Protein<f32>> {
    (0..count)
        .map(|k| {
            let s = Array2::from_shape_fn((n, 8), |(i, j)| ((i * 3 + j + k) % 7) as f32 - 3.0);
            let t = Array1::from_shape_fn(n, |i| if constant { 30.0 } else { 20.0 + i as f32 });
            Protein::new(s, t).unwrap()
        })
        .collect()
}

#[test]
fn fit_with_nothing_to_learn_from_is_an_error() {
    let config = quiet().with_epochs(2).with_validation_fraction(0.0);
    // Proteins of 0 and 1 residues.
    for n in [0, 1] {
        let mut h = head(8, 0);
        let before = h.clone();
        let err = fit(&mut h, &proteins(3, n, false), &config, |_| {}).unwrap_err();
        assert!(
            matches!(&err, Error::NothingToTrain { reason } if reason.contains("3 have fewer than 2 valid")),
            "{n} residues: {err}"
        );
        assert_eq!(h, before, "the head is unchanged");
    }
    // Evaluation only (no epochs) asks for nothing to train on.
    let mut h = head(8, 0);
    assert!(fit(
        &mut h,
        &proteins(3, 1, false),
        &config.clone().with_epochs(0),
        |_| {}
    )
    .is_ok());
    // All-zero masks.
    let masked: Vec<Protein<f32>> = proteins(3, 5, false)
        .into_iter()
        .map(|p| p.with_mask(Array1::zeros(5)).unwrap())
        .collect();
    let mut h = head(8, 0);
    let err = fit(&mut h, &masked, &config, |_| {}).unwrap_err();
    assert!(matches!(err, Error::NothingToTrain { .. }), "{err}");
    // Constant targets under Pearson (normalized MSE still trains on them).
    let constant = proteins(3, 5, true);
    let mut h = head(8, 0);
    let pearson = config.clone().with_objective(Objective::Pearson);
    let err = fit(&mut h, &constant, &pearson, |_| {}).unwrap_err();
    assert!(
        matches!(&err, Error::NothingToTrain { reason } if reason.contains("3 have a constant target")),
        "{err}"
    );
    assert!(fit(&mut h, &constant, &config, |_| {}).is_ok());
    // Binned cross-entropy: all B-factors at 0 are invalid tokens.
    let zero: Vec<Protein<f32>> = proteins(2, 5, false)
        .into_iter()
        .map(|p| Protein::new(p.s().clone(), Array1::zeros(5)).unwrap())
        .collect();
    let mut b = Boltz2HeadConfig::new()
        .with_token_s(8)
        .init::<f32>(&mut StdRng::seed_from_u64(1))
        .unwrap();
    let ce = config.clone().with_objective(Objective::BinnedCrossEntropy);
    let err = fit(&mut b, &zero, &ce, |_| {}).unwrap_err();
    assert!(matches!(err, Error::NothingToTrain { .. }), "{err}");
    // One usable protein among unusable ones is enough.
    let mut mixed = proteins(2, 1, false);
    mixed.extend(proteins(1, 6, false));
    let mut h = head(8, 0);
    assert!(fit(&mut h, &mixed, &config, |_| {}).is_ok());
}

#[test]
fn diverging_fit_restores_the_best_finite_weights() {
    let data = synthetic::flexibility_dataset::<f32>(12, 16, 5);
    // AdamW (the default optimizer) at lr 1e30: the decoupled weight decay alone
    // multiplies every weight by 1 - 1e28 per step.
    for optimizer in [
        OptimizerConfig::AdamW(AdamWConfig::new().with_lr(1e30)),
        OptimizerConfig::AdamW(AdamWConfig::new().with_lr(1e30).with_weight_decay(0.5)),
    ] {
        let mut h = head(16, 0);
        let config = quiet().with_epochs(5).with_optimizer(optimizer.clone());
        let mut seen = vec![];
        let err = fit(&mut h, &data, &config, |e| seen.push(e.epoch)).unwrap_err();
        let Error::Diverged {
            epoch, best_epoch, ..
        } = err
        else {
            panic!("{optimizer:?}: expected Diverged, got {err:?}");
        };
        assert!(epoch >= 1 && best_epoch < epoch, "{epoch} {best_epoch}");
        assert!(h.w1().iter().chain(h.w2()).all(|v| v.is_finite()));
        assert!(h
            .forward(data[0].s())
            .unwrap()
            .bfactor
            .iter()
            .all(|v| v.is_finite()));
        if best_epoch == 0 {
            assert_eq!(h, head(16, 0), "the untrained weights are back");
        }
    }
}

#[test]
fn fit_config_validates_its_schedule() {
    let bad = [
        LrSchedule::Constant { lr: -1.0 },
        LrSchedule::Constant { lr: f64::NAN },
        LrSchedule::WarmupCosine {
            peak_lr: 1e-3,
            warmup_steps: 10,
            total_steps: 5,
            min_lr: 0.0,
        },
    ];
    for schedule in bad {
        let config = quiet().with_schedule(schedule);
        assert!(
            matches!(config.validate(), Err(Error::Config { .. })),
            "{schedule:?}"
        );
        let mut h = head(8, 0);
        let before = h.clone();
        let err = fit(&mut h, &proteins(4, 6, false), &config, |_| {}).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{schedule:?}: {err}");
        assert_eq!(h, before);
    }
    assert!(quiet()
        .with_schedule(LrSchedule::Constant { lr: 1e-3 })
        .validate()
        .is_ok());
}
