//! Gradient checks for `bfactor::train::grad::loss_and_gradients`: every head ×
//! loss pair against central finite differences in `f64`.
//!
//! The finite differences never touch `grad.rs`: the loss `L` is recomputed with the
//! public forward passes (`BFactorHead::forward`, `Boltz2Head::forward`/`predict`)
//! and the public losses in `bfactor::loss`, with weights perturbed by rebuilding
//! the head through `from_weights`.
//!
//! Per head × loss pair, 10 seeds × {`[N, c_s]`, `[B, N, c_s]`} × {no mask, 0/1 mask
//! with padded tails (and, for `B >= 2`, a protein with < 2 valid residues), fractional
//! weights with some zeros}. For every case we check:
//! - `g.loss` equals the public loss to 1e-12 relative;
//! - every element of `params[0]`, `params[1]` and `input` against central
//!   differences `D(h) = (L(θ + h) - L(θ - h)) / 2h` (Richardson-extrapolated, below);
//! - masked tokens (weight 0, rows skipped by the regression losses, and B <= 1e-5
//!   for the binned loss) get exactly `0.0` input gradient, in `f64` and `f32`;
//! - `f32` gradients (same weights and inputs cast) agree with `f64` norm-wise:
//!   `||g32 - g64|| <= 1e-3 ||g64||` per tensor.
//!
//! # Finite differences and tolerances
//! The estimate is `(4 D(h) - D(2h)) / 3` with `h = 2e-4 · max(1, |θ|)`, each `D`
//! dividing by the step actually taken, `(θ + h) - (θ - h)` in floating point. A
//! plain `D(h)` was measured to be too coarse for a `1e-6` relative check: the
//! notebook head's layer norms give some `W1` elements a large third derivative, so
//! the truncation error `h² L⁽³⁾ / 6` reached `2e-7 · max|a|` at `h = 1e-5` (and
//! `2e-9 · max|a|` at `h = 1e-6`, where rounding, `~ε L / h`, takes over). The
//! extrapolation cancels the `h²` term; at `h = 2e-4` the measured error is about
//! `1e-10 · max|a|` at most, over every element of every case (mostly rounding).
//!
//! The relative error `|a - fd| / max(|a|, |fd|, floor)` must be `< 1e-6`, with
//! `floor = 1e-3 · max|a|` over the tensor: elements at least `1e-3` of the
//! tensor's largest gradient are checked to `1e-6` relative, smaller ones (whose
//! finite difference is dominated by that `~1e-10 · max|a|` absolute error) to an
//! absolute `1e-9 · max|a|`. The largest relative error seen is below `1e-7`.
//!
//! # Non-differentiable and ill-conditioned points
//! ReLU kinks (the notebook head) are avoided by construction: each counted token's
//! row of `s` is redrawn until all its pre-activations are at least `1e-2` from 0
//! (the largest perturbation, `2h`, moves a pre-activation by a few `1e-4`). The
//! same redraw requires at least two active hidden units: with one, the hidden
//! layer norm's output is constant up to `eps`, the gradient through that row is
//! `O(eps)` and in `f32` mostly cancellation (before this rule it broke the `f32`
//! check by 2% with `c_s = 3`, while `f64` agreed with finite differences). The
//! protein that defines a regression loss has at least three valid residues: with
//! two, both regression losses are constant (z-scores and `r` are `±1`) and the
//! whole gradient is rounding noise.
//! Bin boundaries only matter for the binned loss's targets, which are never
//! perturbed; we still assert every counted target is more than `h` from a boundary.
//! Padded tokens have `s = 0` (pre-activations exactly 0), but they do not enter the
//! loss, so `L` is constant in them and both gradients are exactly 0.

