#!/usr/bin/env python3
"""Large structures side by side in one run: gemmi's read against bfactor's read and predict.

For each size, makes (once, with scripts/gen_assembly.py) an mmCIF of copies of 1UBQ on a
grid, one chain per copy, then runs each of these in its own process, measuring the wall
time and the peak resident memory (ru_maxrss of the child, from os.wait4):

- gemmi:   `gemmi.read_structure(path)` from Python (time inside the process, around the
           call; the peak includes the interpreter and the gemmi module, printed once as
           "python+gemmi baseline");
- read:    `examples/read_structure` (bfactor's `structure::read` with CA tokens; time
           inside the process);
- predict: `bfactor predict FILE -q` (the release CLI: read, descriptors, model; the
           process's wall time);
- stages:  `examples/read_structure --stages` (read / descriptors / model split).

Prints a table, the ratios to gemmi's read and the growth exponent d log(time) / d log(atoms)
between consecutive sizes. Needs gemmi in the Python given by --python (a venv outside the
repository: `python3 -m venv /tmp/gemmi && /tmp/gemmi/bin/pip install gemmi`), and
`cargo build --release -p bfactor-cli && cargo build --release --example read_structure`.

    python3 scripts/bench_large.py --python /tmp/gemmi/bin/python
    python3 scripts/bench_large.py --python /tmp/gemmi/bin/python --sizes 1000,4000 --repeats 3
"""

import argparse
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GEMMI_READ = (
    "import sys, time, gemmi\n"
    "t = time.perf_counter()\n"
    "st = gemmi.read_structure(sys.argv[1])\n"
    "dt = time.perf_counter() - t\n"
    "print(dt, st[0].count_atom_sites())\n"
)
GEMMI_BASELINE = "import gemmi\n"


def run_peak(cmd):
    """(wall seconds, peak RSS MB, stdout) with the child's own ru_maxrss via os.wait4."""
    r, w = os.pipe()
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    raise_on(code, cmd, "")
    return wall, ru.ru_maxrss / 1024.0, b"".join(chunks).decode()


def raise_on(code, cmd, err):
    if code != 0:
        sys.exit(f"failed ({code}): {' '.join(cmd)}\n{err}")


def best(cmd, repeats):
    """The run with the least wall time of `repeats` (peak: the largest seen)."""
    runs = [run_peak(cmd) for _ in range(repeats)]
    wall = min(x[0] for x in runs)
    peak = max(x[1] for x in runs)
    out = min(runs, key=lambda x: x[0])[2]
    return wall, peak, out


def exponent(t0, t1, n0, n1):
    return math.log(t1 / t0) / math.log(n1 / n0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", required=True, help="a Python with gemmi installed")
    ap.add_argument("--sizes", default="1000,4000,16500,66000", help="residues, comma-separated")
    ap.add_argument("--repeats", type=int, default=1, help="runs per measurement (best time kept)")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "target", "bench_large"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "bfactor"))
    ap.add_argument("--reader", default=os.path.join(ROOT, "target", "release", "examples",
                                                     "read_structure"))
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage split")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for exe in (args.bin, args.reader):
        if not os.path.exists(exe):
            sys.exit(f"{exe} not found: cargo build --release -p bfactor-cli && "
                     "cargo build --release --example read_structure")
    os.makedirs(args.workdir, exist_ok=True)

    files = []
    for n in sizes:
        path = os.path.join(args.workdir, f"assembly_{n}.cif")
        if not os.path.exists(path):
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_assembly.py"),
                            "--residues", str(n), "-o", path], check=True,
                           stdout=subprocess.DEVNULL)
        files.append(path)

    with open("/proc/loadavg") as fh:
        load_before = fh.read().split()[:3]
    gemmi_version = subprocess.run([args.python, "-c", "import gemmi; print(gemmi.__version__)"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    _, base_peak, _ = run_peak([args.python, "-c", GEMMI_BASELINE])
    print(f"# bench_large, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cpus, gemmi {gemmi_version}, repeats {args.repeats}")
    print(f"# load before: {' '.join(load_before)}")
    print(f"# python+gemmi baseline peak: {base_peak:.0f} MB (included in gemmi's peaks)")
    print("# times in s, peaks in MB; ratios are bfactor / gemmi read")
    head = (f"{'residues':>9} {'atoms':>9} {'MB':>6} | {'gemmi s':>8} {'MB':>6} | "
            f"{'read s':>7} {'MB':>6} {'x':>5} {'xMB':>5} | {'predict s':>9} {'MB':>6} "
            f"{'x':>6} {'xMB':>5}")
    if not args.no_stages:
        head += f" | {'st.read':>7} {'st.desc':>7} {'st.model':>8}"
    print(head)
    print("-" * len(head))
    rows = []
    for n, path in zip(sizes, files):
        mb = os.path.getsize(path) / 1e6
        _, g_peak, g_out = best([args.python, "-c", GEMMI_READ, path], args.repeats)
        g_time, atoms = float(g_out.split()[0]), int(g_out.split()[1])
        _, r_peak, r_out = best([args.reader, path], args.repeats)
        f = r_out.split()
        r_time = float(f[4])
        if int(f[1]) != atoms:
            sys.exit(f"{path}: gemmi read {atoms} atoms, bfactor {f[1]}")
        p_time, p_peak, _ = best([args.bin, "predict", path, "-q"], args.repeats)
        line = (f"{n:>9} {atoms:>9} {mb:>6.1f} | {g_time:>8.3f} {g_peak:>6.0f} | "
                f"{r_time:>7.3f} {r_peak:>6.0f} {r_time / g_time:>5.2f} {r_peak / g_peak:>5.2f} | "
                f"{p_time:>9.3f} {p_peak:>6.0f} {p_time / g_time:>6.2f} {p_peak / g_peak:>5.2f}")
        if not args.no_stages:
            _, _, s_out = best([args.reader, "--stages", path], args.repeats)
            s = s_out.split()
            line += f" | {float(s[4]):>7.3f} {float(s[5]):>7.3f} {float(s[6]):>8.3f}"
        print(line, flush=True)
        rows.append((n, atoms, g_time, r_time, p_time))
    if len(rows) > 1:
        print("\ngrowth exponent d log t / d log atoms between consecutive sizes:")
        print(f"{'from':>9} {'to':>9} | {'gemmi':>6} {'read':>6} {'predict':>7} | predict x")
        for a, b in zip(rows, rows[1:]):
            print(f"{a[0]:>9} {b[0]:>9} | {exponent(a[2], b[2], a[1], b[1]):>6.2f} "
                  f"{exponent(a[3], b[3], a[1], b[1]):>6.2f} "
                  f"{exponent(a[4], b[4], a[1], b[1]):>7.2f} | {b[4] / a[4]:.2f}")
    with open("/proc/loadavg") as fh:
        print(f"# load after: {' '.join(fh.read().split()[:3])}")


if __name__ == "__main__":
    main()
