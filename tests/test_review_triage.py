"""The Review's triage order, duplicate-name suffixes, tag-filter messages, readable
evidence and plain advice, as plain functions (the browser tests are in
tests/test_dashboard_browser_triage.py)."""

from __future__ import annotations

import math

import pytest

from analyzer.findings import Suggestion
from analyzer.lrtext import evidence_readable, plain_advice
from dashboard.review_rows import best_val_text, triage_rows
from dashboard.tag_filter import TagFilterError, check_tag_filter


def _row(name: str, status: str, conf: float, start: float, exp: str = "e", rid: str = "") -> dict:
    from dashboard.review_rows import status_rank

    return {
        "id": rid or f"{name}-{exp}-{start}",
        "run": name,
        "status": status,
        "rank": status_rank(status),
        "confidence": conf,
        "start_ts": start,
        "experiment": exp,
        "start": str(start),
    }


def test_triage_order_is_severity_then_confidence_then_recency() -> None:
    rows = [
        _row("h", "healthy", 0.0, 50),
        _row("i", "insufficient_data", 0.0, 10),
        _row("s", "stagnation", 0.9, 10),
        _row("o-low", "oscillation", 0.6, 99),
        _row("o-high-old", "oscillation", 0.9, 1),
        _row("o-high-new", "oscillation", 0.9, 2),
        _row("f", "overfitting", 0.99, 5),
        _row("d", "divergence", 0.5, 0),
        _row("no-start", "divergence", 0.5, None),  # type: ignore[arg-type]
    ]
    out = triage_rows(rows)
    assert [r["run"] for r in out] == [
        "d",
        "no-start",
        "o-high-new",
        "o-high-old",
        "o-low",
        "f",
        "s",
        "i",
        "h",
    ]
    assert [r["triage"] for r in out] == list(range(len(rows)))
    assert all("triage" not in r for r in rows)  # the cached rows are not modified


def test_duplicate_names_get_what_tells_them_apart() -> None:
    out = triage_rows(
        [
            _row("cnn", "healthy", 0, 1, exp="team-a/vision"),
            _row("cnn", "healthy", 0, 2, exp="team-b/vision"),  # same last part: the full name
            _row("bert", "healthy", 0, 1, exp="nlp/a"),
            _row("bert", "healthy", 0, 2, exp="nlp/b"),
            _row("gpt", "healthy", 0, 1, exp="x", rid="aaaaaaaa11"),
            _row("gpt", "healthy", 0, 1, exp="x", rid="bbbbbbbb22"),
            _row("solo", "healthy", 0, 1),
        ]
    )
    suffix = {(r["run"], r["id"]): r["run_suffix"] for r in out}
    assert sorted(v for (n, _), v in suffix.items() if n == "cnn") == [
        "team-a/vision",
        "team-b/vision",
    ]
    assert sorted(v for (n, _), v in suffix.items() if n == "bert") == ["a", "b"]
    assert sorted(v for (n, _), v in suffix.items() if n == "gpt") == ["#aaaaaaaa", "#bbbbbbbb"]
    assert next(v for (n, _), v in suffix.items() if n == "solo") == ""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("=cv", "no tag key before '='"),
        ("team==cv", "two '='"),
        ("team=", "no value after '='"),
        ("team = cv, =x", "'=x'"),
        ("my team=cv", "is not a tag key"),
        ("team>3", "is not a tag key"),
    ],
)
def test_bad_tag_filters_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(TagFilterError, match=says) as err:
        check_tag_filter(text)
    assert "key=value" in str(err.value)  # and how to write it


def test_good_tag_filters() -> None:
    assert check_tag_filter(" team = cv , sweep,") == [("team", "cv"), ("sweep", None)]
    assert check_tag_filter("mlflow.source.git.branch=main") == [
        ("mlflow.source.git.branch", "main")
    ]
    assert check_tag_filter("") == []


def test_best_val_text_and_readable_evidence() -> None:
    assert best_val_text(0.41234, 1200) == "0.412 @ 1200"
    assert best_val_text(3.2e-5, 7) == "3.2e-5 @ 7"
    assert best_val_text(None, 5) == "step 5" and best_val_text(0.5, None) == ""
    ev = {
        "best_val_step": 1000.0,
        "lr_at_start": None,
        "sign_flip_rate_before": float("nan"),
        "rise_pct": 3.2812,
        "p_value": 1e-9,
        "stuck": True,
    }
    assert evidence_readable(ev) == "best val step 1000 · rise 3.28 % · p-value 1e-9 · stuck yes"


def test_plain_advice_words_the_same_numbers() -> None:
    cases = [
        (
            Suggestion("decrease_lr", current_lr=3e-4, suggested_lr=3e-5, factor=0.1),
            "lower the LR from 3e-4 to 3e-5",
        ),
        (
            Suggestion("increase_lr", current_lr=1e-4, suggested_lr=1e-3, factor=10),
            "raise the LR from 1e-4 to 1e-3",
        ),
        (Suggestion("increase_lr", factor=10), "raise the LR (×10)"),
        (Suggestion("keep_lr", current_lr=3e-4, suggested_lr=3e-4), "keep the LR at 3e-4"),
        (Suggestion("keep_lr"), "keep the LR"),
        (
            Suggestion("early_stop", current_lr=1e-3, suggested_lr=1e-3, early_stop_step=1200),
            "stop at step 1200",
        ),
        (
            Suggestion("early_stop", current_lr=1e-3, suggested_lr=3e-4, early_stop_step=50),
            "stop at step 50 and lower the LR from 1e-3 to 3e-4",
        ),
        (
            Suggestion("decrease_lr", current_lr=0.03, suggested_lr=0.003, early_stop_step=500),
            "lower the LR from 0.03 to 3e-3, and stop at step 500",
        ),
        (
            Suggestion(
                "add_warmup", current_lr=3e-3, suggested_lr=3e-4, extra={"warmup_steps": 200}
            ),
            "add a warm-up of 200 steps and lower the LR from 3e-3 to 3e-4",
        ),
        (
            Suggestion(
                "restore_lr", current_lr=1e-3, suggested_lr=1e-3, extra={"collapsed_lr": 1e-8}
            ),
            "restore the LR to 1e-3 (the schedule fell to 1e-8)",
        ),
        (Suggestion("check_data"), "check the data"),
    ]
    for sug, want in cases:
        assert plain_advice(sug) == want
    assert plain_advice(None) == "—"


def test_chooser_values_are_params_and_each_metrics_last_value() -> None:
    from analyzer.readers import read_sources
    from dashboard.review_rows import extra_keys, extra_values
    from tests.conftest import SAMPLE_RUNS

    runs = read_sources([str(SAMPLE_RUNS)]).runs
    checked = 0
    for run in runs:
        values = extra_values(run)
        assert set(values) == set(extra_keys(run))
        for key, v in values.items():
            kind, _, name = key.partition(":")
            if kind == "metric":
                s = run.series(name)
                last = s["value"].iloc[-1]
                assert (v is None and not math.isfinite(last)) or v == last, key
                checked += 1
            else:
                text = run.meta.params[name]
                assert v == text or v == float(text), key
    assert checked >= 30
