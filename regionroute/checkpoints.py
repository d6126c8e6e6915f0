"""Training checkpoints that hold the LoRA expert only, and the guard against mixing two runs' settings.

A checkpoint ``step-N/`` is what :meth:`accelerate.Accelerator.save_state` writes with the hooks of
:func:`register_lora_hooks` (as diffusers' LoRA trainers register them): ``lora.safetensors`` (the trainable
expert only, not the frozen transformer), the optimizer, the lr scheduler, each process's RNG state, plus
``trainer.json`` (step and loss history). On FLUX that is ~19 MB of LoRA and ~37 MB of AdamW state instead
of ~24 GB of transformer. :func:`prune_checkpoints` keeps the newest ``limit``.

Example:
    >>> settings_hash({"lr": 1e-4, "rank": 4}) == settings_hash({"rank": 4, "lr": 1e-4})
    True
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from rses.errors import UsageError

LORA_FILE = "lora.safetensors"
CONFIG_FILE = "config.json"


def settings_hash(settings: dict) -> str:
    """sha256 (first 16 hex digits) of the settings as canonical JSON (sorted keys)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoints(run_dir: Path) -> list[Path]:
    """``run_dir/checkpoints/step-N`` folders, oldest first."""
    found = [p for p in (run_dir / "checkpoints").glob("step-*") if p.name.split("-")[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def prune_checkpoints(run_dir: Path, limit: int | None, room_for: int = 1) -> list[Path]:
    """Delete the oldest checkpoints so that ``room_for`` more keep the total at ``limit``; return them."""
    if not limit:
        return []
    old = checkpoints(run_dir)
    doomed = old[: max(0, len(old) - (limit - room_for))]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def check_run_dir(run_dir: Path, settings: dict, resume: bool) -> None:
    """Refuse to train into ``run_dir`` over a run of other settings, or over any run without ``resume``.

    Raises:
        UsageError: ``run_dir`` holds a run and ``resume`` is off, or its settings differ (naming them).
    """
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return
    if not resume:
        raise UsageError(
            f"{run_dir} already holds a training run (its {CONFIG_FILE}); pass --resume to continue it with "
            "the same settings, or choose another --out."
        )
    before = json.loads(path.read_text()).get("settings", {})
    changed = sorted(k for k in before.keys() | settings.keys() if before.get(k) != settings.get(k))
    if changed:
        diff = ", ".join(f"{k}: {before.get(k)!r} -> {settings.get(k)!r}" for k in changed)
        raise UsageError(
            f"Cannot resume {run_dir}: it was trained with other settings ({diff}). Resume with the same "
            "settings, or train into another --out."
        )


def register_lora_hooks(accelerator: Any, adapter: str) -> None:
    """Make ``accelerator.save_state``/``load_state`` store only ``adapter``'s LoRA weights of the model.

    The save hook writes ``lora.safetensors`` (main process) and empties ``weights`` so accelerate writes no
    full model; the load hook reads it back into the unwrapped model.
    """
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file, save_file

    def save_hook(models: Any, weights: Any, output_dir: Any):
        if accelerator.is_main_process:
            for model in models:
                state = get_peft_model_state_dict(accelerator.unwrap_model(model), adapter_name=adapter)
                save_file(
                    {k: v.detach().contiguous().cpu() for k, v in state.items()}, Path(output_dir) / LORA_FILE
                )
        while weights:
            weights.pop()

    def load_hook(models: Any, input_dir: Any):
        state = load_file(Path(input_dir) / LORA_FILE)
        while models:
            model = accelerator.unwrap_model(models.pop())
            result = set_peft_model_state_dict(model, state, adapter_name=adapter)
            if getattr(result, "unexpected_keys", None):
                raise UsageError(
                    f"Checkpoint {input_dir} does not fit this expert: {result.unexpected_keys[:3]}."
                )

    accelerator.register_save_state_pre_hook(save_hook)
    accelerator.register_load_state_pre_hook(load_hook)
