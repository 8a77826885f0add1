#!/usr/bin/env python3
"""Independent NumPy/SciPy reference of `bfactor::structure::features`.

Reads each PDB file's text directly (no structure library), computes every
descriptor of the module doc for every amino-acid residue (at its CA) and for
every heavy atom of the other residues (at the atom), and writes
`tests/fixtures/features/<case>.npz`:

- `values` [n_residues, n_features]: one row per amino-acid residue node, in
  file order; `resseq` [n_residues] their residue numbers;
- `free_values` [m, n_features], `free_coords` [m, 3]: the rows of the heavy
  atoms of non-node residues (ligands), at the atom (matched to the crate's
  ligand tokens by coordinates);
- `inverse_wcn`, `lorentz_fri` [n_residues]: the baselines (η = 3, ν = 3);

and `tests/fixtures/features/names.txt` (the column names, one a line).

Everything is computed the slow, obvious way: all pairs, scipy.spatial.cKDTree
for the cutoffs, the GNM as the pseudo-inverse of each connected component's
Kirchhoff matrix (numpy.linalg.pinv), lattice images from space-group operators
written out here from the International Tables (no pruning, translations
t0 + {-4..4}^3, skipping those whose bounding box is
farther than 12 Å from every centre's).

    python3 scripts/gen_feature_fixtures.py
"""

import gzip
import os
import sys

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "features")
DATA = os.path.join(ROOT, "tests", "data", "structures")

CASES = {
    "1ubi": "1ubi.pdb",
    "1rro_ca": "1RRO_CA_A2.pdb.gz",
    "3hsy": "3HSY.pdb.gz",
}

AMINO = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS",
         "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "UNK"]
RESTYPES = AMINO[:20]
NUCLEOTIDES = ["A", "C", "G", "U", "N", "DA", "DC", "DG", "DT", "DN"]
WATERS = ["HOH", "WAT", "H2O", "DOD", "D2O", "TIP", "TIP3", "SOL"]

# Space-group operators (rotation rows, translation), International Tables.
SPACE_GROUPS = {
    "P 1": [((1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0))],
    "P 21 21 21": [
        ((1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)),
        ((-1, 0, 0), (0, -1, 0), (0, 0, 1), (0.5, 0, 0.5)),
        ((-1, 0, 0), (0, 1, 0), (0, 0, -1), (0, 0.5, 0.5)),
        ((1, 0, 0), (0, -1, 0), (0, 0, -1), (0.5, 0.5, 0)),
    ],
}

L = np.log1p


def names():
    n = ["density/log_wcn_ca_40"]
    n += [f"density/log_lorentz_ca_{e}_40" for e in (3, 6, 12)]
    n += [f"density/log_gauss_ca_{e}" for e in (2, 4, 8)]
    n += [f"density/log_count_ca_{r}" for r in (8, 10, 12, 16)]
    n += [f"atoms/log_count_{r}" for r in (8, 10, 12, 16)]
    n += ["atoms/log_wcn_16", "atoms/log_lorentz_3_16", "atoms/log_contacts_4.5"]
    n += ["gnm/log_chain", "gnm/log_assembly", "gnm/isolated"]
    n += ["burial/log_hse_up_13", "burial/log_hse_down_13", "burial/log_hse_cb_up_13",
          "burial/asymmetry_12", "burial/rel_centroid_dist"]
    n += ["seq/rel_pos", "seq/log_dist_n", "seq/log_dist_c", "seq/log_dist_break",
          "seq/log_chain_len", "seq/missing_coords"]
    n += [f"restype/{r}" for r in RESTYPES] + ["restype/other"]
    n += ["ss/helix", "ss/strand", "ss/coil", "ss/cos_tau", "ss/sin_tau", "ss/cos_theta"]
    keys = ["log_wcn_ca_40", "log_count_ca_12", "log_hse_up_13", "atoms_log_count_10",
            "gnm_log_chain"]
    n += [f"window/{k}_w{w}" for k in keys for w in (3, 7)]
    n += [f"neigh/{k}_r10" for k in keys]
    n += ["context/log_n_residues", "context/resolution", "context/has_resolution",
          "context/has_side_chains", "context/has_lattice"]
    n += [f"lattice/log_atom_count_{r}" for r in (6, 8, 12)] + ["lattice/log_ca_count_12"]
    # Not computed here (NaN): their reference is gemmi's own `wcn` program
    # (scripts/gen_wcn_fixtures.py, tests/wcn.rs).
    n += WCN_NAMES
    return n


