#!/usr/bin/env python3
"""Generate the PyTorch parity fixtures under ``tests/fixtures/boltz2/``.

Run from the repository root (needs Python 3 with ``torch``, ``numpy`` and
``safetensors``; CI never runs this, it only reads the committed files)::

    python scripts/gen_boltz2_fixtures.py

The script deletes ``tests/fixtures/boltz2/`` and writes it again. Inputs come
from fixed seeds (``torch.manual_seed``, ``np.random.default_rng``); the outputs
are computed with real PyTorch ops (``torch.nn.Linear``, ``log_softmax``,
``torch.linspace``, ``torch.bmm``), so they are the "PyTorch reference" that
``tests/boltz2_parity.rs``, ``tests/weights.rs`` and ``tests/tokens.rs`` compare
the Rust crate with. Matrix products go through the local BLAS and may differ in
the last bit between machines, far inside the Rust tests' tolerances; the
boundaries and target bins are exact.

Files (small arrays of one case are packed into one uncompressed ``.npz``,
``np.savez``; total well below 300 KB):

``module/c{C}_b{K}.npz``
    A ``torch.nn.Linear(C, K)`` with random weights, for (C, K) in (384, 64),
    (16, 10), (7, 3): ``weight`` (float32, PyTorch's ``[K, C]`` layout),
    ``bias``; ``s_f32`` (random ``[B, N, C]``), ``logits3_f32`` (the module on
    ``s_f32``, ``[B, N, K]``) and ``logits2_f32`` (the module on ``s_f32[0]``,
    ``[N, K]``, a separate 2-D call); the same ``*_f64`` in float64 with the
    module after ``.double()`` (exact widening of the same weights) and its own
    random float64 ``s``.

``loss/{case}.npz``
    Boltz-2's ``bfactor_loss_fn`` (written here from the description in
    ``/work/shared/reference/boltz2-bfactor.md`` and Boltz-2's source):
    boundaries ``torch.linspace(0, 100, bins - 1)`` (float32, the default
    dtype), target ``(b > boundaries).sum(-1)``, mask ``b > 1e-5``, errors
    ``-(one_hot * log_softmax(logits)).sum(-1)``, loss
    ``sum(errors * mask) / (sum(mask) + 1e-5)`` over the whole batch.
    Arrays: ``logits`` and ``bfactor`` (float32), ``bins`` (int64),
    ``errors32`` / ``loss32`` (computed in float32) and ``errors64`` /
    ``loss64`` (the same inputs widened to float64 with ``.double()``, while
    the boundaries stay float32 as in Boltz-2: its newer ``compute_dtype``
    version promotes ``pbfactor`` but keeps ``torch.linspace`` in the default
    float32, and ``b_f64 > boundaries_f32`` widens the boundaries exactly).
    Cases: ``batch64`` (``[2, 40, 64]``; B-factors on every float32 boundary,
    0, -0, negative, 1e-6, exactly float32(1e-5) and its successor, the
    smallest subnormal, 100 and its neighbours, above 100, neighbours of some
    boundaries; four tokens with logits at +-1e4), ``n10`` (``[16, 10]``),
    ``masked`` (``[2, 3, 64]``, every B-factor <= 1e-5, loss exactly 0).
    ``batch64`` also has ``mask`` (float32: 0, 1 and two fractional weights)
    and ``masked_loss32`` / ``masked_loss64``: the loss with mask
    ``(b > 1e-5) * mask``.
``loss/notebook.npz``
    The notebook head (layer norm, ``@ w1``, ReLU, layer norm, ``@ w2``; eps
    1e-5, no affine) in torch on ``s`` ``[2, 4, 8]`` with 64 bins, then the
    binned loss of its logits against ``bfactor``. ``s``, ``w1``, ``w2``,
    ``bfactor`` float32; ``loss32`` computed in float32; ``logits64`` and
    ``loss64`` in float64 from the same values.

``boundaries.npz``
    ``values``: ``torch.linspace(0, 100, k - 1)`` in float32 for k = 2..=130,
    concatenated; ``offsets`` (int64, length 131): row k is
    ``values[offsets[k - 1]:offsets[k]]`` (``offsets[0] = offsets[1] = 0``).

``weights/``
    Files written by Python's own packages for a Boltz-2 head with
    token_s = 16, num_bins = 10: ``boltz2_{f32,f64,f16,bf16}.safetensors``
    (``safetensors.torch.save_file``; names ``bfactor_module.bfactor.weight`` /
    ``.bias``, plus an int64 ``step`` and a float32 ``trunk.other.weight`` that
    must be ignored; the f64 head has its own values that float32 cannot
    hold), ``boltz2.npz`` (``np.savez``) and ``boltz2_compressed.npz``
    (``np.savez_compressed``) with the float32 values and the same extra
    tensors, ``boltz2_weight.npy`` / ``boltz2_bias.npy`` (float32, ``np.save``),
    ``notebook_head.safetensors`` (plus ``step``) and ``notebook_head.npz`` with
    ``bfactor_head.w1`` ``[8, 8]`` and ``bfactor_head.w2`` ``[8, 64]``
    (float32), ``boltz2_nan.safetensors`` (a NaN in the weight) and
    ``ints.npy`` (int64). ``expected.npz`` holds the references: ``s`` (float32
    ``[2, 3, 16]``) and ``logits_{f32,f64,f16,bf16}``, the logits for ``s``
    computed in float64 from the exact stored values; ``notebook_s`` (float32
    ``[4, 8]``), ``notebook_logits`` and ``notebook_bfactor`` (float64; centers
    ``np.linspace(0, 100, 64)``).

``tokens.npz``
    ``token_to_rep_atom`` (float32 one-hot ``[2, 5, 9]``, some rows all zero),
    ``rep_index`` (int64 ``[2, 5]``, -1 = missing), ``atom_bfactor`` (float32
    ``[2, 9]``), ``token_bfactor`` = ``torch.bmm`` of the two (float32
    ``[2, 5]``); ``rmsf`` (float64) with ``rmsf_bfactor64`` =
    ``8 * np.pi**2 * rmsf**2`` and ``rmsf_bfactor32`` =
    ``np.float32(8 * np.pi**2) * r * r`` in float32.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.join("tests", "fixtures", "boltz2")


def as_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(a)


def save(rel: str, a) -> None:
    """One ``.npy`` file."""
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, as_numpy(a))


def save_npz(rel: str, arrays: dict) -> None:
    """Several arrays in one uncompressed ``.npz`` (``np.savez``)."""
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, **{k: as_numpy(v) for k, v in arrays.items()})


# --------------------------------------------------------------------------
# Boltz-2's loss, as in boltz/model/loss/bfactor.py (computed on token B-factors)
# --------------------------------------------------------------------------


def boltz2_bfactor_loss(pred: torch.Tensor, bfactor: torch.Tensor, explicit_mask=None):
    """Returns (loss, per-token errors, target bins) for pred [..., bins], b [...]."""
    bins = pred.shape[-1]
    b = bfactor.unsqueeze(-1)  # [..., 1], as Boltz-2's bmm output
    boundaries = torch.linspace(0, 100, bins - 1)  # default dtype float32
    assert boundaries.dtype == torch.float32
    target = (b > boundaries).sum(dim=-1).long()
    one_hot = F.one_hot(target, num_classes=bins)
    errors = -1 * torch.sum(one_hot * F.log_softmax(pred, dim=-1), dim=-1)
    mask = (b > 1e-5).squeeze(-1).to(pred.dtype)
    if explicit_mask is not None:
        mask = mask * explicit_mask.to(pred.dtype)
    loss = torch.sum(errors * mask) / (torch.sum(mask) + 1e-5)
    return loss, errors, target


# --------------------------------------------------------------------------
# a. module parity
# --------------------------------------------------------------------------


def gen_module() -> None:
    torch.manual_seed(0)
    for (c, k, bsz, n) in [(384, 64, 2, 2), (16, 10, 3, 5), (7, 3, 2, 4)]:
        lin = torch.nn.Linear(c, k)
        out = {"weight": lin.weight.clone(), "bias": lin.bias.clone()}
        with torch.no_grad():
            s32 = torch.randn(bsz, n, c, dtype=torch.float32)
            out["s_f32"] = s32
            out["logits3_f32"] = lin(s32)
            out["logits2_f32"] = lin(s32[0].clone())
            lin64 = lin.double()
            s64 = torch.randn(bsz, n, c, dtype=torch.float64)
            out["s_f64"] = s64
            out["logits3_f64"] = lin64(s64)
            out["logits2_f64"] = lin64(s64[0].clone())
        save_npz(f"module/c{c}_b{k}.npz", out)


# --------------------------------------------------------------------------
# b. loss parity
# --------------------------------------------------------------------------


def loss_case(logits: torch.Tensor, b: torch.Tensor) -> dict:
    assert logits.dtype == torch.float32 and b.dtype == torch.float32
    loss32, err32, bins32 = boltz2_bfactor_loss(logits, b)
    loss64, err64, bins64 = boltz2_bfactor_loss(logits.double(), b.double())
    assert torch.equal(bins32, bins64)
    assert err32.dtype == torch.float32 and err64.dtype == torch.float64
    return {
        "logits": logits,
        "bfactor": b,
        "bins": bins32,
        "errors32": err32,
        "errors64": err64,
        "loss32": loss32.reshape(1),
        "loss64": loss64.reshape(1),
    }


def gen_loss() -> None:
    torch.manual_seed(1)
    rng = np.random.default_rng(1)

    # batch64: [2, 48, 64]
    bins = 64
    bsz, n = 2, 40
    boundaries = torch.linspace(0, 100, bins - 1).numpy()  # float32, 63 values
    eps32 = np.float32(1e-5)
    specials = np.array(
        [
            0.0,
            -0.0,
            -3.5,
            -1e-6,
            1e-6,
            eps32,
            np.nextafter(eps32, np.float32(1.0)),
            np.nextafter(np.float32(0.0), np.float32(1.0)),
            100.0,
            np.nextafter(np.float32(100.0), np.float32(200.0)),
            np.nextafter(np.float32(100.0), np.float32(0.0)),
            100.5,
            250.0,
            np.nextafter(boundaries[1], np.float32(200.0)),
            np.nextafter(boundaries[31], np.float32(0.0)),
            np.nextafter(boundaries[32], np.float32(200.0)),
        ],
        dtype=np.float32,
    )
    rest = bsz * n - len(boundaries) - len(specials)
    randoms = rng.uniform(-5.0, 120.0, size=rest).astype(np.float32)
    b = np.concatenate([boundaries, specials, randoms]).astype(np.float32)
    b = b[rng.permutation(b.size)].reshape(bsz, n)
    logits = (torch.randn(bsz, n, bins) * 3.0).float()
    bt = torch.from_numpy(b)
    # logits at +-1e4 on four valid tokens (every B-factor value above is kept)
    target = (bt.unsqueeze(-1) > torch.from_numpy(boundaries)).sum(-1)
    valid = [divmod(int(i), n) for i in np.flatnonzero(b.reshape(-1) > 1e-5)]
    (i0, j0), (i1, j1), (i2, j2), (i3, j3) = valid[1], valid[5], valid[9], valid[13]
    t0, t1 = int(target[i0, j0]), int(target[i1, j1])
    logits[i0, j0] = 0.0
    logits[i0, j0, t0] = 1e4  # the target bin dominates: error ~ 0
    logits[i0, j0, (t0 + 1) % bins] = -1e4
    logits[i1, j1] = -1e4
    logits[i1, j1, (t1 + 7) % bins] = 1e4  # another bin dominates: error ~ 2e4
    logits[i2, j2] = 1e4  # all equal: uniform, error = ln 64
    logits[i3, j3, ::2] = 1e4
    logits[i3, j3, 1::2] = -1e4
    case = loss_case(logits, bt)

    # explicit mask on the same case
    mask = torch.from_numpy(rng.integers(0, 2, size=(bsz, n)).astype(np.float32))
    mask[0, 0] = 0.5
    mask[1, 1] = 2.0
    mask[i0, j0] = 1.0
    mask[i1, j1] = 1.0
    m32, _, _ = boltz2_bfactor_loss(logits, bt, mask)
    m64, _, _ = boltz2_bfactor_loss(logits.double(), bt.double(), mask.double())
    case["mask"] = mask
    case["masked_loss32"] = m32.reshape(1)
    case["masked_loss64"] = m64.reshape(1)
    save_npz("loss/batch64.npz", case)

    # n10: [16, 10]
    logits = torch.randn(16, 10) * 2.0
    b10 = torch.linspace(0, 100, 9)
    b = torch.cat(
        [
            b10,
            torch.tensor([0.0, 1e-6, 12.5, 99.99, 100.0, 120.0, -1.0]),
        ]
    ).float()
    save_npz("loss/n10.npz", loss_case(logits, b))

    # masked: every B-factor <= 1e-5
    logits = torch.randn(2, 3, 64) * 4.0
    b = torch.zeros(2, 3)
    b[0, 1] = -2.0
    b[1, 1] = 1e-6
    b[1, 2] = float(eps32)
    save_npz("loss/masked.npz", loss_case(logits.float(), b.float()))
    loss32, _, _ = boltz2_bfactor_loss(logits.float(), b.float())
    assert loss32.item() == 0.0

    # notebook head logits into the binned loss
    c_s, nb = 8, 64
    s = torch.randn(2, 4, c_s)
    w1 = torch.randn(c_s, c_s) * c_s**-0.5
    w2 = torch.randn(c_s, nb) * c_s**-0.5
    bnb = torch.from_numpy(rng.uniform(-2.0, 110.0, size=(2, 4)).astype(np.float32))
    bnb[0, 0] = 0.0

    def notebook_logits(s, w1, w2):
        x = F.layer_norm(s, (c_s,), eps=1e-5)
        h = F.layer_norm(torch.relu(x @ w1), (c_s,), eps=1e-5)
        return h @ w2

    l32, _, _ = boltz2_bfactor_loss(notebook_logits(s, w1, w2), bnb)
    lg64 = notebook_logits(s.double(), w1.double(), w2.double())
    l64, _, _ = boltz2_bfactor_loss(lg64, bnb.double())
    save_npz(
        "loss/notebook.npz",
        {
            "s": s,
            "w1": w1,
            "w2": w2,
            "bfactor": bnb,
            "logits64": lg64,
            "loss32": l32.reshape(1),
            "loss64": l64.reshape(1),
        },
    )


# --------------------------------------------------------------------------
# c. boundaries
# --------------------------------------------------------------------------


def gen_boundaries() -> None:
    values = []
    offsets = np.zeros(131, dtype=np.int64)
    pos = 0
    for k in range(2, 131):
        v = torch.linspace(0, 100, k - 1)
        assert v.dtype == torch.float32
        offsets[k - 1] = pos
        values.append(v.numpy())
        pos += v.numel()
    offsets[130] = pos
    save_npz(
        "boundaries.npz",
        {"values": np.concatenate(values).astype(np.float32), "offsets": offsets},
    )


# --------------------------------------------------------------------------
# d. weight files
# --------------------------------------------------------------------------


def gen_weights() -> None:
    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    os.makedirs(os.path.join(ROOT, "weights"), exist_ok=True)
    c, k = 16, 10
    lin = torch.nn.Linear(c, k)
    w32 = lin.weight.detach().clone()
    b32 = lin.bias.detach().clone()
    s = torch.randn(2, 3, c)
    expected = {"s": s}
    extra = {
        "step": torch.tensor([1234], dtype=torch.int64),
        "trunk.other.weight": torch.randn(3, 4),
    }
    for tag, dtype in [
        ("f32", torch.float32),
        ("f64", torch.float64),
        ("f16", torch.float16),
        ("bf16", torch.bfloat16),
    ]:
        if dtype == torch.float64:
            # distinct float64 values (not float32-representable)
            w = (w32.double() + torch.randn(k, c, dtype=torch.float64) * 1e-3)
            b = (b32.double() + torch.randn(k, dtype=torch.float64) * 1e-3)
        else:
            w, b = w32.to(dtype), b32.to(dtype)
        tensors = {
            "bfactor_module.bfactor.weight": w.contiguous(),
            "bfactor_module.bfactor.bias": b.contiguous(),
            **extra,
        }
        save_file(tensors, os.path.join(ROOT, "weights", f"boltz2_{tag}.safetensors"))
        logits = s.double() @ w.double().T + b.double()
        expected[f"logits_{tag}"] = logits

    arrays = {
        "bfactor_module.bfactor.weight": w32.numpy(),
        "bfactor_module.bfactor.bias": b32.numpy(),
        "step": np.array([1234], dtype=np.int64),
        "trunk.other.weight": extra["trunk.other.weight"].numpy(),
    }
    np.savez(os.path.join(ROOT, "weights", "boltz2.npz"), **arrays)
    np.savez_compressed(os.path.join(ROOT, "weights", "boltz2_compressed.npz"), **arrays)
    save("weights/boltz2_weight.npy", w32)
    save("weights/boltz2_bias.npy", b32)

    nan_w = w32.clone()
    nan_w[2, 5] = float("nan")
    save_file(
        {"bfactor_module.bfactor.weight": nan_w, "bfactor_module.bfactor.bias": b32},
        os.path.join(ROOT, "weights", "boltz2_nan.safetensors"),
    )
    save("weights/ints.npy", np.arange(6, dtype=np.int64).reshape(2, 3))

    # notebook head
    c_s, nb = 8, 64
    w1 = (torch.randn(c_s, c_s) * c_s**-0.5).float()
    w2 = (torch.randn(c_s, nb) * c_s**-0.5).float()
    save_file(
        {"bfactor_head.w1": w1, "bfactor_head.w2": w2, "step": extra["step"]},
        os.path.join(ROOT, "weights", "notebook_head.safetensors"),
    )
    np.savez(
        os.path.join(ROOT, "weights", "notebook_head.npz"),
        **{"bfactor_head.w1": w1.numpy(), "bfactor_head.w2": w2.numpy()},
    )
    sn = torch.from_numpy(rng.standard_normal((4, c_s)).astype(np.float32))
    x = F.layer_norm(sn.double(), (c_s,), eps=1e-5)
    h = F.layer_norm(torch.relu(x @ w1.double()), (c_s,), eps=1e-5)
    logits = h @ w2.double()
    centers = torch.from_numpy(np.linspace(0.0, 100.0, nb))
    bf = (torch.softmax(logits, dim=-1) * centers).sum(-1)
    expected["notebook_s"] = sn
    expected["notebook_logits"] = logits
    expected["notebook_bfactor"] = bf
    save_npz("weights/expected.npz", expected)


# --------------------------------------------------------------------------
# tokens
# --------------------------------------------------------------------------


def gen_tokens() -> None:
    rng = np.random.default_rng(4)
    bsz, t, a = 2, 5, 9
    rep = np.array([[0, 2, -1, 5, 8], [1, -1, -1, 3, 7]], dtype=np.int64)
    m = np.zeros((bsz, t, a), dtype=np.float32)
    for bi in range(bsz):
        for ti in range(t):
            if rep[bi, ti] >= 0:
                m[bi, ti, rep[bi, ti]] = 1.0
    atom_b = rng.uniform(5.0, 90.0, size=(bsz, a)).astype(np.float32)
    out = torch.bmm(torch.from_numpy(m), torch.from_numpy(atom_b).unsqueeze(-1)).squeeze(-1)
    rmsf = np.concatenate([[0.0, 0.5, 1.0, 2.0], rng.uniform(0.0, 3.0, size=12)])
    r32 = rmsf.astype(np.float32)
    save_npz(
        "tokens.npz",
        {
            "token_to_rep_atom": m,
            "rep_index": rep,
            "atom_bfactor": atom_b,
            "token_bfactor": out,
            "rmsf": rmsf,
            "rmsf_bfactor64": 8 * np.pi**2 * rmsf**2,
            "rmsf_bfactor32": np.float32(8 * np.pi**2) * r32 * r32,
        },
    )


def main() -> None:
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    torch.set_num_threads(1)
    gen_module()
    gen_loss()
    gen_boundaries()
    gen_weights()
    gen_tokens()


if __name__ == "__main__":
    main()
