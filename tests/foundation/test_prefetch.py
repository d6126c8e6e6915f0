"""``rses.prefetch``: loading ahead on a background thread, in order, errors attributed to their item."""

from __future__ import annotations

import threading

from rses.prefetch import prefetch


def test_results_come_back_in_input_order_whatever_the_load_time():
    import time

    delays = [0.03, 0.0, 0.02, 0.0, 0.01]
    out = list(prefetch(range(5), lambda i: time.sleep(delays[i]) or i * i, depth=3))
    assert out == [(i, i * i) for i in range(5)]


def test_the_next_item_is_loaded_while_the_consumer_works_on_this_one():
    second_loaded = threading.Event()

    def load(i):
        if i == 1:
            second_loaded.set()
        return i

    for item, _ in prefetch([0, 1, 2], load, depth=1):
        if item == 0:
            # the consumer has not asked for item 1 yet; the background thread loads it anyway
            assert second_loaded.wait(timeout=5)
            break


def test_an_error_is_returned_for_its_own_item_and_the_others_still_load():
    def load(name):
        if name == "bad":
            raise ValueError(f"cannot decode {name}")
        return name.upper()

    out = dict(prefetch(["a", "bad", "c"], load))
    assert out["a"] == "A" and out["c"] == "C"
    assert isinstance(out["bad"], ValueError) and str(out["bad"]) == "cannot decode bad"


def test_stopping_early_loads_at_most_depth_items_beyond_what_was_consumed():
    loaded = []

    def load(i):
        loaded.append(i)
        return i

    for item, _ in prefetch(range(100), load, depth=2):
        if item == 4:
            break
    assert set(loaded) >= set(range(5))
    assert max(loaded) <= 4 + 2 + 1  # the consumed item, the window, and one submitted before the break