WCN_NAMES = ["wcn/log_atom_wcn_15", "wcn/log_atom_wcn_15_blur2", "wcn/log_atom_wcn_15_blur4",
             "wcn/log_residue_wcn_15"]


KEY_SOURCES = ["density/log_wcn_ca_40", "density/log_count_ca_12", "burial/log_hse_up_13",
               "atoms/log_count_10", "gnm/log_chain"]


def read_pdb(path):
    """Chains (first appearance order) of residues (first appearance order) of
    the first model's atoms: dicts with name, resseq, icode, hetero, atoms
    [(name, altloc, element, xyz)]."""
    opener = gzip.open if path.endswith(".gz") else open
    chains = {}
    order = []
    resolution = None
    cryst = None
    with opener(path, "rt") as fh:
        for line in fh:
            rec = line[:6]
            if rec == "ENDMDL":
                break
            if rec.startswith("REMARK") and line[6:10].strip() == "2" and "RESOLUTION." in line:
                words = line[10:].split()
                i = words.index("RESOLUTION.")
                try:
                    resolution = float(words[i + 1])
                except (ValueError, IndexError):
                    pass
            if rec == "CRYST1":
                cryst = (tuple(float(line[6 + 9 * k:15 + 9 * k]) for k in range(3)),
                         tuple(float(line[33 + 7 * k:40 + 7 * k]) for k in range(3)),
                         line[55:66].strip())
            if rec not in ("ATOM  ", "HETATM"):
                continue
            chain = line[21]
            key = (int(line[22:26]), line[26].strip())
            if chain not in chains:
                chains[chain] = {}
                order.append(chain)
            residues = chains[chain]
            if key not in residues:
                residues[key] = {"name": line[17:20].strip(), "resseq": key[0], "icode": key[1],
                                 "atoms": []}
            xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            element = line[76:78].strip() if len(line) > 76 else ""
            residues[key]["atoms"].append((line[12:16].strip(), line[16], element, xyz))
    out = []
    for c in order:
        rs = []
        for r in chains[c].values():
            alts = [a[1] for a in r["atoms"] if a[1] != " "]
            first = alts[0] if alts else " "
            atoms = [a for a in r["atoms"] if a[1] in (" ", first)]
            r["atoms"] = atoms
            rs.append(r)
        out.append((c, rs))
    return out, resolution, cryst


def is_h(atom):
    name, _, element, _ = atom
    if element:
        return element.upper() in ("H", "D")
    return name[0] in "HD"


def build(path):
    chains, resolution, cryst = read_pdb(path)
    atoms, atom_res = [], []
    residues = []  # dict(name, chain, resseq, node, cb, atoms range)
    nodes = []  # dict(pos, residue, kind, chain)
    chain_ranges = []
    nongly = withcb = 0
    for ci, (cid, rs) in enumerate(chains):
        start_node = len(nodes)

        def find(r, n):
            for a in r["atoms"]:
                if a[0] == n:
                    return a[3]
            return None

        def bond(a, b):
            c, n = find(a, "C"), find(b, "N")
            return c is not None and n is not None and np.sum((c - n) ** 2) <= 4.0

        for k, r in enumerate(rs):
            if r["name"] in WATERS:
                continue
            ri = len(residues)
            s = len(atoms)
            for a in r["atoms"]:
                if not is_h(a):
                    atoms.append(a[3])
                    atom_res.append(ri)
            ca = find(r, "CA")
            node = None
            if ca is not None:
                amino = r["name"] in AMINO or (
                    find(r, "N") is not None and find(r, "C") is not None
                    and ((k > 0 and bond(rs[k - 1], r)) or (k + 1 < len(rs) and bond(r, rs[k + 1]))))
                if amino:
                    node = (ca, "amino")
            elif r["name"] in NUCLEOTIDES:
                c4 = find(r, "C4'")
                if c4 is None:
                    c4 = find(r, "C4*")
                if c4 is not None:
                    node = (c4, "nuc")
            cb = find(r, "CB")
            ni = None
            if node is not None:
                if node[1] == "amino" and r["name"] != "GLY":
                    nongly += 1
                    withcb += cb is not None
                ni = len(nodes)
                nodes.append({"pos": node[0], "residue": ri, "kind": node[1], "chain": ci})
            residues.append({"name": r["name"], "chain": ci, "resseq": r["resseq"], "node": ni,
                             "cb": cb, "atoms": (s, len(atoms))})
        chain_ranges.append((start_node, len(nodes)))
    atoms = np.array(atoms).reshape(-1, 3)
    has_sc = (2 * withcb >= nongly) if nongly > 0 else len(atoms) > len(nodes)
    return dict(atoms=atoms, atom_res=np.array(atom_res), residues=residues, nodes=nodes,
                chains=chain_ranges, has_sc=has_sc, resolution=resolution, cryst=cryst)


