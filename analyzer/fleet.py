"""Fleet review: many runs read and analyzed one at a time, optionally in parallel.

    review(sources, *, executor="local", since=None, experiment=None,
           train_loss=None, val_loss=None, lr=None, config=None, extra=None,
           mlflow_batch=8, progress=None) -> FleetReview

Each task reads one unit (a log file, a TensorBoard run folder, or a small batch of
MLflow runs), analyzes every run in it with :func:`~analyzer.analysis.analyze_run`,
keeps only the :class:`~analyzer.analysis.RunAnalysis` (plus the optional ``extra``
value) and drops the frame, so no process ever holds the whole fleet's metrics.
MLflow URIs are listed first (metadata only, :func:`~analyzer.readers.mlflow_store.
list_runs`) and their runs are fetched in batches of ``mlflow_batch`` by the tasks.

Executors (:func:`parse_executor`):

- ``"local"`` — in this process, one unit after another (the default);
- ``"processes:N"`` — a :class:`concurrent.futures.ProcessPoolExecutor` of N workers;
- ``"dask://HOST:PORT"`` (also ``tcp://HOST:PORT``) — a Dask cluster, through
  ``distributed.Client(address).get_executor(pure=False)``; the analysis code must be
  importable on the workers (same LR Tempo version).

Results come in input order whatever the executor, and are identical to ``"local"``:
runs and errors appear in the order of the sources (MLflow runs newest first, as
:func:`~analyzer.readers.read_sources` gives them). A unit that cannot be read becomes
an error entry; the others go on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .analysis import AnalysisConfig, RunAnalysis, analyze_run
from .errors import LRTempoError
from .model import Run
from .readers import BadSource, LogSource, Skipped, Unit, expand_sources, read_log_source
from .roles import resolve_roles

__all__ = [
    "ExecutorSpec",
    "FleetItem",
    "FleetReview",
    "parse_executor",
    "review",
]

#: MLflow runs fetched (and analyzed) by one task.
MLFLOW_BATCH = 8
#: Tasks kept in flight per worker: bounds memory while keeping workers busy.
IN_FLIGHT_PER_WORKER = 4
#: Log files read (and analyzed) by one task on a pool: a small CSV takes ~10 ms, so one
#: task per file would spend a good part of it sending tasks and results between processes.
FILE_BATCH = 32


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed ``--executor`` value: ``kind`` is ``local``, ``processes`` or ``dask``."""

    kind: str
    workers: int = 1
    address: str | None = None

    def __str__(self) -> str:
        if self.kind == "processes":
            return f"processes:{self.workers}"
        if self.kind == "dask":
            return f"dask://{self.address}"
        return "local"


def parse_executor(value: str) -> ExecutorSpec:
    """``local``, ``processes:N`` (N ≥ 1) or ``dask://HOST:PORT`` → :class:`ExecutorSpec`.

    Raises ``ValueError`` naming the bad value and the accepted forms.
    """
    forms = "use local, processes:N (N workers, e.g. processes:4) or dask://HOST:PORT"
    if not isinstance(value, str):
        raise ValueError(f"executor {value!r}: {forms}")
    text = value.strip()
    low = text.lower()
    if low in ("local", ""):
        return ExecutorSpec("local")
    if low == "processes" or low.startswith("processes:"):
        count = text.partition(":")[2].strip()
        if not count:
            return ExecutorSpec("processes", os.cpu_count() or 1)
        try:
            n = int(count)
        except ValueError:
            raise ValueError(
                f"executor {value!r}: the worker count {count!r} is not a whole number; {forms}"
            ) from None
        if n < 1:
            raise ValueError(f"executor {value!r}: need at least 1 worker; {forms}")
        return ExecutorSpec("processes", n)
    for scheme in ("dask://", "tcp://"):
        if low.startswith(scheme):
            address = text[len(scheme) :].strip().rstrip("/")
            host, sep, port = address.rpartition(":")
            if not sep or not host or "/" in address:
                raise ValueError(
                    f"executor {value!r}: expected dask://HOST:PORT (the scheduler's address, "
                    "e.g. dask://10.0.0.5:8786)"
                )
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"executor {value!r}: port {port!r} is not a TCP port (1-65535)")
            return ExecutorSpec("dask", address=f"{host}:{port}")
    raise ValueError(f"executor {value!r}: unknown kind; {forms}")