use bfactor::boltz2::{Boltz2Head, Boltz2HeadConfig};
use bfactor::train::grad::{
    loss_and_gradients, loss_and_gradients_masked, loss_and_parameter_gradients,
    loss_and_parameter_gradients_masked, Gradients, Objective, ParameterGradients,
};
use bfactor::{bins, loss, ops, BFactorHead, BFactorHeadConfig};
use ndarray::{Array, Array1, Array2, Array3, ArrayD, Axis, Ix1, Ix2, RemoveAxis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// Finite-difference step (the smaller of the two), relative to `max(1, |θ|)`.
const H: f64 = 2e-4;
/// Maximum relative error of analytic against finite-difference gradients.
const FD_TOL: f64 = 1e-6;
/// The relative-error floor, as a fraction of the tensor's largest `|gradient|`.
const FLOOR_REL: f64 = 1e-3;
/// Maximum `||g32 - g64|| / ||g64||` per tensor.
const F32_TOL: f64 = 1e-3;
/// Minimum distance of a counted token's pre-activations from the ReLU kink.
const KINK_MARGIN: f64 = 1e-2;
/// `loss` must match the public loss to this relative error.
const LOSS_TOL: f64 = 1e-12;
const SEEDS: u64 = 10;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Notebook,
    Boltz2,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum MaskKind {
    None,
    Padded,
    Fractional,
}

// A handful of test heads: boxing the larger one would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Head {
    Notebook(BFactorHead<f64>),
    Boltz2(Boltz2Head<f64>),
}

impl Head {
    fn random(kind: Kind, c_s: usize, num_bins: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        match kind {
            Kind::Notebook => Head::Notebook(
                BFactorHeadConfig::new(c_s)
                    .with_num_bins(num_bins)
                    .init::<f64>(&mut rng)
                    .unwrap(),
            ),
            Kind::Boltz2 => Head::Boltz2(
                Boltz2HeadConfig::new()
                    .with_token_s(c_s)
                    .with_num_bins(num_bins)
                    .init::<f64>(&mut rng)
                    .unwrap(),
            ),
        }
    }

    fn params(&self) -> Vec<ArrayD<f64>> {
        match self {
            Head::Notebook(h) => vec![h.w1().clone().into_dyn(), h.w2().clone().into_dyn()],
            Head::Boltz2(h) => vec![h.weight().clone().into_dyn(), h.bias().clone().into_dyn()],
        }
    }

    fn with_params(&self, p: &[ArrayD<f64>]) -> Self {
        let m2 = |a: &ArrayD<f64>| a.clone().into_dimensionality::<Ix2>().unwrap();
        match self {
            Head::Notebook(h) => Head::Notebook(
                BFactorHead::from_weights(h.config().clone(), m2(&p[0]), m2(&p[1])).unwrap(),
            ),
            Head::Boltz2(_) => Head::Boltz2(
                Boltz2Head::from_weights(
                    m2(&p[0]),
                    p[1].clone().into_dimensionality::<Ix1>().unwrap(),
                )
                .unwrap(),
            ),
        }
    }

    fn num_bins(&self) -> usize {
        match self {
            Head::Notebook(h) => h.config().num_bins,
            Head::Boltz2(h) => h.config().num_bins,
        }
    }

    fn gradients<D: RemoveAxis>(
        &self,
        obj: Objective,
        s: &Array<f64, D>,
        target: &Array<f64, D::Smaller>,
        mask: Option<&Array<f64, D::Smaller>>,
    ) -> Gradients<f64, D> {
        match (self, mask) {
            (Head::Notebook(h), None) => loss_and_gradients(h, obj, s, target),
            (Head::Notebook(h), Some(m)) => loss_and_gradients_masked(h, obj, s, target, m),
            (Head::Boltz2(h), None) => loss_and_gradients(h, obj, s, target),
            (Head::Boltz2(h), Some(m)) => loss_and_gradients_masked(h, obj, s, target, m),
        }
        .unwrap()
    }

    /// The parameter-only variant training uses.
    fn parameter_gradients<D: RemoveAxis>(
        &self,
        obj: Objective,
        s: &Array<f64, D>,
        target: &Array<f64, D::Smaller>,
        mask: Option<&Array<f64, D::Smaller>>,
    ) -> ParameterGradients<f64> {
        match (self, mask) {
            (Head::Notebook(h), None) => loss_and_parameter_gradients(h, obj, s, target),
            (Head::Notebook(h), Some(m)) => {
                loss_and_parameter_gradients_masked(h, obj, s, target, m)
            }
            (Head::Boltz2(h), None) => loss_and_parameter_gradients(h, obj, s, target),
            (Head::Boltz2(h), Some(m)) => loss_and_parameter_gradients_masked(h, obj, s, target, m),
        }
        .unwrap()
    }

