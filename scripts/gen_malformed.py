#!/usr/bin/env python3
"""Writes tests/data/malformed/: small hostile structure files, each derived from
tests/data/structures/1ubi.pdb or 1ubi.cif (ubiquitin, first residues), each
with one defect. tests/structure_hostile.rs reads every one of them (and says
what each must give); .ci/abort_check.sh feeds them all to a program built with
panic = "abort".

    python3 scripts/gen_malformed.py
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "tests", "data", "structures")
OUT = os.path.join(ROOT, "tests", "data", "malformed")


def lines(name):
    with open(os.path.join(SRC, name), encoding="ascii") as f:
        return f.read().splitlines()


def put(name, text, binary=False):
    mode = "wb" if binary else "w"
    with open(os.path.join(OUT, name), mode) as f:
        f.write(text)


def main():
    os.makedirs(OUT, exist_ok=True)
    pdb = lines("1ubi.pdb")
    head = [l for l in pdb if l.startswith(("HEADER", "CRYST1"))]
    atoms = [l for l in pdb if l.startswith("ATOM")]
    res = lambda l: int(l[22:26])
    first3 = [l for l in atoms if res(l) <= 3]
    body = lambda ls: "\n".join(head + ls + ["END"]) + "\n"

    # Legacy format: no element column, ID and serial in columns 73-80.
    legacy = [f"{l[:66]:<72}1UBI{i + 1:4d}" for i, l in enumerate(first3)]
    put("legacy_columns.pdb", body(legacy))
    # A record that is exactly `ATOM  `, and one that is only `ATOM`.
    put("atom_record_only.pdb", body(first3[:5] + ["ATOM  "] + first3[5:]))
    put("atom_word_only.pdb", body(first3[:5] + ["ATOM"] + first3[5:]))
    # Unknown space group in CRYST1 (pdbtbx's parser panics on it).
    put("unknown_space_group.pdb",
        body(first3).replace("P 21 21 21", "X 99 99 99"))
    # Negative occupancy; B = 1e300; B = inf; a control character.
    l0 = first3[1]
    put("negative_occupancy.pdb", body([l0[:54] + " -1.00" + l0[60:]] + first3[2:]))
    put("huge_bfactor.pdb", body([l0[:60] + " 1e300" + l0[66:]] + first3[2:]))
    put("infinite_bfactor.pdb", body([l0[:60] + "   inf" + l0[66:]] + first3[2:]))
    put("control_character.pdb", body([l0[:17] + "M\x01T" + l0[20:]] + first3[2:]))
    # A Latin-1 byte (é) in a REMARK.
    put("latin1_remark.pdb",
        body(["REMARK   1 caf\xe9"] + first3).encode("latin-1"), binary=True)
    # Blank chains: 30 TER-separated segments of residues 1-2, then chain A 1-2.
    two = [l[:21] + " " + l[22:] for l in atoms if res(l) <= 2]
    segs = []
    for _ in range(30):
        segs += two + ["TER"]
    put("thirty_blank_segments.pdb", body(segs))
    put("blank_then_chain_a.pdb",
        body(two + ["TER"] + [l for l in atoms if res(l) <= 2]))
    # Truncated atom records; non-numeric coordinate; no residue number.
    put("truncated_atom.pdb", body(first3[:4] + [first3[4][:40]]))
    put("text_coordinate.pdb", body([l0[:30] + "   abcde" + l0[38:]]))

    cif = lines("1ubi.cif")
    start = cif.index("_atom_site.group_PDB")
    tags = []
    k = start
    while cif[k].startswith("_atom_site."):
        tags.append(cif[k])
        k += 1
    rows = []
    while k < len(cif) and cif[k].startswith(("ATOM", "HETATM")):
        rows.append(cif[k].split())
        k += 1
    rows = [r for r in rows if int(r[tags.index("_atom_site.auth_seq_id")]) <= 3]
    pre = cif[:start - 1]

    def mmcif(tags_, rows_):
        return "\n".join(pre + ["loop_"] + tags_ + [" ".join(r) for r in rows_] + ["#"]) + "\n"

    def without(tag):
        c = tags.index(tag)
        return ([t for t in tags if t != tag], [r[:c] + r[c + 1:] for r in rows])

    put("no_b_column.cif", mmcif(*without("_atom_site.B_iso_or_equiv")))
    bc = tags.index("_atom_site.B_iso_or_equiv")
    q = [list(r) for r in rows]
    q[4][bc] = "?"
    q[5][bc] = "."
    put("unknown_b_values.cif", mmcif(tags, q))
    put("no_cartn_y.cif", mmcif(*without("_atom_site.Cartn_y")))
    put("no_label_atom_id.cif", mmcif(*without("_atom_site.label_atom_id")))
    xc = tags.index("_atom_site.Cartn_x")
    for name, value in [("inf_coordinate.cif", "inf"), ("text_coordinate.cif", "abc"),
                        ("nan_coordinate.cif", "NaN")]:
        r2 = [list(r) for r in rows]
        r2[3][xc] = value
        put(name, mmcif(tags, r2))
    r2 = [list(r) for r in rows]
    r2[2][bc] = "1e300"
    put("huge_bfactor.cif", mmcif(tags, r2))
    print(f"wrote {len(os.listdir(OUT))} files to {OUT}")


if __name__ == "__main__":
    main()
