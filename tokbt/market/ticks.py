"""Tick rounding and daily price-limit bands, vectorised over arrays."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

RoundMode = Literal["nearest", "down", "up"]

# Absorbs binary floating-point noise such as 0.3 / 0.1 = 2.9999999999999996
# so that a price already on the grid never moves by a tick.
GRID_EPS = 1e-9


@lru_cache(maxsize=256)
def tick_decimals(tick: float) -> int:
    """Decimal places needed to write any multiple of ``tick`` exactly."""
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


NEAREST, DOWN, UP = 0, 1, 2
"""Rounding modes of ``on_grid`` (``RoundMode`` ``nearest``, ``down``, ``up``)."""
_MODES = {"nearest": NEAREST, "down": DOWN, "up": UP}


def on_grid(price: float, tick: float, scale: float, mode: int, floor: bool) -> float:
    """The one tick-rounding rule (plain Python, compiled by numba where it is used:
    ``round_to_tick``'s loop and the core's fills): ``price`` as ``n`` ticks — ``n = ⌊units + ½⌋``
    (nearest, halves up), ``⌊units⌋`` (down) or ``⌈units⌉`` (up), with ``GRID_EPS`` of
    tolerance so a price already on the grid never moves — at least one tick if
    ``floor``; written exactly as ``rint(n·tick·scale) / scale`` with ``scale =
    10**tick_decimals(tick)`` (numpy's ``round(n·tick, decimals)``). NaN stays NaN."""
    units = price / tick
    if mode == NEAREST:
        n = np.floor(units + 0.5 + GRID_EPS)
    elif mode == DOWN:
        n = np.floor(units + GRID_EPS)
    else:
        n = np.ceil(units - GRID_EPS)
    if floor and n < 1.0:
        n = 1.0
    return float(np.rint(n * tick * scale) / scale)


def _on_grid_array(
    prices: np.ndarray, tick: float, scale: float, mode: int, floor: bool, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    for i in range(prices.shape[0]):
        out[i] = _RULE(prices[i], tick, scale, mode, floor)


_RULE: Any = None
_LOOP: Any = None


def _compiled() -> tuple[Any, Any]:
    """``on_grid`` and its loop over an array, compiled (or loaded from numba's cache) on
    first use: importing ``tokbt.market`` does not import numba."""
    global _RULE, _LOOP
    if _LOOP is None:
        from numba import njit

        _RULE = njit(cache=True, error_model="numpy")(on_grid)
        _LOOP = njit(cache=True)(_on_grid_array)
    return _RULE, _LOOP


@overload
def round_to_tick(
    price: float, tick: float, mode: RoundMode = ..., *, at_least_one_tick: bool = ...
) -> float: ...
@overload
def round_to_tick(
    price: npt.NDArray[np.float64],
    tick: float,
    mode: RoundMode = ...,
    *,
    at_least_one_tick: bool = ...,
) -> npt.NDArray[np.float64]: ...
def round_to_tick(
    price: float | npt.NDArray[np.float64],
    tick: float,
    mode: RoundMode = "nearest",
    *,
    at_least_one_tick: bool = False,
) -> float | npt.NDArray[np.float64]:
    """Round ``price`` to a multiple of ``tick`` (``on_grid``, element by element).

    ``nearest`` rounds halves up (away from zero for positive prices), ``down``
    and ``up`` round towards minus and plus infinity. Results are exact decimal
    multiples of the tick (``round_to_tick(0.30000000000000004, 0.001) == 0.3``).
    NaN stays NaN. ``at_least_one_tick``: never below one tick (prices are positive).
    """
    if tick <= 0:
        raise ValueError(f"tick must be positive, got {tick}")
    if mode not in _MODES:
        raise ValueError(f"mode must be 'nearest', 'down' or 'up', got {mode!r}")
    values = np.asarray(price, dtype=np.float64)
    scale = 10.0 ** tick_decimals(tick)
    rule, loop = _compiled()
    if values.ndim == 0:
        return float(rule(float(values), float(tick), scale, _MODES[mode], at_least_one_tick))
    flat = np.ascontiguousarray(values).reshape(-1)
    out = np.empty(flat.shape)
    loop(flat, float(tick), scale, _MODES[mode], at_least_one_tick, out)
    return out.reshape(values.shape)


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
