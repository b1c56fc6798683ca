"""``lrtempo review --notify URL``: the day's summary posted to a chat webhook.

Two parts, kept apart:

- :func:`summary_payload` (pure): a Slack-compatible incoming-webhook message,
  ``{"text": fallback, "blocks": [...]}`` in Block Kit (a ``header``, ``section`` blocks in
  ``mrkdwn``, a ``context`` footer): the runs per status, the worst runs (worst status
  first, as in the reports) with a link to their MLflow page when read from a server,
  what is wrong and the LR advice in plain words.
- :func:`post_summary` (thin): one JSON POST, no redirect followed, a 2xx answer or
  :class:`NotifyError` with one line saying what failed (unreachable, timed out, HTTP
  status). Neither the URL's path and query nor its user info appear in that line: a
  webhook URL is itself the secret; only ``scheme://host[:port]`` is shown
  (:func:`shown_url`).

Slack's limits are kept: a header of at most 150 characters, a section's text at most
3,000, at most 50 blocks. ``&``, ``<`` and ``>`` in names and messages are escaped
(``<!channel>`` in a run name pings no one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .analysis import RunAnalysis
from .errors import LRTempoError, env_seconds, printable
from .findings import worst
from .lrtext import finding_text, plain_advice
from .report import is_running, run_url, safe_url, status_counts, triage_order, verdict_label

#: The worst runs listed one by one (the others are counted in the footer).
WORST_RUNS = 10
#: Seconds to wait for the webhook's answer (``$LRTEMPO_NOTIFY_TIMEOUT`` overrides).
TIMEOUT = 10.0
TIMEOUT_ENV = "LRTEMPO_NOTIFY_TIMEOUT"
#: Statuses that put a run among the "needs attention" ones.
TROUBLE = ("divergence", "oscillation", "overfitting", "stagnation")
#: Slack Block Kit limits.
HEADER_MAX, SECTION_MAX = 150, 3000
#: An emoji per status (Slack's short names; other webhook receivers show them as text).
EMOJI = {
    "divergence": ":red_circle:",
    "oscillation": ":large_orange_circle:",
    "overfitting": ":large_blue_circle:",
    "stagnation": ":white_circle:",
}


class NotifyError(LRTempoError):
    """The summary could not be posted; the message is one line without secrets."""


def shown_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: what a message may show of a webhook URL
    (its user info, path and query may hold a token)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(an unparsable URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")


def check_webhook_url(url: str) -> str:
    """``url`` stripped when it is an http(s) URL with a host; else ``ValueError`` (one
    line, the URL not repeated beyond its scheme)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # a bad port raises here
    except ValueError:
        raise ValueError("--notify: not a valid URL; give the webhook's http(s)://… URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        what = f"a '{printable(scheme)}:' URL" if scheme else "not a URL"
        raise ValueError(f"--notify: {what}; only http:// and https:// webhook URLs are posted to")
    if not host:
        raise ValueError("--notify: the URL has no host; give the webhook's http(s)://host/… URL")
    return text


def timeout_setting() -> float:
    """``$LRTEMPO_NOTIFY_TIMEOUT`` seconds (> 0), else :data:`TIMEOUT`."""
    try:
        return env_seconds(TIMEOUT_ENV, TIMEOUT)
    except ValueError as exc:
        raise ValueError(f"{TIMEOUT_ENV}: {exc}") from None


# ----------------------------------------------------------------------- the message


def mrkdwn(text: Any) -> str:
    """A user string as literal Slack ``mrkdwn`` on one line (``&``, ``<``, ``>`` escaped)."""
    one = printable(str(text).replace("\r", " ").replace("\n", " "))
    return one.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(label: str, url: str | None) -> str:
    """``<url|label>`` for an http(s) URL, else the label, both escaped."""
    safe = safe_url(url)
    label = mrkdwn(label).replace("|", "¦")
    return f"<{safe}|{label}>" if safe else label


def run_line(a: RunAnalysis) -> str:
    """One run: its name (linked to MLflow), verdict, worst finding and plain advice."""
    m = a.meta
    name = _link(_clip(m.name, 120), run_url(m))
    where = f" ({mrkdwn(_clip(m.experiment, 80))})" if m.experiment else ""
    head = f"{EMOJI.get(a.status, '•')} *{name}*{where}: *{mrkdwn(verdict_label(a))}*"
    if is_running(m):
        head += " — still running"
    bad = worst(a.findings)
    advice = plain_advice(a.suggestion)
    lines = [head]
    if bad is not None:
        lines.append(f"    {mrkdwn(_clip(f'{finding_text(bad)}: {bad.message}', 600))}")
    if a.suggestion is not None:
        lines.append(f"    → {mrkdwn(_clip(advice, 400))}")
    return _clip("\n".join(lines), SECTION_MAX)


def counts_line(counts: Mapping[str, int]) -> str:
    """``1 divergence · 2 oscillation · 3 healthy`` (``insufficient data`` spelt out)."""
    return " · ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items()) or "no run"


def summary_payload(
    analyses: Sequence[RunAnalysis],
    errors: Sequence[Mapping[str, str]] = (),
    *,
    window: str | None = None,
    now: datetime | None = None,
    limit: int = WORST_RUNS,
) -> dict[str, Any]:
    """The Slack-compatible message of a review: ``{"text", "blocks"}``.

    ``text`` (the notification's fallback) says the run count and the runs per status;
    the blocks add the worst runs (those with a finding, worst first, at most ``limit``)
    and a footer naming the window (``window``, e.g. ``24h``), the sources that could not
    be read and the runs not listed.
    """
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    counts = status_counts(analyses)
    n = len(analyses)
    since = ""
    if window:
        duration = re.fullmatch(r"\s*\d+(\.\d+)?\s*[a-zA-Z]+\s*", window)
        since = f" started {'in the last' if duration else 'since'} {mrkdwn(window.strip())}"
    summary = f"{n} run{'s' if n != 1 else ''}{since}: {counts_line(counts)}"
    if errors:
        summary += f"; {len(errors)} source{'s' if len(errors) != 1 else ''} could not be read"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(f"LR Tempo review — {when}", HEADER_MAX)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*{summary}*", SECTION_MAX)}},
    ]
    trouble = [a for a in triage_order(analyses) if a.status in TROUBLE]
    shown = trouble[: max(limit, 0)]
    if shown:
        blocks.append({"type": "divider"})
        blocks += [
            {"type": "section", "text": {"type": "mrkdwn", "text": run_line(a)}} for a in shown
        ]
    elif analyses:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "No run needs attention."}}
        )
    footer = []
    if len(trouble) > len(shown):
        footer.append(f"{len(trouble) - len(shown)} more run(s) with findings not listed")
    footer.extend(
        f"not read: {mrkdwn(_clip(e.get('location', ''), 200))}: "
        f"{mrkdwn(_clip(e.get('error', ''), 300))}"
        for e in list(errors)[:5]
    )
    if len(errors) > 5:
        footer.append(f"{len(errors) - 5} more source(s) not read")
    if footer:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _clip(t, SECTION_MAX)} for t in footer[:10]
                ],
            }
        )
    return {"text": f"LR Tempo review: {summary}", "blocks": blocks}


