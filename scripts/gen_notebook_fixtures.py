#!/usr/bin/env python3
"""Generate the NumPy parity fixtures under ``tests/fixtures/notebook/``.

Run from the repository root (needs only Python 3 and NumPy)::

    python3 scripts/gen_notebook_fixtures.py

The script deletes ``tests/fixtures/notebook/`` and writes it again. Everything is
derived from fixed seeds of NumPy's legacy ``RandomState`` (whose stream NumPy
guarantees never to change), so reruns give the same inputs; outputs computed with
``@`` go through the local BLAS and may differ in the last bit between machines,
far inside the tolerances of the Rust tests that read them
(``tests/parity_notebook.rs``, ``tests/numpy_rng.rs``).

The reference is implemented here in NumPy, independently of the Rust crate,
following the reference notebook (``layer_norm``, the ``bfactor_head`` arithmetic,
``bfactor_loss``, ``np.corrcoef``). All files are ``.npy`` (``np.save``):

``head/<case>.{config,s,w1,w2,logits,bfactor,probs}.npy``
    One forward pass of the notebook head with given weights instead of weights
    drawn inside. ``config`` is float64 ``[c_s, num_bins, max_bfactor, eps]``;
    ``s`` (``[N, c_s]`` or ``[B, N, c_s]``), ``w1`` (``[c_s, c_s]``) and ``w2``
    (``[c_s, num_bins]``) are the inputs; ``logits``, ``bfactor`` and ``probs``
    the reference outputs. ``f64_*`` cases are float64 throughout. ``f32_*`` cases
    store ``s``, ``w1``, ``w2`` rounded to float32 and the outputs computed in
    float64 *from the rounded values* (saved as float64). ``f64_n50_c128_b64`` is
    the notebook cell's own ``s``, ``W1``, ``W2`` (below).

``loss/<case>.{inputs,expected}.npy``
    ``inputs`` (float64) stacks ``[pred, target]`` (unmasked cases) or ``[pred,
    target, mask]`` along a new first axis, each ``[N]`` or ``[B, N]``.
    ``expected`` (float64) has two rows: the reference for the float64 inputs,
    and the reference computed in float64 from the inputs rounded to float32 (for
    the Rust ``f32`` losses); each row is ``[normalized_mse, pearson]``, plus
    ``notebook_loss`` for 1-D cases without fractional weights.
    Unmasked cases (and all-ones masks) use the notebook's ``bfactor_loss`` and
    ``np.corrcoef(p, t)[0, 1]``, per row for ``[B, N]`` and averaged over rows.
    Masked cases use the weighted statistics of ``src/loss.rs`` (weighted mean,
    weighted population variance, std + 1e-8, ``sum(w (zp - zt)^2) / (sum(w) +
    1e-8)``; weighted covariance over the weighted standard deviations), per row,
    averaged over the rows with at least two residues of weight > 0; for 0/1 masks
    the script asserts that this equals ``bfactor_loss`` and ``np.corrcoef`` on the
    valid residues, and for integer weights that it equals repeating residues.
    ``notebook_loss`` is the notebook's own ``bfactor_loss(pred, target, mask)``:
    equal to ``normalized_mse`` for no mask and all-ones masks, and deliberately
    different for the 0/1-mask case ``1d_binary`` (the notebook's statistics count
    padded residues).

``rng/``
    NumPy's legacy global stream: ``randn_seed{S}.npy`` = ``seed(S);
    randn(1001)`` followed by the next call's ``randn(3)`` (1004 values; the first
    of the three is the normal cached by the odd count), for S in 0, 1, 42,
    2**32 - 1; ``rand_seed7.npy`` = ``seed(7); rand(100)``;
    ``interleave_seed7.npy`` = ``seed(7)``, then ``randn(3)``, ``rand(2)``,
    ``randn(3)`` concatenated (8 values; NumPy's cached normal survives ``rand``).

``notebook_figures.npy``, ``pred_bfactor.npy``, ``true_bfactor.npy``
    The notebook's test cell (seed 42, N = 50, c_s = 128; ``s``, then ``W1``, then
    ``W2`` drawn from the global stream): float64 ``[bfactor.min(),
    bfactor.max(), loss, correlation]``, the 50 predicted B-factors and the
    simulated ground truth.
"""

