#!/usr/bin/env python3
"""Run the Rust benches and the notebook's NumPy functions in one go; print ratios.

    python3 scripts/compare_bench.py                 # everything (~6 minutes)
    python3 scripts/compare_bench.py --filter forward_f32
    python3 scripts/compare_bench.py --filter forward --rounds 3   # alternate 3 times
    python3 scripts/compare_bench.py --skip-rust     # reuse the last criterion run

Steps:
1. ``cargo bench --bench head`` (criterion; medians from
   ``<target>/criterion/**/new/estimates.json``);
2. ``scripts/bench_numpy.py --json`` with a Python that has NumPy (this one, or a
   ``.venv`` it creates with ``pip install numpy`` if NumPy is missing), which also
   times one 2048 x 2048 product per dtype: the machine's matrix-multiply rate;
3. one table: Rust median, NumPy median, speedup (NumPy / Rust), the forward
   pass's floor -- its matrix products' FLOPs, ``2 N c_s (c_s + bins)``, at NumPy's
   measured rate for that dtype -- and Rust / floor;
4. where the Rust run has ``fma_peak/<dtype>`` (register-only FMAs on every core,
   x86-64), the same FLOPs at that rate: ``peak``, the time no implementation can
   beat on this machine, with Rust / peak and NumPy / peak. A speed-up of s over
   NumPy is possible only where NumPy / peak >= s.

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
import time
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


def cpu_seconds():
    """(all CPU time, stolen time) in seconds since boot, from /proc/stat, or None.
    Steal is time the hypervisor ran someone else while this VM wanted the CPU."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        return sum(fields[:8]) / hz, (fields[7] if len(fields) > 7 else 0) / hz
    except (OSError, ValueError, IndexError):
        return None


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


def rust_medians(crit: Path, since: float = 0.0):
    """{full benchmark id: median in us} and {id: elements per iteration} from
    criterion's results written after `since` (a time.time())."""
    out, throughput = {}, {}
    for est in crit.glob("**/new/estimates.json"):
        if est.stat().st_mtime < since:
            continue  # an older run's result for a benchmark this run skipped
        bench = est.parent / "benchmark.json"
        if not bench.exists():
            continue
        meta = json.loads(bench.read_text())
        out[meta["full_id"]] = json.loads(est.read_text())["median"]["point_estimate"] / 1e3
        elements = (meta.get("throughput") or {}).get("Elements")
        if elements:
            throughput[meta["full_id"]] = elements
    return out, throughput


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


def run_round(args, py):
    """One Rust run and one NumPy run: (Rust medians, Rust throughputs, NumPy result)."""
    since = 0.0
    if not args.skip_rust:
        cmd = ["cargo", "bench", "--bench", "head", "--", "--noplot"]
        if args.filter:  # a regex for criterion; the FMA peak always runs
            cmd.append(f"{args.filter}|^fma_peak/")
        since = time.time()
        sh(cmd, stdout=subprocess.DEVNULL)
    rust, elements = rust_medians(target_dir() / "criterion", since)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "numpy.json"
        cmd = [py, str(ROOT / "scripts" / "bench_numpy.py"), "--repeat", str(args.repeat),
               "--json", str(out)]
        if args.filter:  # the 2048^2 products give the floor
            cmd += ["--filter", f"{args.filter}|gemm_"]
        sh(cmd, stdout=subprocess.DEVNULL)
        npres = json.loads(out.read_text())
    return rust, elements, npres


def round_table(args, rust, elements, numpy):
    """The rates ({label: GFLOP/s}) and rows ({name: {column: value}}) of one round."""
    rates = {}
    for tag in ("f32", "f64"):
        if (t := numpy.get(f"gemm_{tag}/2048")):
            rates[f"numpy_{tag}"] = 2 * 2048**3 / (t * 1e-6) / 1e9
        if (t := rust.get(f"matmul_{tag}/2048")):
            rates[f"rust_{tag}"] = 2 * 2048**3 / (t * 1e-6) / 1e9
        for one in ("", "_1thread"):  # register-only FMAs, all cores / one
            k = f"fma_peak/{tag}{one}"
            if k in rust and k in elements:
                rates[f"peak_{tag}{one}"] = elements[k] / (rust[k] * 1e-6) / 1e9
    rows = {}
    for name in set(rust) | set(numpy):
        if args.filter and args.filter not in name:
            continue
        if name.startswith(("gemm_", "matmul_", "fma_peak/")):
            continue
        r, n = rust.get(name), numpy.get(name)
        row = {"rust": r, "numpy": n, "speedup": n / r if r and n else None}
        fl = flops(name)
        tag = name[len("forward_"):len("forward_") + 3] if fl else None
        if fl and f"numpy_{tag}" in rates:
            row["floor"] = fl / (rates[f"numpy_{tag}"] * 1e9) * 1e6
            row["rust/floor"] = r / row["floor"] if r else None
        p = rates.get(f"peak_{tag}" + ("_1thread" if "_1thread" in name else "")) if fl else None
        if p:
            row["peak"] = fl / (p * 1e9) * 1e6
            row["rust/peak"] = r / row["peak"] if r else None
            row["numpy/peak"] = n / row["peak"] if n else None
        rows[name] = row
    return rates, rows


