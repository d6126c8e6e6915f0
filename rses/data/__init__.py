"""Benchmark splits: manifests, the built-in split shipped in the package, and dataset builders.

Example:
    >>> from rses.data import load_split
    >>> load_split("train").name
    'train'
"""

from rses.data.manifest import (
    PROMPT_TEMPLATE,
    STYLES,
    Sample,
    Split,
    available_splits,
    default_prompt,
    load_split,
    read_manifest,
    sample_record,
    splits_dir,
    write_manifest,
)

__all__ = [
    "PROMPT_TEMPLATE",
    "STYLES",
    "Sample",
    "Split",
    "available_splits",
    "default_prompt",
    "load_split",
    "read_manifest",
    "sample_record",
    "splits_dir",
    "write_manifest",
]
