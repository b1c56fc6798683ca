"""Uploaded runs, bounded: in memory by bytes, on disk by bytes and by age.

Each upload's private folder (mode 0700, under one folder of the process) is kept, so
its runs can be read again. Three bounds, checked at every upload and look-up:

* **memory** (``memory_mb``, default :data:`MEMORY_MB`): the frames of uploaded runs held
  in memory. Over it, the oldest runs leave memory (and the Review list); their files
  stay, and opening such a run by its link reads it again from disk.
* **disk** (``disk_mb``, default :data:`DISK_MB`): the kept folders. Over it, the oldest
  uploads are deleted.
* **age** (``max_age_hours``, default :data:`MAX_AGE_HOURS`): older uploads are deleted.

A deleted upload is gone (its link says the run is not found); upload it again. The
folder is removed when the process exits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from analyzer.model import Run

MEMORY_MB = 512
DISK_MB = 2048
MAX_AGE_HOURS = 24.0


def frame_bytes(run: Run) -> int:
    """Memory a run's frame holds (deep: text columns counted)."""
    try:
        return int(run.frame.memory_usage(deep=True, index=True).sum())
    except Exception:  # noqa: BLE001 - an estimate is enough
        return 0


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@dataclass
class _Upload:
    filename: str
    uploaded_at: float
    folder: Path | None
    run: Run | None  # None: on disk only
    nbytes: int = 0


class UploadStore:
    """Uploaded runs by id, newest last; thread-safe."""

    def __init__(
        self,
        memory_mb: float = MEMORY_MB,
        disk_mb: float = DISK_MB,
        max_age_hours: float = MAX_AGE_HOURS,
        reread: Callable[[Path, str], list[Run]] | None = None,
    ) -> None:
        for name, value in (
            ("upload memory", memory_mb),
            ("upload disk", disk_mb),
            ("upload age", max_age_hours),
        ):
            if not 0 < value < float("inf"):
                raise ValueError(f"{name} bound {value!r}: must be a number above 0")
        self.memory_limit = int(memory_mb * 2**20)
        self.disk_limit = int(disk_mb * 2**20)
        self.max_age = float(max_age_hours) * 3600.0
        self._reread = reread
        self._items: OrderedDict[str, _Upload] = OrderedDict()
        self._folders: dict[Path, int] = {}  # kept folder → bytes on disk
        self._root: Path | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ folders

    def folder(self) -> Path:
        """The process's private folder for kept uploads (made on first use)."""
        with self._lock:
            if self._root is None or not self._root.is_dir():
                self._root = Path(tempfile.mkdtemp(prefix="lrtempo-uploads-"))
                atexit.register(shutil.rmtree, self._root, True)  # gone when the process ends
            return self._root

    def close(self) -> None:
        """Delete every kept upload."""
        with self._lock:
            self._items.clear()
            self._folders.clear()
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None

    # ------------------------------------------------------------------ runs

    def add(self, run: Run, filename: str, folder: Path | None = None) -> None:
        with self._lock:
            self._items[run.meta.id] = _Upload(filename, time.time(), folder, run, frame_bytes(run))
            self._items.move_to_end(run.meta.id)
            if folder is not None and folder not in self._folders:
                self._folders[folder] = folder_bytes(folder)
            self._evict(keep=run.meta.id)  # the run just uploaded stays in memory

    def __contains__(self, run_id: object) -> bool:
        with self._lock:
            self._evict()
            return run_id in self._items

    def in_memory(self) -> list[Run]:
        """The uploaded runs held in memory, newest first (the Review list)."""
        with self._lock:
            self._evict()
            return [u.run for u in reversed(self._items.values()) if u.run is not None]

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._items)

    def get(self, run_id: str) -> Run | None:
        """The run, read again from its kept folder when it had left memory."""
        with self._lock:
            self._evict()
            item = self._items.get(run_id)
            if item is None:
                return None
            if item.run is not None:
                return item.run
            folder, filename = item.folder, item.filename
        if folder is None or self._reread is None:
            return None
        runs = self._reread(folder, filename)  # outside the lock: a read may take a while
        with self._lock:
            item = self._items.get(run_id)
            if item is None:
                return None
            for run in runs:
                other = self._items.get(run.meta.id)
                if other is not None and other.run is None and other.folder == folder:
                    other.run, other.nbytes = run, frame_bytes(run)
            self._items.move_to_end(run_id)  # just asked for: the last to leave memory
            found = item.run
            self._evict(keep=run_id)
            return found

    def memory_bytes(self) -> int:
        with self._lock:
            return sum(u.nbytes for u in self._items.values() if u.run is not None)

    def disk_bytes(self) -> int:
        with self._lock:
            return sum(self._folders.values())

    # ------------------------------------------------------------------ eviction

    def _evict(self, keep: str | None = None) -> None:
        """Apply the three bounds (oldest first; the newest run, or ``keep``, stays in
        memory even alone over the memory bound); call with the lock held."""
        now = time.time()
        for rid, item in list(self._items.items()):
            if now - item.uploaded_at > self.max_age:
                self._delete(rid)
        while sum(self._folders.values()) > self.disk_limit and self._items:
            oldest = next(iter(self._items))
            if oldest == keep and len(self._items) == 1:
                break
            self._delete(oldest)
        if keep is None and self._items:
            keep = next(reversed(self._items))
        used = sum(u.nbytes for u in self._items.values() if u.run is not None)
        for rid, item in self._items.items():
            if used <= self.memory_limit:
                break
            if item.run is not None and rid != keep:
                used -= item.nbytes
                item.run = None  # its files stay: :meth:`get` reads it again
        for rid in [r for r, u in self._items.items() if u.run is None and u.folder is None]:
            del self._items[rid]  # left memory with nothing on disk to read again

    def _delete(self, run_id: str) -> None:
        """Forget an upload; its folder goes when no run of it is left."""
        item = self._items.pop(run_id, None)
        if item is None or item.folder is None:
            return
        if not any(u.folder == item.folder for u in self._items.values()):
            self._folders.pop(item.folder, None)
            shutil.rmtree(item.folder, ignore_errors=True)
