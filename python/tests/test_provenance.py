"""What the B column holds, from Python: pLDDT of predicted models read as gemmi reads
the column, NMR ensembles' spread against NumPy on gemmi's coordinates, the
b_column keyword, pickling."""

import pickle

import gemmi
import numpy as np
import pytest

import bfactor
from conftest import ROOT

PROV = ROOT / "tests" / "data" / "provenance"


def gemmi_ca_b(path):
    """The CA atoms' B column as gemmi reads it (gemmi holds float32)."""
    st = gemmi.read_structure(str(path))
    return np.array([a.b_iso for r in st[0][0] for a in r if a.name == "CA"])


@pytest.mark.parametrize(
    "name,predictor,scale",
    [
        ("af_db.pdb", "AlphaFold DB", 1.0),
        ("af_db.cif", "AlphaFold DB", 1.0),
        ("af3.cif", "AlphaFold 3", 1.0),
        ("boltz.cif", "Boltz", 1.0),
        ("af2_headerless.pdb", "unknown predictor", 1.0),
        ("esmfold.pdb", "unknown predictor", 100.0),
    ],
)
def test_predicted_models_hold_plddt_not_b_factors(name, predictor, scale):
    st = bfactor.read(PROV / name)
    assert st.predictor == predictor
    assert st.provenance == f"predicted ({predictor})"
    assert st.b_column == "plddt" and st.method is None
    np.testing.assert_allclose(st.plddt, gemmi_ca_b(PROV / name) * scale, rtol=1e-6, atol=0)
    assert (st.bfactors == 0).all() and (st.mask == 0).all()


def test_crystals_and_the_b_column_keyword():
    crystal = bfactor.read(ROOT / "data" / "crystal" / "1UBQ.pdb.gz")
    assert crystal.method == "X-ray" and crystal.resolution == pytest.approx(1.8)
    assert crystal.b_column == "b-factor" and crystal.plddt is None
    assert crystal.provenance == "X-ray (1.80 Å)"
    forced = bfactor.read(PROV / "af_db.pdb", b_column="b-factor")
    assert forced.b_column == "b-factor" and forced.plddt is None
    np.testing.assert_allclose(forced.bfactors, gemmi_ca_b(PROV / "af_db.pdb"), rtol=1e-6)
    assert any("as asked" in w for w in forced.warnings)
    # The option survives pickling (the bytes keep how the file was read).
    again = pickle.loads(pickle.dumps(forced))
    assert again.b_column == "b-factor"
    np.testing.assert_array_equal(again.bfactors, forced.bfactors)
    with pytest.raises(ValueError, match="b_column"):
        bfactor.read(PROV / "af_db.pdb", b_column="confidence")


def test_from_atom_array_takes_the_keyword():
    biotite_io = pytest.importorskip("biotite.structure.io")
    atoms = biotite_io.load_structure(str(PROV / "af2_headerless.pdb"), extra_fields=["b_factor"])
    st = bfactor.from_atom_array(atoms)
    assert st.b_column == "plddt"  # one value per residue, all in [0, 100]
    st = bfactor.from_atom_array(atoms, b_column="b-factor")
    assert st.b_column == "b-factor" and st.mask.sum() == len(st)


def kabsch(mobile, target):
    pc, qc = mobile.mean(0), target.mean(0)
    u, _, vt = np.linalg.svd((mobile - pc).T @ (target - qc))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return (mobile - pc) @ (vt.T @ np.diag([1.0, 1.0, d]) @ u.T).T + qc


def test_an_nmr_ensemble_spread_against_numpy_on_gemmis_coordinates():
    st = bfactor.read(PROV / "nmr.pdb")
    assert st.method == "NMR" and st.models == 5 and (st.mask == 0).all()
    g = gemmi.read_structure(str(PROV / "nmr.pdb"))
    xs = np.array([[a.pos.tolist() for r in m[0] for a in r if a.name == "CA"] for m in g])
    ref = xs[0]
    for _ in range(100):
        moved = np.array([kabsch(x, ref) for x in xs])
        mean = moved.mean(0)
        change = np.sqrt(((mean - ref) ** 2).sum(1).mean())
        ref = mean
        if change < 1e-4:
            break
    want = 8 * np.pi**2 / 3 * ((moved - moved.mean(0)) ** 2).sum(2).mean(0)
    np.testing.assert_allclose(st.ensemble_bfactors(), want, rtol=1e-6)
    assert bfactor.read(PROV / "af_db.pdb").ensemble_bfactors() is None


def test_plddt_to_b():
    p = np.array([[0.0, 50.0], [70.0, 100.0]], dtype=np.float32)
    b = bfactor.plddt_to_b(p)
    assert b.dtype == np.float32 and b.shape == (2, 2)
    want = 8 * np.pi**2 / 3 * (1.5 * np.exp(4 * (0.7 - p.astype(np.float64) / 100))) ** 2
    np.testing.assert_allclose(b, want, rtol=1e-6)
    with pytest.raises(bfactor.Error, match="0 to 100"):
        bfactor.plddt_to_b(np.array([101.0]))
    model = bfactor.read(PROV / "af_db.cif")
    text = bfactor.plddt_to_b_text(model)
    kept = gemmi.read_structure(str(PROV / "af_db.cif"))
    out = gemmi.cif.read_string(text).sole_block()
    g = gemmi.make_structure_from_block(out)
    b_ca = np.array([a.b_iso for r in g[0][0] for a in r if a.name == "CA"])
    plddt = np.array([a.b_iso for r in kept[0][0] for a in r if a.name == "CA"])
    keep = plddt >= 70
    np.testing.assert_allclose(
        b_ca, 8 * np.pi**2 / 3 * (1.5 * np.exp(4 * (0.7 - plddt[keep] / 100))) ** 2, atol=5.1e-5
    )
    with pytest.raises(bfactor.Error, match="pLDDT"):
        bfactor.plddt_to_b_text(bfactor.read(ROOT / "data" / "crystal" / "1UBQ.pdb.gz"))