import os
import shutil

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "notebook")


# ---------------------------------------------------------------------------
# The notebook's functions
# ---------------------------------------------------------------------------


def layer_norm(x, eps=1e-5):
    mean = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def bfactor_head_given(s, W1, W2, num_bins=64, max_bfactor=100.0, eps=1e-5):
    """The notebook's ``bfactor_head`` arithmetic with the weights passed in.

    Returns logits, bfactor and the softmax probabilities. ``s`` may have any
    number of leading axes (``@`` broadcasts over them).
    """
    s_norm = layer_norm(s, eps)

    # MLP
    h = np.maximum(0, s_norm @ W1)
    h = layer_norm(h, eps)
    logits = h @ W2

    # Expected B-factor
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = probs / probs.sum(axis=-1, keepdims=True)

    bin_centers = np.linspace(0, max_bfactor, num_bins)
    bfactor = np.sum(probs * bin_centers, axis=-1)
    return logits, bfactor, probs


def bfactor_head(s, num_bins=64, max_bfactor=100.0):
    """The notebook's ``bfactor_head``: draws W1 then W2 from the global stream."""
    N, c_s = s.shape
    W1 = np.random.randn(c_s, c_s) * (c_s ** -0.5)
    W2 = np.random.randn(c_s, num_bins) * (c_s ** -0.5)
    logits, bfactor, _ = bfactor_head_given(s, W1, W2, num_bins, max_bfactor)
    return logits, bfactor


def bfactor_loss(pred_bfactor, true_bfactor, mask=None):
    """The notebook's ``bfactor_loss``, verbatim."""
    if mask is None:
        mask = np.ones_like(pred_bfactor)

    # Normalize B-factors (common practice)
    pred_norm = (pred_bfactor - pred_bfactor.mean()) / (pred_bfactor.std() + 1e-8)
    true_norm = (true_bfactor - true_bfactor.mean()) / (true_bfactor.std() + 1e-8)

    # MSE
    mse = ((pred_norm - true_norm) ** 2 * mask).sum() / (mask.sum() + 1e-8)

    return mse