def spread(values, fmt):
    """One value, or the median and the range over rounds."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return "-"
    med = values[len(values) // 2] if len(values) % 2 else \
        (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
    if len(values) == 1 or fmt is fmt_us:
        return fmt(med)
    return f"{fmt(med)} ({fmt(values[0])}-{fmt(values[-1])})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filter", default="", help="only benchmarks whose name contains this")
    ap.add_argument("--repeat", type=int, default=25, help="NumPy timeit repeats")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate Rust and NumPy runs this many times; print medians "
                         "and, for ratios, the range over rounds")
    ap.add_argument("--skip-rust", action="store_true", help="reuse the last criterion results")
    args = ap.parse_args(argv)
    if args.rounds < 1 or (args.skip_rust and args.rounds > 1):
        ap.error("--rounds must be >= 1, and 1 with --skip-rust")

    load_before, cpu_before = uptime(), cpu_seconds()
    py = python_with_numpy()
    rounds = []
    for _ in range(args.rounds):
        rust, elements, npres = run_round(args, py)
        rounds.append(round_table(args, rust, elements, npres["median_us"]))
    load_after, cpu_after = uptime(), cpu_seconds()

    def rate(label):
        return spread([r.get(label) for r, _ in rounds], lambda v: f"{v:.0f}")

    print(f"# bfactor benchmarks vs NumPy, {datetime.date.today().isoformat()}")
    print(f"# cpu: {cpu_model()}, {os.cpu_count()} cpus; numpy {npres['numpy']}, "
          f"{npres['blas']} ({npres['blas_threads']} threads)")
    if args.rounds > 1:
        print(f"# {args.rounds} rounds, each a Rust run then a NumPy run; times are medians "
              "over rounds, ratios the median (min-max) of each round's ratio")
    print(f"# load before: {load_before}")
    print(f"# load after:  {load_after}")
    if cpu_before and cpu_after:
        total, steal = (a - b for a, b in zip(cpu_after, cpu_before))
        print(f"# stolen by the hypervisor during the run: {steal:.1f} s of {total:.0f} "
              f"CPU-seconds ({100 * steal / max(total, 1e-9):.1f} %)")
    rates = {k for r, _ in rounds for k in r}
    for tag in ("f32", "f64"):
        if f"numpy_{tag}" in rates:
            extra = (f"; bfactor::matmul {rate(f'rust_{tag}')} GFLOP/s"
                     if f"rust_{tag}" in rates else "")
            print(f"# 2048^2 matmul {tag}: NumPy {rate(f'numpy_{tag}')} GFLOP/s{extra}")
    for tag in ("f32", "f64"):
        if f"peak_{tag}" in rates:
            print(f"# FMA peak {tag} (registers only): all cores {rate(f'peak_{tag}')} "
                  f"GFLOP/s; one core {rate(f'peak_{tag}_1thread')}")
    print("# floor = 2*N*c_s*(c_s+64) FLOPs at NumPy's 2048^2 rate for the dtype")
    has_peak = any(k.startswith("peak_") for k in rates)
    if has_peak:
        print("# peak  = the same FLOPs at the FMA peak (one core for _1thread rows);"
              " a speed-up of s over NumPy needs NumPy/peak >= s")
    print()
    columns = [("Rust", "rust", fmt_us), ("NumPy", "numpy", fmt_us),
               ("NumPy/Rust", "speedup", lambda v: f"{v:.2f}x"),
               ("floor", "floor", fmt_us), ("Rust/floor", "rust/floor", lambda v: f"{v:.2f}")]
    if has_peak:
        columns += [("peak", "peak", fmt_us), ("Rust/peak", "rust/peak", lambda v: f"{v:.2f}"),
                    ("NumPy/peak", "numpy/peak", lambda v: f"{v:.2f}")]
    table = []
    names = sorted({n for _, rows in rounds for n in rows},
                   key=lambda n: (n.split("/")[0], len(n), n))
    for name in names:
        cells = [spread([rows.get(name, {}).get(key) for _, rows in rounds], fmt)
                 for _, key, fmt in columns]
        table.append([name] + cells)
    widths = [max(len(h), *(len(row[i + 1]) for row in table)) if table else len(h)
              for i, (h, _, _) in enumerate(columns)]
    header = f"{'benchmark':<36}" + "".join(f" {h:>{w}}" for (h, _, _), w in
                                             zip(columns, widths))
    print(header)
    print("-" * len(header))
    for row in table:
        print(f"{row[0]:<36}" + "".join(f" {c:>{w}}" for c, w in zip(row[1:], widths)))


if __name__ == "__main__":
    main()
