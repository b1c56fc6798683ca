"""The synthetic part drawn from ``benchmarks.curves`` (the generators the detector tests use).

Those generators were written next to the detectors, so the benchmark also keeps an
independent generator (:mod:`.synthetic`, part ``synth-indep``); both are reported.

Truth mapping: the generator's ``truth["kind"]`` is the label, except
``stagnation(variant="schedule_end")`` (a run that converged as its cosine schedule
ended — documented there as "info only") and ``gan`` (losses around 0), which are
healthy. Directions: oscillation/divergence → decrease; stagnation ``stuck`` and
``lr_collapse`` → increase; ``noise_floor`` (flat under a large constant LR) → decrease
(decay the LR); overfitting/healthy → none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.model import Run, finalize_frame


@dataclass(frozen=True)
class Item:
    run: Run
    labels: frozenset[str]
    direction: str
    lr: float | None
    scenario: str


def available() -> bool:
    try:
        import benchmarks.curves as syn
    except ImportError:
        return False
    return all(
        hasattr(syn, f)
        for f in ("healthy", "oscillation", "stagnation", "overfitting", "divergence", "to_run")
    )


def _specs(seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(generator, scenario suffix, kwargs) for one seed."""
    scale = (1.0, 1e-3, 1e3)[seed % 3]
    return [
        ("healthy", "exp", {"eval_every": 20, "scale": scale}),
        (
            "healthy",
            "power-cosine",
            {"shape": "power", "schedule": "cosine", "warmup": 50, "eval_every": 25},
        ),
        ("healthy", "noisy", {"noise": 0.1, "ar": 0.6, "eval_every": 50}),
        ("oscillation", "warmup-lr", {"onset_frac": 0.4 + 0.1 * (seed % 3), "scale": scale}),
        ("stagnation", "stuck", {"variant": "stuck"}),
        ("stagnation", "noise_floor", {"variant": "noise_floor"}),
        ("stagnation", "lr_collapse", {"variant": "lr_collapse"}),
        ("stagnation", "schedule_end", {"variant": "schedule_end"}),
        (
            "overfitting",
            "late" if seed % 2 else "mid",
            {"best_frac": 0.6 if seed % 2 else 0.35, "rise": 0.15 + 0.1 * (seed % 3)},
        ),
        ("divergence", "nan", {"variant": "nan"}),
        ("divergence", "explosion", {"variant": "explosion", "scale": scale}),
        ("divergence", "drift", {"variant": "drift"}),
        ("gan", "gan", {}),
    ]


def generate(n_seeds: int = 6, seed: int = 0) -> list[Item]:
    """Runs from ``benchmarks.curves`` with their truth; deterministic."""
    import benchmarks.curves as syn

    out: list[Item] = []
    for s in range(n_seeds):
        for gen, suffix, kw in _specs(s):
            fn = getattr(syn, gen, None)
            if fn is None:
                continue
            res = fn(seed=1000 * seed + s, **kw)
            kind = res.truth.get("kind", "healthy")
            diag = res.truth.get("diagnosis")
            healthy = kind == "healthy" or diag == "schedule_end"
            labels = frozenset() if healthy else frozenset({kind})
            if labels & {"oscillation", "divergence"} or diag == "noise_floor":
                direction = "decrease"
            elif labels == {"stagnation"}:
                direction = "increase"
            else:
                direction = "none"
            rid = f"asyn-{len(out):04d}-{gen}-{suffix}-s{s}"
            lr = None if res.lr is None else float(res.lr[-1])
            params = {} if lr is None else {"learning_rate": repr(lr)}
            run = syn.to_run(res, name=rid, params=params)
            run = Run(meta=run.meta, frame=finalize_frame(run.frame), warnings=run.warnings)
            scen = f"analyzer-synthetic/{gen}-{suffix}"
            if diag in ("lr_collapse",) or suffix == "late":
                scen += "-partial"
            out.append(Item(run, labels, direction, lr, scen))
    return out
