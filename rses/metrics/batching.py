"""Batching helpers of the metric suite: the encode queue, chunking, LRU caches, digests and host read-back.

They know nothing about metrics: :class:`~rses.metrics.suite.MetricSuite` queues images with the dict and key
each result goes to, encodes them ``batch_size`` at a time, and reads every 0-d tensor back in one transfer.

Example:
    >>> chunks(list(range(5)), 2)
    [[0, 1], [2, 3], [4]]
    >>> queue, owner = Queue(), {}
    >>> queue.add(owner, "a", 1); queue.add(owner, "a", 2); [key for _, key, _ in queue.items]
    ['a']
"""

from __future__ import annotations

import hashlib
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import numpy as np


class Queue:
    """Images to encode, each with the dict and key its result goes to; a key already there or queued is skipped."""

    def __init__(self) -> None:
        self.items: list[tuple[dict[str, Any], str, Any]] = []
        self._seen: set[tuple[int, str]] = set()

    def add(self, owner: dict[str, Any], key: str, image: Any) -> None:
        """Queue ``image`` for ``owner[key]`` unless that key is already filled or queued."""
        if key not in owner and (id(owner), key) not in self._seen:
            self._seen.add((id(owner), key))
            self.items.append((owner, key, image))

    def groups(self, by: Callable[[str, Any], Any]) -> list[list[tuple[dict[str, Any], str, Any]]]:
        """The queued items grouped by ``by(key, image)`` (e.g. the shape, for stacking), in queue order."""
        out: dict[Any, list] = {}
        for item in self.items:
            out.setdefault(by(item[1], item[2]), []).append(item)
        return list(out.values())


def chunks(items: list, size: int) -> list[list]:
    """``items`` in consecutive chunks of ``size`` (at least 1); the last may be shorter."""
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]


def lru(store: OrderedDict, key: tuple[str, str], size: int) -> dict[str, Any]:
    """The entry for ``key`` in an LRU ``store`` of at most ``size`` entries (created empty if missing).

    Example:
        >>> store = OrderedDict(); _ = lru(store, ("a", ""), 1); _ = lru(store, ("b", ""), 1); list(store)
        [('b', '')]
    """
    if key in store:
        store.move_to_end(key)
    else:
        store[key] = {}
        while len(store) > max(1, size):
            store.popitem(last=False)
    return store[key]


def digest(image: np.ndarray) -> str:
    """A hash of an array's shape and bytes: equal digests, equal inputs."""
    h = hashlib.sha1(str(image.shape).encode(), usedforsecurity=False)
    h.update(np.ascontiguousarray(image).data)
    return h.hexdigest()


def arrays_key(sample_id: str, arrays: Iterable[np.ndarray | None]) -> tuple[str, str]:
    """A cache key: ``sample_id`` and a hash of the given arrays (``None`` entries skipped)."""
    h = hashlib.sha1(usedforsecurity=False)  # sha1: the fastest hashlib has here
    for array in arrays:
        if array is not None:
            h.update(np.ascontiguousarray(array).data)
    return sample_id, h.hexdigest()


def to_host(values: Iterable[MutableMapping[str, Any]]) -> None:
    """Replace every 0-d tensor or NumPy value in each dict of ``values`` by its float: one stacked read-back
    per device (torch is not imported: a tensor exists only where it already is).

    Example:
        >>> import torch
        >>> rows = [{"a": torch.tensor(0.5), "b": 1.0, "c": np.float64(2.0)}]; to_host(rows); rows
        [{'a': 0.5, 'b': 1.0, 'c': 2.0}]
    """
    torch = sys.modules.get("torch")
    pending: dict[Any, list[tuple[MutableMapping[str, Any], str]]] = {}
    for row in values:
        for name, value in row.items():
            if isinstance(value, (np.ndarray, np.generic)):
                row[name] = float(value)
            elif torch is not None and isinstance(value, torch.Tensor):
                pending.setdefault(value.device, []).append((row, name))
    for places in pending.values():
        host = torch.stack([row[name].to(torch.float64) for row, name in places]).tolist()
        for (row, name), value in zip(places, host, strict=True):
            row[name] = value
