"""Which runs corpus 2 trains, and what each is built to show (labels by construction).

LRs live on a half-decade lattice per setup: ``lr(i) = center * 10**(i/2)`` with a
center per optimizer (:data:`CENTERS`). For each setup:

1. **sweep**: lattice indices -6..4 (3e-3 to 10x the center, 11 LRs, seed 0); when the
   best final val loss is at an edge, two more LRs beyond it. The *good LR* is the LR
   with the best final val loss; the *good range* the LRs whose final val is within 10 %
   of the best.
2. **ladder**: multipliers ``10**(j/2)`` of the good LR, ``j`` in :data:`LADDER`
   (1e-4 ... 1e3), seed 0; second and third seeds at some (:data:`EXTRA_SEEDS`); three
   more seeds at the good LR; a third seed at x100...x1000 for the families whose loss
   blows up there (``Family.blowup_seeds``: MSE regression, batch-norm MLP). Sweep runs
   on the ladder are not trained twice, and every sweep run is a corpus run too (its
   multiplier is known once the good LR is).
3. **overfitting**: a small train subset (``Family.small_n`` samples, or characters of
   text), twice the steps, at the good LR (3 seeds) and at 0.3x.

Constructed labels by multiplier ``m`` (:func:`constructed`): ``m <= 0.01``: stagnation;
``0.03 <= m <= 3``: healthy; ``m`` 10 or 30: oscillation; ``m >= 100``: divergence;
the small-subset runs: overfitting.
"""

from __future__ import annotations

from dataclasses import dataclass

from .families import FAMILIES, Setup
from .train import Spec

CENTERS: dict[str, float] = {
    "sgd": 0.1,
    "momentum": 0.03,
    "nesterov": 0.03,
    "adagrad": 0.03,
    "adam": 3e-3,
    "adamw": 3e-3,
    "nadam": 3e-3,
    "radam": 3e-3,
    "adamax": 3e-3,
    "rmsprop": 1e-3,
    "sgdw": 0.03,
}
SWEEP: tuple[int, ...] = tuple(range(-6, 5))
SWEEP_QUICK: tuple[int, ...] = (-6, -4, -2, 0, 2, 4)
LADDER: tuple[int, ...] = (-8, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6)
LADDER_QUICK: tuple[int, ...] = (-8, -4, 0, 2, 4, 6)
EXTRA_SEEDS: dict[int, tuple[int, ...]] = {
    -6: (1,),
    -4: (1,),
    1: (1,),
    2: (1, 2),
    3: (1, 2),
    4: (1,),
    5: (1,),
    6: (1,),
    0: (1, 2, 3),
}
OVERFIT: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (0, 2), (-1, 0))  # (j, seed)
GOOD_RANGE_TOL = 0.10


def lattice_lr(optimizer: str, i: int) -> float:
    """The LR of lattice index ``i`` for an optimizer (rounded to 4 significant digits)."""
    return float(f"{CENTERS[optimizer] * 10 ** (i / 2):.4g}")


@dataclass(frozen=True)
class Planned:
    """One run to train: its spec, lattice index, and role."""

    spec: Spec
    index: int  # lattice index of its LR
    role: str  # "sweep" | "ladder" | "seed" | "overfit"

    @property
    def key(self) -> tuple:
        s = self.spec
        return (s.family, s.setup, self.index, s.seed, s.n_train)


def spec_of(setup: Setup, i: int, seed: int = 0, small: bool = False, quick: bool = False) -> Spec:
    fam = FAMILIES[setup.family]
    steps = fam.steps // 2 if quick else fam.steps
    return Spec(
        setup.family,
        setup.optimizer,
        setup.schedule,
        lattice_lr(setup.optimizer, i),
        steps * 2 if small else steps,
        seed,
        fam.small_n if small else None,
    )


def sweep_plan(setup: Setup, quick: bool = False) -> list[Planned]:
    return [
        Planned(spec_of(setup, i, quick=quick), i, "sweep")
        for i in (SWEEP_QUICK if quick else SWEEP)
    ]


def extension(setup: Setup, best: int, done: set[int], quick: bool = False) -> list[Planned]:
    """Two more sweep LRs beyond an edge best (none when the best is inside)."""
    lo, hi = min(done), max(done)
    step = 2 if quick else 1
    if best == hi:
        idx = [hi + step, hi + 2 * step]
    elif best == lo:
        idx = [lo - step, lo - 2 * step]
    else:
        return []
    return [Planned(spec_of(setup, i, quick=quick), i, "sweep") for i in idx]


def corpus_plan(setup: Setup, good: int, quick: bool = False) -> list[Planned]:
    """Ladder, extra seeds and overfitting runs around the good lattice index."""
    out: list[Planned] = []
    for j in LADDER_QUICK if quick else LADDER:
        out.append(Planned(spec_of(setup, good + j, quick=quick), good + j, "ladder"))
        if not quick:
            seeds = EXTRA_SEEDS.get(j, ())
            if j >= 4 and FAMILIES[setup.family].blowup_seeds > 2:
                seeds = (*seeds, *range(2, FAMILIES[setup.family].blowup_seeds))
            for seed in seeds:
                out.append(Planned(spec_of(setup, good + j, seed, quick=quick), good + j, "seed"))
    for j, seed in OVERFIT[:1] if quick else OVERFIT:
        out.append(
            Planned(spec_of(setup, good + j, seed, small=True, quick=quick), good + j, "overfit")
        )
    return out


def constructed(j: int, small: bool) -> frozenset[str]:
    """Labels by construction from the half-decade multiplier index ``j`` of the good LR."""
    if small:
        return frozenset({"overfitting"})
    if j <= -4:
        return frozenset({"stagnation"})
    if j <= 1:
        return frozenset()
    if j <= 3:
        return frozenset({"oscillation"})
    return frozenset({"divergence"})
