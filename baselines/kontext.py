"""``kontext``: Flux.1-Kontext [dev] (``FluxKontextPipeline``), with the region prompt as the instruction.

Defaults follow the paper's inference code: 1024 x 1024, 28 steps, guidance 3.5, bfloat16 on a GPU.
Weights: ``black-forest-labs/FLUX.1-Kontext-dev`` (a gated repo), or ``--weights`` / ``RSES_KONTEXT_WEIGHTS``.

Example:
    >>> import numpy as np
    >>> from rses.editing import EditRequest, get_editor
    >>> editor = get_editor("kontext", smoke=True)  # tiny random weights: the output is noise
    >>> req = EditRequest("s0", np.zeros((48, 64, 3), np.uint8), None, "make the cat in line-art style",
    ...                   "line-art", "cat")
    >>> editor.edit([req])[0].shape
    (48, 64, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from baselines.diffusion import DiffusionConfig, DiffusionEditor
from rses.editing import EditRequest


@dataclass(frozen=True)
class KontextConfig(DiffusionConfig):
    """:class:`~baselines.diffusion.DiffusionConfig` with Kontext's defaults.

    Args:
        max_sequence_length: T5 prompt tokens (Kontext's default 512).
    """

    resolution: int = 1024
    num_inference_steps: int = 28
    guidance_scale: float = 3.5
    max_sequence_length: int = 512


class KontextEditor(DiffusionEditor):
    """Flux.1-Kontext: edits the whole image from the instruction; it does not see the mask."""

    name = "kontext"
    Config = KontextConfig
    pipeline_class = "FluxKontextPipeline"
    model_name = "FLUX.1-Kontext-dev"
    default_weights = "black-forest-labs/FLUX.1-Kontext-dev"
    weights_env = "RSES_KONTEXT_WEIGHTS"
    tiny_pipeline = "tiny_kontext_pipeline"
    preferred_dtype = "bfloat16"

    def pipeline_kwargs(
        self, requests: Sequence[EditRequest], images: list[Image.Image], size: tuple[int, int]
    ) -> dict[str, Any]:
        """This pipeline's arguments for one same-size group (``images`` resized to ``size = (height, width)``)."""
        height, width = size
        # the working size is chosen here; stop Kontext from snapping to its own preferred resolutions
        return {
            "image": images,
            "height": height,
            "width": width,
            "max_area": height * width,
            "_auto_resize": False,
            "max_sequence_length": self.config.max_sequence_length,
        }