# ----------------------------------------------------------------------- the POST


def post_summary(url: str, payload: Mapping[str, Any], *, timeout: float = TIMEOUT) -> int:
    """POST ``payload`` as JSON to ``url``; the HTTP status of a 2xx answer, else
    :class:`NotifyError` (one line, only :func:`shown_url` of the URL in it)."""
    import requests

    where = shown_url(url)
    try:
        resp = requests.post(
            check_webhook_url(url),
            json=dict(payload),
            timeout=timeout,
            allow_redirects=False,
            headers={"User-Agent": "lrtempo-notify"},
        )
    except (requests.ConnectTimeout, requests.ReadTimeout):
        raise NotifyError(
            f"{where}: no answer within {timeout:g} s (${TIMEOUT_ENV} sets the wait)"
        ) from None
    except requests.exceptions.SSLError:
        raise NotifyError(f"{where}: TLS handshake failed (certificate or protocol)") from None
    except requests.ConnectionError as exc:
        text = str(exc).lower()
        if "refused" in text:
            why = "connection refused (nothing listens there)"
        elif "name or service" in text or "resolve" in text or "nodename" in text:
            why = "host name not found"
        else:
            why = "cannot connect"
        raise NotifyError(f"{where}: {why}") from None
    except requests.RequestException as exc:
        raise NotifyError(f"{where}: the request failed ({type(exc).__name__})") from None
    if not 200 <= resp.status_code < 300:
        body = printable(" ".join(resp.text.split()))[:200] if resp.content else ""
        raise NotifyError(
            f"{where}: HTTP {resp.status_code} {resp.reason or ''}".rstrip()
            + (f": {body}" if body else "")
        )
    return int(resp.status_code)


__all__ = [
    "NotifyError",
    "check_webhook_url",
    "post_summary",
    "shown_url",
    "summary_payload",
    "timeout_setting",
]
