"""Seeded synthetic loss curves with their ground truth (ruptures-style): the generators
the detector tests and the benchmark's analyzer-synthetic part draw on.

Every generator returns ``Synthetic(steps, values, lr, truth)``: int64 steps, float
train-loss values, the LR per step (``None`` where a run logs none) and a ``truth``
dict with ``kind`` (``healthy|oscillation|stagnation|overfitting|divergence``) and the
known change points (``onset_step``, ``best_step``, ``plateau_step``, ``diagnosis``…).
Generators with a validation curve put it in ``truth["val_steps"]`` /
``truth["val_values"]``. ``scale`` multiplies the loss (tiny/huge scales); noise is
AR(1) with coefficient ``ar`` and relative size ``noise``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from analyzer.model import Run, RunMeta, frame_from_columns


class Synthetic(NamedTuple):
    steps: np.ndarray
    values: np.ndarray
    lr: np.ndarray | None
    truth: dict[str, Any]


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance AR(1) noise."""
    from scipy.signal import lfilter

    burn = 200
    e = rng.standard_normal(n + burn)
    c = np.sqrt(max(1.0 - phi * phi, 1e-12))
    return lfilter([c], [1.0, -phi], e)[burn:]


def lr_schedule(n: int, kind: str = "constant", peak: float = 1e-3, warmup: int = 0) -> np.ndarray:
    """LR per step: ``constant``, ``cosine``, ``linear`` (both to 0) with optional warm-up."""
    t = np.arange(n, dtype=np.float64)
    lr = np.full(n, peak)
    w = max(int(warmup), 0)
    if w > 0:
        lr[:w] = peak * (t[:w] + 1) / w
    if kind in ("cosine", "linear") and n - w > 1:
        u = (t[w:] - w) / (n - w - 1)
        lr[w:] = peak * (0.5 * (1 + np.cos(np.pi * u)) if kind == "cosine" else 1.0 - u)
    return lr


