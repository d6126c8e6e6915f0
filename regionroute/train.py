"""RegionRoute training: Kontext flow matching + focus/cover attention supervision on one style's LoRA expert.

The step mirrors diffusers' ``train_dreambooth_lora_flux_kontext.py``: ``x_t = (1 - s) x0 + s eps``, the
transformer sees ``[noisy target | context]`` tokens with the context ids' first axis set to 1 (as
``FluxKontextPipeline`` at inference; the public RegionRoute code omitted it), predicts the velocity
``eps - x0`` on the target tokens, MSE. Everything is cached once and **keyed by sample index** (latents,
prompt embeddings, style-token positions, masks), so a shuffled loader can never mix one sample's latents
with another's prompt or mask (the public code's cache bug).

Example (tiny random-weight pipeline, 2 steps):
    >>> from rses.testing.flux import tiny_kontext_pipeline
    >>> import tempfile
    >>> cfg = TrainConfig(style="pixel-art", steps=2, batch_size=2, grad_accum=1, resolution=64,
    ...                   max_sequence_length=32, validate_every=0, checkpoint_every=0)
    >>> res = train(cfg, tiny_kontext_pipeline(), synthetic_samples(tempfile.mkdtemp(), n=2), tempfile.mkdtemp())
    >>> len(res.history)
    2
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from regionroute.attention import AttentionMapStore, StyleProbe, install_processors
from regionroute.experts import ExpertConfig, add_expert, experts_of, save_expert
from regionroute.losses import AttentionLossConfig, attention_losses, mask_to_grid, mass_in_mask
from regionroute.tokens import pad_token_indices, style_token_indices
from rses.errors import UsageError

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training options; defaults follow the paper where it states them (paper.md section 6).

    ``lr`` is the paper's 1e-4 (public code 1e-5), ``steps`` the paper's 5000 (code 10000); ``batch_size`` 2 x
    ``grad_accum`` 4 as both. ``attn_loss`` is a real boolean (the public flag could not be turned off).
    """

    style: str
    steps: int = 5000
    batch_size: int = 2
    grad_accum: int = 4
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    optimizer: str = "adamw"  # or "adamw8bit" (bitsandbytes)
    resolution: int = 1024
    max_sequence_length: int = 512
    guidance: float = 1.0
    attn_loss: bool = True
    layers: str = "all"
    softmax_over: str = "text"
    gradient_checkpointing: bool = True
    mixed_precision: str = "no"
    seed: int = 0
    checkpoint_every: int = 500
    validate_every: int = 500
    expert: ExpertConfig = field(default_factory=ExpertConfig)
    losses: AttentionLossConfig = field(default_factory=AttentionLossConfig)


@dataclass
class TrainSample:
    """One (context/source, target/pseudo-GT, mask, prompt) training example."""

    source: Path
    target: Path
    mask: Path
    prompt: str
    style: str


@dataclass
class TrainResult:
    out_dir: Path
    expert_path: Path
    history: list[dict] = field(default_factory=list)


