"""One real PyTorch training run of corpus 2, fully described by a :class:`Spec`.

Logged like a real trainer: ``train_loss`` (the minibatch loss before each update) and
``lr`` (the LR that update used) at every step, ``val_loss`` (mean loss on the fixed
held-out split) every ``eval_every`` steps, and the val loss before training. A
non-finite loss ends the run (NaN guard). CPU, one thread, float32, seeded: the same
spec gives the same curves. Curves are stored as float32.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .data import dataset, subset
from .families import FAMILIES

OPTIMIZERS = (
    "sgd",
    "momentum",
    "nesterov",
    "adam",
    "adamw",
    "rmsprop",
    "nadam",
    "adagrad",
    "radam",
    "adamax",
    "sgdw",
)
SCHEDULES = (
    "constant",
    "step",
    "multistep",
    "cosine",
    "warmup_cosine",
    "exponential",
    "warmup_linear",
    "linear",
    "one_cycle",
)
SEQ_LEN = 32
DEFAULT_WARMUP = 0.05  # share of the steps of a warm-up schedule


@dataclass(frozen=True)
class Spec:
    """Everything needed to (re)train one run."""

    family: str
    optimizer: str
    schedule: str
    lr: float  # base (peak) LR
    steps: int
    seed: int = 0
    n_train: int | None = None  # train subset (samples; characters for text); None = all
    warmup: float | None = None  # warm-up share (warm-up schedules; None = default)
    stop_step: int | None = None  # stop here (closed-loop early stop)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family {self.family!r} is not one of {sorted(FAMILIES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is not one of {SCHEDULES}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    @property
    def setup(self) -> str:
        return f"{self.optimizer}-{self.schedule}"

    @property
    def eval_every(self) -> int:
        return max(1, self.steps // 40)

    @property
    def batch_size(self) -> int:
        return FAMILIES[self.family].batch_size

    def with_(self, **changes: Any) -> Spec:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Spec:
        return cls(**d)


@dataclass(frozen=True)
class Result:
    """Logged curves of one run (train steps start at 1)."""

    spec: Spec
    train_loss: np.ndarray  # float32, one per step done
    lr: np.ndarray  # float32, LR used at each step
    val_step: np.ndarray  # int32
    val_loss: np.ndarray  # float32
    initial_val_loss: float
    seconds: float = 0.0

    @property
    def train_step(self) -> np.ndarray:
        return np.arange(1, len(self.train_loss) + 1, dtype=np.int64)

    @property
    def params(self) -> Spec:  # the name corpus 1's code reads
        return self.spec


def lr_factors(schedule: str, steps: int, warmup: float | None = None) -> np.ndarray:
    """Multiplier of the base LR at every step 0..steps-1."""
    t = np.arange(steps, dtype=np.float64)
    frac = t / steps
    w = max(1, round((DEFAULT_WARMUP if warmup is None else warmup) * steps))
    if schedule == "constant":
        return np.ones(steps)
    if schedule == "step":
        return np.where(frac < 0.6, 1.0, 0.1)
    if schedule == "multistep":
        return 0.3 ** ((frac >= 0.4).astype(float) + (frac >= 0.7) + (frac >= 0.9))
    if schedule == "cosine":
        return 0.5 * (1 + np.cos(np.pi * frac))
    if schedule == "exponential":
        return 0.01**frac
    if schedule == "linear":
        return 1.0 - frac
    if schedule == "one_cycle":  # PyTorch OneCycleLR's shape: 30 % up from 1/25, cosine down
        up = np.clip(frac / 0.3, 0, 1)
        down = np.clip((frac - 0.3) / 0.7, 0, 1)
        return np.where(frac < 0.3, 0.04 + 0.96 * up, 0.5 * (1 + np.cos(np.pi * down)))
    if schedule in ("warmup_cosine", "warmup_linear"):
        after = np.clip((t - w) / max(1, steps - w), 0, 1)
        decay = 0.5 * (1 + np.cos(np.pi * after)) if schedule == "warmup_cosine" else 1 - after
        return np.where(t < w, (t + 1) / w, decay)
    raise ValueError(f"schedule {schedule!r} is not one of {SCHEDULES}")


def _optimizer(name: str, params, lr: float):
    import torch

    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "nadam":
        return torch.optim.NAdam(params, lr=lr)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    if name == "radam":
        return torch.optim.RAdam(params, lr=lr)
    if name == "adamax":
        return torch.optim.Adamax(params, lr=lr)
    if name == "sgdw":  # the CNN recipe: momentum 0.9, weight decay 5e-4
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    raise ValueError(name)


def _loss_fn(kind: str):
    import torch.nn.functional as F

    if kind == "ce":
        return F.cross_entropy
    if kind == "bce":
        return lambda out, y: F.binary_cross_entropy_with_logits(out[:, 0], y)
    if kind == "mse":
        return lambda out, y: F.mse_loss(out.squeeze(-1) if out.shape[-1] == 1 else out, y)
    return lambda out, y: F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def train(spec: Spec) -> Result:
    """Train one run (deterministic for a given spec)."""
    import time

    import torch

    from .models import build

    t0 = time.perf_counter()
    torch.set_num_threads(1)
    fam = FAMILIES[spec.family]
    data = dataset(fam.data)
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    text = data.kind == "text"
    xtr, ytr = data.x_train, data.y_train
    if text:
        if spec.n_train is not None:
            xtr = xtr[: spec.n_train]
        n_pos = len(xtr) - SEQ_LEN - 1
        starts = np.linspace(0, len(data.x_val) - SEQ_LEN - 1, 64).astype(np.int64)
        win = starts[:, None] + np.arange(SEQ_LEN + 1)[None, :]
        xva = torch.from_numpy(data.x_val[win[:, :-1]])
        yva = torch.from_numpy(data.x_val[win[:, 1:]])
        xtr_t = torch.from_numpy(xtr)
        d_in, d_out = 0, data.n_classes
    else:
        idx = subset(len(xtr), spec.n_train, spec.seed)
        if idx is not None:
            xtr, ytr = xtr[idx], ytr[idx]
        xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
        xva, yva = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
        d_in = xtr.shape[-1]
        d_out = {"classification": data.n_classes, "sequence": data.n_classes}.get(
            data.kind, d_in if data.kind == "reconstruction" else 1
        )
    model = build(fam.arch, d_in, d_out, seq_len=SEQ_LEN, hidden=fam.hidden)
    opt = _optimizer(spec.optimizer, model.parameters(), spec.lr)
    loss_fn = _loss_fn(fam.loss)
    lrs = spec.lr * lr_factors(spec.schedule, spec.steps, spec.warmup)
    T = spec.steps if spec.stop_step is None else max(1, min(spec.steps, spec.stop_step))
    bs = fam.batch_size
    n = len(xtr)
    perm, pos = rng.permutation(n), 0

    def val() -> float:
        model.eval()
        with torch.no_grad():
            v = float(loss_fn(model(xva), yva))
        model.train()
        return v

    init_val = val()
    tl = np.full(T, np.nan, dtype=np.float32)
    vs: list[int] = []
    vl: list[float] = []
    last = T
    for i in range(T):
        if text:
            s = torch.from_numpy(rng.integers(0, n_pos, bs))
            w = s[:, None] + torch.arange(SEQ_LEN + 1)[None, :]
            chunk = xtr_t[w]
            xb, yb = chunk[:, :-1], chunk[:, 1:]
        else:
            if pos + bs > n:
                perm, pos = rng.permutation(n), 0
            b = torch.from_numpy(perm[pos : pos + min(bs, n)])
            pos += bs
            xb, yb = xtr_t[b], ytr_t[b]
        for g in opt.param_groups:
            g["lr"] = float(lrs[i])
        loss = loss_fn(model(xb), yb)
        tl[i] = loss.item()
        if not math.isfinite(tl[i]):
            last = i + 1
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (i + 1) % spec.eval_every == 0:
            v = val()
            vs.append(i + 1)
            vl.append(v)
            if not math.isfinite(v):
                last = i + 1
                break
    return Result(
        spec=spec,
        train_loss=tl[:last],
        lr=lrs[:last].astype(np.float32),
        val_step=np.asarray(vs, dtype=np.int32),
        val_loss=np.asarray(vl, dtype=np.float32),
        initial_val_loss=float(np.float32(init_val)),
        seconds=time.perf_counter() - t0,
    )


def retrain(spec: Spec, **changes: Any) -> Result:
    """Train the same setup and seed with changes (``lr``, ``schedule``, ``stop_step``,
    ``warmup``...)."""
    return train(spec.with_(**changes))
