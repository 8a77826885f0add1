#!/usr/bin/env python3
"""Time the reference notebook's B-factor head and losses in NumPy.

The counterpart of the criterion benchmarks in ``benches/head.rs``: the same
sizes, the same dtypes and the same benchmark names (``forward_f32/512x384``,
``loss_f64/normalized_mse/4096``, ...), so the two outputs can be compared row
by row.

What is timed
-------------
* ``forward_<dtype>/<N>x<c_s>`` (and ``forward_f32/8x512x384``): the notebook's
  ``bfactor_head`` arithmetic -- ``layer_norm``, ``@ W1``, ReLU, ``layer_norm``,
  ``@ W2``, stable softmax, expectation over the bin centers -- with FIXED
  weights: ``W1``, ``W2`` (``randn * c_s**-0.5``) and the bin centers are built
  once outside the timing, as the Rust head stores them. For float32, ``s``,
  ``W1``, ``W2`` and the centers are cast to float32 first, so the whole pass
  stays in float32.
* ``loss_<dtype>/normalized_mse/4096``: the notebook's ``bfactor_loss(pred, true)``.
* ``loss_<dtype>/normalized_mse_masked/4096``: ``bfactor_loss(pred, true, mask)``
  as the notebook writes it (mean/std over ALL residues, the mask only weights
  the final average -- the Rust masked loss instead weights the statistics too).
* ``loss_<dtype>/pearson/4096``: ``np.corrcoef(pred, true)[0, 1]``.
* ``loss_<dtype>/pearson_masked/4096``: ``np.corrcoef`` on the valid residues,
  ``np.corrcoef(pred[m], true[m])[0, 1]`` with ``m = mask > 0``.
* ``gemm_<dtype>/2048``: one ``a @ b`` of two 2048 x 2048 matrices, the machine's
  matrix-multiply rate (GFLOP/s = 2 * 2048**3 / time) that
  ``scripts/compare_bench.py`` turns into each forward pass's floor.

Each benchmark is timed with ``timeit``: ``autorange`` picks a number of calls
per repeat (>= 0.2 s), then ``--repeat`` repeats are run and the median time per
call is reported in microseconds.

How to run
----------
    python3 scripts/bench_numpy.py                  # BLAS with its default threads
    python3 scripts/bench_numpy.py --blas-threads 1 # single-threaded BLAS, like
                                                    # the Rust crate's matmul
    python3 scripts/bench_numpy.py --repeat 50 --filter forward_f32
    python3 scripts/bench_numpy.py --filter 'forward_f64|gemm_'   # either
    python3 scripts/bench_numpy.py --json out.json  # also write {name: median us}

Timings are noisy on a shared machine (other builds may be running); compare
medians, and rerun when in doubt.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import timeit

import numpy as np

NUM_BINS = 64
MAX_BFACTOR = 100.0
LOSS_N = 4096
FORWARD_SIZES = [(50, 128), (512, 384), (4096, 384)]
DTYPES = {"f32": np.float32, "f64": np.float64}


# ---------------------------------------------------------------- notebook code
def layer_norm(x, eps=1e-5):
    mean = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def head_forward(s, W1, W2, bin_centers):
    """The notebook's ``bfactor_head`` arithmetic with given (fixed) weights."""
    s_norm = layer_norm(s)
    h = np.maximum(0, s_norm @ W1)
    h = layer_norm(h)
    logits = h @ W2
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = probs / probs.sum(axis=-1, keepdims=True)
    bfactor = np.sum(probs * bin_centers, axis=-1)
    return logits, bfactor


def bfactor_loss(pred_bfactor, true_bfactor, mask=None):
    """The notebook's ``bfactor_loss``, verbatim."""
    if mask is None:
        mask = np.ones_like(pred_bfactor)
    pred_norm = (pred_bfactor - pred_bfactor.mean()) / (pred_bfactor.std() + 1e-8)
    true_norm = (true_bfactor - true_bfactor.mean()) / (true_bfactor.std() + 1e-8)
    mse = ((pred_norm - true_norm) ** 2 * mask).sum() / (mask.sum() + 1e-8)
    return mse


def pearson(pred, true):
    return np.corrcoef(pred, true)[0, 1]


def pearson_masked(pred, true, mask):
    m = mask > 0
    return np.corrcoef(pred[m], true[m])[0, 1]


