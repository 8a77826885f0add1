"""Throughput of the batch paths (issue 22): files and residues per second on
data/set364 and data/crystal, with 1 and 2 workers, and the per-task start-up.

1. The command: ``bfactor -q -j W predict DIR --table parquet -o OUT`` (release
   binary, W rayon threads), W = 1 and 2.
2. Dask: ``bfactor.dask.predict_to_parquet`` on a ``LocalCluster`` of W worker
   processes (one thread each, ``RAYON_NUM_THREADS=1``), W = 1 and 2; the time
   excludes the cluster's start (the workers are warmed with one small file).
3. Start-up: the command on one small file (process start, predictor load,
   one 76-residue file, the tables written), and ``bfactor --version``.

Residues are the token tables' rows (one token per amino acid at CA). Run from
the repository root with the venv that has the wheel:

    target/ci-extra/venv/bin/python scripts/bench_scale.py --bin target/ci-extra/venv/bin/bfactor

(``--bin`` is the package's console script, the same release code as the Rust
binary behind a Python start; ``CARGO_TARGET_DIR=target/ci-extra cargo build
--release -p bfactor-cli`` builds the binary itself, ``--bin
target/ci-extra/release/bfactor``.)

Prints a JSON summary (medians of --repeats runs) and a Markdown table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow.parquet as pq


def run_command(binary, workers, directory, out):
    t = time.perf_counter()
    subprocess.run(
        [binary, "-q", "-j", str(workers), "predict", directory, "--table", "parquet", "-o", out, "--force"],
        check=True,
        # The console script runs on the package's pool, sized by RAYON_NUM_THREADS.
        env={**os.environ, "RAYON_NUM_THREADS": str(workers)},
    )
    return time.perf_counter() - t


def counts(out):
    files = pq.read_table(out.replace(".parquet", ".files.parquet"))
    return files.num_rows, pq.ParquetFile(out).metadata.num_rows


def dask_times(directory, workers, repeats, tmp):
    import glob

    import distributed

    import bfactor.dask

    paths = sorted(glob.glob(os.path.join(directory, "*.pdb.gz")))
    times = []
    with distributed.LocalCluster(
        n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=None,
        env={"RAYON_NUM_THREADS": "1"},
    ) as cluster, distributed.Client(cluster) as client:
        # Warm every worker: import, predictor load.
        bfactor.dask.predict_to_parquet(["tests/data/structures/1ubi.pdb"] * workers, os.path.join(tmp, "warm"),
                                        client=client, partitions=workers)
        for r in range(repeats):
            out = os.path.join(tmp, f"dask-{workers}-{r}-{os.path.basename(directory)}")
            t = time.perf_counter()
            bfactor.dask.predict_to_parquet(paths, out, client=client, partitions=4 * workers)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/ci-extra/release/bfactor")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.parquet")
        for name in ["data/set364", "data/crystal"]:
            run_command(args.bin, 2, name, out)  # warm the page cache
            n_files, n_res = counts(out)
            row = {"files": n_files, "residues": n_res}
            for w in (1, 2):
                row[f"command_{w}"] = statistics.median(run_command(args.bin, w, name, out) for _ in range(args.repeats))
                if not args.no_dask:
                    row[f"dask_{w}"] = dask_times(name, w, args.repeats, tmp)
            results[name] = row
        small = "tests/data/structures/1ubi.pdb"
        startup = []
        version = []
        for _ in range(max(5, args.repeats)):
            startup.append(run_command(args.bin, 1, small, out))
            t = time.perf_counter()
            subprocess.run([args.bin, "--version"], check=True, capture_output=True)
            version.append(time.perf_counter() - t)
        results["startup_one_file_s"] = statistics.median(startup)
        results["process_start_s"] = statistics.median(version)
    print(json.dumps(results, indent=1))
    print("| set | files | residues | engine | workers | time (s) | files/s | residues/s | efficiency |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in ["data/set364", "data/crystal"]:
        row = results[name]
        for engine in ["command"] + ([] if args.no_dask else ["dask"]):
            for w in (1, 2):
                t = row[f"{engine}_{w}"]
                eff = row[f"{engine}_1"] / (w * t)
                print(f"| {name} | {row['files']} | {row['residues']} | {engine} | {w} | {t:.2f} | "
                      f"{row['files'] / t:.1f} | {row['residues'] / t:.0f} | {eff:.2f} |")
    print(f"start-up (one small file, whole run): {results['startup_one_file_s'] * 1000:.0f} ms; "
          f"process start alone: {results['process_start_s'] * 1000:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
