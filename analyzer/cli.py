"""``lrtempo``: the command line (a thin layer on the library).

    lrtempo analyze SOURCE... [--format text|json|markdown|html] [--out FILE]
                              [--since 24h] [--experiment NAME] [--fail-on warning|critical]
                              [--train-loss NAME] [--val-loss NAME] [--lr NAME]
    lrtempo review SOURCE... [--since 24h] [--out report.html] [--write-tags] [--executor WHERE]
    lrtempo dashboard [SOURCE...] [--tracking-uri URI] [--host 127.0.0.1] [--port 8050]
    lrtempo demo [--port 8050] [--reset]

Exit status: 0 done; 1 with ``--fail-on`` when a finding reaches that severity;
2 bad usage or no readable run (one line per bad source on stderr).
No traceback reaches the user unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .analysis import RunAnalysis, analyze_run
from .errors import LRTempoError, printable
from .findings import SEVERITY_RANK
from .model import ReadResult, Run
from .readers import read_sources
from .report import build_document, render_html, render_markdown, render_text, status_counts
from .roles import resolve_roles
from .sweeps import Sweep, find_sweeps, reconcile, sweep_point, sweeps_of
from .timewindow import parse_since, started_since

FORMATS = ("text", "json", "markdown", "html")
#: The oldest ``--since`` accepted (years back; ``100000d``, 274 years, means "all" in
#: scripts); an absurd value (``1e22h``) is refused, not sent to a server.
MAX_SINCE_YEARS = 1000
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lrtempo", description="Training-run health analysis for loss/LR logs.")
    p.add_argument("--version", action="version", version=f"lrtempo {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sources_args(sp: argparse.ArgumentParser, required: bool = True) -> None:
        sp.add_argument("sources", nargs="+" if required else "*", metavar="SOURCE",
                        help="log files, folders, or MLflow URIs (http://…, sqlite:///…, file:///…, mlflow)")
        sp.add_argument("--since", help="only runs started since: 24h, 7d, or an ISO date")
        sp.add_argument("--experiment", help="MLflow experiment name or id")
        sp.add_argument("--train-loss", dest="train_loss", metavar="NAME", help="metric to use as train loss")
        sp.add_argument("--val-loss", dest="val_loss", metavar="NAME", help="metric to use as validation loss")
        sp.add_argument("--lr", metavar="NAME", help="metric to use as learning rate")
        sp.add_argument("--debug", action="store_true", help="show tracebacks")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    def serve_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--host", default="127.0.0.1",
                        help="address to bind (anything but loopback needs --auth-file or "
                             "--trust-proxy-header)")
        sp.add_argument("--port", type=int, default=8050)
        sp.add_argument("--workers", type=int, default=1, help="gunicorn workers (1 = built-in server)")
        sp.add_argument("--auth-file", dest="auth_file", metavar="FILE",
                        help="HTTP basic auth: a file of user:password lines (mode 0600)")
        sp.add_argument("--trust-proxy-header", dest="proxy_header", metavar="NAME",
                        help="behind an authenticating proxy: requests without this header "
                             "(e.g. X-Forwarded-User) get 401")

    a = sub.add_parser("analyze", help="analyze runs and print findings and suggestions")
    sources_args(a)
    a.add_argument("--format", choices=FORMATS, default="text")
    a.add_argument("--out", metavar="FILE", help="write the report to FILE instead of stdout")
    a.add_argument("--fail-on", dest="fail_on", choices=("warning", "critical"),
                   help="exit 1 when a finding reaches this severity")
    a.add_argument("--group-by", dest="group_by", metavar="PARAM",
                   help="group runs into LR sweeps by this run parameter (default: MLflow "
                        "experiment or folder)")

    r = sub.add_parser("review", help="a shareable report of recent runs (format from --out's extension)")
    sources_args(r)
    r.add_argument("--out", metavar="FILE", help="report file (.html, .md, .json, .txt); stdout if absent")
    r.add_argument("--format", choices=FORMATS, help="overrides the format taken from --out")
    r.add_argument("--fail-on", dest="fail_on", choices=("warning", "critical"))
    r.add_argument("--group-by", dest="group_by", metavar="PARAM",
                   help="group runs into LR sweeps by this run parameter")
    r.add_argument("--write-tags", dest="write_tags", action="store_true",
                   help="store each MLflow run's status and suggestion as lrtempo.* run tags "
                        "(tags only; metrics and params are never touched)")
    r.add_argument("--executor", metavar="WHERE",
                   help="analyze the runs locally (default), in processes:N, or on a Dask "
                        "cluster at dask://HOST:PORT; runs are streamed, results identical")
    r.set_defaults(default_since="24h")

    d = sub.add_parser("dashboard", help="start the dashboard on sources and/or an MLflow server")
    sources_args(d, required=False)
    d.add_argument("--tracking-uri", dest="tracking_uri",
                   help="MLflow tracking URI to review (server-wide; each visitor may choose "
                        "their own in Settings, kept in their browser)")
    d.add_argument("--allow-uri-schemes", dest="allow_uri_schemes", metavar="LIST", default="",
                   help="let visitors enter these URI kinds in Settings besides http(s): "
                        "sqlite,file (they then read files of this host)")
    d.add_argument("--allow-private-uris", dest="allow_private_uris", action="store_true",
                   help="let visitors enter URIs whose host is loopback, link-local or a "
                        "cloud metadata address (refused by default)")
    d.add_argument("--upload-memory-mb", dest="upload_memory_mb", type=float, default=512,
                   metavar="MIB", help="uploaded runs kept in memory (oldest leave it first; "
                                       "re-read from disk when opened); default 512")
    d.add_argument("--upload-disk-mb", dest="upload_disk_mb", type=float, default=2048,
                   metavar="MIB", help="uploads kept on disk (oldest deleted first); "
                                       "default 2048")
    d.add_argument("--upload-max-age-hours", dest="upload_max_age_hours", type=float,
                   default=24, metavar="H", help="uploads older than this are deleted; "
                                                 "default 24")
    d.add_argument("--upload-budget-mb", dest="upload_budget_mb", type=float, default=1024,
                   metavar="MIB", help="decompressed bytes all uploads being read at once may "
                                       "hold together; default 1024")
    serve_args(d)

    m = sub.add_parser("demo", help="seed a local MLflow store from sample_runs/ and open the dashboard")
    serve_args(m)
    m.add_argument("--reset", action="store_true", help="re-create the demo store")
    m.add_argument("--no-serve", dest="serve", action="store_false", help="seed and analyze only")
    m.add_argument("--debug", action="store_true")
    return p


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


def analyze_runs(runs: Sequence[Run], args: argparse.Namespace, result: ReadResult) -> list[RunAnalysis]:
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


def render(fmt: str, analyses: list[RunAnalysis], result: ReadResult,
           sparklines: dict[str, str] | None = None, sweeps: Sequence[Sweep] = ()) -> str:
    """The report in ``fmt`` (HTML sparklines from ``sparklines``, else from the runs)."""
    if fmt == "json":
        doc = build_document(analyses, result.errors, sweeps)
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if fmt == "markdown":
        return render_markdown(analyses, result.errors, sweeps)
    if fmt == "html":
        return render_html(analyses, result.errors, {r.meta.id: r for r in result.runs}, sparklines,
                           sweeps)
    return render_text(analyses, result.errors, sweeps)


def _review_extra(run: Run, analysis: RunAnalysis, group_by: str | None = None
                  ) -> tuple[str, object]:
    """What a fleet worker keeps of a run: its sparkline and its sweep point."""
    from .report import sparkline_svg

    return sparkline_svg(run, analysis), sweep_point(run, analysis, group_by)


def _with_sweeps(analyses: list[RunAnalysis], sweeps: list[Sweep]
                 ) -> tuple[list[RunAnalysis], list[Sweep]]:
    """Per-run suggestions reconciled with the sweeps they belong to."""
    return (reconcile(analyses, sweeps) if sweeps else analyses), sweeps


def _read_and_analyze(args: argparse.Namespace, since: float | None
                      ) -> tuple[list[RunAnalysis], ReadResult, dict[str, str] | None,
                                 list[Sweep]]:
    """Analyses, the read result and (for a fleet review) the sparklines drawn in the workers.

    With ``--executor`` the runs are streamed through :func:`analyzer.fleet.review` (no
    frame is kept); otherwise they are read, kept for the HTML sparklines, and analyzed here.
    """
    executor = getattr(args, "executor", None)
    group_by = getattr(args, "group_by", None)
    if executor:
        from functools import partial

        from .fleet import parse_executor, review

        fleet = review(args.sources, executor=parse_executor(executor), since=since,
                       experiment=args.experiment, train_loss=args.train_loss,
                       val_loss=args.val_loss, lr=args.lr,
                       extra=partial(_review_extra, group_by=group_by))
        result = ReadResult(errors=list(fleet.errors))
        sweeps = find_sweeps([pt for _, pt in fleet.extras.values()])
        analyses, sweeps = _with_sweeps(fleet.analyses, sweeps)
        return analyses, result, {k: svg for k, (svg, _) in fleet.extras.items()}, sweeps
    result = read_sources(args.sources, since=since, experiment=args.experiment,
                          progress=_progress(args.quiet))
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
        raise ValueError(f"--since {text!r}: more than {MAX_SINCE_YEARS} years back; use a "
                         "shorter duration or a later date (or leave --since out)")
    if since > now + 60:
        raise ValueError(f"--since {text!r}: that is in the future; no run started since then")
    return since


def cmd_analyze(args: argparse.Namespace) -> int:
    """``analyze`` and ``review``: read, analyze, report."""
    since_text = args.since or getattr(args, "default_since", None)
    since = checked_since(since_text) if since_text else None
    analyses, result, sparklines, sweeps = _read_and_analyze(args, since)
    group_by = getattr(args, "group_by", None)
    if group_by and analyses and not any(group_by in a.meta.params for a in analyses):
        print(f"lrtempo: --group-by {printable(group_by)}: no run has this parameter; runs "
              "were grouped by experiment or folder", file=sys.stderr)
    for a in analyses:
        for w in a.warnings:
            print(f"warning: {printable(w)}", file=sys.stderr)
    for e in result.errors:
        print(f"lrtempo: {printable(e['location'])}: {printable(e['error'])}", file=sys.stderr)
    fmt = _output_format(args)
    if not analyses:
        if not result.errors:
            print("lrtempo: no run found" + (f" since {since_text}" if since_text else ""), file=sys.stderr)
        if fmt == "json" and not args.out:  # scripts still get a contract document
            sys.stdout.write(render(fmt, analyses, result))
        return EXIT_USAGE
    text = render(fmt, analyses, result, sparklines, sweeps)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        counts = ", ".join(f"{n} {st}" for st, n in status_counts(analyses).items())
        print(f"lrtempo: wrote the {fmt} report of {len(analyses)} run(s) ({counts}) to "
              f"{printable(str(Path(args.out).resolve()))}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if getattr(args, "write_tags", False):
        _write_tags(analyses, args.sources)
    if args.fail_on:
        bar = SEVERITY_RANK[args.fail_on]
        if any(SEVERITY_RANK[f.severity] >= bar for a in analyses for f in a.findings):
            return EXIT_FINDINGS
    return EXIT_OK


def _write_tags(analyses: list[RunAnalysis], sources: Sequence[str]) -> None:
    """``review --write-tags``: the verdicts as MLflow run tags; one summary line on stderr."""
    from .readers import is_mlflow_uri
    from .readers.mlflow_store import resolve_uri
    from .writeback import summary, write_back

    uris = []
    for src in sources:
        if is_mlflow_uri(src):
            try:
                uris.append(resolve_uri(src))
            except LRTempoError:
                continue
    results = write_back(analyses, tracking_uris=uris)
    for r in results:
        if r.outcome == "failed":
            print(f"lrtempo: {r.run_name}: cannot write tags to {r.tracking_uri}: {r.message}",
                  file=sys.stderr)
    if not any(r.outcome != "skipped" for r in results):
        print("lrtempo: --write-tags: no MLflow run to tag", file=sys.stderr)
    else:
        print(f"lrtempo: MLflow tags: {summary(results)}", file=sys.stderr)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Start the dashboard (refused beyond loopback without authentication)."""
    from dashboard.auth import file_is_private, is_loopback, serving_auth

    auth = serving_auth(args.host, args.auth_file, args.proxy_header)  # ValueError: exit 2
    if auth.users and not file_is_private(args.auth_file):
        print(f"lrtempo: WARNING: {args.auth_file} can be read by other users (chmod 600 it)",
              file=sys.stderr)
    if auth.users and not is_loopback(args.host):
        print("lrtempo: WARNING: basic-auth passwords cross the network in clear text over "
              "http; put a TLS proxy in front", file=sys.stderr)
    from dashboard.app import create_app
    from dashboard.serve import serve

    sources = list(args.sources)
    app = create_app(sources, tracking_uri=args.tracking_uri, auth=auth,
                     allow_uri_schemes=getattr(args, "allow_uri_schemes", "") or "",
                     allow_private_uris=getattr(args, "allow_private_uris", False),
                     **{k: getattr(args, k) for k in ("upload_memory_mb", "upload_disk_mb",
                                                      "upload_max_age_hours", "upload_budget_mb")
                        if hasattr(args, k)})
    print(f"lrtempo: protection: {auth.describe()}", file=sys.stderr)
    print(f"LR Tempo dashboard on http://{args.host}:{args.port}/", file=sys.stderr)
    serve(app, host=args.host, port=args.port, workers=args.workers)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the embedded MLflow store from sample_runs/, then serve the dashboard on it."""
    from dashboard.auth import serving_auth
    from dashboard.demo import demo_store

    if args.serve:
        serving_auth(args.host, args.auth_file, args.proxy_header)  # refuse before seeding
    uri = demo_store(reset=args.reset)
    print(f"lrtempo: demo store {uri}", file=sys.stderr)
    if not args.serve:
        ns = argparse.Namespace(sources=[uri], since=None, experiment=None, train_loss=None,
                                val_loss=None, lr=None, quiet=True, out=None, format="text",
                                fail_on=None)
        return cmd_analyze(ns)
    ns = argparse.Namespace(sources=[uri], tracking_uri=uri, host=args.host, port=args.port,
                            workers=args.workers, auth_file=args.auth_file,
                            proxy_header=args.proxy_header)
    return cmd_dashboard(ns)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "analyze": cmd_analyze, "review": cmd_analyze, "dashboard": cmd_dashboard, "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lrtempo`` console script."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (LRTempoError, ValueError, OSError) as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"lrtempo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if getattr(args, "debug", False):
            raise
        print(f"lrtempo: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