@dataclass
class CachedSet:
    """All model inputs of a training set, stacked along dim 0 and indexed by sample index."""

    target_latents: torch.Tensor
    context_latents: torch.Tensor
    prompt_embeds: torch.Tensor
    pooled: torch.Tensor
    text_ids: torch.Tensor
    token_index: torch.Tensor
    token_valid: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return self.target_latents.shape[0]

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch of samples ``index`` (every field taken at the same indices)."""
        fields = (
            "target_latents",
            "context_latents",
            "prompt_embeds",
            "pooled",
            "token_index",
            "token_valid",
            "mask",
        )
        return {k: getattr(self, k)[index] for k in fields} | {"text_ids": self.text_ids}


def _load_rgb(path: Path, size: int) -> torch.Tensor:
    from PIL import Image

    img = Image.open(path).convert("RGB").resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 127.5 - 1.0


def _load_mask(path: Path, size: int) -> torch.Tensor:
    from PIL import Image

    img = Image.open(path)
    band = img.getchannel(0) if img.mode in ("RGB", "RGBA") else img.convert("L")
    return torch.from_numpy(np.array(band.resize((size, size), Image.NEAREST))).float()


@torch.no_grad()
def encode_samples(
    pipe, samples: Sequence[TrainSample], resolution: int, max_sequence_length: int
) -> CachedSet:
    """Encode every sample once (VAE latents as the distribution mode, T5/CLIP embeddings, token positions)."""
    if resolution % 16:
        raise UsageError(f"resolution must be a multiple of 16, got {resolution}.")
    vae, device = pipe.vae, pipe.transformer.device
    sf, shift = vae.config.scaling_factor, vae.config.shift_factor or 0.0
    targets, contexts, embeds, pooled, tokens, masks = [], [], [], [], [], []
    grid = (resolution // (pipe.vae_scale_factor * 2),) * 2
    for s in samples:
        pair = torch.stack([_load_rgb(s.target, resolution), _load_rgb(s.source, resolution)]).to(
            device, vae.dtype
        )
        lat = (vae.encode(pair).latent_dist.mode() - shift) * sf
        targets.append(lat[0])
        contexts.append(lat[1])
        pe, pp, text_ids = pipe.encode_prompt(
            prompt=s.prompt, prompt_2=None, device=device, max_sequence_length=max_sequence_length
        )
        embeds.append(pe[0])
        pooled.append(pp[0])
        tokens.append(style_token_indices(pipe.tokenizer_2, s.prompt, s.style, max_sequence_length))
        masks.append(mask_to_grid(_load_mask(s.mask, resolution)[None], grid)[0])
    index, valid = pad_token_indices(tokens)
    return CachedSet(
        torch.stack(targets),
        torch.stack(contexts),
        torch.stack(embeds),
        torch.stack(pooled),
        text_ids,
        index.to(device),
        valid.to(device),
        torch.stack(masks).to(device),
    )


def kontext_ids(height: int, width: int, device, dtype) -> torch.Tensor:
    """Position ids of ``[target | context]`` packed tokens for latents of ``height x width`` (context axis 0 = 1)."""
    from diffusers import FluxKontextPipeline

    ids = FluxKontextPipeline._prepare_latent_image_ids(1, height // 2, width // 2, device, dtype)
    ctx = ids.clone()
    ctx[..., 0] = 1
    return torch.cat([ids, ctx], dim=0)


def pack(latents: torch.Tensor) -> torch.Tensor:
    from diffusers import FluxKontextPipeline

    b, c, h, w = latents.shape
    return FluxKontextPipeline._pack_latents(latents, b, c, h, w)


def training_losses(
    transformer,
    batch: dict,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    guidance: float = 1.0,
    loss_config: AttentionLossConfig | None = None,
    attn_loss: bool = True,
    softmax_over: str = "text",
) -> dict:
    """One forward: flow-matching MSE plus (optionally) focus/cover on this batch's style maps.

    Returns ``{"loss", "flow"}`` and, with ``attn_loss``, ``"focus", "cover", "attn", "maps"``.
    """
    x0 = batch["target_latents"]
    s = sigmas.view(-1, 1, 1, 1).to(x0.dtype)
    packed = pack((1.0 - s) * x0 + s * noise)
    context = pack(batch["context_latents"])
    n = packed.shape[1]
    ids = kontext_ids(x0.shape[2], x0.shape[3], x0.device, x0.dtype)
    store, kwargs = AttentionMapStore(), None
    if attn_loss:
        probe = StyleProbe(
            batch["token_index"],
            batch["token_valid"],
            batch["prompt_embeds"].shape[1],
            n,
            store,
            softmax_over,
        )
        kwargs = {"style_probe": probe}
    g = torch.full((x0.shape[0],), guidance, device=x0.device) if transformer.config.guidance_embeds else None
    with store.recording():
        pred = transformer(
            hidden_states=torch.cat([packed, context], dim=1),
            timestep=sigmas,
            guidance=g,
            pooled_projections=batch["pooled"],
            encoder_hidden_states=batch["prompt_embeds"],
            txt_ids=batch["text_ids"],
            img_ids=ids,
            joint_attention_kwargs=kwargs,
            return_dict=False,
        )[0][:, :n]
    flow = F.mse_loss(pred.float(), pack(noise - x0).float())
    out = {"flow": flow, "loss": flow}
    if attn_loss:
        maps = store.stacked()
        att = attention_losses(
            maps, batch["mask"], batch["token_valid"], loss_config or AttentionLossConfig()
        )
        out |= att | {"loss": flow + att["attn"], "maps": maps}
    return out


def sample_sigmas(batch_size: int, generator: torch.Generator, device) -> torch.Tensor:
    """Uniform timesteps on the 1000-step grid (``weighting_scheme=none``), as sigmas in (0, 1]."""
    idx = torch.randint(0, 1000, (batch_size,), generator=generator)
    return ((1000 - idx).float() / 1000.0).to(device)


@torch.no_grad()
def evaluate_fixed_batch(
    transformer,
    cache: CachedSet,
    index: torch.Tensor,
    config: TrainConfig,
    sigma: float = 0.5,
    seed: int = 1234,
) -> dict[str, float]:
    """Focus, cover and attention share inside the mask on a fixed batch, sigma and noise."""
    batch = cache.batch(index)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch["target_latents"].shape, generator=gen).to(batch["target_latents"])
    sig = torch.full((len(index),), sigma, device=noise.device)
    out = training_losses(
        transformer,
        batch,
        noise,
        sig,
        config.guidance,
        config.losses,
        attn_loss=True,
        softmax_over=config.softmax_over,
    )
    return _diagnostics(out, batch)


def _diagnostics(out: dict, batch: dict) -> dict[str, float]:
    """Flow, focus, cover and the share of attention inside the mask, as floats for logs."""
    share = mass_in_mask(out["maps"].detach(), batch["mask"], batch["token_valid"])
    return {k: float(out[k]) for k in ("flow", "focus", "cover")} | {"mass_in_mask": float(share)}


def _optimizer(params, config: TrainConfig):
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


def prepare_transformer(transformer, config: TrainConfig) -> list[torch.nn.Parameter]:
    """Freeze the backbone, add the style's expert, install the processors; return the trainable parameters."""
    transformer.requires_grad_(False)
    if config.style in experts_of(transformer):
        transformer.set_adapters(config.style)  # continue training an existing expert
    else:
        add_expert(transformer, config.style, config.expert)
    install_processors(transformer, config.layers)
    if config.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    params = [p for n, p in transformer.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)
    return params


