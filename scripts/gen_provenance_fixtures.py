#!/usr/bin/env python3
"""Writes tests/data/provenance/: structure files made the way each source writes
them, on ubiquitin's coordinates (data/crystal/1UBQ.pdb.gz), and expected.json
with what each one is and the reference numbers (NumPy) the tests check.

    python3 -m venv /tmp/mc && /tmp/mc/bin/pip install numpy modelcif
    /tmp/mc/bin/python scripts/gen_provenance_fixtures.py

Files (formats as published by each tool):
- af_db.pdb: an AlphaFold DB PDB file (TITLE "ALPHAFOLD MONOMER V2.0 PREDICTION
  FOR ...", the 1 A P 1 CRYST1, MODEL 1, pLDDT per residue in the B column).
- af2_headerless.pdb: AlphaFold 2's own output (protein.to_pdb: MODEL, ATOM
  records with pLDDT, TER, ENDMDL, END; no header).
- esmfold.pdb: ESMFold's output, pLDDT as a fraction (0-1).
- af_db.cif: an AlphaFold DB ModelCIF file (_audit_conform mmcif_ma.dic,
  _software AlphaFold v2, _ma_qa_metric, _ma_qa_metric_local, B_iso = pLDDT).
- af3.cif: AlphaFold 3's mmCIF (ModelCIF items, _software AlphaFold 3.x, pLDDT
  per atom).
- boltz.cif: written by python-modelcif, the library Boltz writes with
  (software Boltz, per-residue local pLDDT, B_iso = pLDDT per atom).
- cryoem.cif: a cryo-EM entry (_exptl.method 'ELECTRON MICROSCOPY',
  _em_3d_reconstruction.resolution, the 1 A cell).
- nmr.pdb: an NMR ensemble (EXPDTA SOLUTION NMR, CRYST1 1 1 1 P 1, 5 models, B 0),
  its models perturbed; expected.json holds the B-factors from the spread of the
  models (iterative superposition onto the mean, RMSF, B = 8 pi^2/3 RMSF^2).
"""
import gzip
import io
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "provenance")


def atoms_of_1ubq():
    atoms = []
    with gzip.open(os.path.join(ROOT, "data", "crystal", "1UBQ.pdb.gz"), "rt") as f:
        for line in f:
            if line.startswith("ATOM"):
                atoms.append(
                    dict(
                        name=line[12:16].strip(),
                        res=line[17:20].strip(),
                        chain="A",
                        num=int(line[22:26]),
                        xyz=np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])]),
                        b=float(line[60:66]),
                        element=line[76:78].strip(),
                    )
                )
    return atoms


ATOMS = atoms_of_1ubq()
RESIDUES = sorted({a["num"] for a in ATOMS})
N = len(RESIDUES)


def plddt_of(num):
    """Confident core, low termini: 30 at the ends, about 98 in the middle."""
    edge = min(num - 1, N - num)
    return round(98.0 - 68.0 * math.exp(-edge / 3.0), 2)


def atom_line(serial, a, b, xyz=None):
    x, y, z = a["xyz"] if xyz is None else xyz
    name = a["name"]
    name = f" {name:<3}" if len(name) < 4 else name
    return (
        f"ATOM  {serial:>5} {name} {a['res']:>3} {a['chain']}{a['num']:>4}    "
        f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{b:6.2f}          {a['element']:>2}  \n"
    )


def write(name, text):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)


def pdb_body(values, model=None):
    """ATOM records (one value per atom), TER; optionally inside MODEL/ENDMDL."""
    s = f"MODEL     {model:>4}\n" if model is not None else ""
    for i, (a, b) in enumerate(zip(ATOMS, values), start=1):
        s += atom_line(i, a, b)
    last = ATOMS[-1]
    s += f"TER   {len(ATOMS) + 1:>5}      {last['res']:>3} {last['chain']}{last['num']:>4}\n"
    if model is not None:
        s += "ENDMDL\n"
    return s


PER_ATOM_RES = [plddt_of(a["num"]) for a in ATOMS]

