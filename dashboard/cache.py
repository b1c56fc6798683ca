"""One bounded, thread-safe LRU mapping: the dashboard's caches of analyses, rows, series
and MLflow reads (see :class:`dashboard.store.DataStore`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``max_entries`` entries and, with ``weight``, at most ``max_weight`` in total
    (an entry heavier than that alone is not kept); the least recently used go first."""

    def __init__(
        self,
        max_entries: int,
        *,
        max_weight: float | None = None,
        weight: Callable[[V], float] | None = None,
    ) -> None:
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._weight = weight
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The entry (now the most recently used), else ``None``."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> list[tuple[K, V]]:
        """Keep ``value`` under ``key``; returns the entries evicted to make room."""
        with self._lock:
            if self._too_heavy(value):
                return []
            self._data[key] = value
            self._data.move_to_end(key)
            evicted = []
            while len(self._data) > self.max_entries or self._over_weight():
                evicted.append(self._data.popitem(last=False))
            return evicted

    def _too_heavy(self, value: V) -> bool:
        return (
            self._weight is not None
            and self.max_weight is not None
            and self._weight(value) > self.max_weight
        )

    def _over_weight(self) -> bool:
        if self._weight is None or self.max_weight is None:
            return False
        return sum(self._weight(v) for v in self._data.values()) > self.max_weight

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def values(self) -> list[V]:
        """A snapshot of the values, least recently used first."""
        with self._lock:
            return list(self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._data))
