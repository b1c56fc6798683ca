"""The ``analyze`` and ``review`` commands (a thin layer on the library).

    lrtempo analyze SOURCE... [--format text|json|markdown|html] [--out FILE]
                              [--since 24h] [--experiment NAME] [--fail-on warning|critical]
                              [--train-loss NAME] [--val-loss NAME] [--lr NAME]
    lrtempo review SOURCE... [--since 24h] [--out report.html] [--write-tags [--include-running]]
                             [--executor WHERE] [--notify URL]

The ``lrtempo`` entry point that parses the command line and also starts the dashboard
is :mod:`lrtempo.cli`, above both the analyzer and the dashboard (imports run one way).

Exit status: 0 done; 1 with ``--fail-on`` when a finding reaches that severity;
2 bad usage or no readable run (one line per bad source on stderr); 3 a partial read:
some runs were analyzed but a source, file or run could not be read (its error line is
on stderr and under ``errors``), so a cron job can tell it from a full read. ``--fail-on``
wins: a finding at that severity exits 1 even when the read was partial. 4: the review
was done and written, but ``--notify`` could not post its summary (one line on stderr);
a status 1, 2 or 3 of the review itself is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .analysis import RunAnalysis, analyze_run
from .errors import LRTempoError, printable, utf8_safe
from .findings import SEVERITY_RANK
from .model import ReadResult, Run
from .readers import LogSource, Skipped, Unit, expand_sources, read_units
from .report import build_document, render_html, render_markdown, render_text, status_counts
from .roles import resolve_roles
from .sweeps import Sweep, find_sweeps, reconcile, sweep_point, sweeps_of
from .timewindow import parse_since, started_since

FORMATS = ("text", "json", "markdown", "html")
#: The oldest ``--since`` accepted (years back; ``100000d``, 274 years, means "all" in
#: scripts); an absurd value (``1e22h``) is refused, not sent to a server.
MAX_SINCE_YEARS = 1000
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_PARTIAL, EXIT_NOTIFY = 0, 1, 2, 3, 4
#: Log files from which a scan without ``--executor`` is read and analyzed in parallel, on
#: one process per core (:func:`analyzer.fleet.review`; same results, in the same order).
PARALLEL_MIN_FILES = 200


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_executor(units: Sequence[Unit]) -> str | None:
    """``processes:N`` (N cores) for a wide scan: at least :data:`PARALLEL_MIN_FILES` log
    files, no MLflow URI, more than one core; else ``None`` (read in this process)."""
    cores = _cores()
    files = sum(isinstance(u, LogSource) for u in units)
    if cores < 2 or files < PARALLEL_MIN_FILES or any(isinstance(u, str) for u in units):
        return None
    return f"processes:{cores}"


def _progress(quiet: bool) -> Callable[[int, int], None] | None:
    """A tqdm bar on stderr for long reads (≥ 20 sources or runs), only on a terminal.

    A new bar starts whenever the total changes (sources, then an MLflow URI's runs).
    """
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: list[tqdm] = []

    def update(done: int, total: int) -> None:
        if total < 20:
            return
        if not bars or bars[-1].total != total:
            if bars:
                bars[-1].close()
            bars.append(tqdm(total=total, file=sys.stderr, leave=False))
        bars[-1].update(done - bars[-1].n)
        if done == total:
            bars[-1].close()

    return update


def analyze_runs(
    runs: Sequence[Run], args: argparse.Namespace, result: ReadResult
) -> list[RunAnalysis]:
    """Analyze each run; a run whose role override is wrong becomes an error entry."""
    analyses = []
    for run in runs:
        try:
            roles = resolve_roles(run, args.train_loss, args.val_loss, args.lr)
        except ValueError as exc:
            result.add_error(run.meta.location, str(exc))
            continue
        analyses.append(analyze_run(run, roles))  # carries the run's reader warnings
    return analyses


def _output_format(args: argparse.Namespace) -> str:
    if getattr(args, "format", None):
        return args.format
    suffix = Path(args.out).suffix.lower() if args.out else ""
    return {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}.get(suffix, "text")


def render(
    fmt: str,
    analyses: list[RunAnalysis],
    result: ReadResult,
    sparklines: dict[str, str] | None = None,
    sweeps: Sequence[Sweep] = (),
) -> str:
    """The report in ``fmt`` (HTML sparklines from ``sparklines``, else from the runs)."""
    if fmt == "json":
        doc = build_document(analyses, result.errors, sweeps)
        return json.dumps(_utf8_doc(doc), indent=2, allow_nan=False) + "\n"
    return utf8_safe(_render_text(fmt, analyses, result, sparklines, sweeps))


def _utf8_doc(doc: object) -> object:
    """The JSON document with every string :func:`utf8_safe`."""
    if isinstance(doc, str):
        return utf8_safe(doc)
    if isinstance(doc, dict):
        return {utf8_safe(str(k)): _utf8_doc(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_utf8_doc(v) for v in doc]
    return doc


def _render_text(
    fmt: str,
    analyses: list[RunAnalysis],
    result: ReadResult,
    sparklines: dict[str, str] | None,
    sweeps: Sequence[Sweep],
) -> str:
    if fmt == "markdown":
        return render_markdown(analyses, result.errors, sweeps)
    if fmt == "html":
        return render_html(
            analyses, result.errors, {r.meta.id: r for r in result.runs}, sparklines, sweeps
        )
    return render_text(analyses, result.errors, sweeps)


def _review_extra(
    run: Run, analysis: RunAnalysis, group_by: str | None = None, sparkline: bool = True
) -> tuple[str, object]:
    """What a fleet worker keeps of a run: its sparkline (only an HTML report shows one:
    ``""`` unless ``sparkline``) and its sweep point."""
    from .report import sparkline_svg

    return sparkline_svg(run, analysis) if sparkline else "", sweep_point(run, analysis, group_by)


def _with_sweeps(
    analyses: list[RunAnalysis], sweeps: list[Sweep]
) -> tuple[list[RunAnalysis], list[Sweep]]:
    """Per-run suggestions reconciled with the sweeps they belong to."""
    return (reconcile(analyses, sweeps) if sweeps else analyses), sweeps


def _read_and_analyze(
    args: argparse.Namespace, since: float | None, skipped: list[Skipped] | None = None
) -> tuple[list[RunAnalysis], ReadResult, dict[str, str] | None, list[Sweep]]:
    """Analyses, the read result and (for a fleet review) the sparklines drawn in the workers.
    Files a folder scan left out (not logs) go to ``skipped``.

    With ``--executor``, or without it for a wide scan (:func:`auto_executor`: 200 log
    files or more, several cores), the runs are streamed through
    :func:`analyzer.fleet.review` (no frame is kept; same results in the same order);
    otherwise they are read, kept for the HTML sparklines, and analyzed here.
    """
    executor = getattr(args, "executor", None)
    group_by = getattr(args, "group_by", None)
    sources: Sequence[str | Unit] = args.sources
    if not executor:  # a wide scan of many small files is read on every core
        sources = expand_sources(list(args.sources), skipped)
        executor = auto_executor(sources)
    if executor:
        from functools import partial

        from .fleet import parse_executor, review

        fleet = review(
            sources,
            executor=parse_executor(executor),
            since=since,
            experiment=args.experiment,
            train_loss=args.train_loss,
            val_loss=args.val_loss,
            lr=args.lr,
            extra=partial(
                _review_extra, group_by=group_by, sparkline=_output_format(args) == "html"
            ),
        )
        result = ReadResult(errors=list(fleet.errors))
        if skipped is not None:
            skipped.extend(fleet.skipped)
        sweeps = find_sweeps([pt for _, pt in fleet.extras.values()])
        analyses, sweeps = _with_sweeps(fleet.analyses, sweeps)
        return analyses, result, {k: svg for k, (svg, _) in fleet.extras.items()}, sweeps
    result = read_units(
        list(sources), since=since, experiment=args.experiment, progress=_progress(args.quiet)
    )
    if since is not None:
        result.runs = [r for r in result.runs if started_since(r, since)]
    analyses = analyze_runs(result.runs, args, result)
    analyses, sweeps = _with_sweeps(analyses, sweeps_of(result.runs, analyses, group_by))
    return analyses, result, None, sweeps


def checked_since(text: str, now: float | None = None) -> float:
    """``--since`` as epoch seconds; ``ValueError`` (one line) when it is not a duration or
    date, lies more than :data:`MAX_SINCE_YEARS` years back, or is in the future."""
    import math
    import time

    now = time.time() if now is None else now
    try:
        since = parse_since(text, now)
    except OverflowError:
        since = math.inf
    if not math.isfinite(since) or since < now - MAX_SINCE_YEARS * 365.25 * 86400:
        raise ValueError(
            f"--since {text!r}: more than {MAX_SINCE_YEARS} years back; use a "
            "shorter duration or a later date (or leave --since out)"
        )
    if since > now + 60:
        raise ValueError(f"--since {text!r}: that is in the future; no run started since then")
    return since


def cmd_analyze(args: argparse.Namespace) -> int:
    """``analyze`` and ``review``: read, analyze, report (and ``--notify``: post a summary)."""
    since_text = args.since or getattr(args, "default_since", None)
    since = checked_since(since_text) if since_text else None
    notify_url = getattr(args, "notify", None)
    if notify_url:  # a bad URL or timeout is refused before any work
        from .notify import check_webhook_url, timeout_setting

        notify_url = check_webhook_url(notify_url)
        timeout_setting()
    skipped: list[Skipped] = []
    if getattr(args, "no_cache", False):
        from .readers.mlflow_cache import bypassed

        with bypassed():
            analyses, result, sparklines, sweeps = _read_and_analyze(args, since, skipped)
    else:
        analyses, result, sparklines, sweeps = _read_and_analyze(args, since, skipped)
    group_by = getattr(args, "group_by", None)
    if group_by and analyses and not any(group_by in a.meta.params for a in analyses):
        print(
            f"lrtempo: --group-by {printable(group_by)}: no run has this parameter; runs "
            "were grouped by experiment or folder",
            file=sys.stderr,
        )
    for a in analyses:
        for w in a.warnings:
            print(f"warning: {printable(w)}", file=sys.stderr)
    for e in result.errors:
        print(f"lrtempo: {printable(e['location'])}: {printable(e['error'])}", file=sys.stderr)
    for s in skipped:
        print(f"note: {printable(s.location)}: {printable(s.message)}", file=sys.stderr)
    fmt = _output_format(args)
    if not analyses:
        if not result.errors:
            hint = (
                " (review's default window: --since 30d, or a date, reaches older runs)"
                if since_text and not args.since
                else ""
            )
            print(
                "lrtempo: no run found" + (f" since {since_text}" if since_text else "") + hint,
                file=sys.stderr,
            )
        if fmt == "json" and not args.out:  # scripts still get a contract document
            sys.stdout.write(render(fmt, analyses, result))
        return _notified(EXIT_USAGE, notify_url, analyses, result, since_text)
    text = render(fmt, analyses, result, sparklines, sweeps)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        counts = ", ".join(f"{n} {st}" for st, n in status_counts(analyses).items())
        print(
            f"lrtempo: wrote the {fmt} report of {len(analyses)} run(s) ({counts}) to "
            f"{printable(str(Path(args.out).resolve()))}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    if getattr(args, "write_tags", False):
        _write_tags(analyses, args.sources, sweeps, getattr(args, "include_running", False))
    elif getattr(args, "include_running", False):
        print("lrtempo: --include-running applies only with --write-tags", file=sys.stderr)
    code = EXIT_PARTIAL if result.errors else EXIT_OK
    if args.fail_on:
        bar = SEVERITY_RANK[args.fail_on]
        if any(SEVERITY_RANK[f.severity] >= bar for a in analyses for f in a.findings):
            code = EXIT_FINDINGS
    return _notified(code, notify_url, analyses, result, since_text)


def _notified(
    code: int,
    url: str | None,
    analyses: Sequence[RunAnalysis],
    result: ReadResult,
    window: str | None,
) -> int:
    """``review --notify URL``: post the summary (:mod:`.notify`) after the outputs were
    written; one line on stderr either way. ``code`` stays, unless it is 0 and the post
    failed: then :data:`EXIT_NOTIFY`."""
    if not url:
        return code
    from .notify import NotifyError, post_summary, shown_url, summary_payload, timeout_setting

    payload = summary_payload(analyses, result.errors, window=window)
    try:
        post_summary(url, payload, timeout=timeout_setting())
    except NotifyError as exc:
        print(f"lrtempo: --notify: the summary was not posted: {exc}", file=sys.stderr)
        return code or EXIT_NOTIFY
    print(
        f"lrtempo: --notify: posted the summary of {len(analyses)} run(s) to {shown_url(url)}",
        file=sys.stderr,
    )
    return code


def _write_tags(
    analyses: list[RunAnalysis],
    sources: Sequence[str],
    sweeps: Sequence[Sweep] = (),
    include_running: bool = False,
) -> None:
    """``review --write-tags``: the verdicts as MLflow run tags (RUNNING runs only with
    ``--include-running``, tagged ``lrtempo.final=false``); one summary line on stderr."""
    from .readers import is_mlflow_uri
    from .readers.mlflow_store import resolve_uri
    from .writeback import RUNNING_SKIPPED, summary, write_back

    uris = []
    for src in sources:
        if is_mlflow_uri(src):
            try:
                uris.append(resolve_uri(src))
            except LRTempoError:
                continue
    results = write_back(
        analyses, tracking_uris=uris, sweeps=sweeps, include_running=include_running
    )
    for r in results:
        if r.outcome == "failed":
            print(
                f"lrtempo: {r.run_name}: cannot write tags to {r.tracking_uri}: {r.message}",
                file=sys.stderr,
            )
    if not any(r.outcome != "skipped" or r.message == RUNNING_SKIPPED for r in results):
        print("lrtempo: --write-tags: no MLflow run to tag", file=sys.stderr)
    else:
        print(f"lrtempo: MLflow tags: {summary(results)}", file=sys.stderr)
