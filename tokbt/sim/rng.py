"""Seeding: one ``SeedSequence`` per run, one independent stream per path and component.

Path ``i``'s draws for component ``c`` come from ``SeedSequence(seed,
spawn_key=(i, c))`` — exactly the child that ``SeedSequence(seed).spawn`` would
give — so a path is identical whether simulated alone, in chunks of 100 or all
at once, on one machine or many. Separate components (spot diffusion and
jumps, price cuts, consumption, basis) draw from separate streams, so changing
one part of a scenario leaves the others' random numbers unchanged: policy and
parameter comparisons run on common random numbers.
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


def path_rng(seed: int, path: int, stream: Stream) -> np.random.Generator:
    """The generator of ``stream`` for ``path`` in the run seeded with ``seed``."""
    if seed < 0 or path < 0:
        raise ValueError(f"seed and path must be non-negative, got seed={seed}, path={path}")
    sequence = np.random.SeedSequence(seed, spawn_key=(path, int(stream)))
    return np.random.Generator(np.random.PCG64(sequence))
