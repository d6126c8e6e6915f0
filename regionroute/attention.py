"""Style-token attention maps, computed inside Flux's own attention pass.

:class:`RegionRouteAttnProcessor` has :class:`~diffusers.models.transformers.transformer_flux.FluxAttnProcessor`'s
signature and computes the same attention output (bit for bit: the same ops in the same order). When the
forward gets ``joint_attention_kwargs={"style_probe": probe}`` it additionally computes, per sample, the map

    A[b, n, k] = mean_h softmax_j( q[b, T + n, h] . key[b, j, h] / sqrt(d) )[j = idx[b, k]]

for the noisy *target* image queries ``n < N`` (text first, then target, then Kontext context tokens), over
the sample's text keys ``j < T``, read at *that sample's own* style-word tokens ``idx[b]`` (padded, with
``valid[b]``). No softmax over a batch union and no cross-talk. The public code's map (a softmax over the
style keys only) is not offered: it sums to 1 over the style tokens at every position, so Focus and Cover
barely depend on the mask (Cover not at all); see docs/regionroute.md. Queries and keys are taken after q/k RMSNorm
and RoPE, as in the public code.
The maps go to ``probe.store`` keyed by layer name; only while the store is recording, so the recomputation
of gradient checkpointing does not overwrite them.

Example:
    >>> store = AttentionMapStore()
    >>> with store.recording():
    ...     store.put("a", torch.ones(1, 4, 2))
    >>> store.stacked().shape
    torch.Size([1, 1, 4, 2])
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_flux import _get_qkv_projections


class AttentionMapStore:
    """Per-layer style-attention maps ``(B, N, K)`` of the current forward, in layer order."""

    def __init__(self) -> None:
        self.maps: dict[str, torch.Tensor] = {}
        self._recording = False

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Record maps for the duration (clears the previous forward's maps first)."""
        self.maps.clear()
        self._recording = True
        try:
            yield self
        finally:
            self._recording = False

    def put(self, name: str, attn_map: torch.Tensor) -> None:
        """Store one layer's map; ignored outside :meth:`recording`."""
        if self._recording:
            self.maps[name] = attn_map

    def stacked(self) -> torch.Tensor:
        """All recorded maps as one ``(L, B, N, K)`` tensor."""
        if not self.maps:
            raise RuntimeError(
                "No attention maps were recorded: run the forward inside store.recording() "
                "with joint_attention_kwargs={'style_probe': probe} and the processors installed."
            )
        return torch.stack(list(self.maps.values()))


@dataclass
class StyleProbe:
    """What the processors need to compute the style maps of one batch.

    Attributes:
        token_index: ``(B, K)`` long, each sample's style-token positions in the text sequence (padded).
        token_valid: ``(B, K)`` bool, which entries of ``token_index`` are real.
        text_len: text sequence length ``T`` (the single-stream blocks see text and image concatenated).
        target_len: number ``N`` of noisy target image tokens (they follow the text; context tokens follow them).
        store: where the maps go.
    """

    token_index: torch.Tensor
    token_valid: torch.Tensor
    text_len: int
    target_len: int
    store: AttentionMapStore = field(default_factory=AttentionMapStore)

    @functools.cached_property
    def selector(self) -> torch.Tensor:
        """``(B, T, K)`` float32 one-hot of each sample's style tokens (0 for padding), built once per batch:
        ``probs @ selector`` reads the style columns of every layer's ``(B, N, T)`` probabilities.
        """
        b, k = self.token_index.shape
        selector = torch.zeros(b, self.text_len, k, device=self.token_index.device)
        return selector.scatter_(1, self.token_index[:, None, :], self.token_valid[:, None, :].float())


def style_attention_map(query: torch.Tensor, key: torch.Tensor, probe: StyleProbe) -> torch.Tensor:
    """Head-averaged attention of target-image queries to each sample's style-token keys.

    Args:
        query: ``(B, S, H, D)`` after norm and RoPE, sequence ``[text | target | context]``.
        key: same layout as ``query``.
        probe: token positions and lengths. The softmax runs over the sample's ``T`` text keys, then the
            style columns are read: the attention-probability reading of the paper's formula.

    Returns:
        ``(B, N, K)`` float32 map, values in [0, 1] (about ``1 / T`` where attention is spread evenly);
        padding columns are 0.
    """
    t, n = probe.text_len, probe.target_len
    q_img = query[:, t : t + n].float()
    scale = query.shape[-1] ** -0.5
    # Few ops on purpose: this runs in every attention layer of every training step. Scores are (B, H, N, T).
    scores = torch.matmul(q_img.transpose(1, 2) * scale, key[:, :t].float().permute(0, 2, 3, 1))
    return torch.bmm(scores.softmax(dim=-1).mean(dim=1), probe.selector)


