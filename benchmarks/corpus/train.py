"""Real, small training runs in numpy: data sets, models, optimizers, schedules.

Every run is fully described by a :class:`TrainParams` (data set, model, optimizer,
base LR, schedule, data size, steps, seed), so a run can be retrained with a changed
LR or schedule (the closed loop of :mod:`benchmarks.detection`). Training is plain
numpy on data sets that ship with scikit-learn (no downloads), float64, seeded.

What is logged, like a real trainer would:

- ``train_loss`` at every step: the minibatch loss before the update;
- ``val_loss`` every ``eval_every`` steps: the mean loss on a fixed held-out split;
- ``lr`` at every step: the LR the update used.

A non-finite loss (overflow) is logged as such and ends the run, as a NaN guard would.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any

import numpy as np

CLASSIFICATION = ("digits", "breast_cancer", "wine", "classification")
REGRESSION = ("diabetes", "regression")
DATASETS = CLASSIFICATION + REGRESSION
MODELS = ("linear", "mlp")
OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "warmup_cosine", "step", "exp", "collapse", "drop_early")

#: Fixed split seed: the held-out split of a data set never depends on the run seed.
_SPLIT_SEED = 1234
_VAL_FRACTION = 0.3


@dataclass(frozen=True)
class TrainParams:
    """Everything needed to (re)train one run; the generator parameters of the corpus."""

    dataset: str
    lr: float
    model: str = "mlp"
    hidden: int = 32
    optimizer: str = "sgd"
    schedule: str = "constant"
    steps: int = 600
    batch_size: int = 32
    n_train: int | None = None  # size of the training subset; None = the whole train split
    eval_every: int = 10
    weight_decay: float = 0.0
    seed: int = 0
    stop_step: int | None = None  # train only up to this step (closed-loop early stop)

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset {self.dataset!r} is not one of {DATASETS}")
        if self.model not in MODELS:
            raise ValueError(f"model {self.model!r} is not one of {MODELS}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is not one of {SCHEDULES}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.steps < 1 or self.eval_every < 1 or self.batch_size < 1:
            raise ValueError(
                f"steps, eval_every and batch_size must be >= 1, got "
                f"{self.steps}, {self.eval_every}, {self.batch_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainParams:
        return cls(**d)

    def with_(self, **changes: Any) -> TrainParams:
        return replace(self, **changes)

    @property
    def task(self) -> str:
        return "classification" if self.dataset in CLASSIFICATION else "regression"


@dataclass(frozen=True)
class TrainResult:
    """The logged curves of one run (steps start at 1)."""

    params: TrainParams
    train_step: np.ndarray
    train_loss: np.ndarray
    val_step: np.ndarray
    val_loss: np.ndarray
    lr: np.ndarray  # LR used at each train step
    initial_val_loss: float  # val loss before the first update (not logged; for verification)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


@cache
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(X_train, y_train, X_val, y_val, n_classes) standardized on the train split."""
    from sklearn import datasets

    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
    elif name == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif name == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif name == "classification":
        X, y = datasets.make_classification(
            n_samples=1500,
            n_features=40,
            n_informative=12,
            n_redundant=8,
            n_classes=4,
            n_clusters_per_class=2,
            flip_y=0.02,
            class_sep=1.0,
            random_state=7,
        )
    elif name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
    elif name == "regression":
        X, y = datasets.make_regression(
            n_samples=1200, n_features=30, n_informative=15, noise=20.0, random_state=11
        )
    else:  # pragma: no cover - TrainParams validates
        raise ValueError(f"unknown dataset {name!r}")
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(_SPLIT_SEED)
    order = rng.permutation(len(X))
    n_val = round(_VAL_FRACTION * len(X))
    val, tr = order[:n_val], order[n_val:]
    mu, sd = X[tr].mean(0), X[tr].std(0)
    sd[sd == 0] = 1.0
    X = (X - mu) / sd
    if name in REGRESSION:
        y = np.asarray(y, dtype=np.float64)
        y = (y - y[tr].mean()) / y[tr].std()
        n_classes = 0
    else:
        y = np.asarray(y, dtype=np.int64)
        n_classes = int(y.max()) + 1
    return X[tr], y[tr], X[val], y[val], n_classes


