"""Dark mode (issue 12): the dark palette as data, and the dashboard in a real headless
Chromium emulating a dark or a light ``prefers-color-scheme``.

* The palette (:data:`dashboard.theme.DARK`) is readable by WCAG 2 contrast ratios:
  text on the figures' paper and plot area at least 4.5:1 (AA), the curve, status and
  finding colours against the plot area at least 3:1 (non-text contrast); a shaded
  finding range stands out from the dark plot area at least as much as from white;
  the stylesheet draws only with the palette's colours.
* In the browser: a dark OS preference gives a dark page (``data-bs-theme``, the
  body's computed background), a dark AG Grid and a dark Run figure whose curves and
  shaded range keep their colours; the toggle switches to light and a reload keeps
  the explicit choice; a light OS preference gives light, followed live until a choice
  is made. Screenshots: ``tests/screenshots/dark_review.png``, ``dark_run.png``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analyzer.findings import Finding
from dashboard import figures as F
from dashboard import theme as T
from tests.browser_fixtures import SHOTS, grid_row, guarded_page, open_page
from tests.test_dashboard_browser import _curves, write_jsonl

ASSETS = Path(__file__).resolve().parents[1] / "dashboard" / "assets"
PAGE_TIMEOUT_MS = 30_000


# ----------------------------------------------------------------------- colour maths


def rgb(colour: str) -> tuple[float, float, float]:
    """``#rrggbb`` / ``rgb(r, g, b)`` / ``rgba(r, g, b, a)`` / white / black as 0–255
    floats."""
    c = {"white": "#ffffff", "black": "#000000"}.get(colour.strip().lower(), colour.strip().lower())
    if c.startswith("#") and len(c) == 7:
        return tuple(float(int(c[i : i + 2], 16)) for i in (1, 3, 5))  # type: ignore[return-value]
    m = re.fullmatch(r"rgba?\(([^)]*)\)", c)
    assert m, f"not a colour: {colour!r}"
    parts = [float(p) for p in m.group(1).split(",")]
    return parts[0], parts[1], parts[2]


def luminance(colour: str | tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance."""
    vals = rgb(colour) if isinstance(colour, str) else colour

    def lin(v: float) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(v) for v in vals)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str | tuple[float, float, float], b: str | tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio (1–21)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def blend(colour: str, opacity: float, under: str) -> tuple[float, float, float]:
    """``colour`` at ``opacity`` over ``under``."""
    top, bottom = rgb(colour), rgb(under)
    return tuple(opacity * t + (1 - opacity) * u for t, u in zip(top, bottom, strict=True))  # type: ignore[return-value]


def lab(colour: str | tuple[float, float, float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    vals = rgb(colour) if isinstance(colour, str) else colour
    lin = [
        v / 255 / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in vals
    ]
    xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    ) @ np.array(lin)
    x, y, z = (xyz / np.array([0.95047, 1.0, 1.08883])).tolist()

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: str | tuple[float, float, float], b: str | tuple[float, float, float]) -> float:
    """CIE76 colour difference: how far apart two colours look (hue included)."""
    return float(np.linalg.norm(np.subtract(lab(a), lab(b))))


def pixels_near(png: bytes, colour: tuple[float, float, float], tol: float = 12.0) -> int:
    """How many pixels of a PNG screenshot are within ``tol`` (RGB distance) of ``colour``."""
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)
    return int((np.linalg.norm(img - np.asarray(colour), axis=-1) <= tol).sum())


def test_colour_maths_on_known_values() -> None:
    assert lab("#ffffff") == pytest.approx((100.0, 0.0, 0.0), abs=0.05)
    assert lab("#ff0000") == pytest.approx((53.24, 80.09, 67.20), abs=0.05)  # sRGB red
    assert delta_e("#000000", "#ffffff") == pytest.approx(100.0, abs=0.05)
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # WCAG's example
    assert rgb("rgba(33, 37, 41, 0.8)") == (33.0, 37.0, 41.0)
    assert blend("#ffffff", 0.5, "#000000") == (127.5, 127.5, 127.5)


# ----------------------------------------------------------------------- the palette


def test_css_vars_name_every_dark_colour() -> None:
    v = T.css_vars()
    assert v["--lrt-dark-paper"] == T.DARK["paper"]
    assert v["--lrt-dark-label-bg"] == T.DARK["label_bg"]
    assert len(v) == len(T.DARK) and all(k.startswith("--lrt-dark-") for k in v)
    assert T.css_vars({"a_b": "#000000"}) == {"--lrt-dark-a-b": "#000000"}


def test_dark_text_is_readable_on_the_figures() -> None:
    for ground in ("paper", "plot", "table_bg", "table_header", "table_odd", "table_hover"):
        assert contrast(T.DARK["text"], T.DARK[ground]) >= 4.5, ground
        assert contrast(T.DARK["muted"], T.DARK[ground]) >= 4.5, ground
    assert contrast(T.DARK["text"], T.DARK["table_selected"]) >= 4.5
    assert contrast(T.DARK["modebar"], T.DARK["paper"]) >= 3
    assert contrast(T.DARK["grid"], T.DARK["plot"]) > 1.2  # grid lines are seen, faintly


