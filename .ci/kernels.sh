#!/usr/bin/env bash
# The tests that reach the hand-dispatched kernels (matrix products, the fused
# head pass, the loss moments, the input screens, the gradients), once per
# instruction-set level, forced with BFACTOR_KERNEL (see `bfactor::cpu`). A level
# the CPU lacks is clamped to the best it has, so on a CPU without AVX-512 the
# avx512 run repeats the avx2 one.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=(--test parity_notebook --test boltz2_parity --test gradients --test properties --test errors)
# Build once; the runs below only execute.
cargo test --all-features --no-run --lib "${tests[@]}"
for level in avx512 avx2 portable; do
    echo "== BFACTOR_KERNEL=$level"
    BFACTOR_KERNEL=$level cargo test --all-features --lib -q -- cpu:: matmul:: head:: loss ops:: pool:: train::
    BFACTOR_KERNEL=$level cargo test --all-features -q "${tests[@]}"
done
