//! Replays the reference notebook's test cell in Rust and prints its lines.
//!
//! `np.random.seed(42)`; `s = randn(50, 128)`; the head draws `W1` then `W2`; the
//! ground truth is the notebook's termini profile. The printed range, loss and
//! correlation are the figures NumPy prints for the notebook.
//!
//! Run: `cargo run --release --example synthetic_termini`

use bfactor::{loss, numpy_rng::NumpyRandom, synthetic, BFactorHeadConfig};

fn main() -> Result<(), bfactor::Error> {
    let (n, c_s) = (50, 128);
    println!("Test: B-Factor Prediction");
    println!("{}", "=".repeat(60));

    let mut rng = NumpyRandom::seed(42);
    let s = rng.randn((n, c_s));
    let head = BFactorHeadConfig::new(c_s).init_numpy::<f64>(&mut rng)?;

    println!("B-Factor Head");
    println!("{}", "=".repeat(50));
    let out = head.forward(&s)?;
    let pred = &out.bfactor;
    let (lo, hi) = pred
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &b| {
            (lo.min(b), hi.max(b))
        });
    println!("B-factor range: [{lo:.1}, {hi:.1}]");

    let truth = synthetic::termini_profile(n);
    let mse = loss::normalized_mse(pred, &truth)?;
    println!("\nLoss: {mse:.4}");
    let corr = loss::pearson(pred, &truth)?;
    println!("Correlation: {corr:.3}");
    Ok(())
}
