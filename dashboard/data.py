"""The names that modules not yet moved to the split data layer import from here.

The data layer is :mod:`dashboard.store` (the store and its caches),
:mod:`dashboard.sources` (reads), :mod:`dashboard.health` (unusable MLflow stores),
:mod:`dashboard.review_rows` and :mod:`dashboard.tag_filter` (the Review rows),
:mod:`dashboard.windows` (time windows) and :mod:`dashboard.controls` (browser input).
New code imports from those; this facade goes once ``pages/settings.py``,
``pages/upload.py``, ``pages/sweeps.py`` and ``sweep_views.py`` do too.
"""

from __future__ import annotations

from .controls import str_list
from .health import mlflow_problems
from .store import ANALYSIS_CACHE_SIZE, current_store
from .windows import WINDOWS

__all__ = ["ANALYSIS_CACHE_SIZE", "WINDOWS", "current_store", "mlflow_problems", "str_list"]
