"""Shared fixtures: tiny random-weight backends, built once (input helpers: ``metrics_kit``)."""

import pytest

from rses.testing.clip import tiny_clip_backend
from rses.testing.lpips import tiny_lpips_backend


@pytest.fixture(scope="session")
def clip_backend():
    return tiny_clip_backend(seed=0)


@pytest.fixture(scope="session")
def lpips_backend():
    return tiny_lpips_backend(seed=0)
