"""RegionRoute training: Kontext flow matching + focus/cover attention supervision on one style's LoRA expert.

The step mirrors diffusers' ``train_dreambooth_lora_flux_kontext.py``: ``x_t = (1 - s) x0 + s eps``, the
transformer sees ``[noisy target | context]`` tokens with the context ids' first axis set to 1 (as
``FluxKontextPipeline`` at inference; the public RegionRoute code omitted it), predicts the velocity
``eps - x0`` on the target tokens, MSE. Everything is cached once and **keyed by sample index** (latents,
prompt embeddings, style-token positions, masks), so a sample's latents never meet another's prompt or mask
(the public code's cache bug). Images keep their aspect ratio (:func:`regionroute.data.square_crop`).

Runs under ``accelerate launch`` / ``torchrun`` with any number of processes: the data order and noise
are pure functions of the step (:mod:`regionroute.data`), so ranks see different samples and noise, a
resumed run equals an uninterrupted one, and logged losses are averaged over ranks. Checkpoints hold the
LoRA expert, optimizer, scheduler, RNG and step only (:mod:`regionroute.checkpoints`). The LoRA parameters
train in float32 whatever the (frozen) base's dtype.

Outputs: the experts folder ``out_dir`` gets ``{style}.safetensors`` and its ``index.json`` entry; the
style's run folder ``out_dir/{style}/`` gets ``config.json``, ``losses.csv`` (written as training goes),
``losses.{json,png}``, ``samples-rank{r}.csv`` (what each rank trained on), ``checkpoints/step-N/`` and
``validation/step-N/``.

This module keeps the loop (:func:`train`) and the optimizer around it. The options are in
:mod:`regionroute.config`, the samples and their encoded cache in :mod:`regionroute.samples`, the forward in
:mod:`regionroute.step`, and the overlays, curves and logged diagnostics in :mod:`regionroute.diagnostics`.

Example (tiny random-weight pipeline, 2 steps):
    >>> from rses.testing.flux import tiny_kontext_pipeline
    >>> import tempfile
    >>> cfg = TrainConfig(style="pixel-art", steps=2, batch_size=2, grad_accum=1, resolution=64,
    ...                   max_sequence_length=32, validate_every=0, checkpoint_every=0)
    >>> res = train(cfg, tiny_kontext_pipeline(), synthetic_samples(tempfile.mkdtemp(), n=2), tempfile.mkdtemp(),
    ...             progress=False)
    >>> len(res.history)
    2
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from regionroute.attention import install_processors
from regionroute.checkpoints import (
    CONFIG_FILE,
    check_run_dir,
    checkpoints,
    prune_checkpoints,
    register_lora_hooks,
    settings_hash,
)
from regionroute.config import PRESETS, RUN_FIELDS, TrainConfig, config_from
from regionroute.data import global_batch, rank_slots, slot_noise
from regionroute.diagnostics import diagnostics, evaluate_fixed_batch, write_curves, write_validation
from regionroute.experts import add_expert, experts_of, save_expert
from regionroute.losses import mass_in_mask
from regionroute.samples import (
    CachedSet,
    TrainSample,
    encode_samples,
    load_sample,
    samples_from_split,
    synthetic_samples,
)
from regionroute.step import kontext_ids, pack, training_losses
from rses.errors import UsageError


@dataclass
class TrainResult:
    """What :func:`train` made: the experts folder, the expert file, the loss history (one row a step)."""

    out_dir: Path
    expert_path: Path
    history: list[dict] = field(default_factory=list)
    is_main_process: bool = True


def offload_frozen(pipe: Any) -> None:
    """Move the text encoders and the VAE to the CPU (their outputs are cached; ~10 GB on FLUX)."""
    for name in ("text_encoder", "text_encoder_2", "vae"):
        module = getattr(pipe, name, None)
        if module is not None:
            module.to("cpu")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _optimizer(params: Any, config: TrainConfig):
    if config.optimizer == "adamw8bit":
        try:
            import bitsandbytes as bnb
        except ImportError as err:
            raise UsageError("optimizer 'adamw8bit' needs bitsandbytes: pip install bitsandbytes.") from err
        return bnb.optim.AdamW8bit(
            params, lr=config.lr, betas=(0.9, 0.999), weight_decay=config.weight_decay, eps=1e-8
        )
    if config.optimizer != "adamw":
        raise UsageError(f"optimizer={config.optimizer!r}; use 'adamw' or 'adamw8bit'.")
    return torch.optim.AdamW(
        params, lr=config.lr, betas=(0.9, 0.999), weight_decay=config.weight_decay, eps=1e-8
    )


def prepare_transformer(transformer: Any, config: TrainConfig) -> list[torch.nn.Parameter]:
    """Freeze the backbone, add the style's expert in float32, install the processors; return its parameters.

    The frozen base keeps its dtype (bf16 on FLUX); the LoRA weights are float32, as diffusers' trainers cast
    them (``cast_training_params``): AdamW updates of ~1e-5 relative vanish in bf16's 8-bit mantissa.
    """
    from diffusers.training_utils import cast_training_params

    transformer.requires_grad_(False)
    if config.style in experts_of(transformer):
        transformer.set_adapters(config.style)  # continue training an existing expert
    else:
        add_expert(transformer, config.style, config.expert)
    install_processors(transformer, config.layers)
    if config.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    params = [p for n, p in transformer.named_parameters() if "lora_" in n and f".{config.style}." in n]
    for p in params:
        p.requires_grad_(True)
    cast_training_params(transformer, dtype=torch.float32)
    return params


def _scheduler(optimizer: Any, config: TrainConfig):
    from diffusers.optimization import get_scheduler

    name = "constant_with_warmup" if config.lr_warmup_steps else "constant"
    return get_scheduler(name, optimizer, num_warmup_steps=config.lr_warmup_steps)


class _Log:
    """``losses.csv`` appended row by row (a crash keeps what was logged), plus accelerate's trackers."""

    KEYS = ("step", "lr", "loss", "flow", "focus", "cover", "attn", "mass_in_mask", "seconds")

    def __init__(self, path: Path, accelerator: Any, history: list[dict]):
        self.path, self.accelerator = path, accelerator
        if accelerator.is_main_process:
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.KEYS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(history)

    def add(self, row: dict) -> None:
        if self.accelerator.is_main_process:
            with open(self.path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.KEYS, extrasaction="ignore").writerow(row)
        self.accelerator.log({k: v for k, v in row.items() if k != "step"}, step=row["step"])


