//! Criterion benchmarks of the notebook head's forward pass, the losses, and one
//! training step.
//!
//! Run with `cargo bench --bench head`. `scripts/bench_numpy.py` times the same
//! computations in NumPy under the same names (`forward_f32/512x384`,
//! `loss_f64/normalized_mse/4096`, ...), so the two outputs line up row by row.
//!
//! All inputs and weights are drawn once from seeded RNGs outside the timed
//! closures; only the forward pass / the loss call is measured.
//!
//! `forward_<dtype>_1thread/...` repeats the largest forward pass with threading
//! switched off (`bfactor::matmul::set_num_threads(1)`), and `matmul_<dtype>/2048`
//! times one 2048³ product of [`bfactor::matmul::matmul`], the crate's own
//! matrix-multiply rate. `fma_peak/<dtype>` (and `..._1thread`) runs register-only
//! vector FMAs on every core: the arithmetic ceiling no product can pass (x86-64
//! with AVX2 or AVX-512 only). `forward_f32_after_idle/...` times single calls that
//! each follow 1 ms of idling, when the thread pool's workers are asleep.
//! `scripts/compare_bench.py` runs this and the NumPy script and prints the
//! ratios.

#[cfg(target_arch = "x86_64")]
#[path = "support/fma_peak.rs"]
mod fma_peak;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bfactor::{loss, BFactorHeadConfig, Float};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use ndarray::{Array, Array1, Dimension, IntoDimension};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

const NUM_BINS: usize = 64;
const LOSS_N: usize = 4096;
/// `[N, c_s]` sizes of the single-protein forward benchmarks.
const FORWARD_SIZES: [(usize, usize); 3] = [(50, 128), (512, 384), (4096, 384)];

/// Modest measurement settings so the whole bench runs in a few minutes.
fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
}

/// Standard-normal array drawn in `f64` and rounded to `F`, so `f32` and `f64`
/// benchmarks see the same values.
fn randn<F: Float, Sh: IntoDimension>(rng: &mut StdRng, shape: Sh) -> Array<F, Sh::Dim>
where
    Sh::Dim: Dimension,
{
    Array::from_shape_simple_fn(shape, || {
        F::from_f64_lossy(rng.sample::<f64, _>(StandardNormal))
    })
}

fn bench_forward<F: Float>(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("forward_{}", F::NAME));
    for (n, c_s) in FORWARD_SIZES {
        let head = BFactorHeadConfig::new(c_s)
            .with_num_bins(NUM_BINS)
            .init::<F>(&mut StdRng::seed_from_u64(0))
            .expect("valid config");
        let s = randn::<F, _>(&mut StdRng::seed_from_u64(1), (n, c_s));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{n}x{c_s}")),
            &s,
            |b, s| b.iter(|| head.forward(black_box(s)).expect("finite input")),
        );
    }
    group.finish();
}

/// The largest forward pass on one thread.
fn bench_forward_single_thread<F: Float>(c: &mut Criterion) {
    let (n, c_s) = (4096, 384);
    let head = BFactorHeadConfig::new(c_s)
        .with_num_bins(NUM_BINS)
        .init::<F>(&mut StdRng::seed_from_u64(0))
        .expect("valid config");
    let s = randn::<F, _>(&mut StdRng::seed_from_u64(1), (n, c_s));
    let mut group = c.benchmark_group(format!("forward_{}_1thread", F::NAME));
    group.throughput(Throughput::Elements(n as u64));
    bfactor::matmul::set_num_threads(1);
    group.bench_with_input(
        BenchmarkId::from_parameter(format!("{n}x{c_s}")),
        &s,
        |b, s| b.iter(|| head.forward(black_box(s)).expect("finite input")),
    );
    bfactor::matmul::set_num_threads(0);
    group.finish();
}

/// One 2048 × 2048 product: the crate's matrix-multiply rate.
fn bench_matmul<F: Float>(c: &mut Criterion) {
    let n = 2048;
    let a = randn::<F, _>(&mut StdRng::seed_from_u64(5), (n, n));
    let b = randn::<F, _>(&mut StdRng::seed_from_u64(6), (n, n));
    let mut group = c.benchmark_group(format!("matmul_{}", F::NAME));
    group.sample_size(10);
    group.throughput(Throughput::Elements((2 * n * n * n) as u64));
    group.bench_function(BenchmarkId::from_parameter(n), |bench| {
        bench.iter(|| bfactor::matmul::matmul(&black_box(&a).view(), &b.view()))
    });
    group.finish();
}

