"""Read ahead: run a loading function on a background thread, a few items ahead of the consumer, in order.

The runner decodes each sample's images (PNG/JPEG decoding releases the GIL) while the previous ones are
edited and scored, so a weight-free run spends its time scoring rather than waiting on files. Results come
back in input order; an exception raised while loading an item is returned *for that item* (not raised on
the background thread, not attributed to another item), so the consumer can record it as that sample's error.

Example:
    >>> [value for _, value in prefetch([1, 2, 3], lambda x: 10 * x)]
    [10, 20, 30]
    >>> item, value = next(iter(prefetch(["x"], int)))
    >>> item, type(value).__name__
    ('x', 'ValueError')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Items loaded ahead of the consumer: enough to hide a decode behind a pixel-metric score, few enough that
#: decoded 1024-px images (a few MB each) do not pile up.
DEPTH = 4


def _call(load: Callable[[T], Any], item: T) -> Any:
    try:
        return load(item)
    except Exception as err:  # noqa: BLE001  (returned to the consumer, which attributes it to this item)
        return err


def prefetch(items: Iterable[T], load: Callable[[T], Any], depth: int = DEPTH) -> Iterator[tuple[T, Any]]:
    """Yield ``(item, load(item))`` in order, loading up to ``depth`` items ahead on one background thread.

    Args:
        items: what to load, in the order it is consumed.
        load: called once per item on the background thread.
        depth: how many items may be loaded ahead (>= 1).

    Returns:
        An iterator of pairs; where ``load`` raised an ``Exception``, the pair holds that exception instead of
        a value. Stopping early (``break``, an error in the consumer) cancels what was not started.
    """
    source = iter(items)
    pending: list[tuple[T, Future]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rses-prefetch") as pool:
        try:
            for item in source:
                pending.append((item, pool.submit(_call, load, item)))
                if len(pending) > depth:
                    first, future = pending.pop(0)
                    yield first, future.result()
            for item, future in pending:
                yield item, future.result()
        finally:
            for _, future in pending:
                future.cancel()
