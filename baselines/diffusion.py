"""The shared base of the diffusers-pipeline editors: weights, loading, prompts, seeding, batching, memory.

A subclass names its pipeline class, its default hub id and weights environment variable, its tiny
test-kit twin (for ``smoke=True``) and how a batch of requests becomes pipeline arguments
(:meth:`DiffusionEditor.pipeline_kwargs`); it may change the loaded pipeline before placement
(:meth:`DiffusionEditor.prepare_pipeline`, e.g. adapters). Everything else lives here:

* weights: :meth:`~DiffusionEditor.weights` gives one :class:`~rses.weights.WeightSpec`; the reference is
  ``config.weights`` (the ``--weights`` flag), else the spec's environment variable, else the hub id. It
  resolves to a local diffusers folder through :func:`rses.weights.resolve_weights` and loads with
  ``Pipeline.from_pretrained(folder, use_safetensors=not pickle_allowed(), dtype=...)``. With ``smoke=True``
  the tiny random-weight pipeline of :mod:`rses.testing` is used instead and no weights are needed.
* prompts: ``config.prompt_template`` formatted with ``{prompt}``, ``{object}`` and ``{style}``.
* seeding: one CPU ``torch.Generator`` per request, seeded with ``request.seed``, so an image depends on
  its own seed only (a batch gives the single-request results) and on no device.
* sizes: each input is resized (LANCZOS) to about ``config.resolution ** 2`` pixels with both sides a
  multiple of 16, keeping its aspect ratio; requests of equal size share one pipeline call; each output is
  resized back to its input's size and returned as ``uint8`` RGB.
* dtype and memory: ``dtype="auto"`` is float32 on CPU and the editor's preferred half type on a GPU;
  ``offload`` (``"none"``, ``"model"``, ``"sequential"``) and ``vae_tiling``/``vae_slicing`` let a 24 GB
  GPU run the large pipelines.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from rses.editing import Editor, EditRequest
from rses.errors import UsageError, WeightsNotFoundError
from rses.weights import WeightSpec, pickle_allowed, resolve_weights

logger = logging.getLogger(__name__)

SIZE_MULTIPLE = 16
DTYPES = ("auto", "float32", "bfloat16", "float16")
OFFLOAD_MODES = ("none", "model", "sequential")
#: Files fetched for a diffusers pipeline snapshot: configs, tokenizers and safetensors of every component
#: folder (not the repo-root single-file checkpoints some repos also ship, nor pickle weights).
SNAPSHOT_PATTERNS = ("model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/*.safetensors")
#: Config values ``smoke=True`` uses when no config is given: the tiny pipelines at 64x64, 2 steps.
SMOKE_OVERRIDES = {"resolution": 64, "num_inference_steps": 2}


@dataclass(frozen=True)
class DiffusionConfig:
    """Options every diffusion editor shares; subclasses add their own fields and defaults.

    Args:
        weights: model reference overriding the default (hub id ``org/repo[@revision]`` or a local
            diffusers folder); ``None`` uses the environment variable, then the default hub id.
        resolution: the pipeline works at about ``resolution x resolution`` pixels (aspect kept, sides a
            multiple of 16).
        num_inference_steps: denoising steps.
        guidance_scale: text classifier-free guidance (Flux: the distilled guidance embedding).
        prompt_template: the instruction given to the pipeline; ``{prompt}``, ``{object}`` and ``{style}``
            are the request's fields.
        dtype: ``"auto"`` (float32 on CPU, the editor's preferred type on a GPU), ``"float32"``,
            ``"bfloat16"`` or ``"float16"``.
        offload: ``"none"``, ``"model"`` (whole components to the GPU in turn) or ``"sequential"``
            (layer by layer, slowest, least memory); both need a GPU device.
        vae_tiling: decode/encode in tiles (large images in little memory).
        vae_slicing: decode a batch one image at a time.
    """

    weights: str | None = None
    resolution: int = 512
    num_inference_steps: int = 50
    guidance_scale: float = 7.5
    prompt_template: str = "{prompt}"
    dtype: str = "auto"
    offload: str = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False


def target_size(height: int, width: int, resolution: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """``(height, width)`` of about ``resolution ** 2`` pixels, aspect kept, sides multiples of ``multiple``.

    Example:
        >>> target_size(480, 640, 1024)
        (880, 1184)
        >>> target_size(64, 64, 64)
        (64, 64)
    """
    scale = resolution / math.sqrt(height * width)
    return (
        max(multiple, round(height * scale / multiple) * multiple),
        max(multiple, round(width * scale / multiple) * multiple),
    )


def to_uint8(images: np.ndarray) -> list[np.ndarray]:
    """Pipeline ``output_type="np"`` floats in ``[0, 1]`` -> a list of ``uint8`` RGB arrays."""
    return list((np.clip(images, 0.0, 1.0) * 255.0).round().astype(np.uint8))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``(H, W[, C])`` ``uint8`` array to ``size = (height, width)``, LANCZOS (no-op if equal)."""
    if image.shape[:2] == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.LANCZOS))