def test_curve_and_status_colours_stand_out_on_the_dark_plot() -> None:
    colours = {
        "train": T.TRAIN_COLOR,
        "val": T.VAL_COLOR,
        "lr": T.LR_COLOR,
        **T.KIND_COLORS,
        **T.STATUS_COLORS,
    }
    for name, colour in colours.items():
        assert contrast(colour, T.DARK["plot"]) >= 3, (name, colour)


def _kinds_figure():
    steps = np.arange(0, 1000)
    train = pd.DataFrame({"step": steps, "value": 2 * np.exp(-steps / 300) + 0.3})
    lr = pd.DataFrame({"step": steps, "value": np.full(steps.size, 1e-3)})
    findings = [
        Finding(
            kind=k,
            metric="val_loss",
            start_step=100 * i,
            end_step=100 * i + 80,
            severity=sev,
            confidence=0.9,
            evidence={},
            message=k,
        )
        for i, (k, sev) in enumerate(
            (k, s) for k in T.KIND_COLORS for s in ("critical", "warning", "info")
        )
    ]
    return F.run_figure(train, None, lr, findings=findings), findings


def test_shaded_findings_stand_out_as_much_on_dark_as_on_white() -> None:
    """A tinted range is told apart by its hue as much as by its lightness, so it is
    measured by colour difference (CIE76), not by the luminance ratio meant for text
    (by that ratio a 22 % red tint is 1.17:1 on the dark plot, 1.42:1 on white)."""
    fig, findings = _kinds_figure()
    shapes = [s for s in fig.layout.shapes if str(s.name).startswith("finding:")]
    assert len(shapes) == 2 * len(findings)  # one per panel
    for s in shapes:
        on_dark = delta_e(blend(s.fillcolor, s.opacity, T.DARK["plot"]), T.DARK["plot"])
        on_white = delta_e(blend(s.fillcolor, s.opacity, "#ffffff"), "#ffffff")
        assert on_dark >= on_white, (s.name, s.opacity, on_dark, on_white)
    # the label over a range: the kind's colour on the dark label box
    labels = [a for a in fig.layout.annotations if a.font.color in T.KIND_COLORS.values()]
    assert labels
    for a in labels:
        box = blend(T.DARK["label_bg"], 0.8, T.DARK["plot"])
        assert contrast(a.font.color, box) >= 3, a.text


def test_the_stylesheet_draws_with_the_palette_only() -> None:
    css = (ASSETS / "20_dark.css").read_text(encoding="utf-8")
    used = set(re.findall(r"var\((--lrt-dark-[a-z-]+)\)", css))
    assert used and used <= set(T.css_vars()), used - set(T.css_vars())
    rules = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    hexes = {h.lower() for h in re.findall(r"#[0-9a-fA-F]{3,8}\b", rules)}
    assert hexes <= {c.lower() for c in T.DARK.values()}, hexes
    # the colours of plotly_white the stylesheet replaces are that template's
    import plotly.io as pio

    tpl = pio.templates["plotly_white"].layout
    assert rgb(tpl.font.color) == (42.0, 63.0, 95.0) and "rgb(42, 63, 95)" in css
    assert rgb(tpl.xaxis.linecolor) == (235.0, 240.0, 248.0) and "rgb(235, 240, 248)" in css


# ----------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def app_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Any]]:
    root = tmp_path_factory.mktemp("runs")
    write_jsonl(root / "resnet_overfit.jsonl", _curves(300, overfit_at=1200, seed=1, lr=3e-3))
    write_jsonl(root / "vit_healthy.jsonl", _curves(300, overfit_at=None, seed=2, lr=1e-3))
    return [str(root)], {"since_hours": 0}


def _theme(page) -> str:
    return page.evaluate("() => document.documentElement.getAttribute('data-bs-theme')")


def _bg_luminance(page, selector: str) -> float:
    colour = page.evaluate(
        "s => getComputedStyle(document.querySelector(s)).backgroundColor", selector
    )
    return luminance(colour)


def _figure_colours(page) -> dict[str, str]:
    """The Run figure's computed paper background (its plot area shows the paper), a
    tick label's and the shaded overfitting range's colours."""
    return page.evaluate("""() => {
        const g = document.querySelector('#run-graph .js-plotly-plot');
        const css = (el, p) => getComputedStyle(el).getPropertyValue(p);
        const range = [...g.querySelectorAll('.shapelayer path')]
            .find(p => p.getAttribute('style').includes('fill: rgb(148, 103, 189)'));
        return {paper: css(g.querySelector('.svg-container > .main-svg'), 'background-color'),
                tick: css(g.querySelector('.ytick text'), 'fill'),
                range: range ? css(range, 'fill') : 'none',
                };
    }""")


