"""Seeding: one ``SeedSequence`` per run, one independent stream per path and component.

Path ``i``'s draws for component ``c`` come from ``SeedSequence(seed,
spawn_key=(i, c))`` — exactly the child that ``SeedSequence(seed).spawn`` would
give — so a path is identical whether simulated alone, in chunks of 100 or all
at once, on one machine or many. Separate components (spot diffusion and
jumps, price cuts, consumption, basis) draw from separate streams, so changing
one part of a scenario leaves the others' random numbers unchanged: policy and
parameter comparisons run on common random numbers.

**Branching** (hedging from a date): a run that branches after day ``b − 1`` gives
every path the same history over days ``[0, b)`` — the draws of those days come from one shared
set of streams (``history_rng``), the rest from the path's own, at the same
positions. After the branch a path is driven by exactly the shocks it has in an
unbranched run, so the two are compared on common random numbers too.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Independent random streams of one path."""

    SPOT = 0
    CUTS = 1
    CONSUMPTION = 2
    BASIS = 3


HISTORY = 2**63
"""The spawn key of the shared history's streams: no path id (an int64) can be it."""


def path_rng(seed: int, path: int, stream: Stream) -> np.random.Generator:
    """The generator of ``stream`` for ``path`` in the run seeded with ``seed``."""
    if seed < 0 or path < 0:
        raise ValueError(f"seed and path must be non-negative, got seed={seed}, path={path}")
    sequence = np.random.SeedSequence(seed, spawn_key=(path, int(stream)))
    return np.random.Generator(np.random.PCG64(sequence))


def history_rng(seed: int, stream: Stream) -> np.random.Generator:
    """The generator of ``stream`` for the history every path shares before a branch."""
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got seed={seed}")
    sequence = np.random.SeedSequence(seed, spawn_key=(HISTORY, int(stream)))
    return np.random.Generator(np.random.PCG64(sequence))


def splice(own: np.ndarray, shared: np.ndarray, cut: int) -> np.ndarray:
    """``own`` with its first ``cut`` entries (along the last axis) replaced by ``shared``'s."""
    if cut <= 0:
        return own
    out = own.copy()
    out[..., :cut] = shared[..., :cut]
    return out