/// A forward pass after 1 ms idle (untimed), as in a program that parses a
/// structure between calls: the thread pool's workers have gone to sleep, and
/// small passes should stay on the calling thread rather than wait for one.
fn bench_forward_after_idle(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward_f32_after_idle");
    // Few calls: each costs 1 ms of idle time on top of the timed part.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(20))
        .measurement_time(Duration::from_millis(100));
    for (n, c_s) in [(50, 128), (512, 384)] {
        let head = BFactorHeadConfig::new(c_s)
            .with_num_bins(NUM_BINS)
            .init::<f32>(&mut StdRng::seed_from_u64(0))
            .expect("valid config");
        let s = randn::<f32, _>(&mut StdRng::seed_from_u64(1), (n, c_s));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{n}x{c_s}")),
            &s,
            |b, s| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        std::thread::sleep(Duration::from_millis(1));
                        let t = Instant::now();
                        black_box(head.forward(black_box(s)).expect("finite input"));
                        timed += t.elapsed();
                    }
                    timed
                })
            },
        );
    }
    group.finish();
}

fn bench_forward_batched(c: &mut Criterion) {
    let (batch, n, c_s) = (8, 512, 384);
    let head = BFactorHeadConfig::new(c_s)
        .with_num_bins(NUM_BINS)
        .init::<f32>(&mut StdRng::seed_from_u64(0))
        .expect("valid config");
    let s = randn::<f32, _>(&mut StdRng::seed_from_u64(1), (batch, n, c_s));
    let mut group = c.benchmark_group("forward_f32");
    group.throughput(Throughput::Elements((batch * n) as u64));
    group.bench_with_input(
        BenchmarkId::from_parameter(format!("{batch}x{n}x{c_s}")),
        &s,
        |b, s| b.iter(|| head.forward(black_box(s)).expect("finite input")),
    );
    group.finish();
}

/// Prediction, target and a 0/1 mask (~10% padding) of length `n`.
fn loss_inputs<F: Float>(n: usize) -> (Array1<F>, Array1<F>, Array1<F>) {
    let mut rng = StdRng::seed_from_u64(2);
    let pred = Array1::from_shape_simple_fn(n, || F::from_f64_lossy(rng.random_range(0.0..100.0)));
    let target = Array1::from_shape_simple_fn(n, || {
        F::from_f64_lossy(30.0 + 15.0 * rng.sample::<f64, _>(StandardNormal))
    });
    let mask = Array1::from_shape_simple_fn(n, || {
        if rng.random_bool(0.9) {
            F::one()
        } else {
            F::zero()
        }
    });
    (pred, target, mask)
}

