"""Every docstring example in the packages runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import baselines
import regionroute
import rses

MODULES = sorted(
    info.name
    for package in (rses, baselines, regionroute)
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", ["rses", *MODULES])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
