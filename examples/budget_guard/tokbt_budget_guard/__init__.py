"""A budget-guard hedge policy for tokbt, packaged as an outside plugin.

Installing the distribution registers ``budget_guard`` in the
``tokbt.strategies`` entry-point group (see ``pyproject.toml``), so
``tokbt strategies ls`` lists it and a backtest config can name it.
"""

from tokbt_budget_guard.blocks import BudgetRatio
from tokbt_budget_guard.policy import BudgetGuard, BudgetGuardParams

__all__ = ["BudgetGuard", "BudgetGuardParams", "BudgetRatio"]
__version__ = "0.1.0"
