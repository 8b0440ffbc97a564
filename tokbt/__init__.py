"""tokbt — event-driven backtesting of AI-inference compute-cost hedges with token futures.

``tokbt.backtest`` is ``tokbt.runs.backtest`` and ``tokbt.market_from_arrays`` is
``tokbt.data.market_from_arrays``, imported on first use so that ``import tokbt`` stays
light and lower modules may read ``tokbt.__version__``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "backtest", "market_from_arrays"]


def __getattr__(name: str) -> Any:
    if name == "backtest":
        from tokbt.runs import backtest

        return backtest
    if name == "market_from_arrays":
        from tokbt.runs import market_from_arrays

        return market_from_arrays
    raise AttributeError(f"module 'tokbt' has no attribute {name!r}")
