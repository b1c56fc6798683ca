"""Dash's HTTP protocol from the client side: what a browser sends to run a callback.

Used by the tests (load, security, callback fuzz) and the review benchmark to drive the real callbacks without a
browser (the renderer builds the same bodies from ``_dash-dependencies``).
"""

from __future__ import annotations

import json
import re
from typing import Any


def dash_config(html: str) -> dict[str, Any]:
    """The ``_dash-config`` JSON a Dash page carries (its ``end_id`` goes on each callback)."""
    m = re.search(
        r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.DOTALL
    )
    return json.loads(m.group(1)) if m else {}


def _prop(spec: str) -> dict[str, str]:
    cid, _, prop = spec.rpartition(".")
    return {"id": cid, "property": prop}


def callback_output(deps: list[dict[str, Any]], first: str) -> str:
    """The ``output`` key of the callback whose (first) output is ``first`` (``id.prop``)."""
    for d in deps:
        if d["output"] == first or d["output"].startswith(f"..{first}..."):
            return d["output"]
    raise ValueError(f"no callback for {first!r} in _dash-dependencies")


def callback_body(
    deps: list[dict[str, Any]], output: str, values: dict[str, Any]
) -> dict[str, Any]:
    """The ``_dash-update-component`` body for the callback of ``output``, as the renderer
    builds it from ``_dash-dependencies``; ``values`` maps ``"id.property"`` to a value
    (props without one are sent without a value, like a browser's unset props)."""
    dep = next((d for d in deps if d["output"] == output), None)
    if dep is None:
        raise ValueError(f"no callback for {output!r} in _dash-dependencies")

    def item(x: dict[str, Any]) -> dict[str, Any]:
        key = f"{x['id']}.{x['property']}"
        return {
            "id": x["id"],
            "property": x["property"],
            **({"value": values[key]} if key in values else {}),
        }

    multi = output.startswith("..")
    outputs = [_prop(o) for o in output[2:-2].split("...")] if multi else _prop(output)
    return {
        "output": output,
        "outputs": outputs,
        "inputs": [item(x) for x in dep["inputs"]],
        "state": [item(x) for x in dep.get("state", [])],
        "changedPropIds": [],
    }
