#!/usr/bin/env bash
# What a new user hits: fresh dependent crates (edition 2021 and 2024, no lock
# file, so the newest versions the resolver allows), each adding this crate with
# `cargo add --path` (default features, every feature, no default features),
# then building and running a small program that follows the README (re-exported
# ndarray and rand). All six share one CARGO_TARGET_DIR, so the dependencies are
# built once per feature set. Set DEPENDENTS_TARGET_DIR to keep that directory between runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export CARGO_TARGET_DIR="${DEPENDENTS_TARGET_DIR:-$tmp/target}"
# Every feature the crate declares, from its manifest's [features] table.
all_features="$(awk '/^\[features\]/ { f = 1; next } /^\[/ { f = 0 }
    f && /^[A-Za-z0-9_-]+ *=/ && $1 != "default" { print $1 }' "$root/Cargo.toml" | paste -sd, -)"
echo "all features: $all_features"

cat >"$tmp/main.rs" <<RS
use bfactor::ndarray::Array2;
use bfactor::rand::{rngs::StdRng, SeedableRng};
use bfactor::structure::{self, gnm, ReadOptions};
use bfactor::{loss, BFactorHeadConfig};

fn main() -> Result<(), bfactor::Error> {
    let mut rng = StdRng::seed_from_u64(0);
    let head = BFactorHeadConfig::new(32).init::<f32>(&mut rng)?;
    let s = Array2::<f32>::from_shape_fn((600, 32), |(i, j)| ((i * 7 + j) % 5) as f32);
    let out = head.forward(&s)?;
    let ubiquitin = structure::read("$root/tests/data/structures/1ubi.pdb", &ReadOptions::new())?;
    let fluct = gnm::GnmConfig::new().build(&ubiquitin.coords())?.square_fluctuations();
    let (_, fitted) = gnm::fit_bfactors_masked(&fluct, &ubiquitin.bfactors(), &ubiquitin.mask())?;
    let r = loss::pearson(&fitted, &ubiquitin.bfactors())?;
    let b: bfactor::ndarray::Array1<f32> = ubiquitin.bfactors_as::<f32>();
    println!(
        "forward {:?}, kernels {}, GNM Pearson {r:.3} over {} tokens",
        out.bfactor.shape(),
        bfactor::cpu::level().name(),
        b.len()
    );
    Ok(())
}
RS

# Without default features (no structures, one thread): the heads and losses alone.
cat >"$tmp/minimal.rs" <<'RS'
use bfactor::ndarray::{Array1, Array2};
use bfactor::rand::{rngs::StdRng, SeedableRng};
use bfactor::{loss, BFactorHeadConfig};

fn main() -> Result<(), bfactor::Error> {
    let head = BFactorHeadConfig::new(16).init::<f64>(&mut StdRng::seed_from_u64(1))?;
    let s = Array2::<f64>::from_shape_fn((40, 16), |(i, j)| ((i * 3 + j) % 7) as f64 - 3.0);
    let out = head.forward(&s)?;
    let target = Array1::from_iter((0..40).map(|i| 20.0 + (i % 9) as f64));
    let r = loss::pearson(&out.bfactor, &target)?;
    assert_eq!(bfactor::matmul::num_threads(), 1);
    println!("minimal: Pearson {r:.3}, kernels {}", bfactor::cpu::level().name());
    Ok(())
}
RS

for edition in 2021 2024; do
    for features in default all minimal; do
        name="dependent_${edition}_${features}"
        echo "== $name"
        cargo new --quiet --edition "$edition" --name "$name" "$tmp/$name"
        cd "$tmp/$name"
        case "$features" in
        default) cargo add --quiet --path "$root" ;;
        all) cargo add --quiet --path "$root" --features "$all_features" ;;
        minimal) cargo add --quiet --path "$root" --no-default-features ;;
        esac
        if [ "$features" = minimal ]; then
            cp "$tmp/minimal.rs" src/main.rs
        else
            cp "$tmp/main.rs" src/main.rs
        fi
        cargo run --quiet
        cd "$root"
    done
done
echo "== every dependent built and ran"