fn bench_losses<F: Float>(c: &mut Criterion) {
    let (pred, target, mask) = loss_inputs::<F>(LOSS_N);
    let mut group = c.benchmark_group(format!("loss_{}", F::NAME));
    group.throughput(Throughput::Elements(LOSS_N as u64));
    group.bench_function(BenchmarkId::new("normalized_mse", LOSS_N), |b| {
        b.iter(|| loss::normalized_mse(black_box(&pred), black_box(&target)).unwrap())
    });
    group.bench_function(BenchmarkId::new("normalized_mse_masked", LOSS_N), |b| {
        b.iter(|| {
            loss::normalized_mse_masked(black_box(&pred), black_box(&target), black_box(&mask))
                .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("pearson", LOSS_N), |b| {
        b.iter(|| loss::pearson(black_box(&pred), black_box(&target)).unwrap())
    });
    group.bench_function(BenchmarkId::new("pearson_masked", LOSS_N), |b| {
        b.iter(|| {
            loss::pearson_masked(black_box(&pred), black_box(&target), black_box(&mask)).unwrap()
        })
    });
    group.finish();
}

/// One training step of the notebook head at `[8, 512, 384]` f32: forward, the
/// normalized MSE and its gradient, backward through the head, an AdamW update;
/// then the same without the input's gradient (`params_only`), and that with a
/// [`TrainWorkspace`](bfactor::train::grad::TrainWorkspace) (`workspace`, as
/// `fit` trains).
fn bench_train_step(c: &mut Criterion) {
    use bfactor::train::grad::{
        loss_and_gradients_masked, loss_and_parameter_gradients_masked, Objective, TrainWorkspace,
        Trainable,
    };
    use bfactor::train::optim::{AdamWConfig, Optimizer};
    let (batch, n, c_s) = (8, 512, 384);
    let mut head = BFactorHeadConfig::new(c_s)
        .with_num_bins(NUM_BINS)
        .init::<f32>(&mut StdRng::seed_from_u64(0))
        .expect("valid config");
    let mut rng = StdRng::seed_from_u64(3);
    let s = randn::<f32, _>(&mut rng, (batch, n, c_s));
    let target = randn::<f32, _>(&mut rng, (batch, n)).mapv(|v| 30.0 + 10.0 * v);
    let mask = ndarray::Array2::<f32>::ones((batch, n));
    let mut adam = AdamWConfig::new().init::<f32>().expect("valid config");
    let mut group = c.benchmark_group("train_step_f32");
    group.throughput(Throughput::Elements((batch * n) as u64));
    let size = format!("{batch}x{n}x{c_s}");
    // `params_only`: without ∂L/∂s (NumPy's step computes it, like the first);
    // `workspace`: that, with the buffers reused from step to step, as `fit`
    // takes it.
    let mut workspace = TrainWorkspace::new();
    for (params_only, reuse) in [(false, false), (true, false), (true, true)] {
        let id = if reuse {
            BenchmarkId::new("workspace", &size)
        } else if params_only {
            BenchmarkId::new("params_only", &size)
        } else {
            BenchmarkId::from_parameter(&size)
        };
        group.bench_function(id, |b| {
            b.iter(|| {
                let objective = Objective::NormalizedMse;
                let (loss, params) = if reuse {
                    let g = workspace
                        .loss_and_parameter_gradients_masked(&head, objective, &s, &target, &mask);
                    let g = g.expect("valid input");
                    (g.loss, g.params)
                } else if params_only {
                    let g =
                        loss_and_parameter_gradients_masked(&head, objective, &s, &target, &mask);
                    let g = g.expect("valid input");
                    (g.loss, g.params)
                } else {
                    let g = loss_and_gradients_masked(&head, objective, &s, &target, &mask);
                    let g = g.expect("valid input");
                    (g.loss, g.params)
                };
                let grads: Vec<&[f32]> = params
                    .iter()
                    .map(|t| t.as_slice().expect("owned"))
                    .collect();
                adam.step(&mut head.parameters_mut(), &grads)
                    .expect("finite gradients");
                black_box(loss)
            })
        });
    }
    group.finish();
}

fn forward(c: &mut Criterion) {
    bench_forward::<f32>(c);
    bench_forward::<f64>(c);
    bench_forward_batched(c);
    bench_forward_single_thread::<f32>(c);
    bench_forward_single_thread::<f64>(c);
    bench_forward_after_idle(c);
}

/// Register-only FMAs on all cores and on one: `Throughput` is in FLOPs, so
/// criterion prints the rate in GFLOP/s ("Gelem/s").
///
/// Each thread times its own loop, started together at a barrier, and a call
/// counts as long as its slowest thread: what it costs to start or wake a thread
/// stays out of the ceiling.
#[cfg(target_arch = "x86_64")]
fn bench_fma_peak(c: &mut Criterion) {
    use fma_peak::{Isa, Precision};
    use std::sync::Barrier;
    let Some(isa) = Isa::detect() else { return };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let timed = |barrier: &Barrier, precision| {
        barrier.wait();
        let start = Instant::now();
        fma_peak::run(isa, precision);
        start.elapsed()
    };
    let mut group = c.benchmark_group("fma_peak");
    group.sample_size(10);
    for (name, precision) in [("f32", Precision::F32), ("f64", Precision::F64)] {
        for (suffix, threads) in [("", cores), ("_1thread", 1)] {
            let flops = isa.flops_per_call(precision) * threads as u64;
            group.throughput(Throughput::Elements(flops));
            group.bench_function(format!("{name}{suffix}"), |bench| {
                bench.iter_custom(|calls| {
                    (0..calls)
                        .map(|_| {
                            let barrier = Barrier::new(threads);
                            std::thread::scope(|scope| {
                                let others: Vec<_> = (1..threads)
                                    .map(|_| scope.spawn(|| timed(&barrier, precision)))
                                    .collect();
                                let mine = timed(&barrier, precision);
                                others
                                    .into_iter()
                                    .map(|t| t.join().expect("an FMA thread panicked"))
                                    .fold(mine, Duration::max)
                            })
                        })
                        .sum()
                })
            });
        }
    }
    group.finish();
}

fn matmul(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    bench_fma_peak(c);
    bench_matmul::<f32>(c);
    bench_matmul::<f64>(c);
}

fn losses(c: &mut Criterion) {
    bench_losses::<f64>(c);
    bench_losses::<f32>(c);
}

criterion_group! {
    name = benches;
    config = config();
    targets = forward, losses, bench_train_step, matmul
}
criterion_main!(benches);
