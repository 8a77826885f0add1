"""What the Python layer costs, side by side in one run (issue 19).

1. Per-call overhead: ``BFactorHead.forward`` on one row against the same head in
   NumPy (float32 and float64), and the losses on 100 values against NumPy.
2. Large inputs: the head on ``[4096, 384]`` (float32) against NumPy's matmul-based
   head: the Rust kernels' speed reaches Python unchanged.
3. Files: read + predict over data/crystal from Python against the ``bfactor``
   command (release binary) on the same files, and against reading with gemmi if
   it is installed (for scale).

Run from the repository root with the venv that has the wheel, e.g.
``target/ci-extra/venv/bin/python scripts/bench_python.py``. Times are medians of
repeats; ratios are what to compare on a noisy machine.
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import bfactor


def median_time(f, repeats, inner=1):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        times.append((time.perf_counter() - t) / inner)
    return statistics.median(times)


def numpy_head(s, w1, w2, centers, eps=1e-5):
    def ln(x):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps)

    h = np.maximum(ln(s) @ w1, 0)
    logits = ln(h) @ w2
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return logits, p @ centers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rust-bench", action="store_true", help="also run criterion's 512x384 forward")
    ap.add_argument("--cli", default="target/ci-extra/release/bfactor", help="the release binary")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"# bench_python, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cpus, "
          f"numpy {np.__version__}, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}")
    print(f"# load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    print("\n## per call (µs), one row of c_s = 384, 64 bins")
    print(f"{'what':34} {'bfactor':>9} {'numpy':>9} {'ratio':>6}")
    for dtype in [np.float32, np.float64]:
        head = bfactor.BFactorHead(384, seed=0, dtype=np.dtype(dtype).name)
        w1, w2 = head.w1, head.w2
        centers = np.linspace(0, 100, 64).astype(dtype)
        s = rng.standard_normal((1, 384)).astype(dtype)
        a = median_time(lambda: head.forward(s), args.repeats, 200)
        b = median_time(lambda: numpy_head(s, w1, w2, centers), args.repeats, 200)
        print(f"{'head.forward ' + np.dtype(dtype).name:34} {a * 1e6:9.1f} {b * 1e6:9.1f} {a / b:6.2f}")
    p, t = rng.standard_normal(100), rng.standard_normal(100)
    a = median_time(lambda: bfactor.loss.pearson(p, t), args.repeats, 500)
    b = median_time(lambda: np.corrcoef(p, t)[0, 1], args.repeats, 500)
    print(f"{'loss.pearson, 100 values':34} {a * 1e6:9.1f} {b * 1e6:9.1f} {a / b:6.2f}")

    print("\n## large input (ms): head on [4096, 384] float32")
    head = bfactor.BFactorHead(384, seed=0)
    s = rng.standard_normal((4096, 384)).astype(np.float32)
    centers = np.linspace(0, 100, 64).astype(np.float32)
    a = median_time(lambda: head.forward(s), args.repeats)
    b = median_time(lambda: numpy_head(s, head.w1, head.w2, centers), args.repeats)
    print(f"{'bfactor':>9} {'numpy':>9} {'ratio':>6}\n{a * 1e3:9.2f} {b * 1e3:9.2f} {a / b:6.2f}")

    print("\n## the 512x384 float32 forward (µs): from Python against the Rust bench")
    s = rng.standard_normal((512, 384)).astype(np.float32)
    a = median_time(lambda: head.forward(s), args.repeats, 20)
    rust = rust_bench("forward_f32/512x384") if args.rust_bench else None
    if rust is None:
        print(f"python {a * 1e6:9.1f}   (pass --rust-bench to run criterion's forward_f32/512x384)")
    else:
        print(f"{'python':>9} {'rust':>9} {'ratio':>6}\n{a * 1e6:9.1f} {rust * 1e6:9.1f} {a / rust:6.2f}")

    predictor = bfactor.Predictor.pretrained()
    for pattern in ["data/crystal/*.gz", "data/set364/*.gz"]:
        files_bench(sorted(glob.glob(pattern)), pattern, predictor, args)


def rust_bench(name):
    """Criterion's median (s) for bench `name` of benches/head.rs, run now."""
    group, _, param = name.partition("/")
    subprocess.run(
        ["cargo", "bench", "--bench", "head", "--", f"^{group}/{param}$", "--noplot"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    path = os.path.join("target", "criterion", group, param, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] * 1e-9


def files_bench(files, pattern, predictor, args):
    print(f"\n## files (s): read + predict, {len(files)} files of {pattern}, CA tokens")

    def python_run():
        for f in files:
            predictor.predict(bfactor.read(f))

    a = median_time(python_run, max(1, args.repeats // 2))
    rows = [("python: bfactor.read + predict", a)]
    if os.path.exists(args.cli):
        cmd = [args.cli, "predict", *files, "--table", "csv", "-q"]
        c = median_time(lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True),
                        max(1, args.repeats // 2))
        rows.append(("the bfactor command (release)", c))
    try:
        import gemmi

        g = median_time(lambda: [gemmi.read_structure(f) for f in files], max(1, args.repeats // 2))
        rows.append(("gemmi.read_structure only", g))
    except ImportError:
        pass
    for name, v in rows:
        print(f"{name:34} {v:9.3f}  x{v / a:5.2f} of python")


if __name__ == "__main__":
    sys.exit(main())
