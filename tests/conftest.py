"""Test-wide settings: never touch the network or the user's Hugging Face cache."""

import os
import tempfile

import pytest

_HF_HOME = tempfile.mkdtemp(prefix="rses-test-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = _HF_HOME
os.environ.pop("HF_HUB_CACHE", None)
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("RSES_CACHE_DIR", tempfile.mkdtemp(prefix="rses-test-cache-"))


@pytest.fixture(autouse=True)
def _seeded_torch():
    import torch

    torch.manual_seed(0)
    yield
