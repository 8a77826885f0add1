#!/usr/bin/env python3
"""Write a synthetic assembly: copies of one small crystal on a 3-D grid, as an mmCIF.

Each copy is one chain (label_asym_id / auth_asym_id ``C1``, ``C2``, ...) of the source
structure's ATOM records (protein only, first model, first altloc), translated so that
neighbouring copies sit ``--gap`` Å apart. The output is deterministic: the same
arguments give the same bytes. Only the Python standard library is used.

    python3 scripts/gen_assembly.py --residues 66000 -o target/asm_66k.cif
    python3 scripts/gen_assembly.py --atoms 2400000 -o target/asm_2m4.cif

The copy count is ceil(residues / residues per copy) (or ceil(atoms / atoms per copy)),
so the output holds at least the requested number; the last copy is truncated by whole
residues to hit the residue count exactly when ``--residues`` is given.
"""

import argparse
import gzip
import math
import sys


def read_atoms(path):
    """(records, xyz): the first model's ATOM records, first altloc only."""
    opener = gzip.open if path.endswith(".gz") else open
    records, xyz = [], []
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith("ENDMDL"):
                break
            if not line.startswith("ATOM  "):
                continue
            alt = line[16]
            if alt not in (" ", "A"):
                continue
            name = line[12:16].strip()
            resn = line[17:20].strip()
            resi = int(line[22:26])
            icode = line[26].strip()
            b = float(line[60:66])
            elem = line[76:78].strip() or name[0]
            records.append((name, resn, resi, icode, b, elem))
            xyz.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
    if not records:
        sys.exit(f"{path}: no ATOM records")
    return records, xyz


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default="data/crystal/1UBQ.pdb.gz",
                    help="the crystal copied (PDB, optionally .gz; default 1UBQ, 76 residues)")
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--residues", type=int, help="total residues (1000 to 250000 or more)")
    size.add_argument("--atoms", type=int, help="total atoms at least (e.g. 2400000)")
    ap.add_argument("--gap", type=float, default=4.0, help="Å between neighbouring copies' boxes")
    ap.add_argument("-o", "--output", required=True, help="output mmCIF path")
    args = ap.parse_args()

    records, xyz = read_atoms(args.source)
    mean = [sum(p[d] for p in xyz) / len(xyz) for d in range(3)]
    xyz = [tuple(p[d] - mean[d] for d in range(3)) for p in xyz]
    step = [max(p[d] for p in xyz) - min(p[d] for p in xyz) + args.gap for d in range(3)]
    residue_keys = []
    for r in records:
        key = (r[2], r[3])
        if not residue_keys or residue_keys[-1] != key:
            residue_keys.append(key)
    per_copy_res, per_copy_atoms = len(residue_keys), len(records)
    if args.residues is not None:
        if args.residues < 1:
            sys.exit("--residues must be at least 1")
        copies = math.ceil(args.residues / per_copy_res)
        last_res = args.residues - (copies - 1) * per_copy_res
    else:
        if args.atoms < 1:
            sys.exit("--atoms must be at least 1")
        copies = math.ceil(args.atoms / per_copy_atoms)
        last_res = per_copy_res
    side = math.ceil(copies ** (1.0 / 3.0) - 1e-9)
    # residue index (0-based) of each record in its copy
    res_index, k = [], -1
    prev = None
    for r in records:
        if (r[2], r[3]) != prev:
            k += 1
            prev = (r[2], r[3])
        res_index.append(k)
    # per-record text without coordinates / ids, formatted once
    heads = [f"{r[5]} {r[0] if chr(39) not in r[0] else chr(34) + r[0] + chr(34)} . {r[1]} " for r in records]
    bs = [f" 1.00 {r[4]:.2f} " for r in records]
    n_atoms = 0
    with open(args.output, "w", newline="\n") as out:
        out.write("data_ASSEMBLY\n#\n")
        out.write(f"_cell.length_a 1.000\n_cell.length_b 1.000\n_cell.length_c 1.000\n")
        out.write("loop_\n")
        for f in ("group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id",
                  "label_comp_id", "label_asym_id", "label_entity_id", "label_seq_id",
                  "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy",
                  "B_iso_or_equiv", "auth_seq_id", "auth_comp_id", "auth_asym_id",
                  "auth_atom_id", "pdbx_PDB_model_num"):
            out.write(f"_atom_site.{f}\n")
        for c in range(copies):
            ix, iy, iz = c % side, (c // side) % side, c // (side * side)
            dx, dy, dz = step[0] * ix, step[1] * iy, step[2] * iz
            chain = f"C{c + 1}"
            limit = last_res if c == copies - 1 else per_copy_res
            lines = []
            for i, r in enumerate(records):
                if res_index[i] >= limit:
                    break
                n_atoms += 1
                x, y, z = xyz[i][0] + dx, xyz[i][1] + dy, xyz[i][2] + dz
                lines.append(
                    f"ATOM {n_atoms} {heads[i]}{chain} 1 {r[2]} {r[3] or '?'} "
                    f"{x:.3f} {y:.3f} {z:.3f}{bs[i]}{r[2]} {r[1]} {chain} {r[0]} 1\n"
                )
            out.write("".join(lines))
        out.write("#\n")
    residues = (copies - 1) * per_copy_res + last_res
    print(f"{args.output}: {copies} copies of {args.source}, {residues} residues, {n_atoms} atoms")


if __name__ == "__main__":
    main()
