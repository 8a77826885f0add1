#!/usr/bin/env python3
"""Cross-validation folds that keep similar sequences together.

Reads every protein chain (>= 20 CA atoms, first model) of data/set364/ (the 345
blind_ids) and data/crystal/ (every entry of MANIFEST.tsv), aligns every pair of
chain sequences globally (Needleman-Wunsch, BLOSUM62, gap open 10, extend 1, via
parasail), and links two chains when identical positions / alignment length (EMBOSS needle's identity) >= 0.30.
Entries linked through any of their chains form one cluster (union-find); clusters
are dealt into K folds, largest first, each to the fold with the fewest chains so
far (ties: lowest fold number). Writes data/folds.tsv: set, entry, file, fold,
cluster.

    pip install numpy parasail
    python3 scripts/make_folds.py [--folds 5]
"""
import argparse
import gzip
import os
import sys

import parasail

THREE = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "MSE": "M",
}


def chains_pdb(text):
    seqs, seen = {}, set()
    for line in text.splitlines():
        if line.startswith("ENDMDL"):
            break
        if not line.startswith(("ATOM  ", "HETATM")) or len(line) < 54:
            continue
        if line[12:16].strip() != "CA" or line[16] not in " A1":
            continue
        res = line[17:20].strip()
        if line.startswith("HETATM") and res != "MSE":
            continue
        key = (line[21], line[22:27])
        if key in seen:
            continue
        seen.add(key)
        seqs.setdefault(line[21], []).append(THREE.get(res, "X"))
    return seqs


def chains_cif(text):
    lines = text.splitlines()
    cols, seqs, seen, i = [], {}, set(), 0
    while i < len(lines):
        if lines[i].strip() == "loop_" and i + 1 < len(lines) and lines[i + 1].startswith("_atom_site."):
            i += 1
            while lines[i].startswith("_atom_site."):
                cols.append(lines[i].split()[0][len("_atom_site."):])
                i += 1
            c = {n: k for k, n in enumerate(cols)}
            while i < len(lines) and not lines[i].startswith(("loop_", "_", "#")):
                f = lines[i].split()
                i += 1
                if len(f) != len(cols):
                    continue
                if "pdbx_PDB_model_num" in c and f[c["pdbx_PDB_model_num"]] not in ("1", "?", "."):
                    continue
                if f[c["label_atom_id"]].strip('"') != "CA":
                    continue
                alt = f[c["label_alt_id"]] if "label_alt_id" in c else "."
                if alt not in (".", "?", "A"):
                    continue
                res = f[c.get("auth_comp_id", c["label_comp_id"])]
                if res not in THREE:
                    continue
                ch = f[c.get("auth_asym_id", c["label_asym_id"])]
                key = (ch, f[c.get("auth_seq_id", c["label_seq_id"])],
                       f[c["pdbx_PDB_ins_code"]] if "pdbx_PDB_ins_code" in c else "")
                if key in seen:
                    continue
                seen.add(key)
                seqs.setdefault(ch, []).append(THREE[res])
            break
        i += 1
    return seqs


def read(path):
    with gzip.open(path, "rt", errors="replace") as fh:
        text = fh.read()
    seqs = chains_cif(text) if ".cif" in path else chains_pdb(text)
    return {k: "".join(v) for k, v in seqs.items() if len(v) >= 20}


def identity(a, b, matrix):
    r = parasail.nw_stats_striped_16(a, b, 10, 1, matrix)
    return r.matches / r.length


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    args = ap.parse_args()
    entries = []  # (set, entry, file)
    blind = open(os.path.join(args.data, "set364", "blind_ids.txt")).read().split()
    for e in blind:
        entries.append(("set364", e, f"set364/{e}_CA_A2.pdb.gz"))
    for line in open(os.path.join(args.data, "crystal", "MANIFEST.tsv")).read().splitlines()[1:]:
        f = line.split("\t")
        entries.append(("crystal", f[0], "crystal/" + f[-1]))
    chains = []  # (entry index, sequence)
    for k, (_, _, f) in enumerate(entries):
        for s in read(os.path.join(args.data, f)).values():
            chains.append((k, s))
    print(f"{len(entries)} entries, {len(chains)} chains", file=sys.stderr)
    parent = list(range(len(entries)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    m = parasail.blosum62
    for i in range(len(chains)):
        for j in range(i + 1, len(chains)):
            ei, ej = chains[i][0], chains[j][0]
            if find(ei) == find(ej):
                continue
            if identity(chains[i][1], chains[j][1], m) >= 0.30:
                parent[find(ei)] = find(ej)
    clusters = {}
    for k in range(len(entries)):
        clusters.setdefault(find(k), []).append(k)
    n_chains = [0] * len(entries)
    for k, _ in chains:
        n_chains[k] += 1
    order = sorted(clusters.values(), key=lambda c: (-sum(n_chains[k] for k in c), min(c)))
    load = [0] * args.folds
    out = ["set\tentry\tfile\tfold\tcluster"]
    assign = {}
    for cid, members in enumerate(order):
        fold = min(range(args.folds), key=lambda f: (load[f], f))
        load[fold] += sum(n_chains[k] for k in members)
        for k in members:
            assign[k] = (fold, cid)
    for k, (st, e, f) in enumerate(entries):
        out.append(f"{st}\t{e}\t{f}\t{assign[k][0]}\t{assign[k][1]}")
    with open(os.path.join(args.data, "folds.tsv"), "w") as fh:
        fh.write("\n".join(out) + "\n")
    print(f"{len(clusters)} clusters; chains per fold {load}", file=sys.stderr)


if __name__ == "__main__":
    main()