# ---------------------------------------------------------------- environment
def _openblas_lib():
    """The loaded OpenBLAS shared library (ctypes handle) and its symbol prefix."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None, None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            if hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                return lib, (prefix, suffix)
    return None, None


def blas_info():
    """(name, version) of the BLAS NumPy was built against, from np.show_config."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return blas.get("name", "?"), blas.get("version", "?")
    except Exception:  # older NumPy: no mode="dicts"
        return "unknown", "?"


def blas_threads(set_to=None):
    lib, names = _openblas_lib()
    if lib is None:
        return None
    prefix, suffix = names
    if set_to is not None:
        getattr(lib, f"{prefix}_set_num_threads{suffix}")(ctypes.c_int(set_to))
    get = getattr(lib, f"{prefix}_get_num_threads{suffix}")
    get.restype = ctypes.c_int
    return get()


# ---------------------------------------------------------------- timing
def time_us(fn, repeat):
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    times = timer.repeat(repeat=repeat, number=number)
    per_call = sorted(t / number * 1e6 for t in times)
    return statistics.median(per_call), per_call[0], number


def train_step(s, target, mask, W1, W2, centers, adam, eps=1e-5):
    """One notebook-head training step in NumPy: forward with cache, normalized MSE
    per protein and its gradient, backward through the head, an AdamW update
    (PyTorch's formulas). Mirrors `train_step_f32` in benches/head.rs."""
    B, N, C = s.shape
    x = s.reshape(-1, C)
    mu = x.mean(-1, keepdims=True)
    inv1 = 1.0 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xn = (x - mu) * inv1
    a = xn @ W1
    r = np.maximum(a, 0)
    inv2 = 1.0 / np.sqrt(r.var(-1, keepdims=True) + eps)
    hn = (r - r.mean(-1, keepdims=True)) * inv2
    logits = hn @ W2
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    b = (p * centers).sum(-1).reshape(B, N)
    # Normalized MSE per protein (weighted by mask) and dL/db.
    W = mask.sum(-1, keepdims=True)
    mp = (mask * b).sum(-1, keepdims=True) / W
    mt = (mask * target).sum(-1, keepdims=True) / W
    sdp = np.sqrt((mask * (b - mp) ** 2).sum(-1, keepdims=True) / W)
    sdt = np.sqrt((mask * (target - mt) ** 2).sum(-1, keepdims=True) / W)
    sp, st = sdp + 1e-8, sdt + 1e-8
    diff = (b - mp) / sp - (target - mt) / st
    denom = W + 1e-8
    loss = ((mask * diff**2).sum(-1, keepdims=True) / denom).mean()
    g = 2 * mask * diff / denom
    gsum = g.sum(-1, keepdims=True)
    gdev = (g * (b - mp)).sum(-1, keepdims=True)
    db = ((g - mask / W * gsum) / sp - gdev / (sp * sp * W * sdp) * mask * (b - mp)) / B
    # Through the softmax expectation and the head.
    dl = db.reshape(-1, 1) * p * (centers - b.reshape(-1, 1))
    dW2 = hn.T @ dl
    dh = dl @ W2.T
    dr = inv2 * (dh - dh.mean(-1, keepdims=True) - hn * (dh * hn).mean(-1, keepdims=True))
    da = dr * (a > 0)
    dW1 = xn.T @ da
    dxn = da @ W1.T
    _ds = inv1 * (dxn - dxn.mean(-1, keepdims=True) - xn * (dxn * xn).mean(-1, keepdims=True))
    # AdamW, lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
    adam["t"] += 1
    t = adam["t"]
    for i, (w, gw) in enumerate(((W1, dW1), (W2, dW2))):
        w *= 1 - 1e-3 * 1e-2
        m, v = adam["m"][i], adam["v"][i]
        m += (gw - m) * 0.1
        v *= 0.999
        v += 0.001 * gw * gw
        denom = np.sqrt(v) / np.sqrt(1 - 0.999**t) + 1e-8
        w -= (1e-3 / (1 - 0.9**t)) * m / denom
    return loss


