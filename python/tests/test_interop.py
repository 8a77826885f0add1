"""What users hold: Biotite AtomArrays (duck typed) and text from gemmi, in and out."""

import io

import numpy as np
import pytest

import bfactor
from conftest import ROOT

UBQ = ROOT / "data/crystal/1UBQ.pdb.gz"


@pytest.fixture(scope="module")
def predictor():
    return bfactor.Predictor.pretrained()


def test_biotite_atom_array_gives_the_file_s_predictions(predictor):
    biotite_pdb = pytest.importorskip("biotite.structure.io.pdb")
    import gzip

    text = gzip.decompress(UBQ.read_bytes()).decode()
    atoms = biotite_pdb.PDBFile.read(io.StringIO(text)).get_structure(model=1, extra_fields=["b_factor", "occupancy"])
    st = bfactor.from_atom_array(atoms)
    # An AtomArray holds neither the resolution nor the space group: the reference
    # is the file's atom records alone.
    atom_records = "\n".join(l for l in text.splitlines() if l.startswith(("ATOM", "HETATM")))
    ref = bfactor.read(atom_records.encode(), format="pdb")
    np.testing.assert_array_equal(st.residue_numbers, ref.residue_numbers)
    np.testing.assert_array_equal(st.chain_ids, ref.chain_ids)
    np.testing.assert_allclose(st.bfactors, ref.bfactors)
    np.testing.assert_allclose(st.coords, ref.coords, atol=1e-3)
    b = predictor.predict(st)
    # Biotite holds coordinates as float32.
    np.testing.assert_allclose(b, predictor.predict(ref), rtol=1e-5, atol=1e-3)
    # Back into the annotation: every atom of a residue gets its residue's value.
    per_atom = st.atom_values(b)
    assert per_atom.shape == (len(atoms),)
    atoms.set_annotation("b_factor", per_atom)
    protein = ~atoms.hetero
    for k, res in enumerate(st.residue_numbers):
        sel = protein & (atoms.res_id == res)
        np.testing.assert_array_equal(atoms.b_factor[sel], b[k])
    # Waters are no CA token: NaN unless a fill is given.
    water = atoms.res_name == "HOH"
    assert water.any() and np.isnan(per_atom[water]).all()
    assert (st.atom_values(b, fill=-1.0)[water] == -1.0).all()


def test_atom_array_without_b_factors_is_masked_not_invented():
    biotite_pdb = pytest.importorskip("biotite.structure.io.pdb")
    import gzip

    text = gzip.decompress(UBQ.read_bytes()).decode()
    atoms = biotite_pdb.PDBFile.read(io.StringIO(text)).get_structure(model=1)
    st = bfactor.from_atom_array(atoms)
    assert (st.mask == 0).all() and (st.bfactors == 0).all()
    assert len(bfactor.Predictor.pretrained().predict(st)) == len(st)


def test_atom_array_errors():
    class Fake:
        coord = np.zeros((2, 3, 3))

    with pytest.raises(TypeError, match="stack"):
        bfactor.from_atom_array(Fake())

    class Missing:
        coord = np.zeros((2, 3))

    with pytest.raises(TypeError, match="chain_id"):
        bfactor.from_atom_array(Missing())

    class Short:
        coord = np.zeros((2, 3))
        chain_id = np.array(["A"])
        res_id = np.array([1, 1])
        ins_code = np.array(["", ""])
        res_name = np.array(["GLY", "GLY"])
        atom_name = np.array(["N", "CA"])
        element = np.array(["N", "C"])
        hetero = np.array([False, False])

    with pytest.raises(bfactor.Error, match="chain_id has 1 entries, expected 2"):
        bfactor.from_atom_array(Short())
    Short.chain_id = np.array(["A", "A"])
    Short.coord = np.array([[0.0, 0, 0], [np.nan, 0, 0]])
    with pytest.raises(bfactor.Error, match="NaN"):
        bfactor.from_atom_array(Short())
    with pytest.raises(bfactor.Error, match="from_atom_array"):
        bfactor.read(UBQ).atom_values(np.zeros(76))


def test_gemmi_text_goes_in_as_bytes(predictor):
    gemmi = pytest.importorskip("gemmi")
    st_g = gemmi.read_structure(str(UBQ))
    st_g.setup_entities()
    pdb = st_g.make_pdb_string().encode()
    cif = st_g.make_mmcif_document().as_string().encode()
    ref = bfactor.read(UBQ)
    for data, fmt in [(pdb, "pdb"), (cif, "cif")]:
        st = bfactor.read(data, format=fmt)
        np.testing.assert_array_equal(st.residue_numbers, ref.residue_numbers)
        np.testing.assert_allclose(st.bfactors, ref.bfactors)
        np.testing.assert_allclose(st.coords, ref.coords)
    # gemmi's PDB text keeps the cell, space group and resolution: the same predictions.
    # (Its mmCIF document here has no refinement resolution, so the context differs.)
    st = bfactor.read(pdb, format="pdb")
    np.testing.assert_array_equal(predictor.predict(st), predictor.predict(ref))