@dataclass(frozen=True)
class FleetItem:
    """One analyzed run, or one error, with what ``extra`` returned for the run."""

    analysis: RunAnalysis | None = None
    error: dict[str, str] | None = None
    extra: Any = None


@dataclass
class FleetReview:
    """The analyses and errors of a review, in input order."""

    analyses: list[RunAnalysis] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # run id → extra(run, analysis)
    executor: str = "local"
    skipped: list[Skipped] = field(default_factory=list)  # files a folder scan left out

    def to_dicts(self) -> list[dict[str, Any]]:
        """The contract's run objects (``RunAnalysis.to_dict()``), in order."""
        return [a.to_dict() for a in self.analyses]


@dataclass(frozen=True)
class _Options:
    since: float | None
    experiment: str | None
    train_loss: str | None
    val_loss: str | None
    lr: str | None
    config: AnalysisConfig | None
    extra: Callable[[Run, RunAnalysis], Any] | None


@dataclass(frozen=True)
class _MlflowBatch:
    uri: str
    run_ids: tuple[str, ...]


@dataclass(frozen=True)
class _FileBatch:
    """Consecutive file units read by one task (wide scans of many small files)."""

    units: tuple[LogSource | BadSource, ...]


_Task = LogSource | BadSource | _MlflowBatch | _FileBatch


def _analyze_one(run: Run, opts: _Options) -> FleetItem:
    try:
        roles = resolve_roles(run, opts.train_loss, opts.val_loss, opts.lr)
    except ValueError as exc:
        return FleetItem(error={"location": run.meta.location, "error": str(exc)})
    analysis = analyze_run(run, roles, opts.config)
    if run.warnings:
        analysis = dataclasses.replace(analysis, warnings=tuple(run.warnings))
    extra = opts.extra(run, analysis) if opts.extra is not None else None
    return FleetItem(analysis=analysis, extra=extra)


def _runs_of(
    task: LogSource | BadSource | _MlflowBatch, opts: _Options
) -> tuple[list[Run], list[dict[str, str]]]:
    if isinstance(task, BadSource):
        return [], [{"location": task.location, "error": task.error}]
    if isinstance(task, _MlflowBatch):
        from .readers import mlflow_store

        got = mlflow_store.read_mlflow(task.uri, run_ids=list(task.run_ids))
        order = {rid: i for i, rid in enumerate(task.run_ids)}
        runs = sorted(got.runs, key=lambda r: order.get(r.meta.id, len(order)))
        return runs, list(got.errors)
    return read_log_source(task), []


def _run_task(task: _Task, opts: _Options) -> list[FleetItem]:
    """Read one unit, analyze its runs, return only the results (frames are dropped)."""
    from .timewindow import started_since

    if isinstance(task, _FileBatch):
        return [item for unit in task.units for item in _run_task(unit, opts)]

    location = task.location if isinstance(task, (LogSource, BadSource)) else task.uri
    try:
        runs, errors = _runs_of(task, opts)
    except LRTempoError as exc:
        loc = getattr(exc, "location", location)
        return [FleetItem(error={"location": loc, "error": str(exc).removeprefix(f"{loc}: ")})]
    except (OSError, RecursionError, MemoryError) as exc:
        return [FleetItem(error={"location": location, "error": f"cannot read: {exc}"})]
    items = [FleetItem(error=e) for e in errors]
    while runs:
        run = runs.pop(0)  # drop each frame as soon as it is analyzed
        if opts.since is not None and not started_since(run, opts.since):
            continue
        items.append(_analyze_one(run, opts))
        del run
    return items


def _expanded(sources: Sequence[str | Unit], skipped: list[Skipped] | None) -> Iterator[Unit]:
    """Sources as units: strings expanded (:func:`expand_sources`), units kept."""
    for src in sources:
        if isinstance(src, (LogSource, BadSource)):
            yield src
        else:
            yield from expand_sources([src], skipped)


def _plan(
    sources: Sequence[str | Unit], opts: _Options, batch: int, skipped: list[Skipped] | None = None
) -> Iterator[_Task]:
    """Tasks in input order; MLflow URIs are listed here (metadata only) and batched."""
    from .readers import mlflow_store

    for unit in _expanded(sources, skipped):
        if not isinstance(unit, str):
            yield unit
            continue
        try:
            metas = mlflow_store.list_runs(unit, experiment=opts.experiment, since=opts.since)
        except LRTempoError as exc:
            loc = getattr(exc, "location", unit)
            yield BadSource(loc, str(exc).removeprefix(f"{loc}: "))
            continue
        ids = [m.id for m in metas]
        for i in range(0, len(ids), batch):
            yield _MlflowBatch(unit, tuple(ids[i : i + batch]))


