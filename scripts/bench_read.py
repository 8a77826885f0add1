#!/usr/bin/env python3
"""Read time of a set of structure files: bfactor's reader against gemmi's, in one run.

    python3 scripts/bench_read.py --python /tmp/gemmi/bin/python [--repeats 5] [FILE...]

Without files, the 46 files of `data/crystal/`. For each of `--repeats` rounds (best
kept) it times, each in its own process:

- gemmi: `gemmi.read_structure(path)` for every file, in a loop in Python (time around
  the loop: the interpreter's per-call cost is included, its start-up is not);
- bfactor: `examples/read_structure` (`structure::read` with CA tokens, the path
  `bfactor predict` reads by), the sum of the per-file read times it prints (time
  inside the process, start-up excluded).

Build first: `cargo build --release --example read_structure` (the binary is looked up
in `$CARGO_TARGET_DIR`, else `target/`, or given with `--reader`).
"""

import argparse
import glob
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GEMMI = (
    "import sys, time, gemmi\n"
    "files = sys.argv[1:]\n"
    "t = time.perf_counter()\n"
    "n = 0\n"
    "for f in files:\n"
    "    n += gemmi.read_structure(f)[0].count_atom_sites()\n"
    "print(time.perf_counter() - t, n)\n"
)


def gemmi_time(python, files):
    out = subprocess.run([python, "-c", GEMMI] + files, check=True, capture_output=True, text=True)
    t, n = out.stdout.split()
    return float(t), int(n)


def bfactor_time(reader, files):
    out = subprocess.run([reader] + files, check=True, capture_output=True, text=True)
    lines = out.stdout.split("\n")
    rows = [line.split() for line in lines if line.strip()]
    if len(rows) != len(files):
        sys.exit(f"{reader}: {len(rows)} lines for {len(files)} files")
    return sum(float(r[4]) for r in rows), sum(int(r[1]) for r in rows)


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", required=True, help="a Python with gemmi installed")
    ap.add_argument("--repeats", type=int, default=5, help="rounds (best time kept)")
    ap.add_argument(
        "--reader",
        default=os.path.join(target, "release", "examples", "read_structure"),
        help="the read_structure example binary",
    )
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    crystal = os.path.join(ROOT, "data", "crystal")
    files = args.files or sorted(
        glob.glob(os.path.join(crystal, "*.pdb.gz")) + glob.glob(os.path.join(crystal, "*.cif.gz"))
    )
    if not files:
        sys.exit("no files")
    version = subprocess.run(
        [args.python, "-c", "import gemmi; print(gemmi.__version__)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    print(f"# bench_read, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cpus, gemmi {version}, {len(files)} files, best of {args.repeats}")
    print(f"# load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    g, b = [], []
    for _ in range(args.repeats):
        g.append(gemmi_time(args.python, files))
        b.append(bfactor_time(args.reader, files))
    (gt, gn), (bt, bn) = min(g), min(b)
    print(f"gemmi read_structure  {gt:8.4f} s  {gn:9d} atoms")
    print(f"bfactor read          {bt:8.4f} s  {bn:9d} atoms")
    print(f"bfactor / gemmi       {bt / gt:8.2f}")
    print(f"# load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