def benchmarks():
    """Yield (name, tokens, zero-argument callable)."""
    for tag, dtype in DTYPES.items():
        rng = np.random.default_rng(5)
        a = rng.standard_normal((2048, 2048)).astype(dtype)
        b = rng.standard_normal((2048, 2048)).astype(dtype)
        yield (f"gemm_{tag}/2048", 2048, lambda a=a, b=b: a @ b)
    for tag, dtype in DTYPES.items():
        for n, c_s in FORWARD_SIZES:
            rng = np.random.default_rng(0)
            W1 = (rng.standard_normal((c_s, c_s)) * c_s**-0.5).astype(dtype)
            W2 = (rng.standard_normal((c_s, NUM_BINS)) * c_s**-0.5).astype(dtype)
            centers = np.linspace(0, MAX_BFACTOR, NUM_BINS).astype(dtype)
            s = np.random.default_rng(1).standard_normal((n, c_s)).astype(dtype)
            yield (f"forward_{tag}/{n}x{c_s}", n,
                   lambda s=s, W1=W1, W2=W2, c=centers: head_forward(s, W1, W2, c))
    b, n, c_s = 8, 512, 384
    rng = np.random.default_rng(0)
    W1 = (rng.standard_normal((c_s, c_s)) * c_s**-0.5).astype(np.float32)
    W2 = (rng.standard_normal((c_s, NUM_BINS)) * c_s**-0.5).astype(np.float32)
    centers = np.linspace(0, MAX_BFACTOR, NUM_BINS).astype(np.float32)
    s = np.random.default_rng(1).standard_normal((b, n, c_s)).astype(np.float32)
    yield (f"forward_f32/{b}x{n}x{c_s}", b * n,
           lambda: head_forward(s, W1, W2, centers))

    tgt = (30.0 + 10.0 * np.random.default_rng(3).standard_normal((b, n))).astype(np.float32)
    mask = np.ones((b, n), dtype=np.float32)
    W1t, W2t = W1.copy(), W2.copy()
    adam = {"t": 0, "m": [np.zeros_like(W1t), np.zeros_like(W2t)],
            "v": [np.zeros_like(W1t), np.zeros_like(W2t)]}
    yield (f"train_step_f32/{b}x{n}x{c_s}", b * n,
           lambda: train_step(s, tgt, mask, W1t, W2t, centers, adam))

    for tag in ("f64", "f32"):
        dtype = DTYPES[tag]
        rng = np.random.default_rng(2)
        pred = rng.uniform(0.0, 100.0, LOSS_N).astype(dtype)
        true = (30.0 + 15.0 * rng.standard_normal(LOSS_N)).astype(dtype)
        mask = (rng.random(LOSS_N) < 0.9).astype(dtype)
        yield (f"loss_{tag}/normalized_mse/{LOSS_N}", LOSS_N,
               lambda p=pred, t=true: bfactor_loss(p, t))
        yield (f"loss_{tag}/normalized_mse_masked/{LOSS_N}", LOSS_N,
               lambda p=pred, t=true, m=mask: bfactor_loss(p, t, m))
        yield (f"loss_{tag}/pearson/{LOSS_N}", LOSS_N,
               lambda p=pred, t=true: pearson(p, t))
        yield (f"loss_{tag}/pearson_masked/{LOSS_N}", LOSS_N,
               lambda p=pred, t=true, m=mask: pearson_masked(p, t, m))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=25,
                    help="timeit repeats per benchmark (default 25)")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="set OpenBLAS's thread count before timing")
    ap.add_argument("--filter", default="",
                    help="only benchmarks whose name contains this (or one of several "
                         "separated by '|')")
    ap.add_argument("--json", default=None, help="also write {name: median us} to this file")
    args = ap.parse_args(argv)

    name, version = blas_info()
    threads = blas_threads(args.blas_threads)
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}")
    print(f"BLAS: {name} {version}; threads: {threads if threads is not None else 'unknown'}"
          f"; cpus: {os.cpu_count()}")
    print("(noisy: shared machine, other builds may be running)")
    print()
    header = f"{'benchmark':<40} {'median us':>12} {'min us':>12} {'Melem/s':>10} {'calls':>7}"
    print(header)
    print("-" * len(header))
    results = {}
    for bench_name, tokens, fn in benchmarks():
        if not any(f in bench_name for f in args.filter.split("|")):
            continue
        fn()  # warm up (and fail fast)
        med, best, number = time_us(fn, args.repeat)
        results[bench_name] = med
        print(f"{bench_name:<40} {med:>12.2f} {best:>12.2f} {tokens / med:>10.2f} {number:>7}",
              flush=True)
    if args.json:
        import json
        with open(args.json, "w") as out:
            json.dump({"numpy": np.__version__, "blas": f"{name} {version}",
                       "blas_threads": threads, "median_us": results}, out, indent=1)


if __name__ == "__main__":
    main()
