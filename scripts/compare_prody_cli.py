#!/usr/bin/env python3
"""Time `bfactor compare` over a directory of structures (the set364 benchmark)
against a Python loop running ProDy's GNM on the same files in one process, and
check that both give the same GNM Pearson correlations.

Usage (ProDy from Debian: apt-get install python3-prody):

    cargo build --release -p bfactor-cli
    /usr/bin/python3 scripts/compare_prody_cli.py [DIR] [--bfactor target/release/bfactor]
        [--cutoff 10] [--rounds 3]

DIR defaults to data/set364 (CA-only PDB files, gzipped). For every file ProDy
does what `bfactor compare --methods gnm` does: parse the file, take its CA atoms,
build the Kirchhoff matrix (`GNM.buildKirchhoff`, the same cutoff), compute every
nonzero mode (`calcModes(n_modes=None)`), the square fluctuations
(`calcSqFlucts`) and their Pearson correlation with the CA B-factors. The ProDy
time is the loop alone (imports excluded); the `bfactor` times are whole process
runs (start, reading, computing, printing), the median of --rounds runs. Wall
and CPU (user + system) times are both printed: on a shared machine the wall
times depend on the load, the CPU times much less.
"""

import argparse
import csv
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def structure_files(directory):
    suffixes = (".pdb", ".ent", ".cif", ".mmcif")
    out = []
    for p in sorted(Path(directory).rglob("*")):
        name = p.name.lower()
        if name.endswith(".gz"):
            name = name[:-3]
        if p.is_file() and not p.name.startswith(".") and name.endswith(suffixes):
            out.append(p)
    return out


def prody_loop(files, cutoff):
    import numpy as np
    import prody

    prody.confProDy(verbosity="none")
    results = {}
    start, cpu = time.perf_counter(), time.process_time()
    for f in files:
        atoms = prody.parsePDB(str(f)).select("name CA")
        gnm = prody.GNM(f.name)
        gnm.buildKirchhoff(atoms.getCoords(), cutoff=cutoff)
        gnm.calcModes(n_modes=None)
        sq = prody.calcSqFlucts(gnm)
        b = atoms.getBetas()
        results[f.name] = (float(np.corrcoef(sq, b)[0, 1]), len(b))
    return time.perf_counter() - start, time.process_time() - cpu, results


def run_bfactor(exe, directory, extra, rounds, jobs=None):
    threads = ["-j", str(jobs)] if jobs else []
    cmd = [exe, "-q"] + threads + ["compare", str(directory), "--csv"] + extra
    times, cpus, out = [], [], None
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        out = p.stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return (statistics.median(times), min(times), max(times), rows, " ".join(cmd),
            statistics.median(cpus))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("directory", nargs="?", default=ROOT / "data" / "set364")
    ap.add_argument("--bfactor", default=str(ROOT / "target" / "release" / "bfactor"))
    ap.add_argument("--cutoff", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    files = structure_files(args.directory)
    if not files:
        sys.exit(f"no structure files in {args.directory}")
    print(f"{len(files)} files in {args.directory}; GNM cutoff {args.cutoff} Å; "
          f"{os.cpu_count()} cores")

    load = os.getloadavg()
    cutoff = ["--cutoff", str(args.cutoff)]
    gnm_only = run_bfactor(args.bfactor, args.directory, ["--methods", "gnm"] + cutoff,
                           args.rounds)
    gnm_one_thread = run_bfactor(args.bfactor, args.directory,
                                 ["--methods", "gnm"] + cutoff, args.rounds, jobs=1)
    everything = run_bfactor(args.bfactor, args.directory, cutoff, args.rounds)
    predictor_only = run_bfactor(args.bfactor, args.directory, ["--methods", "predictor"],
                                 args.rounds)

    prody_time, prody_cpu, prody_r = prody_loop(files, args.cutoff)

    # The same GNM correlations, on the files that are one chain for both
    # (ProDy correlates a whole file, `bfactor compare` each chain).
    rows_of = {}
    for row in gnm_only[3]:
        rows_of.setdefault(Path(row["file"]).name, []).append(row)
    worst, compared = 0.0, 0
    for name, (r, n) in prody_r.items():
        rows = rows_of.get(name, [])
        if len(rows) == 1 and rows[0]["gnm"] and int(rows[0]["tokens"]) == n:
            worst = max(worst, abs(float(rows[0]["gnm"]) - r))
            compared += 1
    mean = statistics.mean(r for r, _ in prody_r.values())
    print(f"GNM Pearson r, bfactor vs ProDy: {compared} single-chain files compared, "
          f"largest difference {worst:.2e}; ProDy's mean r over {len(prody_r)} files "
          f"{mean:.4f}")

    print(f"load average before the runs: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min)")
    print(f"\n{'run':<52} {'wall s':>8} {'(min-max)':>15} {'ProDy/run':>9} "
          f"{'CPU s':>7} {'ProDy/run':>9}")
    print(f"{'ProDy loop (parsePDB, GNM all modes, calcSqFlucts)':<52} "
          f"{prody_time:>8.2f} {'':>15} {1.0:>9.1f} {prody_cpu:>7.2f} {1.0:>9.1f}")
    for label, r in [
        ("bfactor compare --methods gnm", gnm_only),
        ("bfactor -j 1 compare --methods gnm", gnm_one_thread),
        ("bfactor compare (predictor, gnm, 1/wcn)", everything),
        ("bfactor compare --methods predictor (read + predict)", predictor_only),
    ]:
        print(f"{label:<52} {r[0]:>8.2f} {f'({r[1]:.2f}-{r[2]:.2f})':>15} "
              f"{prody_time / r[0]:>9.1f} {r[5]:>7.2f} {prody_cpu / r[5]:>9.1f}")

if __name__ == "__main__":
    main()
