"""The ``rses`` command line with the harness's fake editors registered (for subprocess tests)."""

import harness_fakes  # noqa: F401  (registers the fake editors)

from rses.cli import main

main()
