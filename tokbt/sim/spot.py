"""The spot Token Price Index: exact simulation of the log-OU jump-diffusion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokbt.sim.kernels import ou_jump_paths
from tokbt.sim.params import DT_DAY, DailyParams, SpotParams
from tokbt.sim.rng import Stream, history_rng, path_rng, splice


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
    shared_days: int = 0,
) -> SpotPaths:
    """Simulate ``paths`` (path ids) for ``n_days`` days with the exact transition.

    Draws come from each path's own streams, so path ``i`` does not depend on
    which other paths are simulated with it. With ``shared_days = b`` the steps of
    days ``[0, b)`` are driven by the shared history's draws (``history_rng``), so
    every path has the same spot up to the end of day ``b − 1``; later steps keep the
    path's own draws at their positions.
    """
    if steps_per_day < 1:
        raise ValueError(f"steps_per_day must be >= 1, got {steps_per_day}")
    if daily.n_days < n_days:
        raise ValueError(f"daily parameters cover {daily.n_days} days, need {n_days}")
    if not 0 <= shared_days <= n_days:
        raise ValueError(f"shared_days must be in [0, {n_days}], got {shared_days}")
    ids = np.asarray(paths, dtype=np.int64)
    n_steps = n_days * steps_per_day
    h = DT_DAY / steps_per_day
    step_day = np.repeat(np.arange(n_days), steps_per_day)
    rates = (daily.jump_rate[step_day] * h, daily.cut_rate[step_day] * h)
    cut_step = shared_days * steps_per_day
    shared = None
    if cut_step:
        shared = _draw(
            history_rng(seed, Stream.SPOT), history_rng(seed, Stream.CUTS), *rates, daily
        )
    draws = []
    for path in ids:
        own = _draw(
            path_rng(seed, int(path), Stream.SPOT),
            path_rng(seed, int(path), Stream.CUTS),
            *rates,
            daily,
        )
        draws.append(own if shared is None else own.branched(shared, cut_step))

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
        _rows([d.z for d in draws], n_steps, np.float64),
        _rows([d.n_jumps for d in draws], n_steps, np.int64),
        _flat([d.jump_z for d in draws]),
        _flat([d.jump_u for d in draws]),
        _starts([d.jump_z for d in draws]),
        _rows([d.n_cuts for d in draws], n_steps, np.int64),
        _flat([d.cut_log for d in draws]),
        _starts([d.cut_log for d in draws]),
    )
    return SpotPaths(ids, steps_per_day, f, y)


@dataclass(frozen=True)
class _Draws:
    """One path's random inputs: a normal per step, jumps per step with their sizes and
    times, permanent cuts per step with their log sizes (in step order)."""

    z: np.ndarray
    n_jumps: np.ndarray
    jump_z: np.ndarray
    jump_u: np.ndarray
    n_cuts: np.ndarray
    cut_log: np.ndarray

    def branched(self, shared: _Draws, cut: int) -> _Draws:
        """These draws with the first ``cut`` steps (and their jumps and cuts) taken from
        ``shared``."""
        own_jumps, shared_jumps = int(self.n_jumps[:cut].sum()), int(shared.n_jumps[:cut].sum())
        own_cuts, shared_cuts = int(self.n_cuts[:cut].sum()), int(shared.n_cuts[:cut].sum())
        return _Draws(
            z=splice(self.z, shared.z, cut),
            n_jumps=splice(self.n_jumps, shared.n_jumps, cut),
            jump_z=np.concatenate([shared.jump_z[:shared_jumps], self.jump_z[own_jumps:]]),
            jump_u=np.concatenate([shared.jump_u[:shared_jumps], self.jump_u[own_jumps:]]),
            n_cuts=splice(self.n_cuts, shared.n_cuts, cut),
            cut_log=np.concatenate([shared.cut_log[:shared_cuts], self.cut_log[own_cuts:]]),
        )


def _draw(
    rng: np.random.Generator,
    cuts: np.random.Generator,
    jump_lam: np.ndarray,
    cut_lam: np.ndarray,
    daily: DailyParams,
) -> _Draws:
    """A path's draws, in the order its streams have always produced them."""
    z = rng.standard_normal(len(jump_lam))
    n_jumps = rng.poisson(jump_lam)
    k = int(n_jumps.sum())
    jump_z, jump_u = rng.standard_normal(k), rng.random(k)
    n_cuts = cuts.poisson(cut_lam)
    cut_log = np.log1p(-cuts.uniform(daily.cut_low, daily.cut_high, int(n_cuts.sum())))
    return _Draws(z, n_jumps, jump_z, jump_u, n_cuts, cut_log)


def _rows(parts: list[np.ndarray], width: int, dtype: type) -> np.ndarray:
    out: np.ndarray = np.empty((len(parts), width), dtype=dtype)
    for row, part in enumerate(parts):
        out[row] = part
    return out


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
