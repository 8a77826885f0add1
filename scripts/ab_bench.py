#!/usr/bin/env python3
"""Alternate two builds' criterion bench binaries and print the median of each side.

    git worktree add ../base <old-rev> && (cd ../base && cargo bench --bench head --no-run)
    cargo bench --bench head --no-run
    python3 scripts/ab_bench.py ../base ../base/target/release/deps/head-<hash> \
        . target/release/deps/head-<hash> 2 "forward_f|matmul_f|loss_|train_step"

Arguments: base dir, base binary, new dir, new binary, rounds, criterion filter. Rounds
alternate the order (base, new; new, base; ...) so both see the same drift in load.
"""
import re, subprocess, sys, statistics, collections
base_dir, base_bin, new_dir, new_bin, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
filt = sys.argv[6] if len(sys.argv) > 6 else ""
unit = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
res = collections.defaultdict(lambda: {"base": [], "new": []})
def run(tag, d, b):
    cmd = [b, "--bench", "--noplot"] + ([filt] if filt else [])
    out = subprocess.run(cmd, cwd=d, capture_output=True, text=True).stdout
    name = None
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s*$", line)
        if m and "/" in m.group(1): name = m.group(1)
        m2 = re.search(r"^(\S+)?\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if m2:
            n = m2.group(1) or name
            res[n][tag].append(float(m2.group(2)) * unit[m2.group(3)])
for r in range(rounds):
    for tag, d, b in (("base", base_dir, base_bin), ("new", new_dir, new_bin)) if r % 2 == 0 else (("new", new_dir, new_bin), ("base", base_dir, base_bin)):
        run(tag, d, b); print(f"round {r} {tag} done", file=sys.stderr, flush=True)
print(f"{'bench':45s} {'base (median of runs)':>22s} {'new':>12s} {'new/base':>9s}")
for n, v in res.items():
    if v["base"] and v["new"]:
        b, x = statistics.median(v["base"]), statistics.median(v["new"])
        print(f"{n:45s} {b*1e6:18.1f} µs {x*1e6:9.1f} µs {x/b:9.3f}")
