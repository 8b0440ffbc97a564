"""Hedging from today on a recorded index: a scenario that starts where the record ends.

``anchor_scenario`` takes a scenario and the daily index recorded up to the hedge date
``at`` and returns the scenario started the day after ``at`` from the state the record
gives:

* **the level**: every path starts at the recorded index of ``at``,
  ``s0 · e^{y0} = S_at``;
* **the fitted state**: the record is fitted with the simulator's own model
  (``tokbt.sim.calibrate``, ``ln S = f + Y``, a trend line ``f`` and a mean-reverting
  ``Y``); ``s0`` is the trend line at ``at`` and ``y0 = ln S_at − ln s0`` the
  deviation from it that mean reversion will close. When the fit finds no mean
  reversion (a random walk, or the recorded TPI's pure step function) there is no
  deviation to close: ``s0 = S_at`` and ``y0 = 0``, and the anchor says so;
* **the futures curve**: the model's forward curve from that state, priced as every
  simulated curve is (``tokbt.sim.curve``). No token future has traded, so there is no
  recorded curve to match; a dataset's futures bars are not read;
* **the dynamics**: the scenario's (``dynamics = "scenario"``, default), or the fitted
  spot process (``"fitted"``: κ, σ, trend and jumps from the fit, permanent cuts off —
  ``Calibration.to_spot_params``), when the fit has one.

Every path then shares that history (the record) and diverges from the first
simulated day, so the spread of costs is the risk a hedge placed on ``at`` faces.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from tokbt.sim.params import Scenario

Dynamics = Literal["scenario", "fitted"]
MIN_OBSERVATIONS = 30
"""Fewest recorded days a fit of the state accepts."""


@dataclass(frozen=True)
class Anchor:
    """Where an anchored simulation starts, and how that was read from the record.

    Attributes:
        at: the hedge date, the last recorded day used.
        level: the recorded index on ``at``.
        s0, y0: the simulation's start (``s0 · e^{y0} = level``).
        kappa, half_life_days: the fitted mean reversion (0 and inf when there is none).
        dynamics: whose spot dynamics the simulation uses.
        observations: recorded days fitted.
        notes: what the fit could not tell.
    """

    at: dt.date
    level: float
    s0: float
    y0: float
    kappa: float
    half_life_days: float
    dynamics: Dynamics
    observations: int
    notes: tuple[str, ...]


def anchor_scenario(
    scenario: Scenario,
    close: npt.ArrayLike,
    at: dt.date,
    *,
    dynamics: Dynamics = "scenario",
    method: Literal["ols", "filter", "mle"] = "filter",
) -> tuple[Scenario, Anchor]:
    """``scenario`` started the day after ``at`` from the recorded daily index ``close``
    (oldest first, ending on ``at``): see the module docstring. Raises ``ValueError`` on
    too short a record, a non-positive level, or ``dynamics = "fitted"`` without a fitted
    process to simulate."""
    from tokbt.sim.calibrate import calibrate  # scipy: only when a start is anchored

    values = np.asarray(close, dtype=np.float64)
    if len(values) < MIN_OBSERVATIONS:
        raise ValueError(
            f"a start at {at} needs at least {MIN_OBSERVATIONS} recorded days up to it, "
            f"got {len(values)}"
        )
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"the recorded index up to {at} has non-positive or missing values")
    fit = calibrate(values, method=method, trend=True)
    level = float(values[-1])
    notes = list(fit.warnings)
    mean_reverting = math.isfinite(fit.kappa) and fit.kappa > 0 and math.isfinite(fit.sigma)
    if mean_reverting:
        line = fit.level + fit.trend * (len(values) - 1) * fit.dt
        s0, y0 = math.exp(line), math.log(level) - line
    else:
        s0, y0 = level, 0.0
        notes.append(
            f"no mean reversion in the record (κ = {fit.kappa:g}): the start is the level, "
            "with no deviation to close"
        )
    spot = scenario.spot
    if dynamics == "fitted":
        spot = fit.to_spot_params()  # raises without an OU to simulate
    spot = spot.model_copy(update={"s0": s0, "y0": y0})
    started = scenario.model_copy(update={"spot": spot, "start": at + dt.timedelta(days=1)})
    anchor = Anchor(
        at=at,
        level=level,
        s0=s0,
        y0=y0,
        kappa=float(fit.kappa) if mean_reverting else 0.0,
        half_life_days=float(fit.half_life_days) if mean_reverting else math.inf,
        dynamics=dynamics,
        observations=len(values),
        notes=tuple(notes),
    )
    return Scenario.model_validate(started.model_dump()), anchor
