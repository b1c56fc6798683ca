"""``lrtempo``: the command line, above both the analyzer and the dashboard.

    lrtempo analyze SOURCE... [--format text|json|markdown|html] [--out FILE]
                              [--since 24h] [--experiment NAME] [--fail-on warning|critical]
                              [--train-loss NAME] [--val-loss NAME] [--lr NAME]
    lrtempo review SOURCE... [--since 24h] [--out report.html] [--write-tags [--include-running]]
                           [--executor WHERE] [--notify URL]
    lrtempo dashboard [SOURCE...] [--tracking-uri URI] [--host 127.0.0.1] [--port 8050]
                      [--auth-file FILE] [--allowed-hosts NAME,...]
    lrtempo demo [--port 8050] [--reset]

``analyze``/``review`` run :mod:`analyzer.cli`; ``dashboard``/``demo`` the dashboard.
Exit status: 0 done; 1 with ``--fail-on`` when a finding reaches that severity;
2 bad usage, no readable run, or a server that cannot start (one line each on stderr);
3 a partial read; 4 ``review --notify`` could not post its summary (see :mod:`analyzer.cli`).
No traceback reaches the user unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from analyzer import __version__
from analyzer.cli import EXIT_OK, EXIT_USAGE, FORMATS, cmd_analyze
from analyzer.errors import LRTempoError

#: The dashboard's upload limits: option ``--upload-…`` by its ``dest`` → default, metavar
#: and what it bounds (its help, the default appended).
UPLOAD_LIMITS: dict[str, tuple[int, str, str]] = {
    "upload_memory_mb": (
        512,
        "MIB",
        "uploaded runs kept in memory (oldest leave it first; re-read from disk when opened)",
    ),
    "upload_disk_mb": (2048, "MIB", "uploads kept on disk (oldest deleted first)"),
    "upload_max_age_hours": (24, "H", "uploads older than this are deleted"),
    "upload_budget_mb": (
        1024,
        "MIB",
        "decompressed bytes all uploads being read at once may hold together",
    ),
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lrtempo", description="Training-run health analysis for loss/LR logs."
    )
    p.add_argument("--version", action="version", version=f"lrtempo {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sources_args(sp: argparse.ArgumentParser, required: bool = True) -> None:
        sp.add_argument(
            "sources",
            nargs="+" if required else "*",
            metavar="SOURCE",
            help="log files, folders, or MLflow URIs (http://…, sqlite:///…, file:///…, mlflow)",
        )
        sp.add_argument("--since", help="only runs started since: 24h, 7d, or an ISO date")
        sp.add_argument("--experiment", help="MLflow experiment name or id")
        sp.add_argument(
            "--train-loss", dest="train_loss", metavar="NAME", help="metric to use as train loss"
        )
        sp.add_argument(
            "--val-loss", dest="val_loss", metavar="NAME", help="metric to use as validation loss"
        )
        sp.add_argument("--lr", metavar="NAME", help="metric to use as learning rate")
        sp.add_argument("--debug", action="store_true", help="show tracebacks")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    def serve_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to bind (anything but loopback needs --auth-file or "
            "--trust-proxy-header)",
        )
        sp.add_argument("--port", type=int, default=8050)
        sp.add_argument(
            "--workers", type=int, default=1, help="gunicorn workers (1 = built-in server)"
        )
        sp.add_argument(
            "--auth-file",
            dest="auth_file",
            metavar="FILE",
            help="HTTP basic auth: a file of user:password[:role] lines (mode "
            "0600); role reader (default), writer (may write tags to "
            "MLflow) or admin (also the server-wide Settings)",
        )
        sp.add_argument(
            "--trust-proxy-header",
            dest="proxy_header",
            metavar="NAME",
            help="behind an authenticating proxy: requests without this header "
            "(e.g. X-Forwarded-User) get 401",
        )
        sp.add_argument(
            "--allowed-hosts",
            dest="allowed_hosts",
            metavar="LIST",
            default=os.environ.get("LRTEMPO_ALLOWED_HOSTS", ""),
            help="host names the dashboard is reached by, besides the bind "
            "host and loopback (comma-separated, *.example.org patterns; "
            "'*' = any); a request naming another Host gets 400; default "
            "$LRTEMPO_ALLOWED_HOSTS",
        )

    def cache_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--no-cache",
            dest="no_cache",
            action="store_true",
            help="fetch every MLflow history from the server, without reading or "
            "updating the local history cache",
        )

    a = sub.add_parser("analyze", help="analyze runs and print findings and suggestions")
    sources_args(a)
    cache_arg(a)
    a.add_argument("--format", choices=FORMATS, default="text")
    a.add_argument("--out", metavar="FILE", help="write the report to FILE instead of stdout")
    a.add_argument(
        "--fail-on",
        dest="fail_on",
        choices=("warning", "critical"),
        help="exit 1 when a finding reaches this severity",
    )
    a.add_argument(
        "--group-by",
        dest="group_by",
        metavar="PARAM",
        help="group runs into LR sweeps by this run parameter (default: MLflow "
        "experiment or folder)",
    )

    r = sub.add_parser(
        "review", help="a shareable report of recent runs (format from --out's extension)"
    )
    sources_args(r)
    cache_arg(r)
    r.add_argument(
        "--out", metavar="FILE", help="report file (.html, .md, .json, .txt); stdout if absent"
    )
    r.add_argument("--format", choices=FORMATS, help="overrides the format taken from --out")
    r.add_argument("--fail-on", dest="fail_on", choices=("warning", "critical"))
    r.add_argument(
        "--group-by",
        dest="group_by",
        metavar="PARAM",
        help="group runs into LR sweeps by this run parameter",
    )
    r.add_argument(
        "--write-tags",
        dest="write_tags",
        action="store_true",
        help="store each MLflow run's status and suggestion as lrtempo.* run tags "
        "(tags only; metrics and params are never touched); runs still "
        "RUNNING are left out",
    )
    r.add_argument(
        "--include-running",
        dest="include_running",
        action="store_true",
        help="with --write-tags, tag RUNNING runs too (with lrtempo.final=false)",
    )
    r.add_argument(
        "--executor",
        metavar="WHERE",
        help="analyze the runs locally (default), in processes:N, or on a Dask "
        "cluster at dask://HOST:PORT; runs are streamed, results identical",
    )
    r.add_argument(
        "--notify",
        metavar="URL",
        help="post a summary (runs per status, the worst runs with their MLflow "
        "links, the LR advice) to a Slack-compatible incoming webhook "
        "(http/https); if that fails, one line on stderr and exit status 4, "
        "the report still written",
    )
    r.set_defaults(default_since="24h")

    d = sub.add_parser("dashboard", help="start the dashboard on sources and/or an MLflow server")
    sources_args(d, required=False)
    d.add_argument(
        "--tracking-uri",
        dest="tracking_uri",
        help="MLflow tracking URI to review (server-wide; each visitor may choose "
        "their own in Settings, kept in their browser)",
    )
    d.add_argument(
        "--allow-uri-schemes",
        dest="allow_uri_schemes",
        metavar="LIST",
        default="",
        help="let visitors enter these URI kinds in Settings besides http(s): "
        "sqlite,file (they then read files of this host)",
    )
    d.add_argument(
        "--allow-private-uris",
        dest="allow_private_uris",
        action="store_true",
        help="let visitors enter URIs whose host is loopback, link-local or a "
        "cloud metadata address (refused by default)",
    )
    for dest, (default, metavar, text) in UPLOAD_LIMITS.items():
        d.add_argument(
            "--" + dest.replace("_", "-"),
            dest=dest,
            type=float,
            default=default,
            metavar=metavar,
            help=f"{text}; default {default}",
        )
    serve_args(d)

    m = sub.add_parser(
        "demo", help="seed a local MLflow store from sample_runs/ and open the dashboard"
    )
    serve_args(m)
    m.add_argument("--reset", action="store_true", help="re-create the demo store")
    m.add_argument("--no-serve", dest="serve", action="store_false", help="seed and analyze only")
    m.add_argument("--debug", action="store_true")
    return p


def _check_workers(workers: int) -> None:
    """Serving with several workers needs gunicorn, which the ``serve`` extra installs."""
    if workers > 1 and importlib.util.find_spec("gunicorn") is None:
        raise LRTempoError(
            f"--workers {workers} needs gunicorn: pip install 'lrtempo[serve]' "
            "(or serve with --workers 1)"
        )


def check_listen(host: str, port: int) -> None:
    """``ValueError`` (exit 2, one line) unless the server can listen on ``host:port``:
    a port outside 1-65535, one in use, a host that is not this machine's."""
    import errno
    import socket

    if not 1 <= port <= 65535:
        raise ValueError(f"--port {port}: not a TCP port; use 1-65535 (e.g. --port 8050)")
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            sock.bind(addr)
    except socket.gaierror as exc:
        raise ValueError(f"--host {host}: unknown host ({exc.strerror})") from None
    except OSError as exc:
        why = {
            errno.EADDRINUSE: "the port is in use by another program; stop it or choose "
            "another --port",
            errno.EACCES: "permission denied (ports below 1024 need root); choose another --port",
            errno.EADDRNOTAVAIL: "the host is not an address of this machine",
        }
        raise ValueError(
            f"cannot listen on {host}:{port}: {why.get(exc.errno, exc.strerror or str(exc))}"
        ) from None


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Start the dashboard (refused beyond loopback without authentication)."""
    from dashboard.auth import file_is_private, is_loopback, serving_auth

    _check_workers(args.workers)
    auth = serving_auth(args.host, args.auth_file, args.proxy_header)  # ValueError: exit 2
    check_listen(args.host, args.port)  # ValueError: exit 2, before any work
    if auth.users and not file_is_private(args.auth_file):
        print(
            f"lrtempo: WARNING: {args.auth_file} can be read by other users (chmod 600 it)",
            file=sys.stderr,
        )
    if auth.users and not is_loopback(args.host):
        print(
            "lrtempo: WARNING: basic-auth passwords cross the network in clear text over "
            "http; put a TLS proxy in front",
            file=sys.stderr,
        )
    from dashboard.app import create_app
    from dashboard.serve import serve
    from dashboard.webguard import allowed_hosts

    hosts = allowed_hosts(args.host, getattr(args, "allowed_hosts", "") or "", env=False)
    sources = list(args.sources)
    from dashboard.settings_file import default_path

    app = create_app(
        sources,
        tracking_uri=args.tracking_uri,
        auth=auth,
        host=args.host,
        settings_file=default_path(),
        allowed_hosts=getattr(args, "allowed_hosts", "") or "",
        allow_uri_schemes=getattr(args, "allow_uri_schemes", "") or "",
        allow_private_uris=getattr(args, "allow_private_uris", False),
        **{k: getattr(args, k) for k in UPLOAD_LIMITS if hasattr(args, k)},
    )
    print(f"lrtempo: protection: {auth.describe()}", file=sys.stderr)
    print(f"lrtempo: answering Host: {hosts.describe()}", file=sys.stderr)
    print(f"LR Tempo dashboard on http://{args.host}:{args.port}/", file=sys.stderr)
    serve(app, host=args.host, port=args.port, workers=args.workers)
    return EXIT_OK


def sample_runs() -> Path:
    """The sample runs: shipped in the package (``lrtempo.sample_runs``, from the top-level
    ``sample_runs/`` at build time), else the checkout's ``sample_runs/``."""
    if importlib.util.find_spec("lrtempo.sample_runs") is not None:
        shipped = importlib.resources.files("lrtempo.sample_runs")
        if isinstance(shipped, Path) and shipped.is_dir():
            return shipped
    checkout = Path(__file__).resolve().parents[1] / "sample_runs"
    if (checkout / "__init__.py").is_file():
        return checkout
    raise LRTempoError("the sample runs are missing from this installation: reinstall lrtempo")


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the embedded MLflow store from sample_runs/, then serve the dashboard on it."""
    from dashboard.auth import serving_auth
    from dashboard.demo import demo_store

    if args.serve:
        serving_auth(args.host, args.auth_file, args.proxy_header)  # refuse before seeding
        _check_workers(args.workers)
        check_listen(args.host, args.port)
    uri = demo_store(reset=args.reset, samples=sample_runs())
    print(f"lrtempo: demo store {uri}", file=sys.stderr)
    if not args.serve:
        ns = argparse.Namespace(
            sources=[uri],
            since=None,
            experiment=None,
            train_loss=None,
            val_loss=None,
            lr=None,
            quiet=True,
            out=None,
            format="text",
            fail_on=None,
        )
        return cmd_analyze(ns)
    ns = argparse.Namespace(
        sources=[uri],
        tracking_uri=uri,
        host=args.host,
        port=args.port,
        workers=args.workers,
        auth_file=args.auth_file,
        proxy_header=args.proxy_header,
        allowed_hosts=args.allowed_hosts,
    )
    return cmd_dashboard(ns)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "analyze": cmd_analyze,
    "review": cmd_analyze,
    "dashboard": cmd_dashboard,
    "demo": cmd_demo,
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
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        print(
            f"lrtempo: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_USAGE
