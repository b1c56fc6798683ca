"""Seeded synthetic loss curves with known truth (the synthetic part of the corpus).

Each generator draws one run of a kind from a seeded ``numpy`` Generator and returns
``(train_loss, val_steps, val_loss, lr)`` in the shape a trainer would log; the truth is
the generator's kind, never inferred. Noise is multiplicative (log-normal) on the
minibatch train loss and small on the validation loss, as in real logs.

Kinds and how they are drawn (``T`` steps, eval every ``k``):

- ``healthy``: ``a*exp(-t/tau) + c`` with constant, cosine or step LR;
- ``oscillation``: healthy until ``t0``, then the level jumps and bounces (random
  two-level switching plus a sine) on train and val; ``early-oscillation`` bounces
  in the first 30% and then settles;
- ``stagnation``: a flat curve with a tiny LR, or (``collapse``) a decay that freezes
  far above the floor once the LR drops to ~0;
- ``overfitting``: train keeps falling; val follows it until ``t_min`` then rises by
  15-60% (``late-overfitting``: ``t_min`` after 60%);
- ``divergence``: healthy then exponential growth, ending in ``inf``/NaN half the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.model import Run, RunMeta, finalize_frame, frame_from_columns

_T0 = 1_767_225_600.0


@dataclass(frozen=True)
class SyntheticRun:
    run: Run
    labels: frozenset[str]
    lr: float
    scenario: str


def _decay(t: np.ndarray, T: int, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    a = rng.uniform(1.0, 3.0)
    c = rng.uniform(0.05, 0.4)
    tau = rng.uniform(0.08, 0.25) * T
    return a * np.exp(-t / tau) + c, a + c, c


def _noisy(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return x * np.exp(rng.normal(0.0, sigma, len(x)))


def _lr(kind: str, T: int, base: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(T) / T
    if kind == "cosine":
        return base * np.maximum(0.5 * (1 + np.cos(np.pi * t)), 0.01)
    if kind == "step":
        return base * np.where(t < 0.5, 1.0, np.where(t < 0.75, 0.1, 0.01))
    return np.full(T, base)


def _one(kind: str, variant: str, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    T = int(rng.choice([400, 600, 1000, 1500]))
    k = int(rng.choice([10, 20, 25]))
    t = np.arange(1, T + 1, dtype=float)
    sig = rng.uniform(0.05, 0.25)
    base_lr = float(10 ** rng.uniform(-4, -1))
    sched = str(rng.choice(["constant", "cosine", "step"]))
    lr = _lr(sched, T, base_lr, rng)
    clean, start, floor = _decay(t, T, rng)
    val_clean = clean * rng.uniform(1.05, 1.3)
    if kind == "oscillation":
        base_lr *= 30
        lr = np.full(T, base_lr)
        if variant == "early":
            t0, t1 = 0, int(0.3 * T)
        else:
            t0, t1 = int(rng.uniform(0.0, 0.4) * T), T
        period = rng.uniform(15, 60)
        sw = np.repeat(rng.choice([0.0, 1.0], size=T // 20 + 1), 20)[:T]
        amp = rng.uniform(0.6, 1.4)
        level = np.interp(t0, t - 1, clean) if t0 else start * rng.uniform(0.5, 0.9)
        bounce = level * np.exp(amp * (sw - 0.5) + 0.4 * np.sin(2 * np.pi * t / period))
        seg = slice(t0, t1)
        clean = clean.copy()
        val_clean = val_clean.copy()
        clean[seg] = bounce[seg]
        val_clean[seg] = bounce[seg] * 1.1
        if variant == "early":
            lr = np.where(np.arange(T) < t1, base_lr, base_lr / 30)
            # after the drop the loss resumes its decay from the bounce level
            rest = np.arange(T - t1)
            tail = floor + (level - floor) * np.exp(-rest / (0.15 * T))
            clean[t1:] = tail
            val_clean[t1:] = tail * 1.1
    elif kind == "stagnation":
        if variant == "collapse":
            tc = int(rng.uniform(0.05, 0.2) * T)
            frozen = clean[tc]
            clean = np.where(np.arange(T) < tc, clean, frozen * (1 - 1e-5 * (t - tc)))
            val_clean = np.where(np.arange(T) < tc, val_clean, val_clean[tc])
            lr = np.where(np.arange(T) < tc, base_lr, base_lr * 1e-5)
        else:
            base_lr *= 1e-3
            lr = np.full(T, base_lr)
            drop = rng.uniform(0.0, 0.02)
            clean = start * (1 - drop * t / T)
            val_clean = clean * rng.uniform(1.02, 1.1)
    elif kind == "overfitting":
        lo, hi = (0.6, 0.75) if variant == "late" else (0.15, 0.5)
        tm = int(rng.uniform(lo, hi) * T)
        rise = rng.uniform(0.15, 0.6)
        vmin = val_clean[tm]
        grow = vmin * (1 + rise * (np.clip(t - tm, 0, None) / (T - tm)) ** rng.uniform(0.8, 1.5))
        val_clean = np.where(np.arange(T) < tm, val_clean, grow)
        # train keeps falling towards ~0 (memorizing)
        clean = np.where(np.arange(T) < tm, clean, clean[tm] * np.exp(-(t - tm) / (0.3 * T)))
    elif kind == "divergence":
        base_lr *= 100
        lr = np.full(T, base_lr)
        td = int(rng.uniform(0.2, 0.7) * T)
        rate = rng.uniform(5, 30) / (T - td)
        factor = np.where(np.arange(T) < td, 1.0, np.exp(np.minimum(rate * (t - td), 700)))
        clean = clean * factor
        val_clean = val_clean * factor
    train = _noisy(clean, sig, rng)
    vs = np.arange(k, T + 1, k)
    val = _noisy(val_clean[vs - 1], sig / 8, rng)
    if kind == "divergence" and variant == "nan":
        cut = int(rng.uniform(0.8, 0.95) * T)
        train = train[:cut].copy()
        train[-1] = np.nan
        lr = lr[:cut]
        keep = vs <= cut
        vs, val = vs[keep], val[keep]
    return train, vs, val, lr, base_lr, sched


KIND_VARIANTS: tuple[tuple[str, str], ...] = (
    ("healthy", ""),
    ("healthy", "b"),
    ("oscillation", ""),
    ("oscillation", "early"),
    ("stagnation", ""),
    ("stagnation", "collapse"),
    ("overfitting", ""),
    ("overfitting", "late"),
    ("divergence", ""),
    ("divergence", "nan"),
)


def generate(n_per_kind: int = 20, seed: int = 0) -> list[SyntheticRun]:
    """``n_per_kind`` runs of each kind (healthy twice as many), deterministic in ``seed``."""
    out: list[SyntheticRun] = []
    i = 0
    for j in range(n_per_kind // 2):
        for kind, variant in KIND_VARIANTS:
            rng = np.random.default_rng([seed, i])
            train, vs, val, lr, base_lr, sched = _one(kind, variant, rng)
            ts = np.arange(1, len(train) + 1)
            metric = np.concatenate(
                [
                    np.full(len(ts), "train_loss", dtype=object),
                    np.full(len(vs), "val_loss", dtype=object),
                    np.full(len(ts), "lr", dtype=object),
                ]
            )
            step = np.concatenate([ts, vs, ts]).astype(np.int64)
            value = np.concatenate([train, val, lr])
            frame = finalize_frame(frame_from_columns(metric, step, value, _T0 + 0.05 * step))
            name = f"{kind}-{variant}" if variant and variant != "b" else kind
            rid = f"syn-{i:04d}-{name}"
            meta = RunMeta(
                id=rid,
                name=rid,
                source="csv",
                location=f"corpus://{rid}",
                params={
                    "learning_rate": repr(base_lr),
                    "schedule": sched,
                    "optimizer": "synthetic",
                },
                tags={"corpus": "synthetic"},
                start_time=_T0,
            )
            labels = frozenset() if kind == "healthy" else frozenset({kind})
            scen = f"synthetic/{name}" if variant in ("", "b") else f"synthetic/{variant}-{kind}"
            out.append(SyntheticRun(Run(meta=meta, frame=frame), labels, base_lr, scen))
            i += 1
    return out
