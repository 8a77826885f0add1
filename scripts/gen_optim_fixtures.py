"""Generate the PyTorch reference fixtures for `src/train/optim.rs`.

Runs real `torch.optim.SGD`, `torch.optim.Adam` and `torch.optim.AdamW` (all with
`foreach=False`, the single-tensor implementation the Rust code mirrors) and
`torch.nn.utils.clip_grad_norm_` on float64 tensors, and writes the results as
`.npy` files under `tests/fixtures/optim/`, which `tests/optim.rs` reads.

Usage (needs PyTorch and NumPy; CI only reads the committed fixtures):

    /tmp/torchenv/bin/python scripts/gen_optim_fixtures.py

Layout:

- `steps/init.npy`   float64 (7,): initial parameters, two tensors concatenated
  (a (3,) tensor and a (2, 2) tensor flattened), split given by `steps/sizes.npy`
  (int64 [3, 4]).
- `steps/grads.npy`  float64 (5, 7): the fixed gradient of each of the 5 steps
  (given, not computed from a loss).
- `steps/<case>.hparams.npy` float64: for `sgd_*` cases
  `[lr, momentum, dampening, weight_decay, nesterov]`, for `adam_*` / `adamw_*`
  cases `[lr, beta1, beta2, eps, weight_decay, amsgrad]` (booleans as 0/1).
- `steps/<case>.lrs.npy`    float64 (5,): the learning rate set before each step
  (constant except in the `*_schedule` cases, which follow `SCHEDULE`).
- `steps/<case>.params.npy` float64 (5, 7): the parameters after each step.
- `clip/<case>.grads.npy`   float64 (7,): gradients before clipping (same split).
- `clip/<case>.scalars.npy` float64 [max_norm, total_norm returned by torch].
- `clip/<case>.clipped.npy` float64 (7,): gradients after clipping.
- `schedule/<case>.spec.npy` float64 [peak_lr, warmup_steps, total_steps, min_lr].
- `schedule/<case>.lrs.npy`  float64: `lr_at(s)` for s = 0 .. total_steps + 2 by
  the closed-form formula documented on `LrSchedule::WarmupCosine`, cross-checked
  here against torch's `SequentialLR(LinearLR, CosineAnnealingLR)` for s <= total.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "optim"

SIZES = [3, 4]
SHAPES = [(3,), (2, 2)]
INIT = np.array([1.0, -0.5, 0.25, 2.0, -1.5, 0.75, 0.1])
# Element 5 always has a zero gradient (Adam's `eps`-only denominator); the
# magnitudes shrink after step 1 so that AMSGrad's running maximum matters.
GRADS = np.array(
    [
        [0.5, -1.2, 0.03, 2.0, -0.7, 0.0, 1.5],
        [0.4, -0.9, -0.05, 1.1, -0.2, 0.0, 0.8],
        [-0.3, 0.6, 0.02, 0.05, 0.9, 0.0, -0.25],
        [0.1, -0.05, 0.07, -0.4, 0.3, 0.0, 0.02],
        [0.05, 0.2, -0.01, 0.01, -0.6, 0.0, 0.005],
    ]
)
NSTEPS = GRADS.shape[0]

# (peak_lr, warmup_steps, total_steps, min_lr) of the schedule used by the
# `*_schedule` optimizer cases (steps 0..4: warm-up 0, 1, then cosine).
SCHEDULE = (0.1, 2, 5, 0.01)

SGD_CASES = {
    # name: (lr, momentum, dampening, weight_decay, nesterov)
    "sgd_plain": (0.1, 0.0, 0.0, 0.0, False),
    "sgd_weight_decay": (0.1, 0.0, 0.0, 0.1, False),
    "sgd_momentum": (0.05, 0.9, 0.0, 0.0, False),
    "sgd_dampening": (0.05, 0.9, 0.5, 0.01, False),
    "sgd_nesterov": (0.05, 0.9, 0.0, 0.01, True),
    "sgd_momentum_schedule": (None, 0.8, 0.0, 0.0, False),
}
ADAM_CASES = {
    # name: (lr, beta1, beta2, eps, weight_decay, amsgrad)
    "adam_default": (1e-3, 0.9, 0.999, 1e-8, 0.0, False),
    "adam_weight_decay": (0.01, 0.8, 0.99, 1e-6, 0.1, False),
    "adam_amsgrad": (0.05, 0.9, 0.999, 1e-8, 0.0, True),
    # beta1 = 0.3: lerp weight 0.7 >= 0.5, ATen's other lerp branch.
    "adam_low_beta1": (0.02, 0.3, 0.9, 1e-8, 0.0, False),
}
ADAMW_CASES = {
    "adamw_default": (1e-3, 0.9, 0.999, 1e-8, 1e-2, False),
    "adamw_amsgrad": (0.05, 0.9, 0.999, 1e-8, 0.1, True),
    "adamw_schedule": (None, 0.9, 0.999, 1e-8, 0.05, False),
}

CLIP_CASES = {
    # name: (gradient scale, max_norm)
    "clip_above": (1.0, 1.0),
    "clip_below": (1.0, 10.0),
    "clip_at_threshold": (1.0, None),  # max_norm = the total norm itself
    "clip_zero": (0.0, 1.0),
}

SCHEDULE_CASES = {
    "warmup_cosine": (0.1, 2, 5, 0.01),
    "long": (3e-4, 10, 100, 1e-5),
    "no_warmup": (1.0, 0, 7, 0.0),
    "warmup_only": (0.5, 4, 4, 0.05),
}


def lr_at(spec: tuple[float, int, int, float], s: int) -> float:
    """The closed form documented on `LrSchedule::WarmupCosine`."""
    peak, warmup, total, min_lr = spec
    if s < warmup:
        return peak * (s + 1) / warmup
    if s >= total:
        return min_lr
    progress = (s - warmup) / (total - warmup)
    return min_lr + 0.5 * (peak - min_lr) * (1.0 + math.cos(math.pi * progress))


def torch_schedule(spec: tuple[float, int, int, float]) -> list[float]:
    """`lr_at(s)` from torch's own schedulers, for the steps they cover.

    `LinearLR(start_factor=1/W, total_iters=W-1)` gives `peak * (s+1) / W` for
    s < W; `CosineAnnealingLR(T_max=T-W, eta_min=min_lr)` then gives the cosine
    for W <= s <= T (it is periodic afterwards, so later steps are not compared).
    """
    peak, warmup, total, min_lr = spec
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=peak)
    linear = cosine = None
    if warmup >= 2:
        linear = torch.optim.lr_scheduler.LinearLR(
            opt, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1
        )
    if total > warmup:
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=total - warmup, eta_min=min_lr
        )
    if linear is not None and cosine is not None:
        sched = torch.optim.lr_scheduler.SequentialLR(
            opt, [linear, cosine], milestones=[warmup]
        )
    elif linear is not None:
        sched = linear
    elif cosine is not None and warmup == 0:
        sched = cosine
    else:
        raise SystemExit(f"no torch equivalent for schedule {spec}")
    covered = total + 1 if total > warmup else warmup
    lrs = []
    for _ in range(covered):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def split(flat: np.ndarray) -> list[torch.Tensor]:
    out, start = [], 0
    for n, shape in zip(SIZES, SHAPES):
        out.append(torch.tensor(flat[start : start + n].reshape(shape)))
        start += n
    return out


def concat(tensors) -> np.ndarray:
    return np.concatenate([t.detach().numpy().reshape(-1) for t in tensors])


def run(make_opt, lrs: list[float]) -> np.ndarray:
    params = [torch.nn.Parameter(t) for t in split(INIT)]
    opt = make_opt(params)
    out = []
    for k in range(NSTEPS):
        opt.param_groups[0]["lr"] = lrs[k]
        for p, g in zip(params, split(GRADS[k])):
            p.grad = g.clone()
        opt.step()
        out.append(concat(params))
    return np.stack(out)


def save(rel: str, array) -> None:
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(array))


def main() -> None:
    torch.set_default_dtype(torch.float64)
    if OUT.exists():
        shutil.rmtree(OUT)

    save("steps/init.npy", INIT)
    save("steps/grads.npy", GRADS)
    save("steps/sizes.npy", np.array(SIZES, dtype=np.int64))
    sched_lrs = [lr_at(SCHEDULE, s) for s in range(NSTEPS)]

    for name, (lr, momentum, dampening, wd, nesterov) in SGD_CASES.items():
        lrs = sched_lrs if lr is None else [lr] * NSTEPS
        traj = run(
            lambda ps: torch.optim.SGD(
                ps,
                lr=lrs[0],
                momentum=momentum,
                dampening=dampening,
                weight_decay=wd,
                nesterov=nesterov,
                foreach=False,
            ),
            lrs,
        )
        save(f"steps/{name}.hparams.npy", [lrs[0], momentum, dampening, wd, float(nesterov)])
        save(f"steps/{name}.lrs.npy", lrs)
        save(f"steps/{name}.params.npy", traj)

    for cases, cls in ((ADAM_CASES, torch.optim.Adam), (ADAMW_CASES, torch.optim.AdamW)):
        for name, (lr, b1, b2, eps, wd, amsgrad) in cases.items():
            lrs = sched_lrs if lr is None else [lr] * NSTEPS
            traj = run(
                lambda ps: cls(
                    ps,
                    lr=lrs[0],
                    betas=(b1, b2),
                    eps=eps,
                    weight_decay=wd,
                    amsgrad=amsgrad,
                    foreach=False,
                    fused=False,
                ),
                lrs,
            )
            save(f"steps/{name}.hparams.npy", [lrs[0], b1, b2, eps, wd, float(amsgrad)])
            save(f"steps/{name}.lrs.npy", lrs)
            save(f"steps/{name}.params.npy", traj)

    for name, (scale, max_norm) in CLIP_CASES.items():
        grads_flat = GRADS[0] * scale
        params = [torch.nn.Parameter(t) for t in split(INIT)]
        for p, g in zip(params, split(grads_flat)):
            p.grad = g.clone()
        if max_norm is None:
            max_norm = float(np.sqrt(np.sum(grads_flat**2)))
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False)
        save(f"clip/{name}.grads.npy", grads_flat)
        save(f"clip/{name}.scalars.npy", [max_norm, float(total)])
        save(f"clip/{name}.clipped.npy", concat(p.grad for p in params))

    for name, spec in SCHEDULE_CASES.items():
        peak, warmup, total, min_lr = spec
        lrs = [lr_at(spec, s) for s in range(total + 3)]
        ref = torch_schedule(spec)
        for s, (a, b) in enumerate(zip(lrs, ref)):
            if not math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15):
                raise SystemExit(f"schedule {name}: step {s}: formula {a} != torch {b}")
        save(f"schedule/{name}.spec.npy", [peak, float(warmup), float(total), min_lr])
        save(f"schedule/{name}.lrs.npy", lrs)

    print(f"wrote {sum(1 for _ in OUT.rglob('*.npy'))} files under {OUT}")


if __name__ == "__main__":
    main()
