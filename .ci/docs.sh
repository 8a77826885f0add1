#!/usr/bin/env bash
# The API docs as docs.rs builds them (every feature), with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features