class DiffusionEditor(Editor):
    """Base of the diffusers-pipeline editors (see the module docstring).

    Subclasses set ``name``, ``Config``, ``pipeline_class`` (dotted path in diffusers), ``model_name``,
    ``default_weights``, ``weights_env``, ``tiny_pipeline`` (a ``rses.testing`` builder name) and
    ``preferred_dtype``, and implement :meth:`pipeline_kwargs`.
    """

    Config: ClassVar[type] = DiffusionConfig
    pipeline_class: ClassVar[str] = ""
    model_name: ClassVar[str] = ""
    default_weights: ClassVar[str] = ""
    weights_env: ClassVar[str] = ""
    tiny_pipeline: ClassVar[str] = ""
    preferred_dtype: ClassVar[str] = "bfloat16"
    weight_fields: ClassVar[tuple[str, ...]] = ("weights",)

    def __init__(self, config: Any = None, device: str = "cpu", smoke: bool = False):
        if smoke and not self.tiny_pipeline:
            raise UsageError(f"{self.name} has no tiny test pipeline, so it cannot run with --smoke.")
        if config is None and smoke:
            config = dataclasses.replace(self.Config(), **SMOKE_OVERRIDES)
        super().__init__(config=config, device=device, smoke=smoke)
        self._check_config()
        self._pipe = None

    def _check_config(self) -> None:
        cfg = self.config
        if cfg.dtype not in DTYPES:
            raise UsageError(f"{self.name}: dtype must be one of {DTYPES}, got {cfg.dtype!r}.")
        if cfg.offload not in OFFLOAD_MODES:
            raise UsageError(f"{self.name}: offload must be one of {OFFLOAD_MODES}, got {cfg.offload!r}.")
        if cfg.offload != "none" and str(self.device).startswith("cpu"):
            raise UsageError(
                f"{self.name}: offload={cfg.offload!r} moves models to a GPU; it needs a GPU "
                f"device, got device={self.device!r}. Use offload='none' on CPU."
            )
        if cfg.resolution < SIZE_MULTIPLE or cfg.num_inference_steps < 1:
            raise UsageError(
                f"{self.name}: resolution must be >= {SIZE_MULTIPLE} and num_inference_steps "
                f">= 1, got {cfg.resolution} and {cfg.num_inference_steps}."
            )
        try:
            self.config.prompt_template.format(prompt="", object="", style="")
        except (KeyError, IndexError) as err:
            raise UsageError(
                f"{self.name}: prompt_template {cfg.prompt_template!r} uses an unknown field "
                f"{err}; the fields are {{prompt}}, {{object}} and {{style}}."
            ) from None

    # --- weights and loading -------------------------------------------------------------------------------

    def weight_spec(self) -> WeightSpec:
        """Where this editor's pipeline weights come from, and how a user points elsewhere."""
        return WeightSpec(
            name=self.model_name,
            default=self.default_weights,
            env_var=self.weights_env,
            flag="--weights",
            allow_patterns=SNAPSHOT_PATTERNS,
        )

    def weights(self) -> list[WeightSpec]:
        """The pipeline weights; none in smoke mode (the tiny random-weight pipeline is built instead)."""
        return [] if self.smoke else [self.weight_spec()]

    def weight_reference(self, spec: WeightSpec) -> str | None:
        """The ``weights`` config field (``--weights``), which takes precedence over the environment variable."""
        return self.config.weights if spec == self.weight_spec() else None

    def check_weights(self) -> None:
        """Resolve the weights (config ``weights``, then the environment variable, then the hub id) now."""
        if not self.smoke:
            self.weights_dir()

    def weights_dir(self) -> Path:
        """The local diffusers folder of the weights.

        Raises:
            WeightsNotFoundError: not found, or not a diffusers pipeline folder (no ``model_index.json``).
        """
        path = resolve_weights(self.weight_spec(), self.config.weights)
        if not (path / "model_index.json").is_file():
            raise WeightsNotFoundError(
                f"Weights for {self.model_name} at {path} are not a diffusers pipeline folder (no "
                f"model_index.json). Point --weights / {self.weights_env} at a folder written by "
                f"save_pretrained, or at a hub snapshot of {self.default_weights}."
            )
        return path

    def torch_dtype(self) -> Any:
        """The torch dtype: ``config.dtype``; ``"auto"`` is float32 on CPU, else ``preferred_dtype``."""
        import torch

        name = self.config.dtype
        if name == "auto":
            name = "float32" if str(self.device).startswith("cpu") else self.preferred_dtype
        return getattr(torch, name)

    def load_pipeline(self) -> Any:
        """Load (once) and return the pipeline, placed on the device with the memory options applied."""
        if self._pipe is not None:
            return self._pipe
        if self.smoke:
            import rses.testing

            logger.warning("%s: smoke mode, tiny random-weight pipeline (outputs mean nothing)", self.name)
            pipe = getattr(rses.testing, self.tiny_pipeline)()  # float32
            if self.torch_dtype() != pipe.dtype:
                pipe.to(dtype=self.torch_dtype())
        else:
            import diffusers

            folder = self.weights_dir()
            pipe = getattr(diffusers, self.pipeline_class).from_pretrained(
                folder, use_safetensors=not pickle_allowed(), dtype=self.torch_dtype()
            )
        pipe = self.prepare_pipeline(pipe)
        pipe.set_progress_bar_config(disable=True)
        if self.config.vae_tiling:
            pipe.vae.enable_tiling()
        if self.config.vae_slicing:
            pipe.vae.enable_slicing()
        if self.config.offload == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        elif self.config.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        self._pipe = pipe
        return pipe

    def prepare_pipeline(self, pipe: Any) -> Any:
        """Change the loaded pipeline before it is placed on the device (e.g. load adapters); a no-op here."""
        return pipe

    # --- editing -------------------------------------------------------------------------------------------

    def build_prompt(self, request: EditRequest) -> str:
        """The instruction for ``request``: ``config.prompt_template`` with its fields filled in."""
        return self.config.prompt_template.format(
            prompt=request.prompt, object=request.object_name, style=request.style
        )

    def pipeline_kwargs(
        self, requests: Sequence[EditRequest], images: list[Image.Image], size: tuple[int, int]
    ) -> dict[str, Any]:
        """Pipeline arguments for one same-size group; they extend (and may override) the shared ones."""
        raise NotImplementedError

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` the pipeline edits an input of ``height x width`` at (input and output alike)."""
        return target_size(height, width, self.config.resolution)

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """Edit a batch: one pipeline call per group of requests with the same working size."""
        import torch

        pipe = self.load_pipeline()
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, request in enumerate(requests):
            groups[self.working_size(*request.image.shape[:2])].append(i)
        outputs: list[np.ndarray | None] = [None] * len(requests)
        for size, indices in groups.items():
            group = [requests[i] for i in indices]
            images = [Image.fromarray(resize(r.image, size)) for r in group]
            kwargs = {
                "prompt": [self.build_prompt(r) for r in group],
                "generator": [torch.Generator("cpu").manual_seed(r.seed) for r in group],
                "num_inference_steps": self.config.num_inference_steps,
                "guidance_scale": self.config.guidance_scale,
                "output_type": "np",
                **self.pipeline_kwargs(group, images, size),
            }
            edited = to_uint8(pipe(**kwargs).images)
            for i, request, image in zip(indices, group, edited, strict=True):
                outputs[i] = resize(image, request.image.shape[:2])
        return outputs