    /// The same computation with weights and inputs cast to `f32`.
    fn gradients_f32<D: RemoveAxis>(
        &self,
        obj: Objective,
        s: &Array<f64, D>,
        target: &Array<f64, D::Smaller>,
        mask: Option<&Array<f64, D::Smaller>>,
    ) -> Gradients<f32, D> {
        let c = |a: &Array2<f64>| a.mapv(|v| v as f32);
        let s = s.mapv(|v| v as f32);
        let target = target.mapv(|v| v as f32);
        let mask = mask.map(|m| m.mapv(|v| v as f32));
        match self {
            Head::Notebook(h) => {
                let h32 = BFactorHead::from_weights(h.config().clone(), c(h.w1()), c(h.w2()));
                let h32 = h32.unwrap();
                match &mask {
                    None => loss_and_gradients(&h32, obj, &s, &target),
                    Some(m) => loss_and_gradients_masked(&h32, obj, &s, &target, m),
                }
            }
            Head::Boltz2(h) => {
                let h32 = Boltz2Head::from_weights(c(h.weight()), h.bias().mapv(|v| v as f32));
                let h32 = h32.unwrap();
                match &mask {
                    None => loss_and_gradients(&h32, obj, &s, &target),
                    Some(m) => loss_and_gradients_masked(&h32, obj, &s, &target, m),
                }
            }
        }
        .unwrap()
    }

    /// The loss through the public forward passes and losses only.
    fn public_loss<D: RemoveAxis>(
        &self,
        obj: Objective,
        s: &Array<f64, D>,
        target: &Array<f64, D::Smaller>,
        mask: &Array<f64, D::Smaller>,
    ) -> f64 {
        match obj {
            Objective::BinnedCrossEntropy => {
                let logits = match self {
                    Head::Notebook(h) => h.forward(s).unwrap().logits,
                    Head::Boltz2(h) => h.logits(s).unwrap(),
                };
                loss::binned_cross_entropy_masked(&logits, target, mask).unwrap()
            }
            Objective::NormalizedMse | Objective::Pearson => {
                let b = match self {
                    Head::Notebook(h) => h.forward(s).unwrap().bfactor,
                    Head::Boltz2(h) => h.forward(s).unwrap().bfactor,
                };
                if obj == Objective::Pearson {
                    1.0 - loss::pearson_masked(&b, target, mask).unwrap()
                } else {
                    loss::normalized_mse_masked(&b, target, mask).unwrap()
                }
            }
        }
    }

    /// For the notebook head: whether input row `x` keeps every pre-activation at
    /// least `KINK_MARGIN` from the ReLU kink and at least two hidden units active
    /// (always true for the Boltz-2 head, which has no ReLU). With one active unit
    /// the hidden layer norm's output is constant up to `eps`, so the gradient
    /// through that row is `O(eps)` and its `f32` value is mostly cancellation.
    fn row_ok(&self, x: &[f64]) -> bool {
        let Head::Notebook(h) = self else {
            return true;
        };
        let x = ops::layer_norm(&Array1::from(x.to_vec()), h.config().eps).expect("finite row");
        let pre = x.dot(h.w1());
        pre.iter().all(|v| v.abs() >= KINK_MARGIN) && pre.iter().filter(|&&v| v > 0.0).count() >= 2
    }
}

/// One batch `[B, N, c_s]` with targets and mask `[B, N]`, and which tokens enter
/// the loss (`counted`, flat, row-major).
struct Case {
    s: Array3<f64>,
    target: Array2<f64>,
    mask: Option<Array2<f64>>,
    counted: Vec<bool>,
    /// Tokens with a positive mask weight that still do not enter the loss: in a
    /// protein with < 2 valid residues (regression) or with B <= 1e-5 (binned).
    dropped_by_rule: usize,
}