@contextmanager
def _executor(spec: ExecutorSpec) -> Iterator[tuple[Executor | None, int]]:
    """The executor for ``spec`` (``None`` for local) and how many workers it has."""
    if spec.kind == "local":
        yield None, 1
    elif spec.kind == "processes":
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=spec.workers) as pool:
            yield pool, spec.workers
    else:
        try:
            from distributed import Client
        except ImportError:
            raise ValueError(
                f"executor {spec}: Dask is not installed; pip install 'lrtempo[dask]'"
            ) from None
        try:
            client = Client(spec.address, timeout=30, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"executor {spec}: cannot reach the Dask scheduler ({exc})") from None
        try:
            workers = max(1, sum(client.nthreads().values()))
            yield client.get_executor(pure=False), workers
        finally:
            client.close()


def _file_batches(tasks: Iterable[_Task], size: int) -> Iterator[_Task]:
    """Consecutive file units grouped by ``size`` (order kept); other tasks as they are."""
    files: list[LogSource | BadSource] = []
    for task in tasks:
        if isinstance(task, LogSource):
            files.append(task)
            if len(files) >= size:
                yield _FileBatch(tuple(files))
                files = []
            continue
        if files:
            yield _FileBatch(tuple(files))
            files = []
        yield task
    if files:
        yield _FileBatch(tuple(files))


def _mapped(
    executor: Executor | None, workers: int, tasks: Iterable[_Task], opts: _Options
) -> Iterator[list[FleetItem]]:
    """Results of ``tasks`` in order, with a bounded number of tasks in flight."""
    if executor is None:
        for task in tasks:
            yield _run_task(task, opts)
        return
    window = max(2, workers * IN_FLIGHT_PER_WORKER)
    pending: list[Future[list[FleetItem]]] = []
    for task in tasks:
        pending.append(executor.submit(_run_task, task, opts))
        if len(pending) >= window:
            yield pending.pop(0).result()
    while pending:
        yield pending.pop(0).result()


def review(
    sources: Sequence[str | Unit],
    *,
    executor: str | ExecutorSpec = "local",
    since: float | None = None,
    experiment: str | None = None,
    train_loss: str | None = None,
    val_loss: str | None = None,
    lr: str | None = None,
    config: AnalysisConfig | None = None,
    extra: Callable[[Run, RunAnalysis], Any] | None = None,
    mlflow_batch: int = MLFLOW_BATCH,
    progress: Callable[[int, int | None], None] | None = None,
) -> FleetReview:
    """Read and analyze every run of ``sources`` on ``executor`` (see the module docstring).

    ``since`` (epoch seconds) keeps runs started at or after it; ``experiment`` selects
    MLflow experiments (``sources`` may hold units :func:`~analyzer.readers.expand_sources`
    already made, read as they are); ``train_loss``/``val_loss``/``lr`` override the roles (a run
    that lacks the named metric becomes an error entry); ``extra(run, analysis)`` is
    called in the worker while the run is still in memory (e.g. a sparkline) and must
    be picklable (a module-level function) for other executors than ``local``.
    ``progress(done_tasks, None)`` is called after each finished task.
    Raises ``ValueError`` for a bad ``executor`` or ``mlflow_batch``.
    """
    spec = executor if isinstance(executor, ExecutorSpec) else parse_executor(executor)
    if mlflow_batch < 1:
        raise ValueError(f"mlflow_batch={mlflow_batch!r}: need at least 1")
    opts = _Options(since, experiment, train_loss, val_loss, lr, config, extra)
    out = FleetReview(executor=str(spec))
    with _executor(spec) as (pool, workers):
        tasks: Iterable[_Task] = _plan(sources, opts, mlflow_batch, out.skipped)
        if pool is not None:  # many small files: a few dozen per task
            tasks = _file_batches(tasks, FILE_BATCH)
        for done, items in enumerate(_mapped(pool, workers, tasks, opts), 1):
            for item in items:
                if item.error is not None:
                    out.errors.append(item.error)
                elif item.analysis is not None:
                    out.analyses.append(item.analysis)
                    if extra is not None:
                        out.extras[item.analysis.meta.id] = item.extra
            if progress:
                progress(done, None)
    return out
