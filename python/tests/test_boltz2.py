"""Boltz2Head against PyTorch's nn.Linear outputs (scripts/gen_boltz2_fixtures.py)."""

import numpy as np
import pytest

import bfactor
from conftest import ROOT

B2 = ROOT / "tests/fixtures/boltz2"


@pytest.mark.parametrize("case", ["c7_b3", "c16_b10", "c384_b64"])
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_logits_match_pytorch(case, dtype):
    d = np.load(B2 / "module" / f"{case}.npz")
    np_dtype = np.float32 if dtype == "f32" else np.float64
    head = bfactor.Boltz2Head.from_weights(d["weight"].astype(np_dtype), d["bias"].astype(np_dtype))
    s = d[f"s_{dtype}"]
    tol = 1e-5 if dtype == "f32" else 1e-12
    got = head.logits(s)
    assert got.dtype == np_dtype and got.shape == d[f"logits3_{dtype}"].shape
    np.testing.assert_allclose(got, d[f"logits3_{dtype}"], rtol=tol, atol=tol)
    np.testing.assert_allclose(head.logits(s[0]), d[f"logits2_{dtype}"], rtol=tol, atol=tol)
    out = head.forward(s)
    np.testing.assert_array_equal(out.logits, got)
    # The expectation over Boltz-2's bin centers, in NumPy.
    x = got.astype(np.float64)
    p = np.exp(x - x.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    nb = x.shape[-1]
    if nb >= 3:  # Boltz-2's bins: boundaries linspace(0, 100, nb - 1); open end bins
        w = 100.0 / (nb - 2)
        centers = np.concatenate([[0.0], (np.arange(1, nb - 1) - 0.5) * w, [100.0 + w / 2]])
    else:
        centers = np.linspace(0.0, 100.0, nb)
    np.testing.assert_allclose(out.bfactor, p @ centers, rtol=1e-4 if dtype == "f32" else 1e-10)
    assert out.bfactor.shape == s.shape[:-1]


@pytest.mark.parametrize("name", ["boltz2_f32.safetensors", "boltz2_f64.safetensors", "boltz2.npz"])
def test_load_weight_files(name):
    d = np.load(B2 / "weights/expected.npz")
    head = bfactor.Boltz2Head.load(B2 / "weights" / name, dtype="float64")
    want = d["logits_f64"] if "f64" in name else d["logits_f32"]
    np.testing.assert_allclose(head.logits(d["s"].astype(np.float64)), want, rtol=1e-6, atol=1e-6)


def test_load_errors():
    with pytest.raises(FileNotFoundError):
        bfactor.Boltz2Head.load("no/such/file.safetensors")
    with pytest.raises(bfactor.Error, match="non-finite|NaN"):
        bfactor.Boltz2Head.load(B2 / "weights/boltz2_nan.safetensors")
    with pytest.raises(TypeError, match="int8"):
        bfactor.Boltz2Head.load(B2 / "weights/boltz2_f32.safetensors", dtype="int8")
    head = bfactor.Boltz2Head.load(B2 / "weights/boltz2_f32.safetensors")
    with pytest.raises(bfactor.Error, match="16"):
        head.logits(np.zeros((2, 15), np.float32))
