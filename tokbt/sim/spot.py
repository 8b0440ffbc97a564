"""The spot Token Price Index: exact simulation of the log-OU jump-diffusion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokbt.sim.kernels import ou_jump_paths
from tokbt.sim.params import DT_DAY, DailyParams, SpotParams
from tokbt.sim.rng import Stream, path_rng


@dataclass(frozen=True)
class SpotPaths:
    """Simulated spot paths on a grid of ``steps_per_day`` steps a day.

    ``f`` (trend and permanent cuts) and ``y`` (the OU deviation) have shape
    ``(n_paths, n_days * steps_per_day + 1)``; column 0 is the start. The index
    value of day ``d`` is the spot at the end of that day,
    ``exp(f + y)[:, (d + 1) * steps_per_day]``.
    """

    paths: np.ndarray
    steps_per_day: int
    f: np.ndarray
    y: np.ndarray

    @property
    def n_days(self) -> int:
        return int((self.f.shape[1] - 1) // self.steps_per_day)

    @property
    def log_spot(self) -> np.ndarray:
        return np.asarray(self.f + self.y)

    def day_end(self, grid: np.ndarray) -> np.ndarray:
        """Values of a grid array at the end of each day: ``(n_paths, n_days)``."""
        return np.asarray(grid[:, self.steps_per_day :: self.steps_per_day])

    @property
    def index(self) -> np.ndarray:
        """Daily index values (the spot at each day's end), ``(n_paths, n_days)``."""
        return np.asarray(np.exp(self.day_end(self.log_spot)))


def simulate_spot(
    spot: SpotParams,
    daily: DailyParams,
    paths: Sequence[int] | np.ndarray,
    n_days: int,
    seed: int,
    steps_per_day: int = 1,
) -> SpotPaths:
    """Simulate ``paths`` (path ids) for ``n_days`` days with the exact transition.

    Draws come from each path's own streams, so path ``i`` does not depend on
    which other paths are simulated with it.
    """
    if steps_per_day < 1:
        raise ValueError(f"steps_per_day must be >= 1, got {steps_per_day}")
    if daily.n_days < n_days:
        raise ValueError(f"daily parameters cover {daily.n_days} days, need {n_days}")
    ids = np.asarray(paths, dtype=np.int64)
    n_steps = n_days * steps_per_day
    h = DT_DAY / steps_per_day
    step_day = np.repeat(np.arange(n_days), steps_per_day)
    jump_lam = daily.jump_rate[step_day] * h
    cut_lam = daily.cut_rate[step_day] * h

    z = np.empty((len(ids), n_steps))
    n_jumps = np.empty((len(ids), n_steps), dtype=np.int64)
    n_cuts = np.empty((len(ids), n_steps), dtype=np.int64)
    jump_z, jump_u, cut_log = [], [], []
    for row, path in enumerate(ids):
        rng = path_rng(seed, int(path), Stream.SPOT)
        z[row] = rng.standard_normal(n_steps)
        n_jumps[row] = rng.poisson(jump_lam)
        k = int(n_jumps[row].sum())
        jump_z.append(rng.standard_normal(k))
        jump_u.append(rng.random(k))
        cuts = path_rng(seed, int(path), Stream.CUTS)
        n_cuts[row] = cuts.poisson(cut_lam)
        cut_log.append(
            np.log1p(-cuts.uniform(daily.cut_low, daily.cut_high, int(n_cuts[row].sum())))
        )

    f, y = ou_jump_paths(
        float(np.log(spot.s0)),
        spot.y0,
        daily.kappa,
        h,
        step_day,
        daily.trend,
        daily.sigma,
        daily.jump_mean,
        daily.jump_std,
        z,
        n_jumps,
        _flat(jump_z),
        _flat(jump_u),
        _starts(jump_z),
        n_cuts,
        _flat(cut_log),
        _starts(cut_log),
    )
    return SpotPaths(ids, steps_per_day, f, y)


def trend_path(spot: SpotParams, daily: DailyParams, n_days: int) -> np.ndarray:
    """The deterministic part of ``f`` at each day's end, ``(n_days,)``, with daily steps.

    ``ln s0 + Σ_{j<=d} trend_j Δ``: the ``f`` that ``simulate_spot`` (one step a
    day) gives a path on which no permanent cut falls — computed by the same
    kernel, so it is bit for bit that path's ``f``.
    """
    if daily.n_days < n_days:
        raise ValueError(f"daily parameters cover {daily.n_days} days, need {n_days}")
    no_ints = np.zeros((1, n_days), dtype=np.int64)
    none, start = np.empty(0), np.zeros(1, dtype=np.int64)
    f, _ = ou_jump_paths(
        float(np.log(spot.s0)),
        0.0,
        daily.kappa,
        DT_DAY,
        np.arange(n_days),
        daily.trend,
        daily.sigma,
        daily.jump_mean,
        daily.jump_std,
        np.zeros((1, n_days)),
        no_ints,
        none,
        none,
        start,
        no_ints,
        none,
        start,
    )
    return np.asarray(f[0, 1:])


def _flat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0)


def _starts(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(p) for p in parts])[:-1]]).astype(np.int64)
