#!/usr/bin/env bash
# Feeds every hostile structure file to a program built with panic = "abort":
# a panic anywhere in bfactor's reading or writing path kills it (no unwind to
# catch), so exit status 0 for every file shows that no input reaches a panic.
#
# Inputs: tests/data/malformed/* (scripts/gen_malformed.py), a gzip bomb made
# here (600 MiB of zeros, over the default 512 MiB cap), and deterministic
# mutations of tests/data/structures/* made inside the program (--mutate N).
#
#   bash .ci/abort_check.sh            # CARGO_TARGET_DIR defaults to target/abort-check
#   CARGO_TARGET_DIR=/shared/target bash .ci/abort_check.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/abort-check}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/src"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "bfactor-abort-check"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
bfactor = { path = "$repo", default-features = false, features = ["structure"] }

[profile.dev]
panic = "abort"

[profile.release]
panic = "abort"

# Inflating the gzip bomb up to the cap takes seconds, not minutes.
[profile.dev.package.miniz_oxide]
opt-level = 3

[workspace]
TOML

cat > "$work/src/main.rs" <<'RUST'
//! Reads (both token modes) and writes back (both formats) every file given;
//! with `--mutate N DIR`, also N deterministic mutations of each file of DIR.
use std::path::{Path, PathBuf};

use bfactor::structure::{self, FileFormat, ReadOptions, TokenMode};

fn exercise_text(bytes: &[u8], format: FileFormat) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let mut ok = false;
    for mode in [TokenMode::Boltz2, TokenMode::CaOnly] {
        if let Ok(s) = structure::read_str(&text, format, &ReadOptions::new().with_tokens(mode)) {
            ok = true;
            let v = s.bfactors().mapv(|b| b.clamp(-99.0, 999.0));
            let _ = structure::write_string(&s, &v, FileFormat::Pdb);
            let _ = structure::write_string(&s, &v, FileFormat::Mmcif);
        }
    }
    ok
}

fn exercise_file(path: &Path) -> bool {
    let mut ok = false;
    for mode in [TokenMode::Boltz2, TokenMode::CaOnly] {
        if let Ok(s) = structure::read(path, &ReadOptions::new().with_tokens(mode)) {
            ok = true;
            let v = s.bfactors().mapv(|b| b.clamp(-99.0, 999.0));
            let _ = structure::write_string(&s, &v, FileFormat::Pdb);
            let _ = structure::write_string(&s, &v, FileFormat::Mmcif);
        }
    }
    ok
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[b"inf", b"NaN", b"1e300", b"?", b".", b"ATOM  ", b"\xe9", b"\x00", b"'", b";", b"X 99 99 99", b"    "];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len());
        match rng.below(5) {
            0 => b.truncate(at),
            1 => b[at] ^= 1 << rng.below(8),
            2 => {
                let end = b[at..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| at + p + 1);
                let start = b[..at].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
                b.drain(start..end);
            }
            3 => b.insert(at, b' '),
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let end = (at + t.len()).min(b.len());
                b.splice(at..end, t.iter().copied());
            }
        }
    }
    b
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut files, mut read) = (0, 0);
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--mutate" {
            let n: usize = args[i + 1].parse().expect("--mutate N DIR");
            let dir = PathBuf::from(&args[i + 2]);
            let mut rng = Rng(0xab07);
            let mut names: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
            names.sort();
            for path in names {
                let Ok((format, gz)) = FileFormat::from_path(&path) else { continue };
                if gz {
                    continue;
                }
                let base = std::fs::read(&path).unwrap();
                for _ in 0..n {
                    files += 1;
                    read += exercise_text(&mutate(&mut rng, &base), format) as usize;
                }
            }
            i += 3;
        } else {
            files += 1;
            read += exercise_file(Path::new(&args[i])) as usize;
            i += 1;
        }
    }
    println!("abort check: {files} inputs, {read} read, none aborted");
}
RUST

cargo build --quiet --manifest-path "$work/Cargo.toml"
bin="$CARGO_TARGET_DIR/debug/bfactor-abort-check"

# A gzip bomb over the default cap.
head -c $((600 << 20)) /dev/zero | gzip -1 > "$work/bomb.pdb.gz"

status=0
for f in "$repo"/tests/data/malformed/* "$work/bomb.pdb.gz"; do
  if ! "$bin" "$f" > /dev/null; then
    echo "abort check: $f made the program die" >&2
    status=1
  fi
done
"$bin" --mutate 150 "$repo/tests/data/structures" || { echo "abort check: a mutation made the program die" >&2; status=1; }
exit $status
