#!/usr/bin/python3
"""CA-token counts per file and chain, as ProDy selects them, for tests/structure_data.rs.

For every structure file of data/crystal/ and data/set364/ (or ../shared/data/ beside the
clone), ProDy parses the first model (default alternate locations: blank and the first
label, ProDy's altloc='A') and `select('name CA and protein')` picks the tokens that
`TokenMode::CaOnly` must give. Output: tests/fixtures/prody_ca_counts.tsv with
columns set, file, chain, count (one row per chain, in ProDy's order; chain `-` and
count 0 when nothing is selected; chain `!` and ProDy's error instead of a count when
ProDy cannot read the file).

Run with Debian's python3 and its python3-prody package:
    /usr/bin/python3 scripts/gen_prody_counts.py
"""
import os
import sys
import warnings

warnings.filterwarnings("ignore")
import prody  # noqa: E402

prody.confProDy(verbosity="none")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETS = ["crystal", "set364"]


def data_dir():
    for base in (os.path.join(ROOT, "data"), os.path.join(ROOT, "..", "shared", "data")):
        if all(os.path.isdir(os.path.join(base, s)) for s in SETS):
            return base
    sys.exit("no data/crystal and data/set364 (nor ../shared/data)")


def main():
    base = data_dir()
    out = os.path.join(ROOT, "tests", "fixtures", "prody_ca_counts.tsv")
    rows = [f"# ProDy {prody.__version__}: parsePDB/parseMMCIF(f, model=1).select('name CA and protein')",
            "set\tfile\tchain\tcount"]
    for s in SETS:
        d = os.path.join(base, s)
        for name in sorted(os.listdir(d)):
            low = name.lower()
            path = os.path.join(d, name)
            try:
                if low.endswith((".pdb.gz", ".pdb", ".ent.gz", ".ent")):
                    atoms = prody.parsePDB(path, model=1)
                elif low.endswith((".cif.gz", ".cif")):
                    atoms = prody.parseMMCIF(path, model=1)
                else:
                    continue
            except Exception as e:  # ProDy cannot read it: recorded, not compared
                rows.append(f"{s}\t{name}\t!\t{type(e).__name__}: {e}".replace("\n", " "))
                continue
            sel = atoms.select("name CA and protein") if atoms is not None else None
            if sel is None:
                rows.append(f"{s}\t{name}\t-\t0")
                continue
            chains = []
            counts = {}
            for ch in sel.getChids():
                if ch not in counts:
                    chains.append(ch)
                    counts[ch] = 0
                counts[ch] += 1
            for ch in chains:
                rows.append(f"{s}\t{name}\t{ch if ch.strip() else '_'}\t{counts[ch]}")
    with open(out, "w") as f:
        f.write("\n".join(rows) + "\n")
    print(f"wrote {out}: {len(rows) - 2} rows")


if __name__ == "__main__":
    main()
