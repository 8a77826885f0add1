//! `bfactor::train::optim` against real PyTorch: `torch.optim.SGD`, `Adam`, `AdamW`
//! (`foreach=False`), `torch.nn.utils.clip_grad_norm_` and the learning-rate
//! schedule, from the fixtures `scripts/gen_optim_fixtures.py` writes under
//! `tests/fixtures/optim/` (see that script's docstring for the layout). Plus
//! hand-computed single steps and the error cases.

mod common;

use std::collections::BTreeSet;

use bfactor::train::optim::{
    clip_grad_norm, AdamConfig, AdamWConfig, LrSchedule, Optimizer, SgdConfig,
};
use bfactor::{Error, Float};
use common::{assert_close_floor, OPTIM};
use ndarray::{Array1, Array2, ArrayView1, Ix1};

// ---------------------------------------------------------------------------
// Fixture helpers.
// ---------------------------------------------------------------------------

fn load1(rel: &str) -> Vec<f64> {
    OPTIM.load::<f64, Ix1>(rel).to_vec()
}

fn load2(rel: &str) -> Array2<f64> {
    OPTIM.load(rel)
}

/// Case names (file name up to the first `.`) in a fixture folder, without `skip`.
fn cases(dir: &str, skip: &[&str]) -> BTreeSet<String> {
    let mut names = OPTIM.cases(dir);
    names.retain(|n| !skip.contains(&n.as_str()));
    names
}

/// Splits a flat vector into the fixture's tensors (`steps/sizes.npy`).
fn split<F: Float>(flat: &[f64]) -> Vec<Vec<F>> {
    let sizes: Array1<i64> = OPTIM.load("steps/sizes.npy");
    let mut out = Vec::new();
    let mut start = 0;
    for &n in &sizes {
        let n = n as usize;
        out.push(
            flat[start..start + n]
                .iter()
                .map(|&x| F::from_f64_lossy(x))
                .collect(),
        );
        start += n;
    }
    assert_eq!(start, flat.len(), "sizes.npy does not cover the vector");
    out
}

fn concat<F: Float>(tensors: &[Vec<F>]) -> Vec<f64> {
    tensors.iter().flatten().map(|x| x.to_f64_exact()).collect()
}

/// `|got - want| <= rtol * max(|want|, floor)` element by element.
#[track_caller]
fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64, floor: f64) {
    assert_close_floor(
        what,
        &ArrayView1::from(got),
        &ArrayView1::from(want),
        rtol,
        floor,
    );
}

// ---------------------------------------------------------------------------
// Optimizer trajectories against torch.optim.
// ---------------------------------------------------------------------------

const STEP_CASES: &[&str] = &[
    "adam_amsgrad",
    "adam_default",
    "adam_low_beta1",
    "adam_weight_decay",
    "adamw_amsgrad",
    "adamw_default",
    "adamw_schedule",
    "sgd_dampening",
    "sgd_momentum",
    "sgd_momentum_schedule",
    "sgd_nesterov",
    "sgd_plain",
    "sgd_weight_decay",
];

/// The optimizer of fixture case `name`, from its `hparams.npy`.
fn make_optimizer<F: Float>(name: &str) -> Box<dyn Optimizer<F>> {
    let h = load1(&format!("steps/{name}.hparams.npy"));
    if name.starts_with("sgd_") {
        let [lr, momentum, dampening, weight_decay, nesterov] = h[..] else {
            panic!("{name}: hparams {h:?}");
        };
        Box::new(
            SgdConfig::new(lr)
                .with_momentum(momentum)
                .with_dampening(dampening)
                .with_weight_decay(weight_decay)
                .with_nesterov(nesterov == 1.0)
                .init::<F>()
                .unwrap(),
        )
    } else {
        let [lr, beta1, beta2, eps, weight_decay, amsgrad] = h[..] else {
            panic!("{name}: hparams {h:?}");
        };
        if name.starts_with("adamw_") {
            Box::new(
                AdamWConfig::new()
                    .with_lr(lr)
                    .with_betas(beta1, beta2)
                    .with_eps(eps)
                    .with_weight_decay(weight_decay)
                    .with_amsgrad(amsgrad == 1.0)
                    .init::<F>()
                    .unwrap(),
            )
        } else {
            assert!(name.starts_with("adam_"), "unknown case {name}");
            Box::new(
                AdamConfig::new()
                    .with_lr(lr)
                    .with_betas(beta1, beta2)
                    .with_eps(eps)
                    .with_weight_decay(weight_decay)
                    .with_amsgrad(amsgrad == 1.0)
                    .init::<F>()
                    .unwrap(),
            )
        }
    }
}