def joined(m, a, b):
    na, nb = m["nodes"][a], m["nodes"][b]
    lim = 4.2 if na["kind"] == "amino" and nb["kind"] == "amino" else 8.0
    return np.linalg.norm(na["pos"] - nb["pos"]) <= lim


def gnm_logrel(pos, cutoff):
    n = len(pos)
    if n < 2:
        return np.zeros(n), np.ones(n, bool)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    adj = (d <= cutoff) & ~np.eye(n, dtype=bool)
    if not adj.any():
        return np.zeros(n), np.ones(n, bool)
    ncomp, labels = connected_components(adj, directed=False)
    f = np.zeros(n)
    for c in range(ncomp):
        idx = np.where(labels == c)[0]
        if len(idx) < 2:
            continue
        a = adj[np.ix_(idx, idx)].astype(float)
        k = np.diag(a.sum(1)) - a
        f[idx] = np.diag(np.linalg.pinv(k, rcond=1e-10, hermitian=True))
    iso = ~adj.any(1)
    top = f.max()
    ft = np.where(iso, top, f)
    return np.log(ft / ft.mean()), iso


def dihedral(p0, p1, p2, p3):
    b1, b2, b3 = p1 - p0, p2 - p1, p3 - p2
    n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
    return np.degrees(np.arctan2(np.linalg.norm(b2) * np.dot(b1, n2), np.dot(n1, n2)))


def cell_matrices(cell):
    (a, b, c), (al, be, ga) = cell
    al, be, ga = np.radians([al, be, ga])
    v = np.sqrt(1 - np.cos(al) ** 2 - np.cos(be) ** 2 - np.cos(ga) ** 2
                + 2 * np.cos(al) * np.cos(be) * np.cos(ga))
    orth = np.array([
        [a, b * np.cos(ga), c * np.cos(be)],
        [0, b * np.sin(ga), c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)],
        [0, 0, c * v / np.sin(ga)],
    ])
    return orth, np.linalg.inv(orth)


