"""Imports go one way: no module imports a layer above its own.

Every module of analyzer/, dashboard/, lrtempo/ and benchmarks/ is parsed (``ast``, not
imported: lazy imports inside functions count too) and each import is checked against:

- the analyzer's layers (:data:`ANALYZER_LAYERS`, lowest first): a module imports its own
  layer or lower ones. The pipeline readers → model → detectors → suggest → analysis →
  report / fleet / writeback reads as data flow: the readers *produce* the model's
  ``Run``, so they import :mod:`analyzer.model` (the base layer, with the errors and the
  maths every stage shares) and nothing above it;
- the packages: analyzer imports none of dashboard, lrtempo, tests, benchmarks; dashboard
  imports analyzer (not lrtempo, tests, benchmarks); lrtempo, the command line, sits above
  both (not tests, benchmarks); benchmarks import anything but tests.

An arrow found in a file another change owns is listed in :data:`KNOWN` with a reason and
expected to fail (strict: when it is fixed, the entry must go).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("analyzer", "dashboard", "lrtempo", "benchmarks")

#: The analyzer's layers, lowest first: (name, modules or packages in it). A module may
#: import modules of its own layer and of the layers before it.
ANALYZER_LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # the vocabulary and maths every stage shares
    (
        "base",
        (
            "analyzer.errors",
            "analyzer.model",
            "analyzer.stats",
            "analyzer.findings",
            "analyzer.roles",
            "analyzer.schedule",
            "analyzer.timewindow",
            "analyzer.lrtext",
            "analyzer.theme",
        ),
    ),
    # sources of runs: logs and MLflow stores
    ("readers", ("analyzer.readers",)),
    ("detectors", ("analyzer.detectors", "analyzer.range_test")),
    ("suggest", ("analyzer.lr_priors", "analyzer.lr_sizing", "analyzer.suggest")),
    (
        "analysis",
        (
            "analyzer.analysis",
            "analyzer.sweeps",
            "analyzer.sweep_model",
            "analyzer.sweep_recommend",
        ),
    ),
    (
        "outputs",
        (
            "analyzer.report_rows",
            "analyzer.report_html",
            "analyzer.report",
            "analyzer.fleet",
            "analyzer.writeback",
            "analyzer.notify",
        ),
    ),
    # the package's facade (analyzer/__init__) and its command line
    ("top", ("analyzer", "analyzer.cli")),
)

#: Top-level packages each package must not import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "analyzer": frozenset({"dashboard", "lrtempo", "tests", "benchmarks"}),
    "dashboard": frozenset({"lrtempo", "tests", "benchmarks"}),
    "lrtempo": frozenset({"tests", "benchmarks"}),
    "benchmarks": frozenset({"tests"}),
}

#: Arrows against the direction in files other changes own: module → why it is still there.
KNOWN: dict[str, str] = {}


def _rank(module: str) -> tuple[int, str] | None:
    """``(index, name)`` of the analyzer layer holding ``module`` (longest prefix wins)."""
    best: tuple[int, int, str] | None = None
    for i, (name, members) in enumerate(ANALYZER_LAYERS):
        for m in members:
            inside = "." in m and module.startswith(m + ".")  # "analyzer" itself: exact only
            if (module == m or inside) and (best is None or len(m) > best[0]):
                best = (len(m), i, name)
    return None if best is None else (best[1], best[2])


def module_name(path: Path) -> str:
    """``analyzer/readers/jsonl.py`` → ``analyzer.readers.jsonl``; a package → its name."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool, known: set[str]) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``source`` (relative ones resolved; ``from
    pkg import name`` is ``pkg.name`` when that is a module in ``known``, else ``pkg``)."""
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((node.lineno, sub if sub in known else target))
    return sorted(set(out))


def violations(source: str, module: str, is_package: bool, known: set[str]) -> list[str]:
    """Each import of ``source`` (the module ``module``) that goes against the direction."""
    top = module.split(".", maxsplit=1)[0]
    mine = _rank(module) if top == "analyzer" else None
    if top == "analyzer" and mine is None:
        return [f"{module}: not in ANALYZER_LAYERS (place the new module in a layer)"]
    bad = []
    for line, target in imported(source, module, is_package, known):
        target_top = target.split(".")[0]
        if target_top in FORBIDDEN.get(top, frozenset()):
            bad.append(f"{module}:{line} imports {target} ({top} must not import {target_top})")
        elif mine is not None and target_top == "analyzer":
            theirs = _rank(target)
            if theirs is not None and theirs[0] > mine[0]:
                bad.append(
                    f"{module}:{line} imports {target} "
                    f"(layer {mine[1]!r} must not import layer {theirs[1]!r})"
                )
    return bad


def _files() -> list[Path]:
    return sorted(
        p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts
    )


FILES = _files()
KNOWN_MODULES = {module_name(p) for p in FILES}


def _case(path: Path) -> object:
    name = module_name(path)
    if name in KNOWN:
        return pytest.param(path, id=name, marks=pytest.mark.xfail(reason=KNOWN[name], strict=True))
    return pytest.param(path, id=name)


@pytest.mark.parametrize("path", [_case(p) for p in FILES])
def test_imports_follow_the_direction(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert violations(source, module_name(path), path.name == "__init__.py", KNOWN_MODULES) == []


def test_every_package_is_scanned() -> None:
    for pkg in PACKAGES:
        assert sum(1 for p in FILES if p.relative_to(ROOT).parts[0] == pkg) >= 3, pkg
    assert set(KNOWN) <= KNOWN_MODULES  # no stale entry for a module that is gone


@pytest.mark.parametrize(
    ("module", "is_package", "source", "expected"),
    [
        ("analyzer.readers.jsonl", False, "from dashboard.data import x", "must not import dash"),
        ("analyzer.cli", False, "import lrtempo.cli", "analyzer must not import lrtempo"),
        ("analyzer.readers.jsonl", False, "from ..analysis import analyze", "'readers' must not"),
        ("analyzer.model", False, "from .detectors import run_all", "'base' must not import"),
        ("analyzer.detectors", True, "from ..report import render", "'detectors' must not"),
        ("analyzer.suggest", False, "def f():\n    from .writeback import w", "'suggest' must"),
        ("analyzer.readers.mlflow_store.shared", False, "from ...sweeps import s", "'readers'"),
        ("benchmarks.perf.x", False, "from tests.fixtures_mlflow import log_run", "benchmarks"),
        ("dashboard.views", False, "from lrtempo import cli", "dashboard must not import lrtempo"),
        ("analyzer.brand_new", False, "", "not in ANALYZER_LAYERS"),
    ],
)
def test_the_check_catches_an_arrow_against_the_direction(
    module: str, is_package: bool, source: str, expected: str
) -> None:
    found = violations(source, module, is_package, KNOWN_MODULES | {"analyzer.detectors"})
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("analyzer.readers.jsonl", "from ..model import Run\nfrom ._io import read_text"),
        ("analyzer.analysis", "from .detectors import x\nfrom .suggest import y"),
        ("analyzer.report", "from .analysis import a\nfrom .readers import read_sources"),
        ("dashboard.data", "from analyzer.readers import read_sources"),
        ("lrtempo.cli", "from dashboard.app import create_app\nfrom analyzer import cli"),
        ("benchmarks.perf.x", "from ..mlflow_server import running\nimport analyzer"),
    ],
)
def test_the_check_lets_imports_down_the_layers_pass(module: str, source: str) -> None:
    assert violations(source, module, False, KNOWN_MODULES) == []