def _open_run(page, name: str) -> None:
    open_page(page, "/?window=all")
    grid_row(page, name).wait_for()
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_url("**/run?id=*")
    page.wait_for_selector("#run-graph .main-svg")
    page.wait_for_function(
        "() => { const g = document.querySelector('#run-graph .js-plotly-plot');"
        " return g && g.data && g.data.some(t => t.meta === 'lr'); }"
    )


@pytest.mark.browser
def test_dark_preference_gives_a_dark_page_grid_and_figure(browser, app_url, request) -> None:
    with guarded_page(
        browser, app_url, request.node.name, PAGE_TIMEOUT_MS, color_scheme="dark"
    ) as page:
        open_page(page, "/?window=all")
        grid_row(page, "resnet_overfit").wait_for()
        assert _theme(page) == "dark"
        assert _bg_luminance(page, "body") < 0.05
        assert _bg_luminance(page, "#review-grid .ag-row") < 0.05
        cell = page.evaluate(
            "() => getComputedStyle(document.querySelector('#review-grid .ag-cell')).color"
        )
        assert luminance(cell) > 0.5
        assert page.locator("#theme-toggle").inner_text().strip().endswith("Light")
        page.screenshot(path=str(SHOTS / "dark_review.png"), full_page=True)

        _open_run(page, "resnet_overfit")
        c = _figure_colours(page)
        assert rgb(c["paper"]) == rgb(T.DARK["paper"]), c
        assert contrast(c["tick"], T.DARK["plot"]) >= 4.5, c
        # the curves and the shaded overfitting range keep their colours
        assert rgb(c["range"]) == rgb(T.KIND_COLORS["overfitting"]), c
        # as drawn (the curves are WebGL, out of reach of CSS): the curves and the range
        # tinted over the dark paper are on screen
        shot = page.locator("#run-graph .js-plotly-plot").screenshot()
        for colour in (T.TRAIN_COLOR, T.VAL_COLOR, T.LR_COLOR):
            assert pixels_near(shot, rgb(colour)) > 200, colour
        tint = blend(T.KIND_COLORS["overfitting"], 0.16, T.DARK["paper"])  # a warning's
        assert pixels_near(shot, tint) > 20_000, tint
        # the figure data itself is untouched: restyled, not rebuilt
        paper = page.evaluate(
            "() => document.querySelector('#run-graph .js-plotly-plot')._fullLayout.paper_bgcolor"
        )
        assert rgb(paper) == (255.0, 255.0, 255.0)
        page.screenshot(path=str(SHOTS / "dark_run.png"), full_page=True)


@pytest.mark.browser
def test_toggle_to_light_wins_over_a_dark_preference_and_survives_reload(
    browser, app_url, request
) -> None:
    with guarded_page(
        browser, app_url, request.node.name, PAGE_TIMEOUT_MS, color_scheme="dark"
    ) as page:
        _open_run(page, "vit_healthy")
        assert _theme(page) == "dark"
        page.locator("#theme-toggle").click()
        page.wait_for_function("() => document.documentElement.dataset.bsTheme === 'light'")
        assert _bg_luminance(page, "body") > 0.8
        assert rgb(_figure_colours(page)["paper"]) == (255.0, 255.0, 255.0)
        assert page.evaluate("() => localStorage.getItem('lrt-theme')") == '"light"'
        assert page.locator("#theme-toggle").inner_text().strip().endswith("Dark")

        page.reload()
        page.wait_for_selector("#run-graph .main-svg")
        assert _theme(page) == "light"
        assert _bg_luminance(page, "body") > 0.8
        assert rgb(_figure_colours(page)["paper"]) == (255.0, 255.0, 255.0)
        # the OS preference changing does not override the explicit choice
        page.emulate_media(color_scheme="light")
        page.emulate_media(color_scheme="dark")
        assert _theme(page) == "light"
        # and toggling back to dark is remembered too
        page.locator("#theme-toggle").click()
        page.wait_for_function("() => document.documentElement.dataset.bsTheme === 'dark'")
        page.reload()
        page.wait_for_selector("#run-graph .main-svg")
        assert _theme(page) == "dark"
        assert rgb(_figure_colours(page)["paper"]) == rgb(T.DARK["paper"])


@pytest.mark.browser
def test_light_preference_is_light_and_followed_until_a_choice(browser, app_url, request) -> None:
    with guarded_page(
        browser, app_url, request.node.name, PAGE_TIMEOUT_MS, color_scheme="light"
    ) as page:
        _open_run(page, "resnet_overfit")
        assert _theme(page) == "light"
        assert _bg_luminance(page, "body") > 0.8
        assert _bg_luminance(page, "#run-graph .svg-container > .main-svg") > 0.9
        assert page.evaluate("() => localStorage.getItem('lrt-theme')") is None
        assert page.locator("#theme-toggle").inner_text().strip().endswith("Dark")
        page.emulate_media(color_scheme="dark")  # no choice yet: the OS preference is followed
        page.wait_for_function("() => document.documentElement.dataset.bsTheme === 'dark'")
        assert _bg_luminance(page, "body") < 0.05
        assert page.locator("#theme-toggle").inner_text().strip().endswith("Light")
