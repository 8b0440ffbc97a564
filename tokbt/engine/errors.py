"""Errors the engine raises at a strategy."""

from __future__ import annotations

from tokbt.errors import TokbtError


class LookAheadError(TokbtError):
    """A strategy asked for data after the current event."""


class StrategyError(TokbtError):
    """A strategy hook raised; the run is incomplete and its results are not reported."""
