"""The runner's overhead over bare editor + metric calls on the same samples (target: < 10 %).

Best of ``ROUNDS`` interleaved runs of each, warm (imports and model set-up done), over the whole built-in
``test`` split: the bare loop loads each sample, calls ``editor.edit`` and ``RSES.score``; the runner does the
same plus what makes it a runner (split validation, the on-disk edit cache, the journal, the progress bar,
run.json, the final tables with bootstrap CIs), with a fresh cache and run directory per round so every edit
is really computed. When the built-in split is not installed, 16 skimage photos at full size stand in.
Run: ``pytest benchmarks/test_runner_overhead.py --benchmark-enable -s``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from skimage import data as skdata

from rses.data.manifest import STYLES, load_split, sample_record, write_manifest
from rses.editing import EditRequest, get_editor
from rses.errors import RsesError
from rses.io import load_image, load_mask, save_image, save_mask
from rses.metrics import RSES
from rses.runner import RunConfig, run_eval, sample_seed

METHOD, METRICS, ROUNDS = "paste-style", "pixel", 5


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
    editor, scorer = get_editor(METHOD), RSES(metrics=METRICS)
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


def _runner(split_spec: str, root, index: int) -> None:
    import os

    os.environ["RSES_CACHE_DIR"] = str(root / f"cache{index}")
    result = run_eval(
        RunConfig(method=METHOD, split=split_spec, out=root / f"run{index}", metrics=METRICS),
        progress=True,
    )
    assert result.n_new == result.n_ok == len(load_split(split_spec))


def test_runner_overhead_under_10_percent(benchmark, split_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path))
    _bare(split_spec), _runner(split_spec, tmp_path, 99)  # warm-up: imports, first-call costs
    bare, runner = [], []
    for i in range(ROUNDS):
        start = time.perf_counter()
        _bare(split_spec)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        _runner(split_spec, tmp_path, i)
        runner.append(time.perf_counter() - start)
    overhead = min(runner) / min(bare) - 1.0
    benchmark.extra_info.update(bare_s=min(bare), runner_s=min(runner), overhead=overhead)
    benchmark.pedantic(_runner, args=(split_spec, tmp_path, 100), rounds=1, iterations=1)
    print(
        f"\nsplit={split_spec!r} samples={len(load_split(split_spec))} bare={min(bare):.3f}s "
        f"runner={min(runner):.3f}s overhead={100 * overhead:+.1f}%"
    )
    assert overhead < 0.10
