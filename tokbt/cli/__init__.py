"""The ``tokbt`` command line, one module per command group.

``tokbt.cli.app`` is the Typer application (the ``tokbt`` console script). Importing this
package registers every group's commands on it: ``data`` (datasets), ``sim`` (scenarios,
calibration, simulations), ``run`` (backtest, compare, mc, paper, demo, report),
``catalog`` (strategies, contracts) and ``runs`` (the run store, and how a run is printed);
``common`` holds what they share. Every number a command prints is written by
``tokbt.report.values``, as the reports write it.
"""

# isort: off
# the groups register their commands on import, in the order ``tokbt --help`` lists them
from tokbt.cli import data, sim, run, catalog, runs  # noqa: F401
from tokbt.cli.common import app

# isort: on

__all__ = ["app"]
