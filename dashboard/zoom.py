"""The Run graph's zoom: Plotly relayout events and ``xr=lo,hi`` links to an x range kept
per view (x mode and log y), so a zoomed view is re-sampled and can be shared."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def view_rev(x_mode: str, log_y: bool) -> str:
    """The view a range belongs to (also the Run figure's ``uirevision``)."""
    return f"{x_mode}-{log_y}"


def relayout_x_range(
    relayout: Mapping[str, object] | None,
) -> tuple[bool, tuple[float, float] | None]:
    """``(changed, x_range)`` from a Plotly ``relayoutData`` event.

    A zoom or pan of either x axis gives ``(True, (x0, x1))``; a reset (autorange,
    double click) ``(True, None)``; anything else (a y-only zoom, legend clicks)
    ``(False, None)``: the current range stands.
    """
    if not relayout:
        return False, None
    for ax in ("xaxis", "xaxis2"):
        if relayout.get(f"{ax}.autorange"):
            return True, None
        pair = relayout.get(f"{ax}.range")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            pair = (relayout.get(f"{ax}.range[0]"), relayout.get(f"{ax}.range[1]"))
        try:
            lo, hi = float(pair[0]), float(pair[1])  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(lo) and math.isfinite(hi) and lo != hi:
            return True, (min(lo, hi), max(lo, hi))
    return False, None


def zoom_state(
    relayout: dict[str, Any] | None, current: dict[str, Any] | None, x_mode: str, log_y: bool
) -> dict[str, Any] | None:
    """The Run graph's zoom after a relayout event: ``{"rev", "range"}`` or ``None`` (no change).

    ``rev`` names the view the range belongs to (x mode and log y, the figure's
    ``uirevision``), so a range in steps is never applied to a wall-time axis.
    """
    changed, rng = relayout_x_range(relayout)
    if not changed:
        return None
    state = {"rev": view_rev(x_mode, log_y), "range": list(rng) if rng else None}
    return None if current == state else state


def zoom_from_url(text: str | None, x_mode: str, log_y: bool) -> dict[str, Any] | None:
    """The zoom state for a link's ``xr=lo,hi`` (``None`` when absent or not two numbers)."""
    try:
        lo, hi = (float(v) for v in (text or "").split(","))
    except ValueError:
        return None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
        return None
    return {"rev": view_rev(x_mode, log_y), "range": [min(lo, hi), max(lo, hi)]}


def zoom_range(zoom: Any, x_mode: str, log_y: bool) -> tuple[float, float] | None:
    """The x range of a zoom state when it belongs to this view, else ``None``."""
    if isinstance(zoom, dict) and zoom.get("rev") == view_rev(x_mode, log_y) and zoom.get("range"):
        return float(zoom["range"][0]), float(zoom["range"][1])
    return None
