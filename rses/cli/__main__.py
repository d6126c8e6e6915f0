"""``python -m rses.cli``: the ``rses`` command line."""

from rses.cli import main

main()
