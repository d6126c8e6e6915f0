"""``qwen-image-edit``: Qwen-Image-Edit (``QwenImageEditPipeline``), the paper's strongest style matcher.

Defaults follow the diffusers pipeline and model card: about 1024 x 1024, 50 steps, true classifier-free
guidance 4.0 with the negative prompt ``" "``, bfloat16 on a GPU. Weights: ``Qwen/Qwen-Image-Edit``, or
``--weights`` / ``RSES_QWEN_IMAGE_EDIT_WEIGHTS``. There is no tiny twin in the test kit, so ``--smoke``
is refused; only the weight resolution and construction are tested here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from baselines.diffusion import DiffusionConfig, DiffusionEditor
from rses.editing import EditRequest


@dataclass(frozen=True)
class QwenImageEditConfig(DiffusionConfig):
    """:class:`~baselines.diffusion.DiffusionConfig` with Qwen-Image-Edit's defaults.

    Args:
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

    def pipeline_kwargs(
        self, requests: Sequence[EditRequest], images: list[Image.Image], size: tuple[int, int]
    ) -> dict[str, Any]:
        height, width = size
        return {
            "image": images,
            "height": height,
            "width": width,
            "guidance_scale": None,
            "true_cfg_scale": self.config.guidance_scale,
            "negative_prompt": [self.config.negative_prompt] * len(requests),
        }
