"""An editor that writes into the request's source (or mask) array must not change what its edit is scored
against: the metrics compare the edit with the source and mask as they are on disk."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from harness_kit import make_split

from rses.editing import EDITORS, Editor
from rses.io import load_image, load_mask
from rses.runner import RunConfig, run_eval


class InPlaceEditor(Editor):
    """Inverts the source in place and returns it; clears the mask it was given (also in place)."""

    name = "test-in-place"
    sees_mask = True

    def edit(self, requests):
        for request in requests:
            np.subtract(255, request.image, out=request.image)
            request.mask[:] = False
        return [request.image for request in requests]


if InPlaceEditor.name not in EDITORS:
    EDITORS.register(InPlaceEditor.name, InPlaceEditor)


def test_an_editor_writing_into_its_inputs_is_scored_against_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    split = make_split(tmp_path / "split", ["a", "b", "c"])
    out = tmp_path / "run"
    run_eval(RunConfig(method=InPlaceEditor.name, split=str(split), out=out, metrics=["mse_bg"], batch_size=2),
             progress=False)  # fmt: skip
    rows = pd.read_parquet(out / "samples.parquet").set_index("sample_id")
    for line in split.read_text().splitlines():
        record = json.loads(line)
        source = load_image(split.parent / record["source"]).astype(np.float64) / 255
        background = ~load_mask(split.parent / record["mask"])
        expected = (((1.0 - source) - source) ** 2)[background].mean()  # the edit is 255 - source, exactly
        row = rows.loc[record["id"]]
        assert row["status"] == "ok"
        # float32 metric arithmetic on [0, 1] values: a relative 1e-5 covers its rounding, not a 0.0 result
        assert row["mse_bg"] == pytest.approx(expected, rel=1e-5)
        assert row["mask_area"] == pytest.approx(1 - background.mean())