/// Runs case `name` in `F`: the parameters (as `f64`) after each step.
fn trajectory<F: Float>(name: &str) -> Vec<Vec<f64>> {
    let mut opt = make_optimizer::<F>(name);
    let lrs = load1(&format!("steps/{name}.lrs.npy"));
    let grads = load2("steps/grads.npy");
    let mut params = split::<F>(&load1("steps/init.npy"));
    let mut out = Vec::new();
    for (k, g) in grads.outer_iter().enumerate() {
        opt.set_learning_rate(lrs[k]);
        let g = split::<F>(&g.to_vec());
        let mut p: Vec<&mut [F]> = params.iter_mut().map(|t| &mut t[..]).collect();
        let g: Vec<&[F]> = g.iter().map(|t| &t[..]).collect();
        opt.step(&mut p, &g).unwrap();
        assert_eq!(opt.learning_rate(), lrs[k]);
        out.push(concat(&params));
    }
    out
}

#[test]
fn fixture_cases_are_all_checked() {
    let want: BTreeSet<String> = STEP_CASES.iter().map(|s| s.to_string()).collect();
    assert_eq!(cases("steps", &["init", "grads", "sizes"]), want);
}

#[test]
fn f64_matches_torch() {
    let init = load1("steps/init.npy");
    for name in STEP_CASES {
        let want = load2(&format!("steps/{name}.params.npy"));
        let got = trajectory::<f64>(name);
        assert_eq!(got.len(), want.nrows(), "{name}: steps");
        for (k, (g, w)) in got.iter().zip(want.outer_iter()).enumerate() {
            let w = w.to_vec();
            assert_close(&format!("{name} step {}", k + 1), g, &w, 1e-12, 1e-300);
            // The displacement from the start, relative to the largest one, so that
            // small learning rates (adam_default moves by ~1e-3) are checked as
            // tightly as the update itself.
            let dg: Vec<f64> = g.iter().zip(&init).map(|(a, b)| a - b).collect();
            let dw: Vec<f64> = w.iter().zip(&init).map(|(a, b)| a - b).collect();
            let scale = dw.iter().fold(0.0_f64, |m, d| m.max(d.abs()));
            assert_close(
                &format!("{name} step {} displacement", k + 1),
                &dg,
                &dw,
                1e-10,
                scale,
            );
        }
    }
}

