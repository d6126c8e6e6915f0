"""Pixel scoring beside a CPU-bound competitor: the slowdown stays bounded (target: < 1.5x on >= 2 cores).

A shared machine (a CI runner, a laptop, a cluster node) has other busy processes. PyTorch starts one
intra-op thread per core, and its threads wait on each other at every small operation, so one busy
neighbour on a 2-core machine made the README's pixel evaluation 13x slower (34-36 s against 2.7 s with one
thread). rses runs weight-free work on one thread (:mod:`rses.threads`). This benchmark scores the built-in
``test`` split with the ``pixel`` metrics (edits: the source brightened by one level, so nothing is skipped as
identical) alone and beside a competitor process that spins on one core, in ``ROUNDS`` back-to-back pairs in
ABBA order, and asserts the median of the paired ratios (beside / alone) with rses's thread choice. The same
ratio with PyTorch's default threads is printed for comparison, not asserted. Since the pixel metrics run in
NumPy and OpenCV on the CPU (no torch threads at all), both stay near 1x: 1.05x with 1 thread and 1.03x with 2
(2026-12-07, 2-core Intel Xeon VM), where the torch path measured 1.96x and 11.6x.
Run: ``pytest benchmarks/test_threads_contention.py --benchmark-enable -s``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest

from rses.data.manifest import load_split
from rses.io import load_image, load_mask
from rses.metrics import MetricSuite
from rses.threads import apply_threads, choose_threads, default_threads

ROUNDS, BOUND, N_SAMPLES = 7, 1.5, 24


@contextmanager
def _competitor():
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)  # let it take its core
    try:
        yield
    finally:
        spin.kill()
        spin.wait()


def _inputs():
    items = []
    for sample in load_split("test").samples[:N_SAMPLES]:
        source = load_image(sample.source)
        edited = np.minimum(source.astype(np.int16) + 1, 255).astype(np.uint8)
        items.append(dict(sample_id=sample.id, source=source, edited=edited, mask=load_mask(sample.mask)))
    return items


def _timed(scorer, items, threads: int) -> float:
    apply_threads(threads)
    start = time.perf_counter()
    for item in items:
        scorer.score(item["sample_id"], item["source"], item["edited"], item["mask"], "pixel-art")
    return time.perf_counter() - start


def _paired_ratio(scorer, items, threads: int) -> float:
    ratios = []
    for i in range(ROUNDS):
        order = ("alone", "beside") if i % 2 == 0 else ("beside", "alone")
        times = {}
        for side in order:
            if side == "alone":
                times[side] = _timed(scorer, items, threads)
            else:
                with _competitor():
                    times[side] = _timed(scorer, items, threads)
        ratios.append(times["beside"] / times["alone"])
    return statistics.median(ratios)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs a second core for the competitor to share")
def test_pixel_scoring_slowdown_beside_a_busy_process_is_bounded(benchmark):
    items, scorer = _inputs(), MetricSuite(metrics="pixel")
    chosen, default = choose_threads(None, learned=False), default_threads()
    _timed(scorer, items, chosen)  # warm-up
    ratio = _paired_ratio(scorer, items, chosen)
    default_ratio = _paired_ratio(scorer, items, default)
    apply_threads(default)
    benchmark.extra_info.update(
        threads=chosen, ratio=ratio, default_threads=default, default_ratio=default_ratio
    )
    benchmark.pedantic(_timed, args=(scorer, items, chosen), rounds=1, iterations=1)
    print(
        f"\n{len(items)} samples, pixel metrics; median of {ROUNDS} paired rounds, beside / alone: "
        f"{chosen} thread(s) (rses) {ratio:.2f}x, {default} thread(s) (PyTorch default) {default_ratio:.2f}x"
    )
    assert ratio < BOUND