def _result(
    y: np.ndarray,
    lr: np.ndarray | None,
    scale: float,
    truth: dict[str, Any],
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> Synthetic:
    """A generator's result: steps ``0 … n-1``, the loss ``y`` times ``scale``, the LR and
    ``truth``, plus the validation curve ``val = (steps, values)`` (values times ``scale``)."""
    if val is not None:
        truth = {**truth, "val_steps": val[0].astype(np.int64), "val_values": val[1] * scale}
    return Synthetic(np.arange(len(y), dtype=np.int64), y * scale, lr, truth)


def _curve(progress: np.ndarray, shape: str, rng: np.random.Generator) -> np.ndarray:
    """A decreasing curve of ``progress`` in [0, 1]: 1 → floor."""
    floor = rng.uniform(0.05, 0.5)
    if shape == "power":
        alpha = rng.uniform(0.4, 1.0)
        t0 = rng.uniform(0.01, 0.1)
        f = (1 + progress / t0) ** -alpha
    else:
        tau = rng.uniform(0.35, 1.2)
        f = np.exp(-progress / tau)
    return floor + (1 - floor) * f


def healthy(
    n: int = 1000,
    seed: int = 0,
    noise: float = 0.03,
    ar: float = 0.3,
    shape: str = "exp",
    schedule: str = "constant",
    warmup: int = 0,
    scale: float = 1.0,
    eval_every: int = 0,
    peak_lr: float = 1e-3,
) -> Synthetic:
    """A healthy noisy descent (progress follows the cumulative LR), optional sparse eval.

    The validation curve (when ``eval_every`` > 0) keeps decreasing with its own noise.
    """
    rng = np.random.default_rng(seed)
    lr = lr_schedule(n, schedule, peak_lr, warmup)
    prog = np.cumsum(lr) / max(lr.sum(), 1e-300)
    base = _curve(prog, shape, rng)
    y = base * (1 + noise * ar1(n, ar, rng))
    val = None
    if eval_every > 0:
        vs = np.arange(eval_every - 1, n, eval_every)
        gap = rng.uniform(1.05, 1.3)
        val = vs, base[vs] * gap * (1 + 0.5 * noise * rng.standard_normal(len(vs)))
    return _result(y, lr, scale, {"kind": "healthy"}, val)


def oscillation(
    n: int = 1000,
    seed: int = 0,
    onset_frac: float = 0.5,
    noise: float = 0.02,
    amp: float = 0.15,
    scale: float = 1.0,
    warmup_lr: bool = True,
) -> Synthetic:
    """Descent that starts to bounce (period-2 + growing noise) once the LR passes a threshold.

    With ``warmup_lr`` the LR rises linearly over the whole run and crosses the critical
    value at ``onset_frac``; truth has ``onset_step`` and ``lr_at_onset``.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    onset = int(onset_frac * n)
    peak = 1e-2
    lr = peak * (t + 1) / n if warmup_lr else np.full(n, peak)
    base = 0.3 + 0.7 * np.exp(-t / (0.4 * n))
    y = base * (1 + noise * ar1(n, 0.3, rng))
    k = t >= onset
    grow = np.clip((t - onset) / max(0.15 * n, 1), 0, 1)
    y[k] += (
        base[onset]
        * amp
        * grow[k]
        * (np.where(t[k] % 2 == 0, 1.0, -1.0) + 0.5 * rng.standard_normal(k.sum()))
    )
    truth = {"kind": "oscillation", "onset_step": onset, "lr_at_onset": float(lr[onset])}
    return _result(y, lr, scale, truth)


def val_oscillation(
    n: int = 1000,
    seed: int = 0,
    onset_frac: float = 0.3,
    eval_every: int = 10,
    amp: float = 0.3,
    noise: float = 0.1,
    scale: float = 1.0,
) -> Synthetic:
    """An LR too large for the weights to settle: after ``onset_step`` the validation
    loss jumps between levels (random ±``amp`` in log space, held for 1–3 evaluations)
    around a level that no longer falls, while the minibatch train loss only looks
    noisy. Truth has ``onset_step`` and the val series."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    onset = int(onset_frac * n)
    lr = np.full(n, 0.3)
    base = 0.8 + 1.2 * np.exp(-np.minimum(t, onset) / (0.1 * n))
    y = base * np.exp(
        noise * rng.standard_normal(n) + 0.5 * amp * (t >= onset) * rng.standard_normal(n)
    )
    vs = np.arange(eval_every - 1, n, eval_every)
    jumps = np.repeat(rng.uniform(-amp, amp, len(vs)), rng.integers(1, 4, len(vs)))[: len(vs)]
    v = (
        base[vs]
        * 1.1
        * np.exp(np.where(vs >= onset, jumps, 0.0) + 0.005 * rng.standard_normal(len(vs)))
    )
    return _result(y, lr, scale, {"kind": "oscillation", "onset_step": onset}, (vs, v))


def val_oscillation_settles(
    n: int = 1000,
    seed: int = 0,
    drop_frac: float = 0.3,
    eval_every: int = 10,
    amp: float = 0.3,
    scale: float = 1.0,
    overfit_frac: float | None = None,
) -> Synthetic:
    """A step schedule whose first phase is too hot: the val loss jumps (random
    ±``amp`` in log space per evaluation) around a falling level while the LR is
    1.0, then falls smoothly once the LR drops to 0.03 at ``drop_frac``. With
    ``overfit_frac`` the val loss turns up from there (+30 % by the end) while train
    still falls. Truth has ``onset_step`` (0), ``drop_step`` and ``best_step``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    drop = int(drop_frac * n)
    lr = np.where(t < drop, 1.0, 0.03)
    y = (0.2 + 1.8 * np.exp(-t / (0.3 * n))) * np.exp(0.05 * rng.standard_normal(n))
    vs = np.arange(eval_every - 1, n, eval_every)
    v = 0.5 + 1.5 * np.exp(-vs / (0.3 * n))
    jumps = rng.uniform(-amp, amp, len(vs))
    v = v * np.exp(np.where(vs < drop, jumps, 0.0) + 0.002 * rng.standard_normal(len(vs)))
    best = None
    if overfit_frac is not None:
        best = int(vs[np.argmin(np.abs(vs - overfit_frac * n))])
        vb = float(v[vs == best][0])
        v = np.where(vs > best, vb * (1 + 0.3 * (vs - best) / max(n - best, 1)), v)
    truth = {"kind": "oscillation", "onset_step": 0, "drop_step": drop, "best_step": best}
    return _result(y, lr, scale, truth, (vs, v))


def val_bouncing_in_place(
    n: int = 1000,
    seed: int = 0,
    eval_every: int = 10,
    amp: float = 0.12,
    lr: float = 2.0,
    scale: float = 1.0,
) -> Synthetic:
    """An LR too large to make progress: neither loss falls; the val loss jumps by up to
    ±``amp`` (log space, per evaluation) around its opening level, and the minibatch
    train loss is just very noisy."""
    rng = np.random.default_rng(seed)
    y = 1.7 * np.exp(0.25 * rng.standard_normal(n))
    vs = np.arange(eval_every - 1, n, eval_every)
    v = 1.75 * np.exp(rng.uniform(-amp, amp, len(vs)))
    return _result(y, np.full(n, lr), scale, {"kind": "oscillation", "onset_step": 0}, (vs, v))


def stagnation(
    n: int = 1000, seed: int = 0, variant: str = "stuck", noise: float = 0.01, scale: float = 1.0
) -> Synthetic:
    """Plateaus: ``stuck`` (tiny LR, flat from the start), ``noise_floor`` (constant large LR,
    flat from 30 %), ``lr_collapse`` (LR drops to ~0 at 40 % while improving),
    ``schedule_end`` (cosine to 0; converged in the last part: info only)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    eps = ar1(n, 0.3, rng)
    if variant == "stuck":
        lr = np.full(n, 1e-6)
        base = 2.3 - 0.002 * t / n
        plateau = 0
    elif variant == "noise_floor":
        lr = np.full(n, 3e-3)
        plateau = int(0.3 * n)
        base = 0.5 + 1.5 * np.exp(-t / (0.06 * n))
    elif variant == "lr_collapse":
        plateau = int(0.4 * n)
        lr = np.where(t < plateau, 1e-3, 1e-7)
        prog = np.cumsum(lr) / (1e-3 * n)
        base = 0.3 + 1.7 * np.exp(-prog / 0.5)
    elif variant == "schedule_end":
        lr = lr_schedule(n, "cosine", 1e-3)
        prog = np.cumsum(lr) / lr.sum()
        base = 0.2 + 1.8 * np.exp(-prog / 0.5)
        plateau = int(0.7 * n)
    else:
        raise ValueError(
            f"variant {variant!r}: expected stuck, noise_floor, lr_collapse or schedule_end"
        )
    y = base * (1 + noise * eps)
    return _result(
        y, lr, scale, {"kind": "stagnation", "diagnosis": variant, "plateau_step": plateau}
    )


def overfitting(
    n: int = 2000,
    seed: int = 0,
    best_frac: float = 0.4,
    eval_every: int = 50,
    rise: float = 0.25,
    noise: float = 0.02,
    scale: float = 1.0,
) -> Synthetic:
    """Train keeps falling; validation bottoms at ``best_step`` then rises by ``rise``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    lr = np.full(n, 1e-3)
    y = (0.05 + 1.0 * np.exp(-t / (0.3 * n))) * (1 + noise * ar1(n, 0.3, rng))
    vs = np.arange(eval_every - 1, n, eval_every)
    b = int(vs[np.argmin(np.abs(vs - best_frac * n))])
    v = 0.6 + 0.6 * np.exp(-vs / (0.15 * n))
    vb = 0.6 + 0.6 * np.exp(-b / (0.15 * n))
    after = vs > b
    v = np.where(after, vb * (1 + rise * (vs - b) / max(n - b, 1)), np.maximum(v, vb))
    v[vs < b] = np.maximum(v[vs < b], vb * 1.001)
    v = v * (1 + 0.3 * noise * rng.standard_normal(len(vs)))
    v[vs == b] = vb * (1 - 0.3 * noise)
    return _result(y, lr, scale, {"kind": "overfitting", "best_step": b}, (vs, v))


def divergence(n: int = 500, seed: int = 0, variant: str = "nan", scale: float = 1.0) -> Synthetic:
    """``nan`` (NaN from onset), ``explosion`` (×10 from onset), ``drift`` (upward drift
    from onset), ``collapse`` (blow-up, then exactly ln 32000), ``zero`` (exactly 0)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    onset = int(0.6 * n)
    lr = np.full(n, 1e-3)
    y = (0.5 + 1.5 * np.exp(-t / (0.2 * n))) * (1 + 0.02 * ar1(n, 0.3, rng))
    if variant == "nan":
        y[onset:] = np.nan
    elif variant == "explosion":
        y[onset:] = y[onset:] * np.linspace(2, 30, n - onset)
    elif variant == "drift":
        y[onset:] = y[onset:] + 0.5 * (t[onset:] - onset) / (n - onset)
    elif variant == "collapse":
        y[onset : onset + 3] = [8.0, 12.0, 11.0]
        y[onset + 3 :] = np.log(32000.0)
    elif variant == "zero":
        y[onset:] = 0.0
    else:
        raise ValueError(f"variant {variant!r}: expected nan, explosion, drift, collapse or zero")
    truth = {"kind": "divergence", "variant": variant, "onset_step": onset}
    return _result(y, lr, 1.0 if variant in ("collapse", "zero") else scale, truth)


def gan(n: int = 320, seed: int = 0) -> Synthetic:
    """Adversarial losses: negative, oscillating around 0 (not divergence)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    y = -0.2 + 0.12 * np.sin(t / n * 2 * np.pi) + 0.05 * rng.standard_normal(n)
    return _result(y, None, 1.0, {"kind": "healthy"})


def to_run(s: Synthetic, name: str = "synthetic", params: dict[str, str] | None = None) -> Run:
    """A :class:`Run` with ``loss``, ``val_loss`` (if any) and ``lr`` metrics."""
    parts = [("loss", s.steps, s.values)]
    if "val_steps" in s.truth:
        parts.append(("val_loss", s.truth["val_steps"], s.truth["val_values"]))
    if s.lr is not None:
        parts.append(("lr", s.steps, s.lr))
    metric = np.concatenate([np.full(len(p[1]), p[0], dtype=object) for p in parts])
    step = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in parts])
    value = np.concatenate([np.asarray(p[2], dtype=np.float64) for p in parts])
    frame = frame_from_columns(metric, step, value)
    frame = frame.astype({"step": "int64", "value": "float64"})
    meta = RunMeta(
        id=name, name=name, source="csv", location=f"synthetic:{name}", params=params or {}
    )
    return Run(meta=meta, frame=pd.DataFrame(frame))
