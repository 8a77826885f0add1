"""Reading, predicting, writing and the GNM, against the Rust library's fixtures."""

import gzip

import numpy as np
import pytest

import bfactor
from conftest import ROOT

MODES = {"CaOnly": "ca", "Boltz2": "boltz2"}


def rust_predictions():
    """tests/fixtures/predictions/data.tsv.gz (examples/prediction_fixture.rs):
    {(set, file, mode): rows of (chain, number, icode, residue, atom, present, bfactor, prediction)}."""
    blocks, key = {}, None
    with gzip.open(ROOT / "tests/fixtures/predictions/data.tsv.gz", "rt") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            if line.startswith("> "):
                key = tuple(line[2:].split("\t"))
                blocks[key] = []
            else:
                blocks[key].append(line.split("\t"))
    return blocks


BLOCKS = rust_predictions()
# Every file of data/, both token modes.
CHOSEN = list(BLOCKS)


@pytest.fixture(scope="module")
def predictor():
    return bfactor.Predictor.pretrained()


@pytest.mark.parametrize("key", CHOSEN, ids=lambda k: "/".join(k))
def test_read_and_predict_equal_the_rust_library(key, predictor):
    set_, name, mode = key
    rows = BLOCKS[key]
    st = bfactor.read(ROOT / "data" / set_ / name, tokens=MODES[mode])
    assert len(st) == len(rows)
    np.testing.assert_array_equal(st.chain_ids, np.array([r[0] for r in rows]))
    np.testing.assert_array_equal(st.residue_numbers, np.array([int(r[1]) for r in rows]))
    np.testing.assert_array_equal(st.residue_names, np.array([r[3] for r in rows]))
    # The mask: the atom is present and its B-factor usable (> 1e-5, Boltz-2's rule).
    np.testing.assert_array_equal(st.mask, np.array([float(r[5] == "1" and float(r[6]) > 1e-5) for r in rows]))
    np.testing.assert_array_equal(st.bfactors, np.array([float(r[6]) for r in rows]))
    assert st.coords.shape == (len(rows), 3) and st.coords.dtype == np.float64
    assert st.chain_ids.dtype.kind == "U"
    assert isinstance(st.warnings, list)
    b = predictor.predict(st)
    assert b.dtype == np.float64 and b.shape == (len(rows),)
    # Same code as the Rust library: the same bits (the fixture prints shortest round-trip decimals).
    np.testing.assert_array_equal(b, np.array([float(r[7]) for r in rows]))


def test_read_bytes_equals_read_path(predictor, tmp_path):
    path = ROOT / "data/crystal" / CHOSEN[0][1]
    st = bfactor.read(str(path))
    text = gzip.open(path, "rb").read()
    st2 = bfactor.read(text, format="pdb")
    np.testing.assert_array_equal(st.bfactors, st2.bfactors)
    np.testing.assert_array_equal(predictor.predict(st), predictor.predict(st2))


def test_write_puts_values_in_the_b_column(predictor, tmp_path):
    st = bfactor.read(ROOT / "data/crystal" / CHOSEN[0][1])
    values = np.round(predictor.predict(st), 2)
    out = tmp_path / "out.pdb"
    bfactor.write(st, values, out)
    back = bfactor.read(out)
    np.testing.assert_allclose(back.bfactors, values, atol=5e-3)
    np.testing.assert_array_equal(back.residue_numbers, st.residue_numbers)


def test_save_and_load_predictor(predictor, tmp_path):
    # Predictor.load of a missing file
    with pytest.raises(FileNotFoundError):
        bfactor.Predictor.load(tmp_path / "nope.safetensors")
    with pytest.raises(bfactor.Error):
        (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
        bfactor.Predictor.load(tmp_path / "bad.safetensors")


@pytest.mark.parametrize("name", ["1ubi", "3hsy"])
@pytest.mark.parametrize("cutoff", [10.0, 7.3])
def test_gnm_matches_prody(name, cutoff):
    d = ROOT / "tests/fixtures/gnm" / name
    coords = np.load(d / "coords.npy")
    want = np.load(d / f"sqflucts_c{cutoff:g}_g1.npy")
    got = bfactor.gnm.square_fluctuations(coords, cutoff=cutoff)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)
    # A strided float64 view is read the same.
    wide = np.zeros((coords.shape[0], 6))
    wide[:, ::2] = coords
    np.testing.assert_array_equal(bfactor.gnm.square_fluctuations(wide[:, ::2], cutoff=cutoff), got)


def test_read_gzip_bytes_equals_read_path(predictor):
    path = ROOT / "data/crystal/1UBQ.pdb.gz"
    a, b = bfactor.read(path), bfactor.read(path.read_bytes(), format="pdb")
    np.testing.assert_array_equal(a.bfactors, b.bfactors)
    np.testing.assert_array_equal(predictor.predict(a), predictor.predict(b))
    with pytest.raises(bfactor.Error, match="gzip"):
        bfactor.read(path.read_bytes()[:500], format="pdb")
