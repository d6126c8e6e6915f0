"""``inpaint``: Stable Diffusion 2 inpainting of the ground-truth mask (``StableDiffusionInpaintPipeline``).

This editor SEES THE MASK (``sees_mask = True``): it repaints exactly the object, so its background
preservation is an upper bound rather than a fair comparison with mask-free editors (run.json records
``editor_sees_mask``). The prompt describes the content to paint: ``"a {object} in {style} style"``.
Defaults: 512 x 512, 50 steps, guidance 7.5, strength 1.0, float16 on a GPU. Weights:
``stabilityai/stable-diffusion-2-inpainting``, or ``--weights`` / ``RSES_INPAINT_WEIGHTS``.

Example:
    >>> import numpy as np
    >>> from rses.editing import EditRequest, get_editor
    >>> editor = get_editor("inpaint", smoke=True)  # tiny random weights: the output is noise
    >>> mask = np.zeros((64, 64), bool); mask[16:48, 16:48] = True
    >>> req = EditRequest("s0", np.zeros((64, 64, 3), np.uint8), mask, "make the cat in line-art style",
    ...                   "line-art", "cat")
    >>> editor.edit([req])[0].shape
    (64, 64, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from baselines.diffusion import DiffusionConfig, DiffusionEditor, resize
from rses.editing import EditRequest
from rses.errors import InvalidSampleError


@dataclass(frozen=True)
class InpaintConfig(DiffusionConfig):
    """:class:`~baselines.diffusion.DiffusionConfig` with SD2-inpainting's defaults.

    Args:
        strength: how much of the masked area is re-noised (1.0: fully repainted).
    """

    resolution: int = 512
    num_inference_steps: int = 50
    guidance_scale: float = 7.5
    prompt_template: str = "a {object} in {style} style"
    strength: float = 1.0


class InpaintEditor(DiffusionEditor):
    """SD2 inpainting: repaints the ground-truth mask region from a content prompt. Sees the mask."""

    name = "inpaint"
    sees_mask = True
    Config = InpaintConfig
    pipeline_class = "StableDiffusionInpaintPipeline"
    model_name = "Stable Diffusion 2 inpainting"
    default_weights = "stabilityai/stable-diffusion-2-inpainting"
    weights_env = "RSES_INPAINT_WEIGHTS"
    tiny_pipeline = "tiny_inpaint_pipeline"
    preferred_dtype = "float16"

    def pipeline_kwargs(
        self, requests: Sequence[EditRequest], images: list[Image.Image], size: tuple[int, int]
    ) -> dict[str, Any]:
        """This pipeline's arguments for one same-size group (``images`` resized to ``size = (height, width)``)."""
        masks = []
        for request in requests:
            if request.mask is None:
                raise InvalidSampleError(
                    f"Sample {request.sample_id!r}: the inpaint editor needs the object "
                    "mask, but the request has none."
                )
            masks.append(Image.fromarray(resize(np.asarray(request.mask, np.uint8) * 255, size)))
        height, width = size
        return {
            "image": images,
            "mask_image": masks,
            "height": height,
            "width": width,
            "strength": self.config.strength,
        }