#[test]
fn f32_matches_torch_f64() {
    for name in STEP_CASES {
        let want = load2(&format!("steps/{name}.params.npy"));
        let got = trajectory::<f32>(name);
        for (k, (g, w)) in got.iter().zip(want.outer_iter()).enumerate() {
            assert_close(
                &format!("{name} f32 step {}", k + 1),
                g,
                &w.to_vec(),
                1e-5,
                1e-300,
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Hand-computed steps.
// ---------------------------------------------------------------------------

/// One scalar parameter through `opt` with the gradients `grads`.
fn scalar_run(opt: &mut dyn Optimizer<f64>, p0: f64, grads: &[f64]) -> Vec<f64> {
    let mut p = [p0];
    grads
        .iter()
        .map(|&g| {
            opt.step(&mut [&mut p[..]], &[&[g][..]]).unwrap();
            p[0]
        })
        .collect()
}

#[test]
fn sgd_by_hand() {
    // lr = 0.1, momentum = 0.9, weight_decay = 0.1, p = 1, g = 0.5 twice.
    // Step 1: g' = 0.5 + 0.1 * 1 = 0.6; buf = g' = 0.6 (first step: no dampening);
    //         p = 1 - 0.1 * 0.6 = 0.94.
    // Step 2: g' = 0.5 + 0.1 * 0.94 = 0.594; buf = 0.9 * 0.6 + 0.594 = 1.134;
    //         p = 0.94 - 0.1 * 1.134 = 0.8266.
    let mut opt = SgdConfig::new(0.1)
        .with_momentum(0.9)
        .with_weight_decay(0.1)
        .init::<f64>()
        .unwrap();
    let got = scalar_run(&mut opt, 1.0, &[0.5, 0.5]);
    assert_close("sgd momentum", &got, &[0.94, 0.8266], 1e-15, 0.0);
    assert_eq!(opt.steps(), 2);

    // Nesterov, same hyper-parameters, one step: buf = 0.6;
    // g'' = g' + 0.9 * buf = 0.6 + 0.54 = 1.14; p = 1 - 0.1 * 1.14 = 0.886.
    let mut opt = SgdConfig::new(0.1)
        .with_momentum(0.9)
        .with_weight_decay(0.1)
        .with_nesterov(true)
        .init::<f64>()
        .unwrap();
    assert_close(
        "sgd nesterov",
        &scalar_run(&mut opt, 1.0, &[0.5]),
        &[0.886],
        1e-15,
        0.0,
    );

    // Plain SGD with dampening 0.5 and momentum 0.5, g = 1, 1, lr = 1, p = 0:
    // buf1 = 1, p = -1; buf2 = 0.5 * 1 + (1 - 0.5) * 1 = 1, p = -2.
    let mut opt = SgdConfig::new(1.0)
        .with_momentum(0.5)
        .with_dampening(0.5)
        .init::<f64>()
        .unwrap();
    assert_eq!(scalar_run(&mut opt, 0.0, &[1.0, 1.0]), vec![-1.0, -2.0]);
}

#[test]
fn adam_by_hand() {
    // Defaults (lr = 1e-3, betas = (0.9, 0.999), eps = 1e-8), p = 1, g = 0.5:
    // m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025,
    // bias_correction1 = 1 - 0.9 = 0.1, bias_correction2 = 1 - 0.999 = 0.001,
    // step_size = 1e-3 / 0.1 = 0.01, denom = sqrt(0.00025) / sqrt(0.001) + 1e-8
    // = 0.5 + 1e-8, p = 1 - 0.01 * 0.05 / 0.50000001 = 1 - 1e-3 / 1.00000002
    // = 0.99900000002 (to 1e-19).
    let mut opt = AdamConfig::new().init::<f64>().unwrap();
    let got = scalar_run(&mut opt, 1.0, &[0.5]);
    assert_close("adam default", &got, &[0.99900000002], 1e-15, 0.0);

    // lr = 0.1, g = 0.5 then -0.5:
    // step 1: p1 = 1 - 0.1 * 0.5 / 0.50000001 = 0.900000002 (to 1e-17).
    // step 2: m = 0.9 * 0.05 + 0.1 * (-0.5) = -0.005,
    //         v = 0.999 * 0.00025 + 0.001 * 0.25 = 0.00049975,
    //         bias_correction1 = 1 - 0.81 = 0.19, bias_correction2 = 1 - 0.998001
    //         = 0.001999, sqrt(v / bias_correction2) = sqrt(0.25) = 0.5,
    //         p2 = p1 - 0.1 * (-0.005 / 0.19) / 0.50000001
    //            = 0.900000002 + 0.00526315789473684... / 1.00000002
    //            = 0.9052631597894737 (exact rational arithmetic, rounded).
    let mut opt = AdamConfig::new().with_lr(0.1).init::<f64>().unwrap();
    let got = scalar_run(&mut opt, 1.0, &[0.5, -0.5]);
    assert_close(
        "adam lr 0.1",
        &got,
        &[0.900000002, 0.9052631597894737],
        1e-14,
        0.0,
    );
    assert_eq!(opt.steps(), 2);

    // AdamW (weight_decay = 0.01), lr = 0.1, p = 1, g = 0.5: first p = 1 * (1 -
    // 0.1 * 0.01) = 0.999, then the Adam step as above: 0.999 - 0.1 / 1.00000002
    // = 0.899000002.
    let mut opt = AdamWConfig::new().with_lr(0.1).init::<f64>().unwrap();
    assert_close(
        "adamw",
        &scalar_run(&mut opt, 1.0, &[0.5]),
        &[0.899000002],
        1e-14,
        0.0,
    );
}

#[test]
fn defaults_are_pytorchs() {
    let adam = AdamConfig::new();
    assert_eq!(adam, AdamConfig::default());
    assert_eq!(
        (
            adam.lr,
            adam.betas,
            adam.eps,
            adam.weight_decay,
            adam.amsgrad
        ),
        (1e-3, (0.9, 0.999), 1e-8, 0.0, false)
    );
    let adamw = AdamWConfig::new();
    assert_eq!(
        (
            adamw.lr,
            adamw.betas,
            adamw.eps,
            adamw.weight_decay,
            adamw.amsgrad
        ),
        (1e-3, (0.9, 0.999), 1e-8, 1e-2, false)
    );
    let sgd = SgdConfig::new(0.3);
    assert_eq!(
        (
            sgd.lr,
            sgd.momentum,
            sgd.dampening,
            sgd.weight_decay,
            sgd.nesterov
        ),
        (0.3, 0.0, 0.0, 0.0, false)
    );
}

// ---------------------------------------------------------------------------
// Gradient clipping.
// ---------------------------------------------------------------------------

#[test]
fn clip_matches_torch() {
    let names = cases("clip", &[]);
    assert_eq!(names.len(), 4, "{names:?}");
    for name in &names {
        let grads = load1(&format!("clip/{name}.grads.npy"));
        let [max_norm, total] = load1(&format!("clip/{name}.scalars.npy"))[..] else {
            panic!("{name}: scalars");
        };
        let want = load1(&format!("clip/{name}.clipped.npy"));

        let mut g = split::<f64>(&grads);
        let mut refs: Vec<&mut [f64]> = g.iter_mut().map(|t| &mut t[..]).collect();
        let got_total = clip_grad_norm(&mut refs, max_norm);
        assert_close(
            &format!("{name} total"),
            &[got_total],
            &[total],
            1e-12,
            1e-300,
        );
        assert_close(name, &concat(&g), &want, 1e-12, 1e-300);

        let mut g = split::<f32>(&grads);
        let mut refs: Vec<&mut [f32]> = g.iter_mut().map(|t| &mut t[..]).collect();
        let got_total = clip_grad_norm(&mut refs, max_norm);
        assert_close(
            &format!("{name} f32 total"),
            &[got_total],
            &[total],
            1e-5,
            1e-300,
        );
        assert_close(&format!("{name} f32"), &concat(&g), &want, 1e-5, 1e-300);
    }
}

#[test]
fn clip_by_hand_and_edge_cases() {
    // |(3, 4)| = 5; coef = 1 / (5 + 1e-6) < 1.
    let (mut a, mut b) = (vec![3.0_f64], vec![4.0_f64]);
    let total = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 1.0);
    assert_eq!(total, 5.0);
    assert_eq!(a[0], 3.0 * (1.0 / (5.0 + 1e-6)));
    assert_eq!(b[0], 4.0 * (1.0 / (5.0 + 1e-6)));

    // Below the threshold: untouched.
    let mut a = vec![3.0_f64, 4.0];
    assert_eq!(clip_grad_norm(&mut [&mut a[..]], 6.0), 5.0);
    assert_eq!(a, vec![3.0, 4.0]);

    // Empty: norm 0.
    assert_eq!(clip_grad_norm::<f64>(&mut [], 1.0), 0.0);

    // Squares that overflow f64 still give the right norm.
    let mut a = [3e200_f64];
    let mut b = [4e200_f64];
    let total = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 1.0);
    assert!((total / 5e200 - 1.0).abs() < 1e-15, "{total:e}");
    assert!((a[0] - 0.6).abs() < 1e-15 && (b[0] - 0.8).abs() < 1e-15);

    // NaN: the norm is NaN and the gradients are left for `step` to reject.
    let mut a = [1.0_f32, f32::NAN];
    assert!(clip_grad_norm(&mut [&mut a[..]], 1.0).is_nan());
    assert_eq!(a[0], 1.0);
    // Infinity: infinite norm, coef 0.
    let mut a = [1.0_f64, f64::INFINITY];
    assert_eq!(clip_grad_norm(&mut [&mut a[..]], 1.0), f64::INFINITY);
}

// ---------------------------------------------------------------------------
// Learning-rate schedule.
// ---------------------------------------------------------------------------

#[test]
fn schedule_matches_formula_and_torch() {
    let names = cases("schedule", &[]);
    assert_eq!(names.len(), 4, "{names:?}");
    for name in &names {
        let [peak_lr, w, t, min_lr] = load1(&format!("schedule/{name}.spec.npy"))[..] else {
            panic!("{name}: spec");
        };
        let schedule = LrSchedule::WarmupCosine {
            peak_lr,
            warmup_steps: w as usize,
            total_steps: t as usize,
            min_lr,
        };
        schedule.validate().unwrap();
        let want = load1(&format!("schedule/{name}.lrs.npy"));
        let got: Vec<f64> = (0..want.len()).map(|s| schedule.lr_at(s)).collect();
        assert_close(name, &got, &want, 1e-12, 1e-300);
    }
}

#[test]
fn schedule_by_hand() {
    // peak 0.1, W = 2, T = 5, min 0.01:
    // s = 0, 1: 0.1 * 1/2, 0.1 * 2/2; s = 2: cos(0) -> 0.1;
    // s = 3: 0.01 + 0.045 * (1 + cos(pi/3)) = 0.01 + 0.045 * 1.5 = 0.0775;
    // s = 4: 0.01 + 0.045 * (1 + cos(2 pi/3)) = 0.01 + 0.045 * 0.5 = 0.0325;
    // s >= 5: 0.01.
    let s = LrSchedule::WarmupCosine {
        peak_lr: 0.1,
        warmup_steps: 2,
        total_steps: 5,
        min_lr: 0.01,
    };
    let got: Vec<f64> = (0..8).map(|k| s.lr_at(k)).collect();
    assert_close(
        "warmup cosine",
        &got,
        &[0.05, 0.1, 0.1, 0.0775, 0.0325, 0.01, 0.01, 0.01],
        1e-14,
        0.0,
    );
    let c = LrSchedule::Constant { lr: 0.3 };
    assert_eq!((c.lr_at(0), c.lr_at(1000)), (0.3, 0.3));
    c.validate().unwrap();

    let field = |s: LrSchedule| match s.validate() {
        Err(Error::Config { field, .. }) => field,
        other => panic!("{s:?}: {other:?}"),
    };
    let ok = LrSchedule::WarmupCosine {
        peak_lr: 0.1,
        warmup_steps: 2,
        total_steps: 5,
        min_lr: 0.01,
    };
    let with = |peak_lr, warmup_steps, total_steps, min_lr| LrSchedule::WarmupCosine {
        peak_lr,
        warmup_steps,
        total_steps,
        min_lr,
    };
    ok.validate().unwrap();
    assert_eq!(field(with(-0.1, 2, 5, 0.0)), "peak_lr");
    assert_eq!(field(with(f64::NAN, 2, 5, 0.0)), "peak_lr");
    assert_eq!(field(with(0.1, 2, 5, -0.01)), "min_lr");
    assert_eq!(field(with(0.1, 2, 5, 0.2)), "min_lr");
    assert_eq!(field(with(0.1, 6, 5, 0.01)), "warmup_steps");
    assert_eq!(field(LrSchedule::Constant { lr: f64::INFINITY }), "lr");
}

// ---------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------

fn config_field<T: std::fmt::Debug>(r: bfactor::Result<T>) -> String {
    match r {
        Err(Error::Config { field, .. }) => field,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

#[test]
fn invalid_configs() {
    assert_eq!(config_field(SgdConfig::new(-0.1).init::<f64>()), "lr");
    assert_eq!(config_field(SgdConfig::new(f64::NAN).init::<f32>()), "lr");
    assert_eq!(
        config_field(SgdConfig::new(0.1).with_momentum(-0.9).init::<f64>()),
        "momentum"
    );
    assert_eq!(
        config_field(SgdConfig::new(0.1).with_dampening(f64::NAN).init::<f64>()),
        "dampening"
    );
    assert_eq!(
        config_field(SgdConfig::new(0.1).with_weight_decay(-1.0).init::<f64>()),
        "weight_decay"
    );
    // Nesterov needs momentum > 0 and dampening == 0 (as torch.optim.SGD).
    assert_eq!(
        config_field(SgdConfig::new(0.1).with_nesterov(true).init::<f64>()),
        "nesterov"
    );
    assert_eq!(
        config_field(
            SgdConfig::new(0.1)
                .with_momentum(0.9)
                .with_dampening(0.1)
                .with_nesterov(true)
                .init::<f64>()
        ),
        "nesterov"
    );

    let adam = AdamConfig::new();
    assert_eq!(
        config_field(adam.clone().with_lr(-1e-3).init::<f64>()),
        "lr"
    );
    assert_eq!(
        config_field(adam.clone().with_betas(1.0, 0.999).init::<f64>()),
        "betas.0"
    );
    assert_eq!(
        config_field(adam.clone().with_betas(0.9, -0.1).init::<f64>()),
        "betas.1"
    );
    assert_eq!(
        config_field(adam.clone().with_betas(0.9, f64::NAN).init::<f64>()),
        "betas.1"
    );
    assert_eq!(
        config_field(adam.clone().with_eps(0.0).init::<f64>()),
        "eps"
    );
    assert_eq!(
        config_field(adam.clone().with_eps(f64::INFINITY).init::<f64>()),
        "eps"
    );
    assert_eq!(
        config_field(adam.clone().with_weight_decay(-0.1).init::<f64>()),
        "weight_decay"
    );
    assert_eq!(
        config_field(AdamWConfig::new().with_lr(f64::INFINITY).init::<f32>()),
        "lr"
    );
    assert_eq!(
        config_field(AdamWConfig::new().with_weight_decay(f64::NAN).init::<f32>()),
        "weight_decay"
    );
    // Edge values that are valid.
    adam.clone().with_betas(0.0, 0.0).init::<f64>().unwrap();
    SgdConfig::new(0.0).init::<f64>().unwrap();

    let err = AdamConfig::new().with_eps(0.0).init::<f64>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: eps = 0, expected a finite number > 0"
    );
}

/// Every optimizer kind, for the checks that apply to all.
fn all_optimizers() -> Vec<(&'static str, Box<dyn Optimizer<f64>>)> {
    vec![
        (
            "sgd",
            Box::new(SgdConfig::new(0.1).with_momentum(0.9).init().unwrap()),
        ),
        (
            "adam",
            Box::new(AdamConfig::new().with_amsgrad(true).init().unwrap()),
        ),
        ("adamw", Box::new(AdamWConfig::new().init().unwrap())),
    ]
}

#[test]
fn shape_errors_leave_everything_untouched() {
    for (name, mut opt) in all_optimizers() {
        let mut a = vec![1.0, 2.0, 3.0];
        let mut b = vec![4.0, 5.0];
        let ga = [0.1, 0.2, 0.3];
        let gb = [0.4, 0.5];

        // grads and params disagree (already at the first call).
        let err = opt
            .step(&mut [&mut a[..], &mut b[..]], &[&ga[..], &gb[..1]])
            .unwrap_err();
        assert!(
            matches!(&err, Error::ShapeMismatch { expected, got, .. }
                if expected == &[3, 2] && got == &[3, 1]),
            "{name}: {err}"
        );
        let err = opt
            .step(&mut [&mut a[..], &mut b[..]], &[&ga[..]])
            .unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{name}: {err}");
        assert_eq!((&a[..], &b[..]), (&[1.0, 2.0, 3.0][..], &[4.0, 5.0][..]));

        opt.step(&mut [&mut a[..], &mut b[..]], &[&ga[..], &gb[..]])
            .unwrap();
        let (a1, b1) = (a.clone(), b.clone());

        // Fewer tensors than at the first step.
        let err = opt.step(&mut [&mut a[..]], &[&ga[..]]).unwrap_err();
        assert!(
            matches!(&err, Error::ShapeMismatch { expected, got, .. }
                if expected == &[3, 2] && got == &[3]),
            "{name}: {err}"
        );
        // More tensors.
        let mut c = [0.0];
        let err = opt
            .step(
                &mut [&mut a[..], &mut b[..], &mut c[..]],
                &[&ga[..], &gb[..], &[1.0][..]],
            )
            .unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{name}: {err}");
        // Same count, one length differs (and the order swapped).
        let err = opt
            .step(&mut [&mut b[..], &mut a[..]], &[&gb[..], &ga[..]])
            .unwrap_err();
        assert!(
            matches!(&err, Error::ShapeMismatch { expected, got, .. }
                if expected == &[3, 2] && got == &[2, 3]),
            "{name}: {err}"
        );
        assert_eq!((&a, &b), (&a1, &b1), "{name}: modified on error");

        // The state survived: the next good step still works.
        opt.step(&mut [&mut a[..], &mut b[..]], &[&ga[..], &gb[..]])
            .unwrap();
    }

    let mut opt = SgdConfig::new(0.1).init::<f64>().unwrap();
    let mut a = [1.0, 2.0];
    opt.step(&mut [&mut a[..]], &[&[0.0, 0.0][..]]).unwrap();
    let err = opt.step(&mut [&mut a[..2]], &[&[0.0][..]]).unwrap_err();
    assert!(
        err.to_string().starts_with("shape mismatch: grads"),
        "{err}"
    );
    let err = opt.step(&mut [&mut a[..1]], &[&[0.0][..]]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch: params (tensor lengths) has shape [1], expected [2] (the \
         optimizer state was allocated for these tensor lengths at the first step)"
    );
}

#[test]
fn non_finite_gradient_is_rejected_before_any_update() {
    for (name, mut opt) in all_optimizers() {
        let mut a = vec![1.0, 2.0, 3.0];
        let mut b = vec![4.0, 5.0, 6.0];
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            // The bad value is in the second tensor: the first must not be updated.
            let err = opt
                .step(
                    &mut [&mut a[..], &mut b[..]],
                    &[&[0.1, 0.2, 0.3][..], &[0.4, 0.5, bad][..]],
                )
                .unwrap_err();
            match err {
                Error::NonFinite { what, index, value } => {
                    assert_eq!((what.as_str(), index), ("grads[1]", vec![2]), "{name}");
                    assert_eq!(value.is_nan(), bad.is_nan());
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(a, vec![1.0, 2.0, 3.0], "{name}");
        assert_eq!(b, vec![4.0, 5.0, 6.0], "{name}");
        // A failed first step does not fix the lengths.
        opt.step(&mut [&mut a[..1]], &[&[0.1][..]]).unwrap();
        assert_ne!(a[0], 1.0);
    }

    let mut opt = AdamConfig::new().init::<f32>().unwrap();
    let mut p = [0.0_f32; 2];
    opt.step(&mut [&mut p[..]], &[&[1.0, 1.0][..]]).unwrap();
    let err = opt
        .step(&mut [&mut p[..]], &[&[1.0, f32::NAN][..]])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "grads[0] holds a non-finite value NaN at index [1], expected finite numbers"
    );
    assert_eq!(opt.steps(), 1, "a rejected step must not count");
}

#[test]
fn invalid_learning_rate_is_rejected_at_step() {
    for (name, mut opt) in all_optimizers() {
        let mut a = vec![1.0];
        for lr in [-1e-3, f64::NAN, f64::INFINITY] {
            opt.set_learning_rate(lr);
            assert_eq!(
                config_field(opt.step(&mut [&mut a[..]], &[&[0.5][..]])),
                "lr",
                "{name}"
            );
        }
        assert_eq!(a, vec![1.0]);
        opt.set_learning_rate(0.0);
        opt.step(&mut [&mut a[..]], &[&[0.5][..]]).unwrap();
        opt.set_learning_rate(0.25);
        assert_eq!(opt.learning_rate(), 0.25);
    }
}

#[test]
fn empty_tensors_are_fine() {
    for (_, mut opt) in all_optimizers() {
        opt.step(&mut [], &[]).unwrap();
        let mut a: Vec<f64> = vec![];
        let err = opt.step(&mut [&mut a[..]], &[&[][..]]).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }));
    }
    let mut opt = AdamWConfig::new().init::<f32>().unwrap();
    let mut a: Vec<f32> = vec![];
    let mut b = [1.0_f32];
    opt.step(&mut [&mut a[..], &mut b[..]], &[&[][..], &[1.0][..]])
        .unwrap();
    assert!(b[0] < 1.0);
}
