"""Time one RegionRoute training step at the real FLUX.1 size with random weights (no downloads).

Builds FluxTransformer2DModel (19 double + 38 single blocks, 24 x 128 heads) in bf16 directly on the device
(meta init + ``to_empty``), adds a rank-4 style expert, installs the RegionRoute processors, enables gradient
checkpointing, and times forward + (focus/cover) + backward at 1024x1024 (4096 target + 4096 context tokens)
with and without the attention losses. The LoRA weights are float32 on the bf16 base, as ``rses train``
trains them (``--bf16-lora`` for the old behaviour). Then one AdamW step and a checkpoint in the trainer's
format (accelerate state with the LoRA-only hooks of ``regionroute.checkpoints``): its size goes in the
result. Writes ``gpu_flux_step.json`` to ``--out``.

    python benchmarks/gpu_flux_step.py --out /tmp/gpu            # real size, CUDA
    python benchmarks/gpu_flux_step.py --out /tmp/x --device cpu --tiny
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regionroute.attention import install_processors  # noqa: E402
from regionroute.checkpoints import register_lora_hooks  # noqa: E402
from regionroute.experts import ExpertConfig, add_expert  # noqa: E402
from regionroute.train import training_losses  # noqa: E402

REAL = dict(
    patch_size=1,
    in_channels=64,
    num_layers=19,
    num_single_layers=38,
    attention_head_dim=128,
    num_attention_heads=24,
    joint_attention_dim=4096,
    pooled_projection_dim=768,
    guidance_embeds=True,
    axes_dims_rope=[16, 56, 56],
)
TINY = dict(
    patch_size=1,
    in_channels=64,
    num_layers=1,
    num_single_layers=1,
    attention_head_dim=16,
    num_attention_heads=2,
    joint_attention_dim=32,
    pooled_projection_dim=32,
    guidance_embeds=True,
    axes_dims_rope=[4, 4, 8],
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def build(config: dict, device: torch.device, dtype: torch.dtype):
    from diffusers import FluxTransformer2DModel

    with torch.device("meta"):
        model = FluxTransformer2DModel(**config)
    model = model.to_empty(device=device)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 0.02)
            elif "norm" in name and "weight" in name:
                p.fill_(1.0)
            else:
                p.zero_()
        for b in model.buffers():  # RoPE etc. have no persistent buffers, but be safe
            b.zero_() if b.is_floating_point() else None
    return model.to(dtype)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--text-len", type=int, default=512)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--layers", type=int, nargs=2, metavar=("DOUBLE", "SINGLE"), help="override block counts")
    ap.add_argument(
        "--cudnn-sdpa",
        action="store_true",
        help="allow PyTorch's cuDNN attention (its backward failed on an H200 with torch 2.11)",
    )
    ap.add_argument("--no-probe-layers", action="store_true", help="keep diffusers' default processors")
    ap.add_argument("--bf16-lora", action="store_true", help="leave the LoRA in the base dtype (old trainer)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    if device.type == "cuda" and not args.cudnn_sdpa:
        torch.backends.cuda.enable_cudnn_sdp(False)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    cfg = dict(TINY if args.tiny else REAL)
    if args.layers:
        cfg["num_layers"], cfg["num_single_layers"] = args.layers
    size, text_len = (64, 16) if args.tiny else (args.size, args.text_len)
    result: dict = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "tiny": args.tiny,
        "size": size,
        "text_len": text_len,
        "batch": args.batch,
        "blocks": [cfg["num_layers"], cfg["num_single_layers"]],
        "dtype": str(dtype),
    }

    def dump() -> None:
        (out / "gpu_flux_step.json").write_text(json.dumps(result, indent=2))

    t0 = time.perf_counter()
    log(f"building transformer ({'tiny' if args.tiny else 'FLUX.1 real size'}) on {device}")
    model = build(cfg, device, dtype)
    model.requires_grad_(False)
    add_expert(model, "pixel-art", ExpertConfig())
    layers = [] if args.no_probe_layers else install_processors(model)
    model.enable_gradient_checkpointing()
    params = [p for n, p in model.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)
    if not args.bf16_lora:
        from diffusers.training_utils import cast_training_params

        cast_training_params(model, dtype=torch.float32)
    result |= {
        "lora_dtype": str(params[0].dtype),
        "build_s": time.perf_counter() - t0,
        "lora_params": sum(p.numel() for p in params),
        "layers_supervised": len(layers),
    }
    log(f"built in {result['build_s']:.1f}s; LoRA params {result['lora_params']:,}; {len(layers)} layers")
    dump()

    lat = size // 8
    b = args.batch
    g = torch.Generator(device="cpu").manual_seed(0)
    mask = torch.zeros(b, (lat // 2) ** 2, device=device)
    mask[:, : mask.shape[1] // 3] = 1
    batch = {
        "target_latents": torch.randn(b, 16, lat, lat, generator=g).to(device, dtype),
        "context_latents": torch.randn(b, 16, lat, lat, generator=g).to(device, dtype),
        "prompt_embeds": torch.randn(b, text_len, cfg["joint_attention_dim"], generator=g).to(device, dtype),
        "pooled": torch.randn(b, cfg["pooled_projection_dim"], generator=g).to(device, dtype),
        "text_ids": torch.zeros(text_len, 3, device=device, dtype=dtype),
        "token_index": torch.tensor([[6, 7, 8]] * b, device=device),
        "token_valid": torch.ones(b, 3, dtype=torch.bool, device=device),
        "mask": mask,
    }
    noise = torch.randn(batch["target_latents"].shape, generator=g).to(device, dtype)
    sig = torch.full((b,), 0.5, device=device)

    def step(attn: bool) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda"):
            loss = training_losses(model, batch, noise, sig, attn_loss=attn)["loss"]
        loss.backward()
        for p in params:
            p.grad = None
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    for attn in (False, True):
        key = "with_attention_losses" if attn else "lora_only"
        try:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            log(f"{key}: warmup")
            warm = step(attn)
            times = []
            for i in range(args.iters):
                times.append(step(attn))
                log(f"{key}: iter {i} {times[-1]:.3f}s")
            result[key] = {
                "warmup_s": warm,
                "step_s": sorted(times)[len(times) // 2],
                "times_s": times,
                "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
            }
        except Exception as err:  # keep whatever was measured
            result[key] = {"error": f"{type(err).__name__}: {err}"[:500], "traceback": traceback.format_exc()}
            traceback.print_exc()
            log(f"{key}: FAILED {err}")
        dump()
    if "step_s" in result.get("lora_only", {}) and "step_s" in result.get("with_attention_losses", {}):
        result["overhead_pct"] = 100 * (
            result["with_attention_losses"]["step_s"] / result["lora_only"]["step_s"] - 1
        )
    try:
        result["checkpoint"] = checkpoint(model, params, batch, noise, sig, out / "checkpoint")
    except Exception as err:  # keep the timings
        result["checkpoint"] = {"error": f"{type(err).__name__}: {err}"[:500]}
        traceback.print_exc()
    result["total_s"] = time.perf_counter() - t0
    dump()
    log(json.dumps(result))


def checkpoint(model, params, batch, noise, sig, path: Path) -> dict:
    """One AdamW step, then ``accelerator.save_state`` with the LoRA-only hooks; the files' sizes in bytes."""
    from accelerate import Accelerator

    accelerator = Accelerator()
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    model, optimizer = accelerator.prepare(model, optimizer)
    register_lora_hooks(accelerator, "pixel-art")
    training_losses(model, batch, noise, sig)["loss"].backward()
    optimizer.step()
    accelerator.save_state(str(path))
    files = {f.name: f.stat().st_size for f in sorted(path.iterdir())}
    return {"files": files, "total_bytes": sum(files.values())}


if __name__ == "__main__":
    main()