def _subset(y: np.ndarray, n: int, rng: np.random.Generator, classification: bool) -> np.ndarray:
    """Indices of a training subset of size n (stratified for classification)."""
    if n >= len(y):
        return np.arange(len(y))
    if not classification:
        return np.sort(rng.choice(len(y), size=n, replace=False))
    classes = np.unique(y)
    per = max(1, n // len(classes))
    idx = [
        rng.choice(np.flatnonzero(y == c), size=min(per, int((y == c).sum())), replace=False)
        for c in classes
    ]
    return np.sort(np.concatenate(idx))


# ---------------------------------------------------------------------------
# model: linear or one-hidden-layer tanh MLP; softmax cross-entropy or MSE
# ---------------------------------------------------------------------------


def _init(p: TrainParams, d_in: int, d_out: int, rng: np.random.Generator) -> list[np.ndarray]:
    if p.model == "linear":
        return [rng.normal(0, 0.01, (d_in, d_out)), np.zeros(d_out)]
    h = p.hidden
    return [
        rng.normal(0, 1.0 / math.sqrt(d_in), (d_in, h)),
        np.zeros(h),
        rng.normal(0, 1.0 / math.sqrt(h), (h, d_out)),
        np.zeros(d_out),
    ]


def _forward(w: list[np.ndarray], X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if len(w) == 2:
        return X @ w[0] + w[1], None
    a = np.tanh(X @ w[0] + w[1])
    return a @ w[2] + w[3], a


def _loss_grad(
    w: list[np.ndarray], X: np.ndarray, y: np.ndarray, n_classes: int, need_grad: bool = True
) -> tuple[float, list[np.ndarray] | None]:
    out, a = _forward(w, X)
    n = len(X)
    if n_classes:
        z = out - out.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        loss = float(np.mean(lse - z[np.arange(n), y]))
        if not need_grad:
            return loss, None
        g = np.exp(z - lse[:, None])
        g[np.arange(n), y] -= 1.0
        g /= n
    else:
        r = out[:, 0] - y
        loss = float(np.mean(r * r))
        if not need_grad:
            return loss, None
        g = (2.0 / n) * r[:, None]
    if a is None:
        return loss, [X.T @ g, g.sum(0)]
    ga = (g @ w[2].T) * (1.0 - a * a)
    return loss, [X.T @ ga, ga.sum(0), a.T @ g, g.sum(0)]


# ---------------------------------------------------------------------------
# schedules
# ---------------------------------------------------------------------------


def lr_schedule(p: TrainParams) -> np.ndarray:
    """The LR of every step 1..steps (a float array of length ``steps``)."""
    T = p.steps
    t = np.arange(T, dtype=np.float64)
    frac = t / T
    if p.schedule == "constant":
        f = np.ones(T)
    elif p.schedule == "warmup_cosine":
        warm = max(1, int(0.05 * T))
        f = np.where(
            t < warm,
            (t + 1) / warm,
            0.5 * (1 + np.cos(np.pi * np.clip((t - warm) / max(1, T - warm), 0, 1))),
        )
        f = np.maximum(f, 0.01)
    elif p.schedule == "step":
        f = np.where(frac < 0.5, 1.0, np.where(frac < 0.75, 0.1, 0.01))
    elif p.schedule == "exp":
        f = 0.01**frac  # decays to 1% of the base LR at the end
    elif p.schedule == "collapse":
        f = np.where(frac < 0.1, 1.0, 1e-5)  # a bug-like schedule: LR ~0 after 10%
    elif p.schedule == "drop_early":
        f = np.where(frac < 0.3, 1.0, 0.03)  # too-high LR early, then a 33x step down
    else:  # pragma: no cover - validated
        raise ValueError(p.schedule)
    return p.lr * f


# ---------------------------------------------------------------------------
# training loop
# ---------------------------------------------------------------------------


def train(p: TrainParams) -> TrainResult:
    """Train one run; deterministic for a given ``TrainParams``."""
    Xtr, ytr, Xva, yva, n_classes = _dataset(p.dataset)
    rng = np.random.default_rng(p.seed)
    classification = n_classes > 0
    if p.n_train is not None:
        idx = _subset(ytr, p.n_train, rng, classification)
        Xtr, ytr = Xtr[idx], ytr[idx]
    d_out = n_classes if classification else 1
    w = _init(p, Xtr.shape[1], d_out, rng)
    opt_m = [np.zeros_like(x) for x in w]
    opt_v = [np.zeros_like(x) for x in w]
    lrs = lr_schedule(p)
    T = p.steps if p.stop_step is None else min(p.steps, p.stop_step)
    bs = min(p.batch_size, len(Xtr))
    n = len(Xtr)
    perm = rng.permutation(n)
    pos = 0
    tl = np.full(T, np.nan)
    vs: list[int] = []
    vl: list[float] = []
    init_val, _ = _loss_grad(w, Xva, yva, n_classes, need_grad=False)
    last = T
    with np.errstate(all="ignore"):
        for i in range(T):
            if pos + bs > n:
                perm = rng.permutation(n)
                pos = 0
            b = perm[pos : pos + bs]
            pos += bs
            loss, grads = _loss_grad(w, Xtr[b], ytr[b], n_classes)
            tl[i] = loss
            if not math.isfinite(loss):
                last = i + 1
                break
            lr = lrs[i]
            for k, g in enumerate(grads):
                if p.weight_decay:
                    g = g + p.weight_decay * w[k]
                if p.optimizer == "sgd":
                    w[k] = w[k] - lr * g
                elif p.optimizer == "momentum":
                    opt_m[k] = 0.9 * opt_m[k] + g
                    w[k] = w[k] - lr * opt_m[k]
                else:  # adam
                    opt_m[k] = 0.9 * opt_m[k] + 0.1 * g
                    opt_v[k] = 0.999 * opt_v[k] + 0.001 * g * g
                    mh = opt_m[k] / (1 - 0.9 ** (i + 1))
                    vh = opt_v[k] / (1 - 0.999 ** (i + 1))
                    w[k] = w[k] - lr * mh / (np.sqrt(vh) + 1e-8)
            if (i + 1) % p.eval_every == 0:
                v, _ = _loss_grad(w, Xva, yva, n_classes, need_grad=False)
                vs.append(i + 1)
                vl.append(v)
    steps = np.arange(1, last + 1, dtype=np.int64)
    return TrainResult(
        params=p,
        train_step=steps,
        train_loss=tl[:last],
        val_step=np.asarray(vs, dtype=np.int64),
        val_loss=np.asarray(vl, dtype=np.float64),
        lr=lrs[:last].copy(),
        initial_val_loss=float(init_val),
    )
