"""Data sets of corpus 2: scikit-learn's bundled sets and generators, synthetic sequences
and character text taken from Python standard-library source on disk. No downloads.

Every data set has a fixed train/val split (seed :data:`SPLIT_SEED`, independent of the
run seed); features are standardized on the train split, regression targets too.
``dataset(name)`` returns a :class:`Data` (tensors are built by the trainer).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass
from functools import cache

import numpy as np

SPLIT_SEED = 4321
VAL_FRACTION = 0.25

#: Fixed stdlib modules whose source is the text of each char-level LM (one list per LM,
#: so the language models do not share text).
TEXT_MODULES: dict[str, tuple[str, ...]] = {
    "text_a": ("textwrap", "string", "bisect", "heapq", "fractions", "calendar"),
    "text_b": ("csv", "shlex", "glob", "fnmatch", "difflib", "statistics"),
    "text_c": ("queue", "sched", "colorsys", "numbers", "pprint", "graphlib"),
}
#: Printable ASCII + newline; anything else becomes "?".
VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
TEXT_TRAIN_CHARS = 60_000
TEXT_VAL_CHARS = 6_000


@dataclass(frozen=True)
class Data:
    """Train and val arrays; ``n_classes`` 0 for regression/reconstruction, vocab size for text."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    kind: str  # "classification" | "binary" | "regression" | "reconstruction" | "text" | "sequence"
    digest: str = ""  # sha256 of the text (text sets only), recorded in the manifest


def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_val = round(VAL_FRACTION * n)
    return order[n_val:], order[:n_val]


def _standardize(x: np.ndarray, tr: np.ndarray) -> np.ndarray:
    mu, sd = x[tr].mean(0), x[tr].std(0)
    sd[sd == 0] = 1.0
    return ((x - mu) / sd).astype(np.float32)


def _tabular(x: np.ndarray, y: np.ndarray, kind: str) -> Data:
    x = np.asarray(x, dtype=np.float64)
    tr, va = _split(len(x))
    x = _standardize(x, tr)
    if kind == "regression":
        y = np.asarray(y, dtype=np.float64)
        y = ((y - y[tr].mean()) / y[tr].std()).astype(np.float32)
        n_classes = 0
    elif kind == "reconstruction":
        y, n_classes = x, 0
    elif kind == "binary":
        y, n_classes = np.asarray(y, dtype=np.float32), 2
    else:
        y = np.asarray(y, dtype=np.int64)
        n_classes = int(y.max()) + 1
    return Data(x[tr], y[tr], x[va], y[va], n_classes, kind)


