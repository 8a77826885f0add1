"""Per-atom predictions from Python: one row per heavy atom of the amino acids (counted
from the PDB text by column), a CA carries its residue's value, the values track the
experimental B of every atom, and `write_atoms` puts them in the B column."""

import numpy as np
import pytest

import bfactor
from conftest import ROOT

UBI = ROOT / "tests" / "data" / "structures" / "1ubi.pdb"


def heavy_atom_records(path):
    """`(chain, residue number, atom name) -> B column` of the heavy ATOM records."""
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("ATOM  ") and line[76:78].strip() not in ("H", "D"):
            out[(line[21], int(line[22:26]), line[12:16].strip())] = float(line[60:66])
    return out


@pytest.fixture(scope="module")
def prediction():
    st = bfactor.read(UBI)
    return st, bfactor.Predictor.pretrained().predict_atoms(st)


def test_one_row_per_heavy_atom(prediction):
    _, a = prediction
    text = heavy_atom_records(UBI)
    keys = list(zip(a["chain"], a["residue_number"].tolist(), a["atom_name"]))
    assert len(keys) == len(set(keys)) == len(a["value"])
    assert set(keys) == set(text)
    np.testing.assert_array_equal(a["bfactor"], [text[k] for k in keys])
    # Usable where the B column holds more than 1e-5 (1UBI's ARG 42 C holds 0.00).
    np.testing.assert_array_equal(a["mask"], a["bfactor"] > 1e-5)
    assert (~a["mask"]).sum() == 1
    assert np.isfinite(a["value"]).all()


def test_a_ca_carries_its_residue_value(prediction):
    st, a = prediction
    tokens = bfactor.Predictor.pretrained().predict(st)
    # The per-token values are predict's profile (at most their spread shrunk,
    # the same order) and every B is positive.
    assert np.corrcoef(a["token_value"], tokens)[0, 1] > 1 - 1e-12
    assert (a["value"] > 0).all() and (a["token_value"] > 0).all()
    ca = np.array([n == "CA" for n in a["atom_name"]])
    np.testing.assert_allclose(a["value"][ca], a["token_value"][a["token"][ca]], rtol=1e-12)


def test_values_follow_every_atom(prediction):
    _, a = prediction
    per_atom = np.corrcoef(a["value"], a["bfactor"])[0, 1]
    residue = np.corrcoef(a["token_value"][a["token"]], a["bfactor"])[0, 1]
    assert per_atom > 0.5
    assert per_atom > residue, (per_atom, residue)


def test_write_atoms_puts_the_values_in_the_b_column(prediction, tmp_path):
    st, a = prediction
    out = tmp_path / "ubi_atoms.pdb"
    bfactor.Predictor.pretrained().write_atoms(st, out)
    written = heavy_atom_records(out)
    keys = zip(a["chain"], a["residue_number"].tolist(), a["atom_name"])
    np.testing.assert_allclose([written[k] for k in keys], a["value"], atol=0.005 + 1e-9)

