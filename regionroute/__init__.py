"""RegionRoute: per-style LoRA experts for Flux Kontext, trained with attention losses on the style tokens."""
