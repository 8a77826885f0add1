#!/usr/bin/env python3
"""Run the Rust benches and the notebook's NumPy functions in one go; print ratios.

    python3 scripts/compare_bench.py                 # everything (~6 minutes)
    python3 scripts/compare_bench.py --filter forward_f32
    python3 scripts/compare_bench.py --skip-rust     # reuse the last criterion run

Steps:
1. ``cargo bench --bench head`` (criterion; medians from
   ``<target>/criterion/**/new/estimates.json``);
2. ``scripts/bench_numpy.py --json`` with a Python that has NumPy (this one, or a
   ``.venv`` it creates with ``pip install numpy`` if NumPy is missing), which also
   times one 2048 x 2048 product per dtype: the machine's matrix-multiply rate;
3. one table: Rust median, NumPy median, speedup (NumPy / Rust), the forward
   pass's floor -- its matrix products' FLOPs, ``2 N c_s (c_s + bins)``, at NumPy's
   measured rate for that dtype -- and Rust / floor.

Both sides see the same load; the header prints ``uptime`` before and after.
Noisy on a shared machine: rerun, and compare runs made close together.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUM_BINS = 64


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT, check=True, **kw)


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def python_with_numpy():
    """A Python interpreter that can import numpy (creating .venv if needed)."""
    try:
        import numpy  # noqa: F401
        return sys.executable
    except ImportError:
        pass
    venv = ROOT / ".venv"
    py = venv / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(venv)])
    if subprocess.run([str(py), "-c", "import numpy"], capture_output=True).returncode != 0:
        sh([str(py), "-m", "pip", "install", "--quiet", "numpy"])
    return str(py)


def target_dir():
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"])
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return Path(json.loads(meta.stdout)["target_directory"])


def rust_medians(crit: Path):
    """{full benchmark id: median in us} from criterion's last run."""
    out = {}
    for est in crit.glob("**/new/estimates.json"):
        bench = est.parent / "benchmark.json"
        if not bench.exists():
            continue
        full_id = json.loads(bench.read_text())["full_id"]
        out[full_id] = json.loads(est.read_text())["median"]["point_estimate"] / 1e3
    return out


def flops(name):
    """FLOPs of the forward pass's two matrix products, or None."""
    m = re.match(r"forward_f(32|64)(?:_1thread)?/(\d+(?:x\d+)*)$", name)
    if not m:
        return None
    dims = [int(d) for d in m.group(2).split("x")]
    tokens, c_s = 1, dims[-1]
    for d in dims[:-1]:
        tokens *= d
    return 2.0 * tokens * c_s * (c_s + NUM_BINS)


def fmt_us(us):
    if us is None:
        return "-"
    if us >= 1e4:
        return f"{us / 1e3:.1f} ms"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.1f} us"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filter", default="", help="only benchmarks whose name contains this")
    ap.add_argument("--repeat", type=int, default=25, help="NumPy timeit repeats")
    ap.add_argument("--skip-rust", action="store_true", help="reuse the last criterion results")
    args = ap.parse_args(argv)

    load_before = uptime()
    if not args.skip_rust:
        cmd = ["cargo", "bench", "--bench", "head", "--", "--noplot"]
        if args.filter:
            cmd.append(args.filter)
        sh(cmd, stdout=subprocess.DEVNULL)
    rust = rust_medians(target_dir() / "criterion")

    py = python_with_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "numpy.json"
        cmd = [py, str(ROOT / "scripts" / "bench_numpy.py"), "--repeat", str(args.repeat),
               "--json", str(out)]
        sh(cmd, stdout=subprocess.DEVNULL)
        npres = json.loads(out.read_text())
    numpy = npres["median_us"]
    load_after = uptime()

    rate = {}  # GFLOP/s of NumPy's 2048^2 product per dtype
    for tag in ("f32", "f64"):
        t = numpy.get(f"gemm_{tag}/2048")
        if t:
            rate[tag] = 2 * 2048**3 / (t * 1e-6) / 1e9
    rust_rate = {tag: 2 * 2048**3 / (rust[f"matmul_{tag}/2048"] * 1e-6) / 1e9
                 for tag in ("f32", "f64") if f"matmul_{tag}/2048" in rust}

    print(f"# bfactor benchmarks vs NumPy, {datetime.date.today().isoformat()}")
    print(f"# cpu: {cpu_model()}, {os.cpu_count()} cpus; numpy {npres['numpy']}, "
          f"{npres['blas']} ({npres['blas_threads']} threads)")
    print(f"# load before: {load_before}")
    print(f"# load after:  {load_after}")
    for tag in ("f32", "f64"):
        if tag in rate:
            extra = f"; bfactor::matmul {rust_rate[tag]:.0f}" if tag in rust_rate else ""
            print(f"# 2048^2 matmul {tag}: NumPy {rate[tag]:.0f} GFLOP/s{extra} GFLOP/s")
    print("# floor = 2*N*c_s*(c_s+64) FLOPs at NumPy's 2048^2 rate for the dtype")
    print()
    header = (f"{'benchmark':<36} {'Rust':>10} {'NumPy':>10} {'NumPy/Rust':>11} "
              f"{'floor':>10} {'Rust/floor':>11}")
    print(header)
    print("-" * len(header))
    names = sorted(set(rust) | set(numpy), key=lambda n: (n.split("/")[0], len(n), n))
    for name in names:
        if args.filter and args.filter not in name:
            continue
        if name.startswith(("gemm_", "matmul_")):
            continue
        r, n = rust.get(name), numpy.get(name)
        speed = f"{n / r:.2f}x" if r and n else "-"
        fl = flops(name)
        tag = name[len("forward_"):len("forward_") + 3] if fl else None
        floor = fl / (rate[tag] * 1e9) * 1e6 if fl and tag in rate else None
        vs_floor = f"{r / floor:.2f}" if r and floor else "-"
        print(f"{name:<36} {fmt_us(r):>10} {fmt_us(n):>10} {speed:>11} "
              f"{fmt_us(floor):>10} {vs_floor:>11}")


if __name__ == "__main__":
    main()