def compute(path):
    m = build(path)
    nodes = m["nodes"]
    n = len(nodes)
    npos = np.array([x["pos"] for x in nodes])
    node_res = np.array([x["residue"] for x in nodes])
    atoms, atom_res = m["atoms"], m["atom_res"]
    nm = names()
    col = {x: i for i, x in enumerate(nm)}

    # Node directions.
    dirs, dirs_cb = [], []
    for i, x in enumerate(nodes):
        prev = i > 0 and nodes[i - 1]["chain"] == x["chain"] and joined(m, i - 1, i)
        nxt = i + 1 < n and nodes[i + 1]["chain"] == x["chain"] and joined(m, i, i + 1)
        p = x["pos"]
        if prev and nxt:
            u = 2 * p - npos[i - 1] - npos[i + 1]
        elif prev:
            u = p - npos[i - 1]
        elif nxt:
            u = p - npos[i + 1]
        else:
            u = np.zeros(3)
        cb = m["residues"][x["residue"]]["cb"]
        ucb = cb - p if (x["kind"] == "amino" and cb is not None) else u
        dirs.append(u)
        dirs_cb.append(ucb)

    # Centres: nodes, then heavy atoms of non-node residues.
    centres = [dict(pos=x["pos"], residue=x["residue"], node=i, whole=True, dir=dirs[i],
                    dir_cb=dirs_cb[i]) for i, x in enumerate(nodes)]
    for a, (p, r) in enumerate(zip(atoms, atom_res)):
        if m["residues"][r]["node"] is None:
            centres.append(dict(pos=p, residue=r, node=None, whole=False, dir=np.zeros(3),
                                dir_cb=np.zeros(3)))
    for c in centres:
        if not c["dir"].any():
            d = np.linalg.norm(npos - c["pos"], axis=1)
            sel = (d <= 13) & (node_res != c["residue"])
            if sel.any():
                u = c["pos"] - npos[sel].mean(0)
                c["dir"] = u
                if not c["dir_cb"].any():
                    c["dir_cb"] = u
    nc = len(centres)
    rows = np.zeros((nc, len(nm)))
    gnm_chain = np.zeros(n)
    gnm_iso = np.zeros(n)
    for s, e in m["chains"]:
        v, iso = gnm_logrel(npos[s:e], 7.3)
        gnm_chain[s:e] = v
        gnm_iso[s:e] = iso
    gnm_asm = gnm_logrel(npos, 7.3)[0] if len(m["chains"]) > 1 else gnm_chain

    centroid = npos.mean(0)
    rg = np.sqrt(np.mean(np.sum((npos - centroid) ** 2, 1)))
    atom_tree = cKDTree(atoms)
    for i, c in enumerate(centres):
        p = c["pos"]
        own_node = node_res == c["residue"]
        d = np.maximum(np.linalg.norm(npos - p, axis=1), 1e-3)[~own_node]
        other = npos[~own_node]
        row = rows[i]
        near = d < 40
        row[col["density/log_wcn_ca_40"]] = L(np.sum(1 / d[near] ** 2 - 1 / 40 ** 2))
        for e in (3, 6, 12):
            f40 = 1 / (1 + (40 / e) ** 3)
            row[col[f"density/log_lorentz_ca_{e}_40"]] = L(
                np.sum(1 / (1 + (d[near] / e) ** 3) - f40))
        for e in (2, 4, 8):
            row[col[f"density/log_gauss_ca_{e}"]] = L(np.sum(np.exp(-(d / e) ** 2)[d <= 3 * e]))
        for r in (8, 10, 12, 16):
            row[col[f"density/log_count_ca_{r}"]] = L(np.sum(d <= r))
        if m["has_sc"]:
            own_atom = atom_res == c["residue"]
            da = np.maximum(np.linalg.norm(atoms - p, axis=1), 1e-3)[~own_atom]
            for r in (8, 10, 12, 16):
                row[col[f"atoms/log_count_{r}"]] = L(np.sum(da <= r))
            w = da <= 16
            row[col["atoms/log_wcn_16"]] = L(np.sum(1 / da[w] ** 2))
            row[col["atoms/log_lorentz_3_16"]] = L(np.sum(1 / (1 + (da[w] / 3) ** 3)))
            if c["whole"]:
                s, e = m["residues"][c["residue"]]["atoms"]
                mine = atoms[s:e] if e > s else p[None]
            else:
                mine = p[None]
            others = atoms[~own_atom]
            cnt = [np.sum(np.linalg.norm(others - q, axis=1) <= 4.5) for q in mine]
            row[col["atoms/log_contacts_4.5"]] = L(np.mean(cnt))
        # burial
        vec = other - p
        dd = np.linalg.norm(vec, axis=1)
        near = np.maximum(dd, 1e-3) <= 13
        up = vec[near] @ c["dir"] > 0
        row[col["burial/log_hse_up_13"]] = L(up.sum())
        row[col["burial/log_hse_down_13"]] = L((~up).sum())
        row[col["burial/log_hse_cb_up_13"]] = L(np.sum(vec[near] @ c["dir_cb"] > 0))
        w12 = np.maximum(dd, 1e-3) <= 12
        if w12.any():
            dm = np.maximum(dd[w12], 1e-3)
            row[col["burial/asymmetry_12"]] = np.linalg.norm(
                (vec[w12] / dm[:, None]).sum(0)) / w12.sum()
        row[col["burial/rel_centroid_dist"]] = np.linalg.norm(p - centroid) / rg if rg > 0 else 0
        # gnm: own node, or nearest node
        g = c["node"] if c["node"] is not None else int(np.argmin(np.linalg.norm(npos - p, axis=1)))
        row[col["gnm/log_chain"]] = gnm_chain[g]
        row[col["gnm/log_assembly"]] = gnm_asm[g]
        row[col["gnm/isolated"]] = gnm_iso[g]

    # seq and ss, per node.
    for s, e in m["chains"]:
        ln = e - s
        brk = [k for k in range(ln - 1) if not joined(m, s + k, s + k + 1)]
        link = [nodes[s + k]["kind"] == "amino" and nodes[s + k + 1]["kind"] == "amino"
                and joined(m, s + k, s + k + 1) for k in range(ln - 1)]
        helix = np.zeros(ln, bool)
        strand = np.zeros(ln, bool)
        tau = [None] * ln
        for j in range(ln - 3):
            if all(link[j:j + 3]):
                t = dihedral(*npos[s + j:s + j + 4])
                tau[j] = t
                d3 = np.linalg.norm(npos[s + j] - npos[s + j + 3])
                if 20 <= t <= 80 and d3 <= 6.2:
                    helix[j:j + 4] = True
                if (t >= 145 or t <= -125) and d3 >= 8.0:
                    strand[j:j + 4] = True
        for k in range(ln):
            i = s + k
            row = rows[i]
            row[col["seq/rel_pos"]] = k / (ln - 1) if ln > 1 else 0.5
            row[col["seq/log_dist_n"]] = L(min(k, 50))
            row[col["seq/log_dist_c"]] = L(min(ln - 1 - k, 50))
            db = min([(b - k) if k <= b else (k - b - 1) for b in brk], default=50)
            row[col["seq/log_dist_break"]] = L(min(db, 50))
            row[col["seq/log_chain_len"]] = np.log(ln)
            if nodes[i]["kind"] != "amino":
                continue
            h, st = helix[k], strand[k] and not helix[k]
            row[col["ss/helix"]], row[col["ss/strand"]] = h, st
            row[col["ss/coil"]] = not h and not st
            if k >= 1 and tau[k - 1] is not None:
                row[col["ss/cos_tau"]] = np.cos(np.radians(tau[k - 1]))
                row[col["ss/sin_tau"]] = np.sin(np.radians(tau[k - 1]))
            if 1 <= k < ln - 1 and link[k - 1] and link[k]:
                a, b = npos[i - 1] - npos[i], npos[i + 1] - npos[i]
                row[col["ss/cos_theta"]] = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    for i, c in enumerate(centres[n:], start=n):
        r = m["residues"][c["residue"]]
        if c["node"] is not None:
            for name in ("rel_pos", "log_dist_n", "log_dist_c", "log_dist_break", "log_chain_len"):
                rows[i, col["seq/" + name]] = rows[c["node"], col["seq/" + name]]

    # lattice
    has_lattice = False
    cr = m["cryst"]
    if cr is not None and min(cr[0]) >= 3.0 and cr[2] in SPACE_GROUPS:
        has_lattice = True
        orth, frac = cell_matrices(cr[:2])
        centroid_atoms = atoms.mean(0)
        fc = frac @ centroid_atoms
        cpos = np.array([c["pos"] for c in centres])
        tree = cKDTree(cpos)
        acount = np.zeros((nc, 3))
        ncount = np.zeros(nc)
        for k, op in enumerate(SPACE_GROUPS[cr[2]]):
            rot = np.array(op[:3], float)
            sh = np.array(op[3], float)
            t0 = np.round(fc - (rot @ fc + sh))
            mm = orth @ rot @ frac
            lo, hi = cpos.min(0) - 12, cpos.max(0) + 12
            for dx in range(-4, 5):
                for dy in range(-4, 5):
                    for dz in range(-4, 5):
                        if k == 0 and not t0.any() and (dx, dy, dz) == (0, 0, 0):
                            continue
                        v = orth @ (sh + t0 + np.array([dx, dy, dz]))
                        img = atoms @ mm.T + v
                        if np.any(img.max(0) < lo) or np.any(img.min(0) > hi):
                            continue  # no image atom within 12 Å of any centre
                        if m["has_sc"]:
                            for ri, r in enumerate((6, 8, 12)):
                                for lst in tree.query_ball_point(img, r):
                                    for j in lst:
                                        acount[j, ri] += 1
                        imgn = npos @ mm.T + v
                        for lst in tree.query_ball_point(imgn, 12):
                            for j in lst:
                                ncount[j] += 1
        for ri, r in enumerate((6, 8, 12)):
            rows[:, col[f"lattice/log_atom_count_{r}"]] = L(acount[:, ri])
        rows[:, col["lattice/log_ca_count_12"]] = L(ncount)

    # window and neigh
    keys = [col[k] for k in KEY_SOURCES]
    chain_of = np.array([x["chain"] for x in nodes])
    for i, c in enumerate(centres):
        for kk, (kname, kc) in enumerate(zip(
                ["log_wcn_ca_40", "log_count_ca_12", "log_hse_up_13", "atoms_log_count_10",
                 "gnm_log_chain"], keys)):
            for w in (3, 7):
                if i < n:
                    s, e = m["chains"][chain_of[i]]
                    a, b = max(i - w, s), min(i + w + 1, e)
                    val = rows[a:b, kc].mean()
                else:
                    val = rows[i, kc]
                rows[i, col[f"window/{kname}_w{w}"]] = val
            near = np.linalg.norm(npos - c["pos"], axis=1) <= 10
            rows[i, col[f"neigh/{kname}_r10"]] = rows[:n][near, kc].mean() if near.any() else rows[i, kc]
    # context and restype
    rows[:, col["context/log_n_residues"]] = np.log1p(n)
    rows[:, col["context/resolution"]] = m["resolution"] or 0.0
    rows[:, col["context/has_resolution"]] = m["resolution"] is not None
    rows[:, col["context/has_side_chains"]] = m["has_sc"]
    rows[:, col["context/has_lattice"]] = has_lattice
    for i, c in enumerate(centres):
        name = m["residues"][c["residue"]]["name"]
        name = "MET" if name == "MSE" else name
        if i < n and nodes[i]["kind"] == "amino" and name in RESTYPES:
            rows[i, col["restype/" + name]] = 1
        else:
            rows[i, col["restype/other"]] = 1

    for name in WCN_NAMES:
        rows[:, col[name]] = np.nan
    amino = [i for i in range(n) if nodes[i]["kind"] == "amino"]
    values = rows[amino]
    resseq = np.array([m["residues"][nodes[i]["residue"]]["resseq"] for i in amino])
    # Baselines at the amino-acid nodes.
    wcn = np.zeros(len(amino))
    fri = np.zeros(len(amino))
    for a, i in enumerate(amino):
        d = np.maximum(np.linalg.norm(npos - npos[i], axis=1), 1e-3)[node_res != nodes[i]["residue"]]
        wcn[a] = 1 / np.sum(1 / d ** 2)
        fri[a] = 1 / np.sum(1 / (1 + (d / 3) ** 3))
    free = rows[n:]
    free_coords = np.array([c["pos"] for c in centres[n:]]).reshape(-1, 3)
    return dict(values=values, resseq=resseq, free_values=free.reshape(-1, len(nm)),
                free_coords=free_coords, inverse_wcn=wcn, lorentz_fri=fri)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "names.txt"), "w") as fh:
        fh.write("\n".join(names()) + "\n")
    for case, file in CASES.items():
        out = compute(os.path.join(DATA, file))
        np.savez_compressed(os.path.join(OUT, case + ".npz"), **out)
        print(case, {k: v.shape for k, v in out.items()}, file=sys.stderr)


if __name__ == "__main__":
    main()