class RegionRouteAttnProcessor:
    """FluxAttnProcessor plus the per-sample style-token map (see the module docstring).

    Args:
        name: the layer's dotted name (key in the map store).
    """

    _attention_backend = None
    _parallel_config = None

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
        style_probe: StyleProbe | None = None,
    ):
        """Flux attention of ``attn``; with ``style_probe``, also stores the style tokens' map in its store."""
        # Copied from diffusers.models.transformers.transformer_flux.FluxAttnProcessor.__call__ (0.42.1),
        # with the style_attention_map side computation added after RoPE.
        query, key, value, encoder_query, encoder_key, encoder_value = _get_qkv_projections(
            attn, hidden_states, encoder_hidden_states
        )
        query = query.unflatten(-1, (-1, attn.head_dim))
        key = key.unflatten(-1, (-1, attn.head_dim))
        value = value.unflatten(-1, (-1, attn.head_dim))
        query = attn.norm_q(query)
        key = attn.norm_k(key)
        if attn.added_kv_proj_dim is not None:
            encoder_query = encoder_query.unflatten(-1, (-1, attn.head_dim))
            encoder_key = encoder_key.unflatten(-1, (-1, attn.head_dim))
            encoder_value = encoder_value.unflatten(-1, (-1, attn.head_dim))
            encoder_query = attn.norm_added_q(encoder_query)
            encoder_key = attn.norm_added_k(encoder_key)
            query = torch.cat([encoder_query, query], dim=1)
            key = torch.cat([encoder_key, key], dim=1)
            value = torch.cat([encoder_value, value], dim=1)
        if image_rotary_emb is not None:
            query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)

        if style_probe is not None:
            if encoder_hidden_states is not None and encoder_hidden_states.shape[1] != style_probe.text_len:
                raise ValueError(
                    f"style_probe.text_len={style_probe.text_len} but the text stream has "
                    f"{encoder_hidden_states.shape[1]} tokens in layer {self.name!r}."
                )
            style_probe.store.put(self.name, style_attention_map(query, key, style_probe))

        hidden_states = dispatch_attention_fn(
            query,
            key,
            value,
            attn_mask=attention_mask,
            backend=self._attention_backend,
            parallel_config=self._parallel_config,
        )
        hidden_states = hidden_states.flatten(2, 3)
        hidden_states = hidden_states.to(query.dtype)
        if encoder_hidden_states is not None:
            encoder_hidden_states, hidden_states = hidden_states.split_with_sizes(
                [encoder_hidden_states.shape[1], hidden_states.shape[1] - encoder_hidden_states.shape[1]],
                dim=1,
            )
            hidden_states = attn.to_out[0](hidden_states.contiguous())
            hidden_states = attn.to_out[1](hidden_states)
            encoder_hidden_states = attn.to_add_out(encoder_hidden_states.contiguous())
            return hidden_states, encoder_hidden_states
        return hidden_states


def install_processors(transformer: Any, layers: str = "all") -> list[str]:
    """Install one :class:`RegionRouteAttnProcessor` per chosen attention layer; return their names.

    Args:
        transformer: a ``FluxTransformer2DModel``.
        layers: ``"all"`` (every double- and single-stream block, as the public code), ``"double"`` or
            ``"single"``.

    Raises:
        ValueError: unknown ``layers``.
    """
    prefixes = {
        "all": ("transformer_blocks", "single_transformer_blocks"),
        "double": ("transformer_blocks",),
        "single": ("single_transformer_blocks",),
    }
    if layers not in prefixes:
        raise ValueError(f"layers={layers!r}; use one of {sorted(prefixes)}.")
    processors = dict(transformer.attn_processors)
    chosen = [n for n in processors if n.split(".")[0] in prefixes[layers]]
    for name in chosen:
        processors[name] = RegionRouteAttnProcessor(name.removesuffix(".processor"))
    transformer.set_attn_processor(processors)
    return [n.removesuffix(".processor") for n in chosen]
