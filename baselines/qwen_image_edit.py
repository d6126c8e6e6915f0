"""``qwen-image-edit``: Qwen-Image-Edit (``QwenImageEditPipeline``), the paper's strongest style matcher.

Defaults follow the diffusers pipeline and model card: 50 steps, true classifier-free guidance 4.0 with the
negative prompt ``" "``, bfloat16 on a GPU. Weights: ``Qwen/Qwen-Image-Edit``, or ``--weights`` /
``RSES_QWEN_IMAGE_EDIT_WEIGHTS``. ``--smoke`` runs the tiny twin of :mod:`rses.testing.qwen_image` (about 1024^2
pixels per call whatever the input: ~9 s of CPU per call).

Geometry: ``QwenImageEditPipeline`` always resizes its input to ``calculate_dimensions(1024 * 1024, w / h)``
(about 1024^2 pixels, sides multiples of 32), whatever output size is asked. Asking for another size (the
base editor's ``resolution``-based 16-multiples) gives an output whose grid differs from the input's, so
background pixels move and background metrics are penalised. :func:`qwen_working_size` is the size the
pipeline resizes the input to, and the editor requests exactly that output size.

Example:
    >>> qwen_working_size(480, 640)  # (height, width); the pipeline's input size for a 640 x 480 photo
    (896, 1184)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from baselines.diffusion import DiffusionConfig, DiffusionEditor
from rses.editing import EditRequest

#: The pixel area ``QwenImageEditPipeline`` resizes every input image to (hard-coded in the pipeline).
PIPELINE_AREA = 1024 * 1024


def _calculate_dimensions(area: int, ratio: float) -> tuple[int, int]:
    """``(width, height)`` as ``diffusers...pipeline_qwenimage_edit.calculate_dimensions`` (sides x 32)."""
    width = math.sqrt(area * ratio)
    return round(width / 32) * 32, round(width / ratio / 32) * 32


def qwen_working_size(height: int, width: int) -> tuple[int, int]:
    """``(height, width)`` the pipeline resizes an input of ``height x width`` to, as a fixed point.

    The editor resizes the input to this size first; the pipeline then computes its size from that image's
    ratio, which must give the same size again (iterated until it does; sizes near 1024^2 settle at once).
    """
    w, h = _calculate_dimensions(PIPELINE_AREA, width / height)
    for _ in range(8):
        w2, h2 = _calculate_dimensions(PIPELINE_AREA, w / h)
        if (w2, h2) == (w, h):
            break
        w, h = w2, h2
    return h, w


@dataclass(frozen=True)
class QwenImageEditConfig(DiffusionConfig):
    """:class:`~baselines.diffusion.DiffusionConfig` with Qwen-Image-Edit's defaults.

    Args:
        resolution: not used for the size: the pipeline works at about 1024^2 pixels (see the module).
        guidance_scale: here the *true* classifier-free guidance scale (``true_cfg_scale``).
        negative_prompt: the unconditional prompt of true CFG (it must be given for CFG to run).
    """

    resolution: int = 1024
    num_inference_steps: int = 50
    guidance_scale: float = 4.0
    negative_prompt: str = " "


class QwenImageEditEditor(DiffusionEditor):
    """Qwen-Image-Edit: edits the whole image from the instruction; it does not see the mask."""

    name = "qwen-image-edit"
    Config = QwenImageEditConfig
    pipeline_class = "QwenImageEditPipeline"
    model_name = "Qwen-Image-Edit"
    default_weights = "Qwen/Qwen-Image-Edit"
    weights_env = "RSES_QWEN_IMAGE_EDIT_WEIGHTS"
    preferred_dtype = "bfloat16"
    tiny_pipeline = "tiny_qwen_image_edit_pipeline"

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """The pipeline's own input size (:func:`qwen_working_size`), so the output grid equals the input's."""
        return qwen_working_size(height, width)

    def pipeline_kwargs(
        self, requests: Sequence[EditRequest], images: list[Image.Image], size: tuple[int, int]
    ) -> dict[str, Any]:
        """This pipeline's arguments for one same-size group (``images`` resized to ``size = (height, width)``)."""
        height, width = size
        return {
            "image": images,
            "height": height,
            "width": width,
            "guidance_scale": None,
            "true_cfg_scale": self.config.guidance_scale,
            "negative_prompt": [self.config.negative_prompt] * len(requests),
        }