def _run_settings(config: TrainConfig, base_model: str | None) -> dict:
    return config.settings() | {"base_model": base_model}


def base_revision(base_model: str | None) -> str | None:
    """The commit of a hub snapshot folder (``.../snapshots/<commit>``) or of an ``org/repo@rev`` reference.

    Example:
        >>> base_revision("/hf/models--black-forest-labs--FLUX.1-Kontext-dev/snapshots/af58063/")
        'af58063'
        >>> base_revision("black-forest-labs/FLUX.1-Kontext-dev@main"), base_revision("/local/kontext")
        ('main', None)
    """
    if not base_model:
        return None
    parts = Path(base_model).parts
    if "snapshots" in parts[:-1]:
        return parts[parts.index("snapshots") + 1]
    return base_model.split("@", 1)[1] if "@" in base_model else None


def train(
    config: TrainConfig,
    pipe: Any,
    samples: Sequence[TrainSample],
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    base_model: str | None = None,
) -> TrainResult:
    """Train ``config.style``'s expert on ``samples`` into the experts folder ``out_dir``.

    Args:
        config: the options (:func:`config_from` applies presets).
        pipe: a ``FluxKontextPipeline`` (its transformer gets the expert).
        samples: the training pairs.
        out_dir: the experts folder: ``{style}.safetensors`` + ``index.json`` there, the run in ``{style}/``.
        resume: continue the run in ``out_dir/{style}`` from its newest checkpoint (same settings only).
        progress: show a progress bar (main process).
        base_model: the base weights' reference, recorded in the index (with its revision) and the settings.

    Raises:
        UsageError: no samples; the run folder holds a run and ``resume`` is off or its settings differ.
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    experts_dir = Path(out_dir)
    run_dir = experts_dir / config.style
    if not samples:
        raise UsageError(f"No training samples for style {config.style!r}.")
    settings = _run_settings(config, base_model)
    # on a machine without CUDA, accelerate joins torchrun's processes (gloo) only when told it is on the CPU
    cpu = config.device == "cpu" or (config.device is None and not torch.cuda.is_available())
    kwargs = {"cpu": True} if cpu else {}
    try:
        accelerator = Accelerator(
            gradient_accumulation_steps=config.grad_accum,
            mixed_precision=config.mixed_precision,
            log_with=config.log_with,
            project_dir=str(run_dir),
            **kwargs,
        )
    except ValueError as err:  # an unknown tracker or precision
        raise UsageError(f"Cannot set up training: {err}") from None
    if config.log_with and not accelerator.log_with:
        raise UsageError(
            f"--log-with {config.log_with}: that tracker's package is not installed "
            f"(e.g. pip install {config.log_with}); losses.csv is written either way."
        )
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if accelerator.num_processes != launched:
        raise UsageError(
            f"Launched as {launched} processes but accelerate joined {accelerator.num_processes}; each would "
            "train alone. Pass --device cpu or cuda to match the launcher."
        )
    check_run_dir(run_dir, settings, resume)
    accelerator.wait_for_everyone()  # every rank checks before the main process writes config.json
    rank, world = accelerator.process_index, accelerator.num_processes
    torch.manual_seed(config.seed)  # the expert's initial weights: the same on every rank
    pipe.to(accelerator.device)
    cache = encode_samples(
        pipe, samples, config.resolution, config.max_sequence_length, config.mask_threshold
    )
    if config.offload_frozen:
        offload_frozen(pipe)
    params = prepare_transformer(pipe.transformer, config)
    optimizer = _optimizer(params, config)
    transformer, optimizer, scheduler = accelerator.prepare(
        pipe.transformer, optimizer, _scheduler(optimizer, config)
    )
    register_lora_hooks(accelerator, config.style)
    step, history = 0, []
    ckpts = checkpoints(run_dir) if resume else []
    if ckpts:
        accelerator.load_state(str(ckpts[-1]))
        state = json.loads((ckpts[-1] / "trainer.json").read_text())
        step, history = state["step"], state["history"]
        accelerator.print(f"resuming {config.style} from {ckpts[-1]} at step {step} of {config.steps}")
    elif resume:
        accelerator.print(f"no checkpoint in {run_dir}: training {config.style} from step 0")
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        meta = {"settings": settings, "settings_hash": settings_hash(settings), "config": asdict(config)}
        (run_dir / CONFIG_FILE).write_text(json.dumps(meta, indent=2, default=str))
    if config.log_with:
        accelerator.init_trackers(f"regionroute-{config.style}", config=config.hyperparameters())
    accelerator.wait_for_everyone()
    log = _Log(run_dir / "losses.csv", accelerator, history)
    trace = _open_trace(run_dir / f"samples-rank{rank}.csv", step)
    fixed = torch.arange(min(config.batch_size, len(cache)))
    bar = tqdm(
        total=config.steps,
        initial=step,
        desc=config.style,
        disable=not (progress and accelerator.is_main_process),
    )
    start = time.perf_counter()
    while step < config.steps:
        sums: dict[str, torch.Tensor] = {}
        for j in range(config.grad_accum):
            micro = step * config.grad_accum + j
            index = global_batch(config.seed, len(cache), config.batch_size, world, micro)
            slots = rank_slots(config.batch_size, rank)
            batch = cache.batch(index[slots.start : slots.stop].to(cache.mask.device))
            noise, sigmas = slot_noise(config.seed, micro, slots, tuple(batch["target_latents"].shape[1:]))
            noise, sigmas = noise.to(batch["target_latents"]), sigmas.to(noise.device)
            with accelerator.accumulate(transformer):
                out = training_losses(
                    transformer, batch, noise, sigmas, config.guidance, config.losses, config.attn_loss
                )
                accelerator.backward(out["loss"])
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, config.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            values = {k: v.detach().float() for k, v in out.items() if k != "maps"}
            if "maps" in out:
                values["mass_in_mask"] = mass_in_mask(
                    out["maps"].detach(), batch["mask"], batch["token_valid"]
                )
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v / config.grad_accum
            trace.write(
                f"{step + 1},{micro},{' '.join(map(str, index[slots.start : slots.stop].tolist()))},"
                f"{' '.join(f'{x:.4f}' for x in sigmas.tolist())},{float(noise.flatten()[0]):.6f},"
                f"{float(values['loss']):.8f}\n"
            )
        step += 1
        keys = sorted(sums)
        means = accelerator.reduce(torch.stack([sums[k] for k in keys]).to(accelerator.device), "mean")
        row = {"step": step, "lr": scheduler.get_last_lr()[0]} | dict(zip(keys, means.tolist(), strict=True))
        row["seconds"] = round(time.perf_counter() - start, 3)
        history.append(row)
        log.add(row)
        bar.update(1)
        bar.set_postfix(
            {k: f"{row[k]:.3g}" for k in ("flow", "focus", "cover", "mass_in_mask", "lr") if k in row}
        )
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            _checkpoint(accelerator, run_dir, step, history, config.checkpoints_total_limit)
        if accelerator.is_main_process and config.validate_every and step % config.validate_every == 0:
            write_validation(
                accelerator.unwrap_model(transformer),
                cache,
                fixed,
                config,
                run_dir / "validation" / f"step-{step}",
            )
    bar.close()
    trace.close()
    if config.checkpoint_every and not (run_dir / "checkpoints" / f"step-{step}").is_dir():
        _checkpoint(accelerator, run_dir, step, history, config.checkpoints_total_limit)  # resumable end
    accelerator.wait_for_everyone()
    expert_path = experts_dir / f"{config.style}.safetensors"
    if accelerator.is_main_process:
        entry = {
            "base_model": base_model,
            "base_revision": base_revision(base_model),
            "config_hash": settings_hash(settings),
            "hyperparameters": config.hyperparameters(),
            "steps_trained": step,
            "run": config.style,
        }
        expert_path = save_expert(accelerator.unwrap_model(transformer), config.style, experts_dir, entry)
        write_curves(history, run_dir)
    accelerator.end_training()
    return TrainResult(experts_dir, expert_path, history, accelerator.is_main_process)


def _open_trace(path: Path, step: int):
    """This rank's ``samples-rank{r}.csv`` for appending, keeping only the rows of steps ``<= step``."""
    header = "step,micro_step,samples,sigmas,noise0,loss\n"
    rows = path.read_text().splitlines(keepends=True)[1:] if step and path.is_file() else []
    kept = [r for r in rows if int(r.split(",", 1)[0]) <= step]
    trace = open(path, "w")
    trace.write(header + "".join(kept))
    return trace


def _checkpoint(accelerator: Any, run_dir: Path, step: int, history: list[dict], limit: int | None) -> Path:
    """``run_dir/checkpoints/step-{step}`` (LoRA, optimizer, scheduler, RNG, ``trainer.json``), oldest pruned."""
    path = run_dir / "checkpoints" / f"step-{step}"
    if accelerator.is_main_process:
        prune_checkpoints(run_dir, limit)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "trainer.json").write_text(json.dumps({"step": step, "history": history}))
    accelerator.wait_for_everyone()
    return path


# Moved to regionroute.config, .samples, .step and .diagnostics (issue #21); importable from here for one release.
__all__ = [
    "PRESETS",
    "RUN_FIELDS",
    "CachedSet",
    "TrainConfig",
    "TrainResult",
    "TrainSample",
    "base_revision",
    "config_from",
    "diagnostics",
    "encode_samples",
    "evaluate_fixed_batch",
    "kontext_ids",
    "load_sample",
    "offload_frozen",
    "pack",
    "prepare_transformer",
    "samples_from_split",
    "synthetic_samples",
    "train",
    "training_losses",
    "write_curves",
    "write_validation",
]
