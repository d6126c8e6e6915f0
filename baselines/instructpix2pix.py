"""``instructpix2pix``: InstructPix2Pix (``StableDiffusionInstructPix2PixPipeline``) with image guidance.

Defaults follow the InstructPix2Pix paper and diffusers: 512 x 512, 100 steps, text guidance 7.5, image
guidance 1.5, float16 on a GPU. Weights: ``timbrooks/instruct-pix2pix``, or ``--weights`` /
``RSES_INSTRUCTPIX2PIX_WEIGHTS``.

Example:
    >>> import numpy as np
    >>> from rses.editing import EditRequest, get_editor
    >>> editor = get_editor("instructpix2pix", smoke=True)  # tiny random weights: the output is noise
    >>> req = EditRequest("s0", np.zeros((64, 64, 3), np.uint8), None, "make the cat in line-art style",
    ...                   "line-art", "cat")
    >>> editor.edit([req])[0].dtype
    dtype('uint8')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from baselines.diffusion import DiffusionConfig, DiffusionEditor
from rses.editing import EditRequest


@dataclass(frozen=True)
class InstructPix2PixConfig(DiffusionConfig):
    """:class:`~baselines.diffusion.DiffusionConfig` with InstructPix2Pix's defaults.

    Args:
        image_guidance_scale: how strongly the output follows the source image (>= 1; higher keeps more).
    """

    resolution: int = 512
    num_inference_steps: int = 100
    guidance_scale: float = 7.5
    image_guidance_scale: float = 1.5


class InstructPix2PixEditor(DiffusionEditor):
    """InstructPix2Pix: edits the whole image from the instruction; it does not see the mask."""

    name = "instructpix2pix"
    Config = InstructPix2PixConfig
    pipeline_class = "StableDiffusionInstructPix2PixPipeline"
    model_name = "InstructPix2Pix"
    default_weights = "timbrooks/instruct-pix2pix"
    weights_env = "RSES_INSTRUCTPIX2PIX_WEIGHTS"
    tiny_pipeline = "tiny_instruct_pix2pix_pipeline"
    preferred_dtype = "float16"

    def pipeline_kwargs(
        self, requests: Sequence[EditRequest], images: list[Image.Image], size: tuple[int, int]
    ) -> dict[str, Any]:
        """This pipeline's arguments for one same-size group (``images`` resized to ``size = (height, width)``)."""
        # the pipeline works at the image's own size, which the base class already made a multiple of 16
        return {"image": images, "image_guidance_scale": self.config.image_guidance_scale}
