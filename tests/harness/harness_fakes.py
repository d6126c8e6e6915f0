"""Fake editors for the harness tests, registered in ``rses.editing.EDITORS`` on import.

The subprocess tests run ``tests/harness/rses_with_fakes.py`` (the ``rses`` CLI after importing this
module), so the fakes need no entry point and ``rses`` itself never imports test code.

* ``fake-shift``: adds ``seed % 7 + 1`` to every pixel; logs one line per edited sample to ``$FAKE_EDIT_LOG``
  (to count editor calls across processes); sleeps ``$FAKE_EDIT_SLEEP`` s per sample (to be killable).
* ``fake-flaky``: by sample id: ``*raise*`` raises, ``*nan*`` returns a float NaN image, ``*shape*`` a gray
  ``(H, W)`` image, ``*small*`` a half-size image (resized by the runner), anything else the source unchanged.
* ``fake-weights``: needs weights from a hub id that is not on disk.
"""

from __future__ import annotations

import os
import time

import numpy as np

from rses.editing import EDITORS, Editor
from rses.weights import WeightSpec


class ShiftEditor(Editor):
    name = "fake-shift"

    def edit(self, requests):
        outputs = []
        for request in requests:
            if os.environ.get("FAKE_EDIT_SLEEP"):
                time.sleep(float(os.environ["FAKE_EDIT_SLEEP"]))
            if os.environ.get("FAKE_EDIT_LOG"):
                with open(os.environ["FAKE_EDIT_LOG"], "a") as fh:
                    fh.write(f"{request.sample_id}\n")
            outputs.append(np.clip(request.image.astype(int) + request.seed % 7 + 1, 0, 255).astype(np.uint8))
        return outputs


class FlakyEditor(Editor):
    name = "fake-flaky"

    def edit(self, requests):
        outputs = []
        for request in requests:
            image, sid = request.image, request.sample_id
            if "raise" in sid:
                raise RuntimeError(f"fake failure on {sid}")
            if "nan" in sid:
                image = np.full(image.shape, np.nan)
            elif "shape" in sid:
                image = image[..., 0]
            elif "small" in sid:
                image = image[::2, ::2]
            outputs.append(image)
        return outputs


class MissingWeightsEditor(Editor):
    name = "fake-weights"

    def weights(self):
        return [
            WeightSpec(
                name="Fake diffusion model",
                default="hf-hub:rses-tests/no-such-model",
                env_var="RSES_FAKE_WEIGHTS",
                flag="--fake-weights",
            )
        ]

    def edit(self, requests):
        raise AssertionError("edit must not be reached when weights are missing")


for _cls in (ShiftEditor, FlakyEditor, MissingWeightsEditor):
    if _cls.name not in EDITORS:
        EDITORS.register(_cls.name, _cls)
