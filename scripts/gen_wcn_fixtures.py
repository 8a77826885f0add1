#!/usr/bin/env python3
"""Fixtures for `features::atom_wcn`: gemmi's own per-atom 1/WCN (`gemmi wcn --xy-out`).

For each file below and each setting (gemmi's defaults; `--blur=2`; `--blur=4`; `--no-crystal`),
runs the `gemmi wcn` program and writes tests/fixtures/wcn/<ENTRY>_<setting>.tsv with one row
per atom gemmi scores: chain, residue number with insertion code (gemmi's seqid), atom
name, the occurrence of that name in its residue (0, 1, ... for alternate locations, in
file order) and gemmi's value (printed with %g, 6 significant digits).

Needs the gemmi program (`pip install gemmi-program`; tested with 0.7.5) on PATH or in
the Python environment running the script:

    python3 -m venv /tmp/gw && /tmp/gw/bin/pip install gemmi gemmi-program
    /tmp/gw/bin/python scripts/gen_wcn_fixtures.py
"""

import collections
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["1UBQ.pdb.gz", "1EJG.pdb.gz", "3CRO.pdb.gz", "1ZNI.pdb.gz", "5PTI.cif.gz",
         "1AJJ.pdb.gz"]
SETTINGS = {"default": [], "blur2": ["--blur=2"], "blur4": ["--blur=4"],
            "nocrystal": ["--no-crystal"]}


def gemmi_exe():
    here = os.path.join(os.path.dirname(sys.executable), "gemmi")
    return here if os.path.exists(here) else shutil.which("gemmi")


def main():
    exe = gemmi_exe()
    if exe is None:
        sys.exit("the gemmi program is needed: pip install gemmi-program")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    out_dir = os.path.join(ROOT, "tests", "fixtures", "wcn")
    os.makedirs(out_dir, exist_ok=True)
    for name in FILES:
        path = os.path.join(ROOT, "data", "crystal", name)
        entry = name.split(".")[0]
        for setting, flags in SETTINGS.items():
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([exe, "wcn", f"--xy-out={tmp}", *flags, path], check=True,
                               capture_output=True)
                (xy,) = os.listdir(tmp)
                with open(os.path.join(tmp, xy)) as f:
                    lines = f.read().splitlines()
            seen = collections.Counter()
            rows = [f"# gemmi wcn {' '.join(flags)} data/crystal/{name} ({version})",
                    "chain\tseqid\tatom\toccurrence\tvalue"]
            for line in lines[1:]:
                value, _b, _r2, chain, seqid, atom, _elem = line.split("\t")
                key = (chain, seqid, atom)
                rows.append(f"{chain}\t{seqid}\t{atom}\t{seen[key]}\t{value}")
                seen[key] += 1
            dest = os.path.join(out_dir, f"{entry}_{setting}.tsv")
            with open(dest, "w") as f:
                f.write("\n".join(rows) + "\n")
            print(dest, len(rows) - 2, "atoms")


if __name__ == "__main__":
    main()