# AlphaFold DB, PDB.
header = (
    "HEADER                                            01-JUL-21                     \n"
    "TITLE     ALPHAFOLD MONOMER V2.0 PREDICTION FOR POLYUBIQUITIN-B (P0CG47)        \n"
    "COMPND    MOL_ID: 1;                                                            \n"
    "COMPND   2 MOLECULE: POLYUBIQUITIN-B;                                           \n"
    "COMPND   3 CHAIN: A                                                             \n"
    "SOURCE    MOL_ID: 1;                                                            \n"
    "SOURCE   2 ORGANISM_SCIENTIFIC: HOMO SAPIENS;                                   \n"
    "REMARK   1                                                                      \n"
    "REMARK   1 REFERENCE 1                                                          \n"
    "REMARK   1  AUTH   JOHN JUMPER, RICHARD EVANS, ALEXANDER PRITZEL, TIM GREEN,    \n"
    "REMARK   1  TITL   HIGHLY ACCURATE PROTEIN STRUCTURE PREDICTION WITH ALPHAFOLD  \n"
    "DBREF  XXXX A    1    76  UNP    P0CG47   UBB_HUMAN        1     76             \n"
    "CRYST1    1.000    1.000    1.000  90.00  90.00  90.00 P 1           1          \n"
    "ORIGX1      1.000000  0.000000  0.000000        0.00000                         \n"
    "ORIGX2      0.000000  1.000000  0.000000        0.00000                         \n"
    "ORIGX3      0.000000  0.000000  1.000000        0.00000                         \n"
    "SCALE1      1.000000  0.000000  0.000000        0.00000                         \n"
    "SCALE2      0.000000  1.000000  0.000000        0.00000                         \n"
    "SCALE3      0.000000  0.000000  1.000000        0.00000                         \n"
)


