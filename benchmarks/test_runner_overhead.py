"""The runner's overhead over bare editor + metric calls on the same samples (target: < 10 %).

Both run warm (imports and model set-up done) over the whole built-in ``test`` split. The bare loop loads
the split and each sample, calls ``editor.edit`` and ``MetricSuite.score``; the runner does the same plus what makes
it a runner (the on-disk edit cache, the journal, the progress bar, run.json, the final tables with bootstrap
CIs), with a fresh cache and run directory per round so every edit is really computed. The metrics are the
cheapest there are (the ``pixel`` group) and the editor the cheapest one that edits (``paste-style``; only
``identity``, which returns its input, costs less): ~17 ms a sample, so the runner's own costs weigh most
here. The overhead is the median, over ``ROUNDS`` back-to-back pairs in ABBA order, of runner time / bare
time: pairing cancels the drift of a shared machine's speed, which moves both sides of a pair alike but the
best-of-N of each side apart. When the built-in split is not installed, 16 skimage photos at full size stand
in.
Run: ``pytest benchmarks/test_runner_overhead.py --benchmark-enable -s``.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pytest
from skimage import data as skdata

from rses.data.manifest import STYLES, load_split, sample_record, write_manifest
from rses.editing import EditRequest, get_editor
from rses.errors import RsesError
from rses.io import load_image, load_mask, save_image, save_mask
from rses.metrics import MetricSuite
from rses.runner import RunConfig, run_eval, sample_seed

METHOD, METRICS, ROUNDS = "paste-style", "pixel", 21


def _photo_split(root) -> str:
    records = []
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        image = getattr(skdata, name)()
        h, w = image.shape[:2]
        mask = np.zeros((h, w), bool)
        mask[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
        save_image(root / f"{name}.png", image)
        save_mask(root / f"{name}-mask.png", mask)
        records += [
            sample_record(
                root, f"{name}-{style}", root / f"{name}.png", root / f"{name}-mask.png", "thing", style
            )
            for style in STYLES
        ]
    return str(write_manifest(root / "photos.jsonl", records))


@pytest.fixture(scope="module")
def split_spec(tmp_path_factory) -> str:
    try:
        load_split("test")
        return "test"
    except RsesError:
        return _photo_split(tmp_path_factory.mktemp("photos"))


def _bare(split_spec: str) -> None:
    editor, scorer = get_editor(METHOD), MetricSuite(metrics=METRICS)
    for sample in load_split(split_spec).samples:
        source, mask = load_image(sample.source), load_mask(sample.mask)
        target = load_image(sample.target) if sample.target else None
        request = EditRequest(
            sample.id,
            source,
            mask,
            sample.prompt,
            sample.style,
            sample.object_name,
            seed=sample_seed(0, sample.id),
        )
        edited = editor.edit([request])[0]
        scorer.score(sample.id, source, edited, mask, sample.style, target=target)


def _runner(split_spec: str, root, index: int) -> int:
    os.environ["RSES_CACHE_DIR"] = str(root / f"cache{index}")
    result = run_eval(
        RunConfig(method=METHOD, split=split_spec, out=root / f"run{index}", metrics=METRICS),
        progress=True,
    )
    assert result.n_new == result.n_ok
    return result.n_ok


def _timed(run) -> float:
    os.sync()  # earlier rounds' dirty pages are not written back inside this timing
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def test_runner_overhead_under_10_percent(benchmark, split_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path))
    _bare(split_spec)  # warm-up: imports, first-call costs
    assert _runner(split_spec, tmp_path, 99) == len(load_split(split_spec))
    bare, runner = [], []
    for i in range(ROUNDS):  # pairs in ABBA order, so neither side always runs first
        for side in ("bare", "runner") if i % 2 == 0 else ("runner", "bare"):
            if side == "bare":
                bare.append(_timed(lambda: _bare(split_spec)))
            else:
                runner.append(_timed(lambda i=i: _runner(split_spec, tmp_path, i)))
    overhead = statistics.median(r / b for r, b in zip(runner, bare, strict=True)) - 1.0
    benchmark.extra_info.update(bare_s=min(bare), runner_s=min(runner), overhead=overhead)
    benchmark.pedantic(_runner, args=(split_spec, tmp_path, 100), rounds=1, iterations=1)
    print(
        f"\nsplit={split_spec!r} samples={len(load_split(split_spec))} overhead={100 * overhead:+.1f}% "
        f"(median of {ROUNDS} paired rounds; best of each: bare={min(bare):.3f}s runner={min(runner):.3f}s, "
        f"{100 * (min(runner) / min(bare) - 1):+.1f}%)"
    )
    assert overhead < 0.10
