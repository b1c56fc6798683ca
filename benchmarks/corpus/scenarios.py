"""The sweep that builds the real-training corpus: which runs, and what each is built to show.

A *family* is a data set + model + optimizer with LR bands read off an LR sweep:
``good`` (trains well), ``high`` (above the stable range: the loss bounces),
``diverge`` (overflow / explosion) and ``tiny`` (the loss barely moves). Scenarios
cross the bands with schedules, seeds and data sizes:

- healthy: a good LR with constant / warmup+cosine / step / exponential schedules;
- oscillation: a high LR (constant), or a high LR for the first 30% then a step down
  (``drop_early``: oscillates early, then fine);
- divergence: an LR past the stable range (regression overflows), or a warmup+cosine
  schedule whose peak is past it (fine early, diverges after warmup);
- stagnation: a tiny LR, or a good LR whose schedule collapses to ~0 after 10%;
- overfitting: a tiny train subset, a wider MLP and long training; also a mid-size
  subset trained long (overfits late).

The constructed label is checked against the curve in :mod:`.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .train import TrainParams


@dataclass(frozen=True)
class Scenario:
    name: str  # e.g. "digits-mlp-adam/high"
    params: TrainParams
    labels: frozenset[str]  # constructed labels (empty = healthy)


@dataclass(frozen=True)
class Family:
    name: str
    base: dict
    good: tuple[float, ...]
    high: tuple[float, ...] = ()
    diverge: tuple[float, ...] = ()
    tiny: tuple[float, ...] = ()


def _fam(dataset: str, model: str, optimizer: str) -> dict:
    return {"dataset": dataset, "model": model, "optimizer": optimizer}


FAMILIES: tuple[Family, ...] = (
    Family("digits-mlp-sgd", _fam("digits", "mlp", "sgd"), good=(0.1, 0.3, 1.0), tiny=(1e-6, 1e-5)),
    Family(
        "digits-mlp-adam",
        _fam("digits", "mlp", "adam"),
        good=(1e-3, 3e-3),
        high=(0.3, 1.0),
        tiny=(1e-6,),
    ),
    Family(
        "digits-linear-sgd",
        _fam("digits", "linear", "sgd"),
        good=(0.1, 0.3),
        high=(10.0, 30.0),
        tiny=(1e-6,),
    ),
    Family(
        "clf-linear-sgd",
        _fam("classification", "linear", "sgd"),
        good=(0.01, 0.03),
        high=(2.0, 3.0),
        diverge=(30.0,),
        tiny=(1e-6,),
    ),
    Family(
        "clf-mlp-adam",
        _fam("classification", "mlp", "adam"),
        good=(1e-3, 3e-3),
        high=(0.3, 1.0),
        tiny=(1e-7,),
    ),
    Family(
        "reg-linear-momentum",
        _fam("regression", "linear", "momentum"),
        good=(1e-3, 3e-3),
        high=(0.07, 0.1),
        diverge=(0.3, 1.0),
        tiny=(1e-7,),
    ),
    Family(
        "reg-linear-sgd",
        _fam("regression", "linear", "sgd"),
        good=(0.01, 0.03),
        high=(0.4,),
        diverge=(1.0, 3.0),
        tiny=(1e-6,),
    ),
    Family(
        "reg-mlp-momentum",
        _fam("regression", "mlp", "momentum"),
        good=(3e-3, 0.01),
        diverge=(0.3, 1.0),
        tiny=(1e-7,),
    ),
    Family(
        "diabetes-linear-momentum",
        _fam("diabetes", "linear", "momentum"),
        good=(1e-3, 3e-3),
        high=(0.1,),
        diverge=(0.3, 1.0),
        tiny=(1e-7,),
    ),
    Family("wine-mlp-sgd", _fam("wine", "mlp", "sgd"), good=(3e-3, 0.01), tiny=(1e-6,)),
    Family(
        "breast-linear-adam",
        _fam("breast_cancer", "linear", "adam"),
        good=(1e-3, 3e-3),
        high=(0.3, 1.0),
        tiny=(1e-7,),
    ),
    Family("breast-mlp-sgd", _fam("breast_cancer", "mlp", "sgd"), good=(3e-3, 0.01), tiny=(1e-6,)),
)


def _small(dataset: str, optimizer: str, n_train: int, steps: int = 1500) -> dict:
    """A wide MLP (64 units) on a small train subset, trained long: it memorizes."""
    return {
        "dataset": dataset,
        "model": "mlp",
        "optimizer": optimizer,
        "hidden": 64,
        "n_train": n_train,
        "steps": steps,
        "eval_every": 25,
    }


#: Overfitting set-ups: (name, base params, LRs).
OVERFIT: tuple[tuple[str, dict, tuple[float, ...]], ...] = (
    ("clf-mlp-small", _small("classification", "sgd", 60), (0.01, 0.03)),
    ("breast-mlp-small", _small("breast_cancer", "sgd", 40), (0.03, 0.1)),
    ("digits-mlp-small", _small("digits", "adam", 60), (3e-3, 0.01)),
    ("clf-adam-small", _small("classification", "adam", 200), (1e-3, 3e-3)),
    ("wine-mlp-small", _small("wine", "adam", 24), (3e-3, 0.01)),
    # mid-size subset, longer
    ("clf-mlp-mid-long", _small("classification", "sgd", 200, steps=2000), (0.01, 0.03)),
)

HEALTHY_SCHEDULES = ("constant", "warmup_cosine", "step", "exp")


def scenarios(quick: bool = False) -> list[Scenario]:
    """Every run of the real corpus, in a fixed order."""
    seeds = (0,) if quick else (0, 1, 2)
    out: list[Scenario] = []

    def add(name: str, labels: set[str], **kw: object) -> None:
        out.append(Scenario(name, TrainParams(**kw), frozenset(labels)))

    for fam in FAMILIES:
        goods = fam.good[:1] if quick else fam.good
        for lr in goods:
            for sched in HEALTHY_SCHEDULES:
                for seed in seeds[:2]:
                    add(
                        f"{fam.name}/good-{sched}",
                        set(),
                        **fam.base,
                        lr=lr,
                        schedule=sched,
                        seed=seed,
                    )
            for seed in seeds[:2]:
                add(
                    f"{fam.name}/collapse",
                    {"stagnation"},
                    **fam.base,
                    lr=lr,
                    schedule="collapse",
                    seed=seed,
                )
        for lr in fam.high:
            for seed in seeds:
                add(f"{fam.name}/high", {"oscillation"}, **fam.base, lr=lr, seed=seed)
            for seed in seeds[:2]:
                add(
                    f"{fam.name}/high-drop-early",
                    {"oscillation"},
                    **fam.base,
                    lr=lr,
                    schedule="drop_early",
                    seed=seed,
                )
        for lr in fam.diverge:
            for seed in seeds[:2]:
                add(f"{fam.name}/diverge", {"divergence"}, **fam.base, lr=lr, seed=seed)
            add(
                f"{fam.name}/diverge-warmup",
                {"divergence"},
                **fam.base,
                lr=lr,
                schedule="warmup_cosine",
                seed=seeds[-1],
            )
        for lr in fam.tiny:
            for seed in seeds[:2]:
                add(f"{fam.name}/tiny", {"stagnation"}, **fam.base, lr=lr, seed=seed)
    for name, base, lrs in OVERFIT:
        for lr in lrs[:1] if quick else lrs:
            for seed in (0, 1) if quick else seeds:
                add(f"{name}/overfit", {"overfitting"}, **base, lr=lr, seed=seed)
    return out
