//! Trains the notebook head on synthetic proteins whose representations carry a
//! flexibility signal (see `bfactor::synthetic::flexibility_dataset` for how they
//! are made), prints validation Pearson per epoch, saves the trained weights to
//! safetensors, reloads them and checks the predictions are identical.
//!
//! Run: `cargo run --release --example train_head`

use bfactor::train::fit::{fit, FitConfig, OptimizerConfig};
use bfactor::train::grad::Objective;
use bfactor::train::optim::AdamWConfig;
use bfactor::{synthetic, BFactorHead, BFactorHeadConfig};
use rand::{rngs::StdRng, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let c_s = 64;
    let data = synthetic::flexibility_dataset::<f32>(160, c_s, 2026);
    let config = BFactorHeadConfig::new(c_s);
    let mut head = config.init::<f32>(&mut StdRng::seed_from_u64(0))?;

    let fit_config = FitConfig::new()
        .with_objective(Objective::NormalizedMse)
        .with_epochs(30)
        .with_batch_size(8)
        .with_optimizer(OptimizerConfig::AdamW(AdamWConfig::new().with_lr(1e-3)))
        .with_validation_fraction(0.2)
        .with_patience(Some(8))
        .with_seed(7);
    println!(
        "{} proteins, c_s = {c_s}; training the notebook head",
        data.len()
    );
    println!("epoch  train_loss  val_loss  val_pearson");
    let history = fit(&mut head, &data, &fit_config, |e| {
        println!(
            "{:>5}  {:>10}  {:>8.4}  {:>11.3}",
            e.epoch,
            e.train_loss.map_or("-".into(), |l| format!("{l:.4}")),
            e.val_loss.unwrap_or(f64::NAN),
            e.val_pearson.unwrap_or(f64::NAN)
        );
    })?;
    let best = &history.epochs[history.best_epoch];
    println!(
        "best epoch {}: validation Pearson {:.3}",
        best.epoch,
        best.val_pearson.unwrap_or(f64::NAN)
    );

    let pearson = best.val_pearson.unwrap_or(f64::NAN);
    if pearson < 0.9 {
        return Err(format!("validation Pearson {pearson:.3} is below 0.9").into());
    }

    let path = std::env::temp_dir().join("bfactor_train_head.safetensors");
    head.save(&path)?;
    let reloaded = BFactorHead::<f32>::load(&path, config)?;
    let probe = data[history.validation[0]].s();
    let (a, b) = (
        head.forward(probe)?.bfactor,
        reloaded.forward(probe)?.bfactor,
    );
    assert_eq!(a, b, "reloaded weights must predict identically");
    println!(
        "saved to {} and reloaded: identical predictions",
        path.display()
    );
    Ok(())
}