/// Draws a case. `batch = 1` cases are later also used as `[N, c_s]`.
fn make_case(
    rng: &mut StdRng,
    head: &Head,
    obj: Objective,
    mask_kind: MaskKind,
    batch: usize,
    n: usize,
    c_s: usize,
) -> Case {
    let binned = obj == Objective::BinnedCrossEntropy;
    let mut target = Array2::from_shape_fn((batch, n), |_| rng.random_range(0.0..120.0));
    let mut mask = Array2::<f64>::ones((batch, n));
    let mut padded = vec![false; batch * n];
    match mask_kind {
        MaskKind::None => {}
        MaskKind::Padded => {
            for b in 0..batch {
                // With B >= 2 the last protein has 0 or 1 residue: skipped by the
                // regression losses, still counted by the binned one.
                let len = if batch >= 2 && b == batch - 1 {
                    usize::from(rng.random_bool(0.8))
                } else {
                    rng.random_range(3..=n)
                };
                for i in len..n {
                    mask[[b, i]] = 0.0;
                    target[[b, i]] = 0.0;
                    padded[b * n + i] = true;
                }
            }
        }
        MaskKind::Fractional => {
            mask.mapv_inplace(|_| {
                if rng.random_bool(0.2) {
                    0.0
                } else {
                    rng.random_range(0.1..2.0)
                }
            });
            // Protein 0 keeps three valid residues, so a regression loss is defined
            // and not degenerate.
            for i in 0..3 {
                mask[[0, i]] = rng.random_range(0.1..2.0);
            }
        }
    }
    if binned {
        // Missing B-factors (<= 1e-5) are masked by Boltz-2's rule; token (0, 0) stays.
        for (t, v) in target.iter_mut().enumerate() {
            if t > 0 && rng.random_bool(0.25) {
                *v = [0.0, 1e-5, 3e-6, -1.0][rng.random_range(0..4)];
            }
        }
    }

    let counted: Vec<bool> = if binned {
        target
            .iter()
            .zip(&mask)
            .map(|(&t, &w)| w > 0.0 && t > loss::MIN_VALID_BFACTOR)
            .collect()
    } else {
        mask.rows()
            .into_iter()
            .flat_map(|r| {
                let valid = r.iter().filter(|&&w| w > 0.0).count();
                r.iter()
                    .map(move |&w| valid >= 2 && w > 0.0)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    if binned {
        let bounds = bins::boltz2_boundaries::<f64>(head.num_bins());
        for (&t, &c) in target.iter().zip(&counted) {
            if c {
                let d = bounds
                    .iter()
                    .fold(f64::INFINITY, |m, &x| m.min((t - x).abs()));
                assert!(d > H, "target {t} within h of a boundary");
            }
        }
    }

    // Padded tokens get s = 0; every counted token's row is redrawn until the
    // notebook head's hidden layer is well-conditioned there (see `row_ok`).
    let mut s = Array3::<f64>::zeros((batch, n, c_s));
    for ((mut row, &c), &p) in s.lanes_mut(Axis(2)).into_iter().zip(&counted).zip(&padded) {
        if p {
            continue;
        }
        loop {
            row.mapv_inplace(|_| rng.sample::<f64, _>(StandardNormal) * 1.5);
            if !c || head.row_ok(row.as_slice().unwrap()) {
                break;
            }
        }
    }
    let dropped_by_rule = mask
        .iter()
        .zip(&counted)
        .filter(|(&w, &c)| w > 0.0 && !c)
        .count();
    Case {
        s,
        target,
        mask: (mask_kind != MaskKind::None).then_some(mask),
        counted,
        dropped_by_rule,
    }
}

fn max_abs(a: impl IntoIterator<Item = f64>) -> f64 {
    a.into_iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Largest relative error of `analytic` against the central differences of
/// `loss_at(θ with element j set to v)` over every element `j` of `theta`.
fn fd_check(
    what: &str,
    theta: &[f64],
    analytic: &[f64],
    mut loss_at: impl FnMut(usize, f64) -> f64,
) -> f64 {
    assert_eq!(theta.len(), analytic.len(), "{what}: gradient shape");
    let floor = (FLOOR_REL * max_abs(analytic.iter().copied())).max(1e-300);
    let mut worst: f64 = 0.0;
    for (j, (&x, &a)) in theta.iter().zip(analytic).enumerate() {
        let mut central = |h: f64| {
            let (xp, xm) = (x + h, x - h);
            (loss_at(j, xp) - loss_at(j, xm)) / (xp - xm)
        };
        let h = H * x.abs().max(1.0);
        let fd = (4.0 * central(h) - central(2.0 * h)) / 3.0;
        let rel = (a - fd).abs() / a.abs().max(fd.abs()).max(floor);
        assert!(
            rel < FD_TOL,
            "{what}[{j}]: analytic {a:e}, finite difference {fd:e}, relative error {rel:e}"
        );
        worst = worst.max(rel);
    }
    worst
}

fn rel_norm_diff(a32: &[f32], a64: &[f64]) -> f64 {
    let diff: f64 = a32
        .iter()
        .zip(a64)
        .map(|(&x, &y)| (x as f64 - y).powi(2))
        .sum();
    let norm: f64 = a64.iter().map(|y| y * y).sum();
    if norm == 0.0 {
        diff.sqrt()
    } else {
        (diff / norm).sqrt()
    }
}

/// Runs every check on one case with `s` of rank 2 or 3; returns the largest
/// finite-difference relative error.
fn check_case<D: RemoveAxis>(
    label: &str,
    head: &Head,
    obj: Objective,
    s: Array<f64, D>,
    target: Array<f64, D::Smaller>,
    mask: Option<Array<f64, D::Smaller>>,
    counted: &[bool],
) -> f64 {
    let c_s = s.shape()[s.ndim() - 1];
    let ones = Array::ones(target.raw_dim());
    let public_mask = mask.as_ref().unwrap_or(&ones);
    let g = head.gradients(obj, &s, &target, mask.as_ref());
    // Training's variant skips ∂L/∂s and gives the same loss and parameter
    // gradients, bit for bit.
    let p = head.parameter_gradients(obj, &s, &target, mask.as_ref());
    assert_eq!((p.loss, &p.params), (g.loss, &g.params), "{label}");

    // The loss itself.
    let l0 = head.public_loss(obj, &s, &target, public_mask);
    assert!(
        (g.loss - l0).abs() <= LOSS_TOL * l0.abs(),
        "{label}: loss {} vs public {l0}",
        g.loss
    );
    assert_eq!(g.input.shape(), s.shape(), "{label}: input gradient shape");

    // Exactly zero gradient for tokens outside the loss, nonzero somewhere inside.
    let g32 = head.gradients_f32(obj, &s, &target, mask.as_ref());
    let gi: Vec<f64> = g.input.iter().copied().collect();
    let gi32: Vec<f32> = g32.input.iter().copied().collect();
    for (t, &c) in counted.iter().enumerate() {
        if !c {
            let (row, row32) = (&gi[t * c_s..][..c_s], &gi32[t * c_s..][..c_s]);
            assert!(
                row.iter().all(|&v| v == 0.0) && row32.iter().all(|&v| v == 0.0),
                "{label}: token {t} is outside the loss but has gradient {row:?} / {row32:?}"
            );
        }
    }
    assert!(
        max_abs(gi.iter().copied()) > 0.0,
        "{label}: all-zero input gradient"
    );

    // f32 against f64, norm-wise.
    for (i, (p32, p64)) in g32.params.iter().zip(&g.params).enumerate() {
        let p32: Vec<f32> = p32.iter().copied().collect();
        let p64: Vec<f64> = p64.iter().copied().collect();
        let r = rel_norm_diff(&p32, &p64);
        assert!(
            r <= F32_TOL,
            "{label}: f32 params[{i}] off by {r:e} (norm-wise)"
        );
    }
    let r = rel_norm_diff(&gi32, &gi);
    assert!(
        r <= F32_TOL,
        "{label}: f32 input gradient off by {r:e} (norm-wise)"
    );

    // Finite differences: every parameter element...
    let params = head.params();
    assert_eq!(
        g.params.len(),
        params.len(),
        "{label}: number of parameter tensors"
    );
    let mut worst: f64 = 0.0;
    for (i, (p, gp)) in params.iter().zip(&g.params).enumerate() {
        assert_eq!(gp.shape(), p.shape(), "{label}: params[{i}] shape");
        let theta: Vec<f64> = p.iter().copied().collect();
        let analytic: Vec<f64> = gp.iter().copied().collect();
        let what = format!("{label}: params[{i}]");
        worst = worst.max(fd_check(&what, &theta, &analytic, |j, v| {
            let mut q = params.clone();
            *q[i].iter_mut().nth(j).unwrap() = v;
            head.with_params(&q)
                .public_loss(obj, &s, &target, public_mask)
        }));
    }
    // ...and every element of s.
    let theta: Vec<f64> = s.iter().copied().collect();
    let what = format!("{label}: input");
    worst.max(fd_check(&what, &theta, &gi, |j, v| {
        let mut s2 = s.clone();
        *s2.iter_mut().nth(j).unwrap() = v;
        head.public_loss(obj, &s2, &target, public_mask)
    }))
}

/// Every case for one head × loss pair; returns the largest relative error.
fn check_pair(kind: Kind, obj: Objective) -> f64 {
    let (mut worst, mut dropped_by_rule): (f64, usize) = (0.0, 0);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(1000 * seed + 17);
        let c_s = rng.random_range(3..=8);
        let num_bins = rng.random_range(3..=12);
        let head = Head::random(kind, c_s, num_bins, seed);
        for mask_kind in [MaskKind::None, MaskKind::Padded, MaskKind::Fractional] {
            let label = |rank: &str| {
                format!(
                    "{kind:?}/{obj:?} seed {seed} {rank} c_s={c_s} bins={num_bins} {mask_kind:?}"
                )
            };
            // [N, c_s]
            let n = rng.random_range(3..=9);
            let case = make_case(&mut rng, &head, obj, mask_kind, 1, n, c_s);
            dropped_by_rule += case.dropped_by_rule;
            worst = worst.max(check_case(
                &label(&format!("[{n}, c_s]")),
                &head,
                obj,
                case.s.index_axis_move(Axis(0), 0),
                case.target.index_axis_move(Axis(0), 0),
                case.mask.map(|m| m.index_axis_move(Axis(0), 0)),
                &case.counted,
            ));
            // [B, N, c_s]; B cycles through 1..=3 over the seeds.
            let batch = 1 + (seed as usize + mask_kind as usize) % 3;
            let n = rng.random_range(3..=9);
            let case = make_case(&mut rng, &head, obj, mask_kind, batch, n, c_s);
            dropped_by_rule += case.dropped_by_rule;
            worst = worst.max(check_case(
                &label(&format!("[{batch}, {n}, c_s]")),
                &head,
                obj,
                case.s,
                case.target,
                case.mask,
                &case.counted,
            ));
        }
    }
    // The skipped-protein and B <= 1e-5 rules were exercised, not just the mask.
    assert!(
        dropped_by_rule > 0,
        "no token was dropped by a loss's own rule"
    );
    println!("{kind:?} × {obj:?}: max relative error {worst:.3e} ({dropped_by_rule} tokens dropped by rule)");
    worst
}

#[test]
fn notebook_normalized_mse() {
    check_pair(Kind::Notebook, Objective::NormalizedMse);
}

#[test]
fn notebook_pearson() {
    check_pair(Kind::Notebook, Objective::Pearson);
}

#[test]
fn notebook_binned_cross_entropy() {
    check_pair(Kind::Notebook, Objective::BinnedCrossEntropy);
}

#[test]
fn boltz2_normalized_mse() {
    check_pair(Kind::Boltz2, Objective::NormalizedMse);
}

#[test]
fn boltz2_pearson() {
    check_pair(Kind::Boltz2, Objective::Pearson);
}

#[test]
fn boltz2_binned_cross_entropy() {
    check_pair(Kind::Boltz2, Objective::BinnedCrossEntropy);
}

/// Large enough that the products and the row-wise backward run on two threads
/// (on a machine with two cores): the gradients are the same bits on one.
#[test]
fn gradients_are_the_same_bits_on_one_and_all_threads() {
    let (batch, n, c_s) = (4, 1024, 128);
    let mut rng = StdRng::seed_from_u64(77);
    let head = BFactorHeadConfig::new(c_s)
        .init::<f64>(&mut rng)
        .expect("valid config");
    let s = Array3::from_shape_simple_fn((batch, n, c_s), || rng.sample::<f64, _>(StandardNormal));
    let target = Array2::from_shape_simple_fn((batch, n), || 30.0 + 10.0 * rng.random::<f64>());
    let mask = Array2::from_shape_fn((batch, n), |(b, i)| if i + 100 * b < n { 1.0 } else { 0.0 });
    for obj in [
        Objective::NormalizedMse,
        Objective::Pearson,
        Objective::BinnedCrossEntropy,
    ] {
        let run =
            || loss_and_gradients_masked(&head, obj, &s, &target, &mask).expect("valid input");
        bfactor::matmul::set_num_threads(1);
        let one = run();
        bfactor::matmul::set_num_threads(0);
        let all = run();
        assert_eq!(one, all, "{obj:?}");
    }
}
