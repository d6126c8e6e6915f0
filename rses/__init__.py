"""rses: the Regional Style Editing Score benchmark toolkit.

Example:
    >>> import rses
    >>> rses.__version__
    '0.1.0'
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rses")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
