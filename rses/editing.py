"""The editor interface every method implements, and the editor registry.

An editor turns a batch of :class:`EditRequest` into a list of RGB ``uint8`` images, one per request,
in request order. Editors that see the ground-truth mask (``sees_mask = True``, e.g. inpainting) get
``request.mask``; for all others the runner passes ``mask=None``, so a mask-free method cannot cheat.

Example:
    >>> import numpy as np
    >>> class Invert(Editor):
    ...     name = "invert"
    ...     def edit(self, requests):
    ...         return [255 - r.image for r in requests]
    >>> req = EditRequest("s0", np.zeros((2, 2, 3), np.uint8), None, "make it red", "red", "cat", seed=0)
    >>> int(Invert().edit([req])[0][0, 0, 0])
    255
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rses.errors import UsageError
from rses.registry import Registry
from rses.weights import WeightSpec


@dataclass(frozen=True)
class EditRequest:
    """One sample as an editor sees it.

    Attributes:
        sample_id: the split's sample id.
        image: source image, ``(H, W, 3)`` ``uint8`` RGB.
        mask: object mask ``(H, W)`` bool, only for editors with ``sees_mask``; otherwise ``None``.
        prompt: the full instruction, e.g. ``"make the cat in pixel-art style, keep other area unchanged"``.
        style: the style name, e.g. ``"pixel-art"``.
        object_name: the object noun, e.g. ``"cat"``.
        seed: the seed this edit must use.
    """

    sample_id: str
    image: np.ndarray
    mask: np.ndarray | None
    prompt: str
    style: str
    object_name: str
    seed: int = 0


class Editor(abc.ABC):
    """Base class of all editors: a name, a config dataclass, weights it needs, and a batched ``edit``.

    Subclasses set ``name``, optionally ``sees_mask`` and a ``Config`` dataclass, and implement
    :meth:`edit`. ``config`` is data: it is hashed into the output cache key and written to ``run.json``.
    Config fields that name weights (``weight_fields``) are left out of the hash: the run keys on what they
    resolve to (:meth:`weight_identities`), so the same files named another way give the same key.
    """

    name: ClassVar[str] = "editor"
    sees_mask: ClassVar[bool] = False
    Config: ClassVar[type] = None  # a dataclass type, or None for editors without options
    weight_fields: ClassVar[tuple[str, ...]] = ()  # config fields holding weight references

    def __init__(self, config: Any = None, device: str = "cpu", smoke: bool = False):
        if config is None and self.Config is not None:
            config = self.Config()
        self.config = config
        self.device = device
        self.smoke = smoke

    def weights(self) -> list[WeightSpec]:
        """The learned weights this editor needs (empty for weight-free editors)."""
        return []

    def check_weights(self) -> None:
        """Resolve every needed weight now, raising the clear missing-weights error before any work."""
        from rses.weights import resolve_weights

        for spec in self.weights():
            resolve_weights(spec)

    def check_inputs(self, samples: Sequence[Any], split_samples: Sequence[Any]) -> None:
        """Check, before any work, that this editor can edit ``samples`` (the selected part of the split's
        ``split_samples``); raise a one-line :class:`~rses.errors.UsageError` if not. Default: nothing to check.
        """
        return None

    def weight_reference(self, spec: WeightSpec) -> str | None:
        """The explicit reference (flag or config) for ``spec``; ``None``: its environment variable or default."""
        return None

    def weight_identities(self, verify: bool = True) -> list:
        """What each needed weight resolved to (:class:`rses.weight_identity.WeightIdentity`), digests and all.

        Raises:
            WeightsMismatchError: a known digest does not match (only with ``verify``).
        """
        from rses.weight_identity import identify_weights

        return [
            identify_weights(spec, self.weight_reference(spec), role="editor", verify=verify)
            for spec in self.weights()
        ]

    def config_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data."""
        return dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else {}

    def config_hash(self) -> str:
        """A short stable hash of the editor name and config (less ``weight_fields``); part of the cache key."""
        config = {k: v for k, v in self.config_dict().items() if k not in self.weight_fields}
        payload = json.dumps({"name": self.name, "config": config}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    @abc.abstractmethod
    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """Edit a batch; return one ``(H', W', 3)`` ``uint8`` RGB image per request, in order."""


EDITORS: Registry[type[Editor]] = Registry("editor", base_cls=Editor, entry_point_group="rses.editors")
for _name, _target in {
    "identity": "baselines.reference:IdentityEditor",
    "global-style": "baselines.reference:GlobalStyleEditor",
    "paste-style": "baselines.reference:PasteStyleEditor",
    "clone-style": "baselines.reference:CloneStyleEditor",
    "kontext": "baselines.kontext:KontextEditor",
    "instructpix2pix": "baselines.instructpix2pix:InstructPix2PixEditor",
    "inpaint": "baselines.inpaint:InpaintEditor",
    "qwen-image-edit": "baselines.qwen_image_edit:QwenImageEditEditor",
    "regionroute": "regionroute.editor:RegionRouteEditor",
    "folder": "baselines.folder:FolderEditor",
}.items():
    EDITORS.register(_name, _target)


def build_editor(
    method: str,
    overrides: Mapping[str, Any] | None = None,
    device: str = "cpu",
    smoke: bool = False,
    *,
    config: Any = None,
) -> Editor:
    """Instantiate the editor registered as ``method``: the one way rses makes an editor.

    Args:
        method: a name in :data:`EDITORS`.
        overrides: values of the editor's ``Config`` fields (``--config`` on the command line); the others
            keep their defaults.
        device: torch device of the editor's models.
        smoke: tiny random-weight models (numbers are not meaningful).
        config: a ready ``Config`` instance instead of ``overrides``.

    Raises:
        UsageError: unknown method or config field (naming the valid fields), or both ``overrides`` and
            ``config`` given.

    Example:
        >>> build_editor("folder", {"edits": "/no/such/folder"})
        Traceback (most recent call last):
        ...
        rses.errors.UsageError: --edits /no/such/folder: no such folder.
        >>> build_editor("identity", {"strength": 2})
        Traceback (most recent call last):
        ...
        rses.errors.UsageError: Editor 'identity' has no config; --config gave ['strength'].
    """
    cls = EDITORS.get(method)
    if overrides and config is not None:
        raise UsageError(f"Editor {method!r}: pass config overrides or a Config instance, not both.")
    if overrides:
        if cls.Config is None:
            raise UsageError(f"Editor {method!r} has no config; --config gave {sorted(overrides)}.")
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise UsageError(
                f"Editor {method!r} has no config field(s) {unknown}; valid fields: {sorted(fields)}."
            )
        config = cls.Config(**overrides)
    return cls(config=config, device=device, smoke=smoke)


def get_editor(name: str, config: Any = None, device: str = "cpu", smoke: bool = False) -> Editor:
    """Instantiate the editor registered as ``name`` with a ready ``config``; :func:`build_editor` does it."""
    return build_editor(name, device=device, smoke=smoke, config=config)
