"""LR Tempo: training-run health analysis (readers → canonical table → detectors → suggestions).

A pure library: it never prints. The command line (:mod:`lrtempo.cli`; its analyze and
review commands are :mod:`analyzer.cli`) and the dashboard are thin layers on it.
"""

from .errors import LRTempoError, ReaderError, SourceError
from .findings import Finding, Suggestion, status_of, worst
from .lrtext import LRChange, lr_change
from .model import COLUMNS, ReadResult, Run, RunMeta, empty_frame
from .readers import discover, read_file, read_sources
from .roles import RoleMap, resolve_roles, role_series

__version__ = "0.1.0"

__all__ = [
    "COLUMNS",
    "Finding",
    "LRChange",
    "LRTempoError",
    "ReadResult",
    "ReaderError",
    "RoleMap",
    "Run",
    "RunMeta",
    "SourceError",
    "Suggestion",
    "__version__",
    "discover",
    "empty_frame",
    "lr_change",
    "read_file",
    "read_sources",
    "resolve_roles",
    "role_series",
    "status_of",
    "worst",
]
