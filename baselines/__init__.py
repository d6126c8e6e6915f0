"""Editing baselines: reference editors, diffusers pipelines and a folder of precomputed edits."""