def _latest_checkpoint(out_dir: Path) -> Path | None:
    ckpts = sorted((out_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def train(
    config: TrainConfig, pipe, samples: Sequence[TrainSample], out_dir: str | Path, resume: bool = True
) -> TrainResult:
    """Train ``config.style``'s expert on ``samples``; write checkpoints, curves, validation PNGs and the expert.

    Resumes from the newest ``out_dir/checkpoints/step-*`` when ``resume``. Returns the loss history.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not samples:
        raise UsageError(f"No training samples for style {config.style!r}.")
    accelerator = Accelerator(
        gradient_accumulation_steps=config.grad_accum, mixed_precision=config.mixed_precision
    )
    set_seed(config.seed)
    pipe.to(accelerator.device)
    cache = encode_samples(pipe, samples, config.resolution, config.max_sequence_length)
    transformer = pipe.transformer
    params = prepare_transformer(transformer, config)
    optimizer = _optimizer(params, config)
    loader = torch.utils.data.DataLoader(
        range(len(cache)),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(cache) >= config.batch_size,
        generator=torch.Generator().manual_seed(config.seed),
    )
    transformer, optimizer, loader = accelerator.prepare(transformer, optimizer, loader)
    (out_dir / "config.json").write_text(json.dumps(asdict(config), indent=2, default=str))
    step, history = 0, []
    ckpt = _latest_checkpoint(out_dir) if resume else None
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        state = json.loads((ckpt / "trainer.json").read_text())
        step, history = state["step"], state["history"]
        logger.info("resumed from %s at step %d", ckpt, step)
    gen = torch.Generator().manual_seed(config.seed + step)
    fixed = torch.arange(min(config.batch_size, len(cache)))
    while step < config.steps:
        for index in loader:
            with accelerator.accumulate(transformer):
                batch = cache.batch(index.to(cache.mask.device))
                noise = torch.randn(batch["target_latents"].shape, generator=gen).to(batch["target_latents"])
                sigmas = sample_sigmas(len(index), gen, noise.device)
                out = training_losses(
                    transformer,
                    batch,
                    noise,
                    sigmas,
                    config.guidance,
                    config.losses,
                    config.attn_loss,
                    config.softmax_over,
                )
                accelerator.backward(out["loss"])
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, config.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            if not accelerator.sync_gradients:
                continue
            step += 1
            row = {"step": step} | {k: float(v.detach()) for k, v in out.items() if k != "maps"}
            history.append(row)
            logger.info("step %d %s", step, row)
            if (
                accelerator.is_main_process
                and config.checkpoint_every
                and step % config.checkpoint_every == 0
            ):
                ckpt = out_dir / "checkpoints" / f"step-{step}"
                accelerator.save_state(str(ckpt))
                (ckpt / "trainer.json").write_text(json.dumps({"step": step, "history": history}))
            if accelerator.is_main_process and config.validate_every and step % config.validate_every == 0:
                write_validation(
                    accelerator.unwrap_model(transformer),
                    cache,
                    fixed,
                    config,
                    out_dir / "validation" / f"step-{step}",
                )
            if step >= config.steps:
                break
    accelerator.wait_for_everyone()
    model = accelerator.unwrap_model(transformer)
    expert_path = save_expert(model, config.style, out_dir) if accelerator.is_main_process else out_dir
    if accelerator.is_main_process:
        write_curves(history, out_dir)
    return TrainResult(out_dir, expert_path, history)


def write_curves(history: list[dict], out_dir: Path) -> None:
    """``losses.csv``, ``losses.json`` and ``losses.png`` (flow, focus, cover vs step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    keys = list(history[-1])
    with open(out_dir / "losses.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
    (out_dir / "losses.json").write_text(json.dumps(history, indent=1))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, key in zip(axes, ("flow", "focus", "cover"), strict=False):
        ax.plot([r["step"] for r in history if key in r], [r[key] for r in history if key in r])
        ax.set_title(key)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out_dir / "losses.png", dpi=80)
    plt.close(fig)


@torch.no_grad()
def write_validation(
    transformer, cache: CachedSet, index: torch.Tensor, config: TrainConfig, out_dir: Path
) -> dict:
    """Attention-map overlays (layer/token-averaged style map over mask outline, paper Fig. 4) + metrics JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    batch = cache.batch(index.to(cache.mask.device))
    gen = torch.Generator().manual_seed(1234)
    noise = torch.randn(batch["target_latents"].shape, generator=gen).to(batch["target_latents"])
    out = training_losses(
        transformer,
        batch,
        noise,
        torch.full((len(index),), 0.5, device=noise.device),
        config.guidance,
        config.losses,
        attn_loss=True,
        softmax_over=config.softmax_over,
    )
    valid = batch["token_valid"].float()[None, :, None, :]
    avg = ((out["maps"] * valid).sum((0, 3)) / (valid.sum((0, 3)) * out["maps"].shape[0])).cpu()
    side = int(math.isqrt(avg.shape[1]))
    for b in range(len(index)):
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(avg[b].view(side, side).numpy(), cmap="jet")
        ax.contour(batch["mask"][b].view(side, side).cpu().numpy(), levels=[0.5], colors="white")
        ax.set_axis_off()
        fig.savefig(out_dir / f"attention_{int(index[b])}.png", dpi=80, bbox_inches="tight")
        plt.close(fig)
    metrics = _diagnostics(out, batch)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def synthetic_samples(
    root: str | Path, n: int = 4, style: str = "pixel-art", size: int = 64
) -> list[TrainSample]:
    """``n`` tiny (source, target, mask) triples from scikit-image photos, for tests and ``--smoke`` runs.

    The target is the source with the masked object's colours quantised (a crude "pixel-art" stand-in).
    """
    from PIL import Image
    from skimage import data

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    out = []
    for i in range(n):
        img = np.asarray(Image.fromarray(photos[i % len(photos)]).resize((size, size)))
        mask = np.zeros((size, size), np.uint8)
        q = size // 4
        r0, c0 = (i % 2) * q, ((i // 2) % 2) * q
        mask[r0 : r0 + 2 * q, c0 : c0 + 2 * q] = 255
        target = np.where(mask[..., None] > 0, (img // 64) * 64, img).astype(np.uint8)
        paths = [root / f"{i}_{k}.png" for k in ("source", "target", "mask")]
        for p, a in zip(paths, (img, target, mask), strict=False):
            Image.fromarray(a).save(p)
        out.append(
            TrainSample(
                paths[0],
                paths[1],
                paths[2],
                f"make the cat in {style} style, keep other area unchanged",
                style,
            )
        )
    return out


def samples_from_split(spec: str, style: str) -> list[TrainSample]:
    """The samples of split ``spec`` with ``style`` that have a target (pseudo-GT) image.

    Raises:
        UsageError: no sample of that style has a target.
    """
    from rses.data.manifest import load_split

    split = load_split(spec)
    out = [
        TrainSample(s.source, s.target, s.mask, s.prompt, s.style)
        for s in split.samples
        if s.style == style and s.target is not None
    ]
    if not out:
        raise UsageError(
            f"Split {spec!r} has no sample of style {style!r} with a target image; build pseudo-GT "
            "with `rses data pseudo-gt` first."
        )
    return out