def main():
    os.makedirs(OUT, exist_ok=True)
    write("af_db.pdb", header + pdb_body(PER_ATOM_RES, model=1) + "END\n")
    write("af2_headerless.pdb", pdb_body(PER_ATOM_RES, model=1) + "END\n")
    # ESMFold writes the 0-1 fraction in the %6.2f column: two decimals.
    write("esmfold.pdb", pdb_body([round(p / 100.0, 2) for p in PER_ATOM_RES]) + "END\n")
    write("af_db.cif", modelcif_text("AF-P0CG47-F1", "AlphaFold", "v2.0", per_atom=False,
                                     title="AlphaFold monomer v2.0 prediction for polyubiquitin-B (P0CG47)"))
    write("af3.cif", "# By using this file you agree to the legally binding terms of use found at\n"
          "# alphafoldserver.com/output-terms\n"
          + modelcif_text("fold_ubiquitin_model_0", "AlphaFold", "3.0.1", per_atom=True, title=None))
    write("boltz.cif", boltz_text())
    write("cryoem.cif", cryoem_text())
    nmr, reference = nmr_text()
    write("nmr.pdb", nmr)
    ca = [a for a in ATOMS if a["name"] == "CA"]
    def b_of(p):
        return 8 * math.pi ** 2 / 3 * (1.5 * math.exp(4 * (0.7 - p / 100))) ** 2

    esm = [round(plddt_of(a["num"]) / 100.0, 2) * 100.0 for a in ca]
    expected = {
        "note": "written by scripts/gen_provenance_fixtures.py",
        "ca_plddt": [plddt_of(a["num"]) for a in ca],
        "esmfold_ca_plddt": esm,
        "esmfold_plddt_to_b_ca": [b_of(p) for p in esm],
        "af3_ca_plddt": [per_atom_plddt(i, a) for i, a in enumerate(ATOMS) if a["name"] == "CA"],
        "plddt_to_b_ca": [b_of(plddt_of(a["num"])) for a in ca],
        "nmr_ca_bfactors": reference,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def per_atom_plddt(i, a):
    """AlphaFold 3 and Boltz write one pLDDT per atom: the residue's, spread a little."""
    return round(plddt_of(a["num"]) - (i % 5) * 0.7, 2)


def cif_atom_rows(values):
    rows = []
    for i, (a, b) in enumerate(zip(ATOMS, values), start=1):
        x, y, z = a["xyz"]
        rows.append(
            f"ATOM {i} {a['element']} {a['name']} . {a['res']} A 1 {a['num']} ? "
            f"{x:.3f} {y:.3f} {z:.3f} 1.00 {b:.2f} {a['num']} A 1\n"
        )
    return "".join(rows)


ATOM_SITE_HEADER = (
    "loop_\n_atom_site.group_PDB\n_atom_site.id\n_atom_site.type_symbol\n"
    "_atom_site.label_atom_id\n_atom_site.label_alt_id\n_atom_site.label_comp_id\n"
    "_atom_site.label_asym_id\n_atom_site.label_entity_id\n_atom_site.label_seq_id\n"
    "_atom_site.pdbx_PDB_ins_code\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\n"
    "_atom_site.occupancy\n_atom_site.B_iso_or_equiv\n_atom_site.auth_seq_id\n"
    "_atom_site.auth_asym_id\n_atom_site.pdbx_PDB_model_num\n"
)


def modelcif_text(entry, software, version, per_atom, title):
    values = [per_atom_plddt(i, a) for i, a in enumerate(ATOMS)] if per_atom else PER_ATOM_RES
    s = f"data_{entry}\n#\n_entry.id {entry}\n#\n"
    s += "loop_\n_audit_conform.dict_location\n_audit_conform.dict_name\n_audit_conform.dict_version\n"
    s += "https://raw.githubusercontent.com/ihmwg/ModelCIF/master/dist/mmcif_ma.dic mmcif_ma.dic 1.4.5\n#\n"
    s += "loop_\n_software.classification\n_software.name\n_software.pdbx_ordinal\n_software.type\n_software.version\n"
    s += f"other {software} 1 package {version}\n#\n"
    if title:
        s += f"_struct.entry_id {entry}\n_struct.title '{title}'\n#\n"
    mean = sum(values) / len(values)
    s += "loop_\n_ma_qa_metric.id\n_ma_qa_metric.mode\n_ma_qa_metric.name\n_ma_qa_metric.software_group_id\n_ma_qa_metric.type\n"
    s += "1 global pLDDT 1 pLDDT\n2 local pLDDT 1 pLDDT\n#\n"
    s += f"_ma_qa_metric_global.metric_id 1\n_ma_qa_metric_global.metric_value {mean:.2f}\n_ma_qa_metric_global.model_id 1\n_ma_qa_metric_global.ordinal_id 1\n#\n"
    s += "loop_\n_ma_qa_metric_local.label_asym_id\n_ma_qa_metric_local.label_comp_id\n_ma_qa_metric_local.label_seq_id\n_ma_qa_metric_local.metric_id\n_ma_qa_metric_local.metric_value\n_ma_qa_metric_local.model_id\n_ma_qa_metric_local.ordinal_id\n"
    seen = []
    for a in ATOMS:
        if a["num"] not in seen:
            seen.append(a["num"])
            s += f"A {a['res']} {a['num']} 2 {plddt_of(a['num']):.2f} 1 {len(seen)}\n"
    s += "#\n" + ATOM_SITE_HEADER + cif_atom_rows(values) + "#\n"
    return s


def boltz_text():
    """A ModelCIF file from python-modelcif, as Boltz's writer makes one."""
    import ihm
    import modelcif
    import modelcif.dumper
    import modelcif.model
    import modelcif.protocol
    import modelcif.qa_metric
    import modelcif.reference

    three = {}
    for a in ATOMS:
        three[a["num"]] = a["res"]
    seq = [three[n] for n in RESIDUES]
    system = modelcif.System(title="Boltz predicted structure", id="boltz_ubiquitin")
    software = modelcif.Software(
        name="Boltz", classification="model building", description="Boltz-2",
        location="https://github.com/jwohlwend/boltz", type="package", version="2.1.1")
    system.software.append(software)
    entity = modelcif.Entity(_chem_comps(seq), description="Model subunit")
    asym = modelcif.AsymUnit(entity, details="Model subunit A", id="A")
    assembly = modelcif.Assembly([asym], name="Modeled assembly")

    class Local(modelcif.qa_metric.Local, modelcif.qa_metric.PLDDT):
        name = "pLDDT"
        description = "Predicted lddt"
        software = None

    class Model(modelcif.model.AbInitioModel):
        def get_atoms(self):
            for i, a in enumerate(ATOMS):
                x, y, z = a["xyz"]
                yield modelcif.model.Atom(
                    asym_unit=asym, type_symbol=a["element"], seq_id=RESIDUES.index(a["num"]) + 1,
                    atom_id=a["name"], x=x, y=y, z=z, het=False, biso=per_atom_plddt(i, a),
                    occupancy=1.0)

    model = Model(assembly=assembly, name="Model")
    for k, n in enumerate(RESIDUES):
        model.qa_metrics.append(Local(asym.residue(k + 1), plddt_of(n)))
    system.model_groups.append(modelcif.model.ModelGroup([model], name="All models"))
    out = io.StringIO()
    modelcif.dumper.write(out, [system])
    return out.getvalue()


def _chem_comps(seq):
    import ihm
    alphabet = ihm.LPeptideAlphabet()
    one = {c.id: code for code, c in alphabet._comps.items()}
    return [alphabet[one[r]] for r in seq]


def cryoem_text():
    s = "data_7XYZ\n#\n_entry.id 7XYZ\n#\n_exptl.entry_id 7XYZ\n_exptl.method 'ELECTRON MICROSCOPY'\n#\n"
    s += "_em_3d_reconstruction.entry_id 7XYZ\n_em_3d_reconstruction.id 1\n_em_3d_reconstruction.resolution 3.20\n#\n"
    s += "_cell.entry_id 7XYZ\n_cell.length_a 1.000\n_cell.length_b 1.000\n_cell.length_c 1.000\n"
    s += "_cell.angle_alpha 90.00\n_cell.angle_beta 90.00\n_cell.angle_gamma 90.00\n#\n"
    s += "_symmetry.entry_id 7XYZ\n_symmetry.space_group_name_H-M 'P 1'\n#\n"
    s += ATOM_SITE_HEADER + cif_atom_rows([a["b"] * 3.0 for a in ATOMS]) + "#\n"
    return s


def kabsch(mobile, target, fit):
    p, q = mobile[fit], target[fit]
    pc, qc = p.mean(0), q.mean(0)
    h = (p - pc).T @ (q - qc)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return (mobile - pc) @ r.T + qc


def nmr_text():
    rng = np.random.default_rng(20261204)
    base = np.array([a["xyz"] for a in ATOMS])
    per_res = {n: rng.uniform(0.1, 1.2) for n in RESIDUES}
    models = []
    for m in range(5):
        noise = np.array([rng.normal(0, per_res[a["num"]], 3) for a in ATOMS])
        angle = rng.uniform(-1, 1)
        c, s_ = math.cos(angle), math.sin(angle)
        rot = np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1]])
        xyz = (base + noise) @ rot.T + rng.normal(0, 5, 3)
        models.append(np.round(xyz, 3))
    text = (
        "HEADER    PROTEIN BINDING                         01-JAN-26   9NMR              \n"
        "TITLE     A SYNTHETIC NMR ENSEMBLE OF UBIQUITIN                                 \n"
        "EXPDTA    SOLUTION NMR                                                          \n"
        "CRYST1    1.000    1.000    1.000  90.00  90.00  90.00 P 1           1          \n"
    )
    for m, xyz in enumerate(models, start=1):
        text += f"MODEL     {m:>4}\n"
        for i, a in enumerate(ATOMS, start=1):
            text += atom_line(i, a, 0.0, xyz[i - 1])
        text += "ENDMDL\n"
    text += "END\n"
    # The reference: CA atoms, iterative superposition onto the mean (ProDy's
    # iterpose), RMSF about the mean, B = 8 pi^2 / 3 RMSF^2.
    ca = [i for i, a in enumerate(ATOMS) if a["name"] == "CA"]
    xs = np.array([x[ca] for x in models])
    fit = np.arange(len(ca))
    ref = xs[0]
    for _ in range(100):
        moved = np.array([kabsch(x, ref, fit) for x in xs])
        mean = moved.mean(0)
        change = np.sqrt(((mean - ref) ** 2).sum(1).mean())
        ref = mean
        if change < 1e-4:
            break
    mean = moved.mean(0)
    rmsf2 = ((moved - mean) ** 2).sum(2).mean(0)
    return text, list(8 * math.pi ** 2 / 3 * rmsf2)


if __name__ == "__main__":
    main()