def _text(name: str) -> Data:
    src = "\n".join(inspect.getsource(importlib.import_module(m)) for m in TEXT_MODULES[name])
    lookup = {c: i for i, c in enumerate(VOCAB)}
    q = lookup["?"]
    codes = np.array([lookup.get(c, q) for c in src], dtype=np.int64)
    need = TEXT_TRAIN_CHARS + TEXT_VAL_CHARS
    if len(codes) < need:
        codes = np.tile(codes, need // len(codes) + 1)
    codes = codes[:need]
    digest = hashlib.sha256(codes.tobytes()).hexdigest()[:16]
    tr, va = codes[:TEXT_TRAIN_CHARS], codes[TEXT_TRAIN_CHARS:]
    return Data(tr, tr, va, va, len(VOCAB), "text", digest)


def _sequences(n: int = 2400, length: int = 24, seed: int = 77) -> Data:
    """Noisy waves of 4 shapes (sine at two frequencies, square, sawtooth), random phase
    and amplitude, plus a distractor channel; the class is the shape."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / length
    y = rng.integers(0, 4, n)
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    amp = rng.uniform(0.5, 1.5, n)[:, None]
    arg = 2 * np.pi * 2 * t[None, :] + phase
    waves = np.stack(
        [
            np.sin(arg),
            np.sin(2 * arg),
            np.sign(np.sin(arg)),
            2 * ((arg / (2 * np.pi)) % 1.0) - 1,
        ]
    )  # (4, n, length)
    sig = amp * waves[y, np.arange(n)] + rng.normal(0, 0.6, (n, length))
    distract = rng.normal(0, 1.0, (n, length))
    x = np.stack([sig, distract], axis=-1).astype(np.float32)  # (n, length, 2)
    tr, va = _split(n)
    return Data(x[tr], y[tr].astype(np.int64), x[va], y[va].astype(np.int64), 4, "sequence")


@cache
def _shapes(n: int = 1600, seed: int = 43) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 8x8 images of 4 classes: a horizontal bar, a vertical bar, a square outline,
    a diagonal — random size and place, Gaussian pixel noise (sd 0.35)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 8, 8))
    y = rng.integers(0, 4, size=n)
    for img, c in zip(x, y):
        k = int(rng.integers(4, 8))  # length (side of a square: k - 2)
        r, a = int(rng.integers(0, 8)), int(rng.integers(0, 9 - k))
        if c == 0:
            img[r, a : a + k] = 1.0
        elif c == 1:
            img[a : a + k, r] = 1.0
        elif c == 2:
            m = k - 2
            r0, c0 = int(rng.integers(0, 9 - m)), int(rng.integers(0, 9 - m))
            img[r0, c0 : c0 + m] = img[r0 + m - 1, c0 : c0 + m] = 1.0
            img[r0 : r0 + m, c0] = img[r0 : r0 + m, c0 + m - 1] = 1.0
        else:
            idx = np.arange(k)
            b = int(rng.integers(0, 9 - k))
            img[a + idx, (b + idx) if rng.random() < 0.5 else (b + k - 1 - idx)] = 1.0
    x += rng.normal(scale=0.35, size=x.shape)
    return x.reshape(n, 64), y


def dataset(name: str) -> Data:
    """The named data set (cached per process)."""
    from sklearn import datasets as sk

    if name in TEXT_MODULES:
        return _text(name)
    if name == "sequences":
        return _sequences()
    if name == "digits":
        x, y = sk.load_digits(return_X_y=True)
        return _tabular(x, y, "classification")
    if name == "digits_ae":
        x, y = sk.load_digits(return_X_y=True)
        return _tabular(x, y, "reconstruction")
    if name == "breast_cancer":
        x, y = sk.load_breast_cancer(return_X_y=True)
        return _tabular(x, y, "binary")
    if name == "moons":
        x, y = sk.make_moons(n_samples=1200, noise=0.3, random_state=5)
        x = np.hstack([x, np.random.default_rng(5).normal(size=(len(x), 6))])  # distractors
        return _tabular(x, y, "binary")
    if name == "wine":
        x, y = sk.load_wine(return_X_y=True)
        return _tabular(x, y, "classification")
    if name == "iris":
        x, y = sk.load_iris(return_X_y=True)
        return _tabular(x, y, "classification")
    if name == "classification":
        x, y = sk.make_classification(
            n_samples=2000,
            n_features=24,
            n_informative=10,
            n_redundant=6,
            n_classes=4,
            n_clusters_per_class=2,
            flip_y=0.03,
            class_sep=1.0,
            random_state=21,
        )
        return _tabular(x, y, "classification")
    if name == "friedman1":
        x, y = sk.make_friedman1(n_samples=1600, n_features=10, noise=1.0, random_state=3)
        return _tabular(x, y, "regression")
    if name == "regression":
        x, y = sk.make_regression(
            n_samples=1400, n_features=20, n_informative=12, noise=15.0, random_state=13
        )
        return _tabular(np.hstack([x, x[:, :4] ** 2]), y + 30 * np.tanh(x[:, 0]), "regression")
    if name == "friedman3":
        x, y = sk.make_friedman3(n_samples=1500, noise=0.1, random_state=8)
        return _tabular(x, y, "regression")
    if name == "friedman2":
        x, y = sk.make_friedman2(n_samples=1500, noise=30.0, random_state=17)
        return _tabular(x, y, "regression")
    if name == "circles":
        x, y = sk.make_circles(n_samples=1200, noise=0.15, factor=0.5, random_state=19)
        x = np.hstack([x, np.random.default_rng(19).normal(size=(len(x), 4))])  # distractors
        return _tabular(x, y, "binary")
    if name == "blobs":
        x, y = sk.make_blobs(
            n_samples=1600, n_features=16, centers=8, cluster_std=4.0, random_state=23
        )
        return _tabular(x, y, "classification")
    if name == "binary_synth":
        x, y = sk.make_classification(
            n_samples=1600,
            n_features=30,
            n_informative=8,
            n_redundant=4,
            n_classes=2,
            flip_y=0.08,
            class_sep=0.7,
            random_state=29,
        )
        return _tabular(x, y, "binary")
    if name == "sines":
        x = np.random.default_rng(31).uniform(-2.0, 2.0, size=(1500, 8))
        y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * np.cos(3 * x[:, 3]) + 0.3 * x[:, 4]
        y = y + np.random.default_rng(32).normal(scale=0.1, size=len(y))
        return _tabular(x, y, "regression")
    if name == "quantiles":
        x, y = sk.make_gaussian_quantiles(
            n_samples=1600, n_features=10, n_classes=3, random_state=37
        )
        return _tabular(x, y, "classification")
    if name == "hastie":
        x, y = sk.make_hastie_10_2(n_samples=1600, random_state=41)
        return _tabular(x, (y > 0).astype(int), "binary")
    if name == "shapes":
        return _tabular(*_shapes(), "classification")
    if name == "swiss":
        x, t = sk.make_swiss_roll(n_samples=1500, noise=0.3, random_state=47)
        x = np.hstack([x, np.random.default_rng(47).normal(size=(len(x), 5))])  # distractors
        return _tabular(x, t, "regression")
    if name == "diabetes":
        x, y = sk.load_diabetes(return_X_y=True)
        return _tabular(x, y, "regression")
    raise ValueError(f"unknown corpus-2 data set {name!r}")


def subset(n_total: int, n: int | None, seed: int) -> np.ndarray | None:
    """Indices of a training subset of size ``n`` (None: the whole train split)."""
    if n is None or n >= n_total:
        return None
    return np.sort(np.random.default_rng(10_000 + seed).choice(n_total, size=n, replace=False))
