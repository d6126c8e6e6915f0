"""Reports of benchmark runs: leaderboard tables, breakdowns, plots and a self-contained HTML page.

Modules: :mod:`~rses.report.runs` (reading run directories), :mod:`~rses.report.selection` (which metrics,
which direction), :mod:`~rses.report.pareto`, :mod:`~rses.report.breakdown` (per style / object size),
:mod:`~rses.leaderboard`, :mod:`~rses.report.plots`, :mod:`~rses.report.assemble` (all of it from run
directories) and :mod:`~rses.report.html` (the page). ``rses report`` and ``rses plot`` are the commands.
"""
