"""Bad input raises the documented exception, never a crash."""

import numpy as np
import pytest

import bfactor
from conftest import ROOT


def test_error_is_a_value_error():
    assert issubclass(bfactor.Error, ValueError)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128, np.bool_])
def test_bad_dtype_is_type_error_naming_it(dtype):
    head = bfactor.BFactorHead(8)
    bad = np.zeros((3, 8), dtype)
    name = np.dtype(dtype).name
    with pytest.raises(TypeError, match=name):
        head.forward(bad)
    with pytest.raises(TypeError, match=name):
        bfactor.BFactorHead.from_weights(np.zeros((8, 8), dtype), np.zeros((8, 64), dtype))
    with pytest.raises(TypeError, match=name):
        bfactor.loss.pearson(np.zeros(5, dtype), np.zeros(5, dtype))
    with pytest.raises(TypeError, match=name):
        bfactor.gnm.square_fluctuations(np.zeros((4, 3), dtype))


def test_mixed_dtypes_are_type_error():
    with pytest.raises(TypeError, match="float64"):
        bfactor.BFactorHead(8, dtype="float32").forward(np.zeros((2, 8)))
    with pytest.raises(TypeError):
        bfactor.loss.normalized_mse(np.zeros(5, np.float32), np.zeros(5))
    with pytest.raises(TypeError):
        bfactor.BFactorHead(8, dtype="int8")


def test_crate_errors_are_bfactor_error_with_message():
    head = bfactor.BFactorHead(8)
    with pytest.raises(bfactor.Error, match="c_s"):
        head.forward(np.zeros((2, 7), np.float32))
    s = np.zeros((2, 8), np.float32)
    s[1, 3] = np.nan
    with pytest.raises(bfactor.Error, match="non-finite"):
        head.forward(s)
    with pytest.raises(bfactor.Error):
        bfactor.BFactorHead.from_weights(np.zeros((8, 8)), np.zeros((7, 64)))
    with pytest.raises(bfactor.Error, match="shape mismatch"):
        bfactor.loss.pearson(np.zeros(5), np.zeros(4))
    with pytest.raises(bfactor.Error):
        bfactor.gnm.square_fluctuations(np.zeros((4, 2)))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        bfactor.read(tmp_path / "missing.pdb")
    with pytest.raises(FileNotFoundError):
        bfactor.read(str(tmp_path / "missing.cif.gz"))


@pytest.mark.parametrize("fmt", ["pdb", "cif"])
def test_garbage_bytes_are_bfactor_error(fmt):
    with pytest.raises(bfactor.Error):
        bfactor.read(b"\x00\xff garbage \x01" * 50, format=fmt)
    with pytest.raises(ValueError):
        bfactor.read(b"ATOM", format=None)


def test_write_wrong_length_is_bfactor_error(tmp_path):
    path = next((ROOT / "data/crystal").glob("*.pdb.gz"))
    st = bfactor.read(path)
    with pytest.raises(bfactor.Error, match="shape mismatch"):
        bfactor.write(st, np.zeros(len(st) + 1), tmp_path / "x.pdb")


MALFORMED = sorted(p for p in (ROOT / "tests/data/malformed").iterdir() if p.is_file())


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_hostile_structures_read_or_raise_bfactor_error(path):
    """The hostile corpus: each file reads or raises bfactor.Error, never anything else,
    and its bytes give the same outcome as its path."""
    fmt = "cif" if path.suffix == ".cif" else "pdb"
    outcomes = []
    for source in [path, path.read_bytes()]:
        try:
            st = bfactor.read(source, format=fmt if isinstance(source, bytes) else None)
        except bfactor.Error as e:
            outcomes.append(("error", type(e)))
            continue
        b = bfactor.Predictor.pretrained().predict(st)
        assert np.isfinite(b).all() and b.shape == (len(st),)
        outcomes.append(("read", len(st), st.bfactors.tolist(), b.tolist()))
    assert outcomes[0] == outcomes[1]


WEIGHTS = sorted(p for p in (ROOT / "tests/data/malformed/weights").iterdir() if p.is_file())


@pytest.mark.parametrize("path", WEIGHTS, ids=lambda p: p.name)
def test_hostile_weight_files_raise_bfactor_error(path):
    for load in [bfactor.Predictor.load, bfactor.Boltz2Head.load]:
        with pytest.raises(bfactor.Error):
            load(path)
