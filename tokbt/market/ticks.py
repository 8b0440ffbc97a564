"""Tick rounding and daily price-limit bands, vectorised over arrays."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

RoundMode = Literal["nearest", "down", "up"]

# Absorbs binary floating-point noise such as 0.3 / 0.1 = 2.9999999999999996
# so that a price already on the grid never moves by a tick.
GRID_EPS = 1e-9
_GRID_EPS = GRID_EPS


@lru_cache(maxsize=256)
def tick_decimals(tick: float) -> int:
    """Decimal places needed to write any multiple of ``tick`` exactly."""
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


@overload
def round_to_tick(price: float, tick: float, mode: RoundMode = ...) -> float: ...
@overload
def round_to_tick(
    price: npt.NDArray[np.float64], tick: float, mode: RoundMode = ...
) -> npt.NDArray[np.float64]: ...
def round_to_tick(
    price: float | npt.NDArray[np.float64], tick: float, mode: RoundMode = "nearest"
) -> float | npt.NDArray[np.float64]:
    """Round ``price`` to a multiple of ``tick``.

    ``nearest`` rounds halves up (away from zero for positive prices), ``down``
    and ``up`` round towards minus and plus infinity. Results are exact decimal
    multiples of the tick (``round_to_tick(0.30000000000000004, 0.001) == 0.3``).
    NaN stays NaN.
    """
    if tick <= 0:
        raise ValueError(f"tick must be positive, got {tick}")
    units = np.asarray(price, dtype=np.float64) / tick
    if mode == "nearest":
        n = np.floor(units + 0.5 + _GRID_EPS)
    elif mode == "down":
        n = np.floor(units + _GRID_EPS)
    elif mode == "up":
        n = np.ceil(units - _GRID_EPS)
    else:
        raise ValueError(f"mode must be 'nearest', 'down' or 'up', got {mode!r}")
    out = np.round(n * tick, tick_decimals(tick))
    return float(out) if np.ndim(out) == 0 else out


def limit_band(
    previous_settle: float | npt.NDArray[np.float64], limit: float | None, tick: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The tradable price band ``[low, high]`` around the previous settlement.

    ``low = prev·(1 − limit)`` rounded *up* and ``high = prev·(1 + limit)``
    rounded *down* to the tick, so every price in the band is within the limit
    — except that the band always allows at least one tick each way: near
    the tick floor ``prev·limit`` is less than a tick and the rounded band
    would otherwise shrink to ``[prev, prev]`` and lock the market for good
    **[assumption; exchanges set a minimum limit in ticks]**. ``low`` is never
    below one tick (prices are positive). ``limit=None`` means no limit: the
    band is ``[tick, +inf]``.
    """
    prev = np.asarray(previous_settle, dtype=np.float64)
    if limit is None:
        return np.full_like(prev, tick), np.full_like(prev, np.inf)
    low = np.minimum(round_to_tick(prev * (1.0 - limit), tick, "up"), prev - tick)
    high = np.maximum(round_to_tick(prev * (1.0 + limit), tick, "down"), prev + tick)
    low = np.round(np.maximum(low, tick), tick_decimals(tick))
    return np.asarray(low), np.asarray(np.round(high, tick_decimals(tick)))