def notebook_true_bfactor(N):
    true_bfactor = 30 + 20 * np.exp(-((np.arange(N) - N // 2) / (N / 4)) ** 2)
    true_bfactor[:5] += 20  # Higher at N-terminus
    true_bfactor[-5:] += 20  # Higher at C-terminus
    return true_bfactor


# ---------------------------------------------------------------------------
# The crate's loss semantics, implemented independently
# ---------------------------------------------------------------------------


def as_rows(a):
    return a[None, :] if a.ndim == 1 else a


def unmasked_reference(pred, target):
    """Notebook ``bfactor_loss`` and ``np.corrcoef`` per row, averaged over rows."""
    p, t = as_rows(pred), as_rows(target)
    mse = [bfactor_loss(pr, tr) for pr, tr in zip(p, t)]
    corr = [np.corrcoef(pr, tr)[0, 1] for pr, tr in zip(p, t)]
    return float(np.mean(mse)), float(np.mean(corr))


def weighted_row(p, t, w):
    W = w.sum()
    mp = (w * p).sum() / W
    mt = (w * t).sum() / W
    vp = (w * (p - mp) ** 2).sum() / W
    vt = (w * (t - mt) ** 2).sum() / W
    zp = (p - mp) / (np.sqrt(vp) + 1e-8)
    zt = (t - mt) / (np.sqrt(vt) + 1e-8)
    mse = (w * (zp - zt) ** 2).sum() / (W + 1e-8)
    cov = (w * (p - mp) * (t - mt)).sum() / W
    r = np.clip(cov / np.sqrt(vp) / np.sqrt(vt), -1.0, 1.0)
    return mse, r


def masked_reference(pred, target, mask):
    """Weighted statistics per row; rows with < 2 positive weights are skipped."""
    p, t, m = as_rows(pred), as_rows(target), as_rows(mask)
    mses, corrs = [], []
    for pr, tr, wr in zip(p, t, m):
        if (wr > 0).sum() < 2:
            continue
        mse, r = weighted_row(pr, tr, wr)
        mses.append(mse)
        corrs.append(r)
        if np.all((wr == 0) | (wr == 1)):
            # With a 0/1 mask the weighted statistics are the notebook's on the
            # valid subset, and Pearson is np.corrcoef on it.
            v = wr == 1
            sub_mse = bfactor_loss(pr[v], tr[v])
            sub_r = np.corrcoef(pr[v], tr[v])[0, 1]
            assert np.isclose(mse, sub_mse, rtol=1e-12, atol=1e-15), (mse, sub_mse)
            assert np.isclose(r, sub_r, rtol=1e-12, atol=1e-15), (r, sub_r)
        if np.all(wr == np.round(wr)):
            # Integer weights are frequency weights: repeat each residue w times.
            reps = wr.astype(np.int64)
            rep_mse, rep_r = weighted_row(np.repeat(pr, reps), np.repeat(tr, reps),
                                          np.ones(reps.sum()))
            assert np.isclose(mse, rep_mse, rtol=1e-12, atol=1e-15), (mse, rep_mse)
            assert np.isclose(r, rep_r, rtol=1e-12, atol=1e-15), (r, rep_r)
    assert mses, "at least one row must have two valid residues"
    return float(np.mean(mses)), float(np.mean(corrs))


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


def save(path, array):
    full = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    np.save(full, np.ascontiguousarray(array))


def head_cases():
    # name, seed, s shape, c_s, num_bins, max_bfactor, eps, weight scale, dtype
    specs = [
        # The notebook cell's own draws (see notebook_cell_draws).
        ("f64_n50_c128_b64", None, (50, 128), 128, 64, 100.0, 1e-5, 1.0, np.float64),
        ("f64_n7_c16_b64", 102, (7, 16), 16, 64, 100.0, 1e-5, 1.0, np.float64),
        ("f64_n33_c24_b10", 103, (33, 24), 24, 10, 100.0, 1e-5, 1.0, np.float64),
        ("f64_batch3_n11_c16_b64", 104, (3, 11, 16), 16, 64, 100.0, 1e-5, 1.0,
         np.float64),
        ("f64_n9_c32_b20_max150_eps1e-3", 105, (9, 32), 32, 20, 150.0, 1e-3, 3.0,
         np.float64),
        ("f32_n16_c128_b64", 201, (16, 128), 128, 64, 100.0, 1e-5, 1.0, np.float32),
        ("f32_n7_c16_b64", 202, (7, 16), 16, 64, 100.0, 1e-5, 1.0, np.float32),
        ("f32_n33_c24_b10", 203, (33, 24), 24, 10, 100.0, 1e-5, 1.0, np.float32),
        ("f32_batch3_n11_c16_b64", 204, (3, 11, 16), 16, 64, 100.0, 1e-5, 1.0,
         np.float32),
        ("f32_n9_c32_b20_max150_eps1e-3", 205, (9, 32), 32, 20, 150.0, 1e-3, 3.0,
         np.float32),
    ]
    for name, seed, shape, c_s, num_bins, max_b, eps, wscale, dtype in specs:
        if seed is None:
            s, w1, w2 = notebook_cell_draws()
        else:
            rs = np.random.RandomState(seed)
            row_scale = rs.uniform(0.5, 3.0, size=shape[:-1] + (1,))
            row_shift = rs.uniform(-2.0, 2.0, size=shape[:-1] + (1,))
            s = rs.randn(*shape) * row_scale + row_shift
            if shape == (7, 16):
                # A constant row (exactly representable): both layer norms give
                # zeros, so the logits are 0 and the probabilities uniform.
                s[3, :] = 2.0
            w1 = rs.randn(c_s, c_s) * (c_s ** -0.5) * wscale
            w2 = rs.randn(c_s, num_bins) * (c_s ** -0.5) * wscale
        assert s.shape == shape
        s, w1, w2 = (a.astype(dtype) for a in (s, w1, w2))
        logits, bfactor, probs = bfactor_head_given(
            s.astype(np.float64), w1.astype(np.float64), w2.astype(np.float64),
            num_bins, max_b, eps)
        assert logits.shape == shape[:-1] + (num_bins,)
        assert bfactor.shape == shape[:-1]
        assert np.all((bfactor >= 0) & (bfactor <= max_b))
        if shape == (7, 16):
            assert np.all(logits[3] == 0.0)
        d = "head/" + name + "."
        save(d + "config.npy", np.array([c_s, num_bins, max_b, eps], dtype=np.float64))
        save(d + "s.npy", s)
        save(d + "w1.npy", w1)
        save(d + "w2.npy", w2)
        save(d + "logits.npy", logits)
        save(d + "bfactor.npy", bfactor)
        save(d + "probs.npy", probs)


def loss_cases():
    rs = np.random.RandomState(300)

    def profile(shape):
        pred = 50 + 15 * rs.randn(*shape)
        target = 0.6 * pred + 20 + 10 * rs.randn(*shape)
        return pred, target

    cases = []

    # 1-D: no mask, all-ones mask.
    p, t = profile((40,))
    cases.append(("1d_nomask", p, t, None))
    cases.append(("1d_ones", p, t, np.ones_like(p)))

    # 1-D 0/1 mask: 30 valid residues, then 10 padded ones with extreme values.
    p, t = profile((40,))
    m = np.zeros(40)
    m[:30] = 1.0
    m[[4, 17]] = 0.0  # two holes inside the chain too
    p[30:] = 0.0
    t[30:] = 500.0
    cases.append(("1d_binary", p, t, m))

    # 1-D fractional weights, some zero.
    p, t = profile((32,))
    m = rs.uniform(0.0, 2.0, size=32)
    m[[0, 9, 10, 31]] = 0.0
    cases.append(("1d_weighted", p, t, m))

    # 2-D: no mask, all-ones mask.
    p, t = profile((3, 25))
    cases.append(("2d_nomask", p, t, None))
    cases.append(("2d_ones", p, t, np.ones_like(p)))

    # 2-D 0/1 masks: rows of different lengths; row 1 has one valid residue and
    # row 2 none, so both are skipped.
    p, t = profile((4, 20))
    m = np.zeros((4, 20))
    m[0, :17] = 1.0
    m[1, 6] = 1.0
    m[3, :12] = 1.0
    m[3, 5] = 0.0
    p[m == 0] = -3.0
    t[m == 0] = 250.0
    cases.append(("2d_binary", p, t, m))

    # 2-D fractional weights; row 1 has a single positive weight (skipped).
    p, t = profile((3, 16))
    m = rs.uniform(0.0, 1.5, size=(3, 16))
    m[0, [2, 3]] = 0.0
    m[1, :] = 0.0
    m[1, 7] = 0.8
    m[2, 15] = 0.0
    cases.append(("2d_weighted", p, t, m))

    # 1-D integer weights (frequency weights; checked against repetition).
    p, t = profile((12,))
    m = np.array([1, 2, 0, 3, 1, 1, 0, 2, 1, 4, 1, 1], dtype=np.float64)
    cases.append(("1d_integer_weights", p, t, m))

    for name, p, t, m in cases:
        rows = []
        for dtype in (np.float64, np.float32):
            # The reference in float64 from the values rounded to `dtype`, as the
            # Rust side rounds the float64 inputs to f32 (round to nearest even).
            p64, t64 = (a.astype(dtype).astype(np.float64) for a in (p, t))
            m64 = None if m is None else m.astype(dtype).astype(np.float64)
            if m64 is None:
                mse, r = unmasked_reference(p64, t64)
            else:
                mse, r = masked_reference(p64, t64, m64)
            if m64 is None or np.all(m64 == 1.0):
                # No mask or ones: the notebook's bfactor_loss (per row) exactly.
                um, ur = unmasked_reference(p64, t64)
                assert np.isclose(mse, um, rtol=1e-12) and np.isclose(r, ur, rtol=1e-12)
                mse, r = um, ur
            row = [mse, r]
            if p64.ndim == 1 and (m64 is None or np.all((m64 == 0) | (m64 == 1))):
                nb = bfactor_loss(p64, t64, m64)
                if m64 is None or np.all(m64 == 1):
                    assert np.isclose(nb, mse, rtol=1e-12)
                else:
                    # The notebook's masked loss counts padding in its statistics.
                    assert abs(nb - mse) > 0.1 * max(abs(mse), 1.0), (nb, mse)
                row.append(nb)
            rows.append(row)
        d = "loss/" + name + "."
        save(d + "inputs.npy", np.stack([p, t] if m is None else [p, t, m]))
        save(d + "expected.npy", np.array(rows, dtype=np.float64))


def rng_cases():
    for seed in (0, 1, 42, 2**32 - 1):
        np.random.seed(seed)
        first = np.random.randn(1001)
        after = np.random.randn(3)
        save("rng/randn_seed%d.npy" % seed, np.concatenate([first, after]))
    np.random.seed(7)
    save("rng/rand_seed7.npy", np.random.rand(100))

    np.random.seed(7)
    a = np.random.randn(3)
    b = np.random.rand(2)
    c = np.random.randn(3)
    # NumPy's legacy stream keeps the cached second normal across rand() calls:
    # the first normal after rand(2) is the fourth normal of an uninterrupted run.
    np.random.seed(7)
    plain = np.random.randn(4)
    assert c[0] == plain[3], (c, plain)
    save("rng/interleave_seed7.npy", np.concatenate([a, b, c]))


def notebook_cell_draws():
    """The notebook cell's s, W1, W2 (seed 42; W1 and W2 as bfactor_head draws them)."""
    np.random.seed(42)
    N, c_s, num_bins = 50, 128, 64
    s = np.random.randn(N, c_s)
    W1 = np.random.randn(c_s, c_s) * (c_s ** -0.5)
    W2 = np.random.randn(c_s, num_bins) * (c_s ** -0.5)
    return s, W1, W2


def notebook_cell():
    np.random.seed(42)
    N = 50
    c_s = 128
    s = np.random.randn(N, c_s)
    logits, pred_bfactor = bfactor_head(s)

    # The head fixture f64_n50_c128_b64 holds the same draws and outputs.
    s_, W1, W2 = notebook_cell_draws()
    same_logits, same_bfactor, _ = bfactor_head_given(s_, W1, W2)
    assert np.array_equal(s, s_)
    assert np.array_equal(logits, same_logits)
    assert np.array_equal(pred_bfactor, same_bfactor)
    true_bfactor = notebook_true_bfactor(N)
    loss = bfactor_loss(pred_bfactor, true_bfactor)
    corr = np.corrcoef(pred_bfactor, true_bfactor)[0, 1]
    figures = np.array([pred_bfactor.min(), pred_bfactor.max(), loss, corr])
    save("notebook_figures.npy", figures)
    save("pred_bfactor.npy", pred_bfactor)
    save("true_bfactor.npy", true_bfactor)
    print("notebook: B-factor range [%.1f, %.1f], loss %.4f, correlation %.3f"
          % tuple(figures))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    head_cases()
    loss_cases()
    rng_cases()
    notebook_cell()
    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(OUT) for f in fs)
    print("wrote %s (%d bytes)" % (os.path.relpath(OUT, ROOT), total))


if __name__ == "__main__":
    main()
