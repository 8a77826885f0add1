#!/usr/bin/env bash
# The Python package (python/): a fresh venv in target/ci-extra/venv with
# maturin, pytest and numpy from PyPI, the abi3 wheel built once by maturin
# (release, CARGO_TARGET_DIR=target/ci-extra), installed, then pytest python/tests.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="$PWD/target/ci-extra"
venv="$extra/venv"
mkdir -p "$extra"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade maturin pytest numpy biotite gemmi pyarrow dask distributed
rm -rf "$extra/wheels"
CARGO_TARGET_DIR="$extra" "$venv/bin/maturin" build --release -m python/Cargo.toml --out "$extra/wheels" --interpreter "$venv/bin/python"
"$venv/bin/pip" install --quiet --force-reinstall --no-deps "$extra"/wheels/bfactor-*.whl
# From the repository root, with the installed package (not python/bfactor) on the path.
"$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests
