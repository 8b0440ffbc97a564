"""Building blocks of hedge policies, composed into stacks (the bt idea).

A policy is a list of blocks run in order at every event. Each block is a
callable ``block(ctx, state) -> bool``: it reads the ``Context``, reads and
writes the shared ``HedgeState``, and returns ``False`` to stop the stack for
this event (a schedule that is not due, say). Every block's docstring says
what it **requires** in the state and what it **sets**, so stacks can be
checked by reading them::

    [OnSettlement(), After(60), StripExposure(12), OLSRatio(60), Contracts(), Rebalance()]

Everything is an array over paths; no block branches on a path. Blocks see
only what the ``Context`` shows at the current event, so a stack cannot look
ahead. Exposure is in planned tokens (millions), ratios are hedge ratios
(contracts of index exposure per unit of price exposure), targets are
contracts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt

from tokbt.hedge.estimators import (
    EwmaCovariance,
    last_observations,
    needed_rows,
    ols_ratio,
    paired_changes,
    spend_ratio,
    tail_factor,
)
from tokbt.hedge.front import rolled_paired_changes

if TYPE_CHECKING:
    from tokbt.engine import Context

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass
class HedgeState:
    """What the blocks of one stack share.

    Per event (cleared before each run of the stack):
        exposure: tokens (millions) to hedge per contract code, per path.
        target: contracts to hold per contract code, per path.

    Kept across events:
        session: exchange days completed before this one (0 on the first).
        started: the session the hedge started (``After``), or ``None``.
        horizon: the first and last day of the consumption the hedge covers —
            the ``months`` calendar months after the month it started in.
        ratio: the current hedge ratio per path (``None`` before an estimate).
        placed: per contract, the paths where a ``hold`` rebalance has traded it.
        everywhere: the contracts ``placed`` on every path.
        last_month: the (year, month) of the last ``Monthly`` run.
    """

    n_paths: int
    exposure: dict[str, Floats] = field(default_factory=dict)
    target: dict[str, Floats] = field(default_factory=dict)
    session: int = 0
    started: int | None = None
    horizon: tuple[dt.date, dt.date] | None = None
    ratio: Floats | None = None
    placed: dict[str, Mask] = field(default_factory=dict)
    everywhere: set[str] = field(default_factory=set)
    last_month: tuple[int, int] | None = None


class Block(Protocol):
    """One step of a stack: ``block(ctx, state) -> bool`` (False stops the stack)."""

    def __call__(self, ctx: Context, state: HedgeState) -> bool: ...


def run_stack(blocks: Sequence[Block], ctx: Context, state: HedgeState) -> bool:
    """Run ``blocks`` in order on a state cleared of per-event values; ``True`` if all ran."""
    state.exposure = {}
    state.target = {}
    return all(block(ctx, state) for block in blocks)


# -- schedules ---------------------------------------------------------------------------------


class OnSettlement:
    """Go on only at the event that ends an exchange day (futures settle prices of the
    day are visible; orders fill at the next open).

    Requires: nothing. Sets: nothing. Must come first: the stack counts exchange
    days (``state.session``) at these events.
    """

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        return ctx.is_settlement


class After:
    """Go on from the ``days``-th exchange day on (0: from the first); the first
    time, record the hedge's start and its horizon: the ``months`` calendar
    months after the month it starts in.

    Requires: ``OnSettlement`` before it. Sets: ``started``, ``horizon``.
    """

    def __init__(self, days: int, months: int = 12) -> None:
        self.days = days
        self.months = months

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        if state.session < self.days:
            return False
        if state.started is None:
            state.started = state.session
            first = _add_months(ctx.day, 1)
            state.horizon = (first, _add_months(ctx.day, self.months + 1) - dt.timedelta(days=1))
        return True


class Every:
    """Go on every ``days`` exchange days counted from the hedge's start.

    Requires: ``After`` before it. Sets: nothing.
    """

    def __init__(self, days: int) -> None:
        if days < 1:
            raise ValueError(f"rebalance interval must be at least 1 day, got {days}")
        self.days = days

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        return (state.session - (state.started or 0)) % self.days == 0


class Monthly:
    """Go on at the first run in each calendar month.

    Requires: nothing. Sets: ``last_month``.
    """

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        month = (ctx.day.year, ctx.day.month)
        if month == state.last_month:
            return False
        state.last_month = month
        return True


class RollDue:
    """Go on at the first exchange day on which a live month contract is fewer than
    ``days`` exchange days from its last trading day (its roll is due).

    The gate depends on the calendar only, never on a path's positions, so a
    stack runs on the same days for every path.

    Requires: nothing. Sets: nothing.
    """

    def __init__(self, days: int) -> None:
        self.days = days
        self.seen: set[str] = set()

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        chain = ctx.chain
        due = {
            c for c, left in zip(chain.codes, chain.days_to_expiry, strict=True) if left < self.days
        }
        fresh = due - self.seen
        self.seen |= due
        return bool(fresh)


class Either:
    """Go on when any of ``gates`` does (each is evaluated, so each keeps its state).

    Requires and sets: what the gates do.
    """

    def __init__(self, *gates: Block) -> None:
        self.gates = gates

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        return any([gate(ctx, state) for gate in self.gates])


# -- exposure ----------------------------------------------------------------------------------


ExposureSource = Literal["plan", "forecast"]


def planned_tokens(
    ctx: Context, start: dt.date, end: dt.date, source: ExposureSource, lookback: int
) -> Floats:
    """Tokens expected over ``[start, end]`` per path: the treasury's ``plan``, or a
    ``forecast`` — the realised daily run rate over the last ``lookback`` events
    times the days (falling back to the plan where nothing was consumed yet)."""
    planned = ctx.plan(start, end)
    if source == "plan":
        return planned
    window = min(lookback, ctx.history_size)
    realised = ctx.consumption(window)
    seen = np.isfinite(realised).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.nansum(realised, axis=0) / seen
    days = (end - start).days + 1
    return np.where(seen > 0, rate * days, planned)


class _Expected:
    """A block that reads expected tokens: the ``plan``, or a run-rate ``forecast``
    over the last ``lookback`` events (``planned_tokens``)."""

    def __init__(self, source: ExposureSource = "plan", lookback: int = 30) -> None:
        self.source: ExposureSource = source
        self.lookback = lookback

    def tokens(self, ctx: Context, start: dt.date, end: dt.date) -> Floats:
        """Tokens expected over ``[start, end]`` per path."""
        return planned_tokens(ctx, start, end, self.source, self.lookback)


class StripExposure(_Expected):
    """The consumption of each delivery month in the horizon, on the month's contract.

    Every live month contract delivering within the horizon carries the tokens
    expected over its delivery period (``source``: the plan or a run-rate
    forecast, see ``planned_tokens``).

    Requires: ``After`` (the horizon). Sets: ``exposure``.
    """

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        first, last = _horizon(state, self)
        for contract in ctx.chain.contracts:
            if contract.delivery_start >= first and contract.delivery_end <= last:
                state.exposure[contract.code] = self.tokens(
                    ctx, contract.delivery_start, contract.delivery_end
                )
        return True


class StackExposure(_Expected):
    """All the consumption still ahead in the horizon, stacked on the front contract.

    The tokens expected from tomorrow (or the horizon's first day) to its last
    day go on the nearest live month contract (Metallgesellschaft's stack);
    ``Roll`` moves them on.

    Requires: ``After`` (the horizon). Sets: ``exposure``.
    """

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        first, last = _horizon(state, self)
        start, front = max(first, ctx.day + dt.timedelta(days=1)), ctx.chain.front
        if front is not None and start <= last:
            state.exposure[front] = self.tokens(ctx, start, last)
        return True


def _horizon(state: HedgeState, block: object) -> tuple[dt.date, dt.date]:
    if state.horizon is None:
        raise RuntimeError(f"{type(block).__name__} needs After before it (no horizon set)")
    return state.horizon


class Roll:
    """Move exposure off month contracts fewer than ``days`` exchange days from their
    last trading day, onto the nearest contract that is not (``Rebalance`` with
    ``close_others`` then closes the old one: the roll).

    Requires: ``exposure``. Sets: ``exposure``.
    """

    def __init__(self, days: int = 5) -> None:
        self.days = days

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        chain = ctx.chain
        successor = chain.nearby(0, self.days)
        for code, left in zip(chain.codes, chain.days_to_expiry, strict=True):
            if left >= self.days or code not in state.exposure:
                continue
            moved = state.exposure.pop(code)
            if successor is not None:
                state.exposure[successor] = state.exposure.get(successor, 0.0) + moved
        return True


class Ladder:
    """Scale each contract's exposure by a target hedge percentage that depends on the
    months to its delivery — the layered hedge of airlines and utilities.

    ``points`` maps months to delivery to a fraction (e.g. ``{12: 0.25, 1: 0.80}``);
    between points the fraction is interpolated linearly, beyond them held at
    the nearest. Months to delivery count calendar months from today's month
    to the delivery month (next month = 1).

    Requires: ``exposure``. Sets: ``exposure``.
    """

    def __init__(self, points: dict[int, float]) -> None:
        if not points:
            raise ValueError("a ladder needs at least one point")
        months = sorted(points)
        self.months = np.array(months, dtype=np.float64)
        self.fractions = np.array([points[m] for m in months], dtype=np.float64)

    def fraction(self, months_ahead: int) -> float:
        """The target hedge fraction ``months_ahead`` months before delivery."""
        return float(np.interp(months_ahead, self.months, self.fractions))

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        today = ctx.day
        for contract in ctx.chain.contracts:
            if contract.code in state.exposure:
                ahead = (contract.delivery_start.year - today.year) * 12 + (
                    contract.delivery_start.month - today.month
                )
                state.exposure[contract.code] = state.exposure[contract.code] * self.fraction(ahead)
        return True


# -- hedge ratios ------------------------------------------------------------------------------


class FixedRatio:
    """A constant hedge ratio.

    Requires: nothing. Sets: ``ratio``.
    """

    def __init__(self, ratio: float = 1.0) -> None:
        self.ratio = ratio

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        state.ratio = np.full(ctx.n_paths, self.ratio)
        return True


def finish_ratio(
    h: Floats, fallback: float, bounds: tuple[float, float] | None, scale: float
) -> Floats:
    """An estimate made usable: ``fallback`` where it is NaN, clipped to ``bounds``
    (a treasury's mandate, e.g. no short hedge and at most 2× the exposure), times
    ``scale``."""
    h = np.where(np.isfinite(h), h, fallback)
    if bounds is not None:
        h = np.clip(h, *bounds)
    return np.asarray(h * scale, dtype=np.float64)


def _hedge_contract(ctx: Context, roll_days: int) -> str | None:
    return ctx.chain.nearby(0, roll_days)


class _RatioBlock:
    """What the estimating ratio blocks share: the hedge contract (front month at
    least ``roll_days`` from its last trading day), ``min_obs``, and how an estimate
    is made usable (``fallback``, ``bounds``, ``scale``: see ``finish_ratio``)."""

    def __init__(
        self,
        *,
        roll_days: int,
        min_obs: int,
        fallback: float,
        scale: float,
        bounds: tuple[float, float] | None,
    ) -> None:
        self.roll_days = roll_days
        self.min_obs = min_obs
        self.fallback = fallback
        self.scale = scale
        self.bounds = bounds

    def _finish(self, h: Floats) -> Floats:
        return finish_ratio(h, self.fallback, self.bounds, self.scale)


RatioSeries = Literal["front", "rolled"]
"""The futures series a minimum-variance ratio is estimated on (``OLSRatio``)."""


class OLSRatio(_RatioBlock):
    """The minimum-variance ratio ``h* = Cov(ΔS, ΔF) / Var(ΔF)``: the OLS slope of
    spot changes on futures changes over the last ``window`` exchange days, with
    or without an intercept, times ``scale``.

    ``series`` says which futures changes ``ΔF`` are:

    * ``"front"``: those of the one contract that is front today (the front month
      not within ``roll_days`` of its last trading day) over the window — for most
      of a 60-day window a deferred month, not the front it is today;
    * ``"rolled"``: those of the rolled front-month series — on each day of the
      window, the change of the contract front *on that day* (same ``roll_days``
      rule), see ``tokbt.hedge.front``. It reads ``Context.nearby`` under
      ``roll_days`` and ``roll_days + 1`` and needs one futures settlement row per
      exchange day (``rolled_paired_changes``).

    Either way each change pairs two settlements of one contract, so a roll never
    enters as a price jump. Where a path has fewer than ``min_obs`` changes (or
    ``F`` did not move) the ratio is ``fallback``; ``bounds`` clip it (see
    ``finish_ratio``). With ``once`` the ratio is estimated the first time and then
    held. The window must fit in the engine's history (``engine.history`` events):
    a full history holding fewer than ``window`` changes is an error, not a silently
    shorter window. Only settlements up to the current event are read.

    Requires: nothing. Sets: ``ratio``.
    """

    series_supported: tuple[RatioSeries, ...] = ("front", "rolled")
    """The ``series`` this block can estimate on."""

    def __init__(
        self,
        window: int = 60,
        *,
        intercept: bool = True,
        once: bool = False,
        roll_days: int = 5,
        min_obs: int = 10,
        fallback: float = 1.0,
        scale: float = 1.0,
        bounds: tuple[float, float] | None = None,
        series: RatioSeries = "front",
    ) -> None:
        if window < 2:
            raise ValueError(f"an estimation window needs at least 2 observations, got {window}")
        if series not in self.series_supported:
            raise ValueError(
                f"{type(self).__name__} estimates on series {self.series_supported}, got {series!r}"
            )
        super().__init__(
            roll_days=roll_days, min_obs=min_obs, fallback=fallback, scale=scale, bounds=bounds
        )
        self.window = window
        self.intercept = intercept
        self.once = once
        self.series: RatioSeries = series

    def estimate(self, spot: Floats, settle: Floats, successor: Floats | None = None) -> Floats:
        """The ratio from aligned spot and settle histories (rows = events).

        With ``successor`` (the front's settlement under ``roll_days + 1``), ``settle``
        is the front's under ``roll_days`` and the changes are the rolled front's
        (``rolled_paired_changes``); without, ``settle`` is one contract's."""
        first = self._first_row(spot, settle)
        if successor is None:
            d_spot, d_fut = paired_changes(spot[first:], settle[first:])
        else:
            d_spot, d_fut = rolled_paired_changes(spot[first:], settle[first:], successor[first:])
        if first == 0:  # otherwise every path has its window of changes
            self._check_window(spot, settle, d_spot, d_fut)
        d_spot, d_fut = last_observations(d_spot, d_fut, self.window)
        return self._finish(
            ols_ratio(d_spot, d_fut, intercept=self.intercept, min_obs=self.min_obs)
        )

    def _first_row(self, spot: Floats, settle: Floats) -> int:
        """The first row the window's changes depend on (``needed_rows``); 0 for one path,
        whose sums are pairwise over the whole column (fewer rows would regroup them)."""
        if np.ndim(spot) < 2 or np.shape(spot)[1] < 2:
            return 0
        return needed_rows(spot, settle, self.window)

    def _check_window(self, spot: Floats, settle: Floats, d_spot: Floats, d_fut: Floats) -> None:
        full = np.isfinite(settle[0]) | np.isfinite(spot[0])  # data in the first row: full
        held = (np.isfinite(d_spot) & np.isfinite(d_fut)).sum(axis=0)
        if full.any() and (held[full] < self.window).all():
            raise ValueError(
                f"an estimation window of {self.window} exchange days does not fit in the "
                f"engine's history of {len(d_fut)} events (it holds {int(held.max())} changes): "
                "raise engine.history"
            )

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        if self.once and state.ratio is not None:
            return True
        contract = _hedge_contract(ctx, self.roll_days)
        if contract is None:
            state.ratio = finish_ratio(
                np.full(ctx.n_paths, np.nan), self.fallback, None, self.scale
            )
            return True
        state.ratio = self.from_context(ctx, contract)
        return True

    def from_context(self, ctx: Context, contract: str) -> Floats:
        """The estimate over the engine's whole history, hedging with ``contract`` (the
        front today; with ``series="rolled"`` the front of each day)."""
        size = ctx.history_size
        spot = ctx.spot("close", size)
        if self.series == "rolled":
            days = self.roll_days
            front = ctx.nearby(0, "settle", size, roll_days=days)
            successor = ctx.nearby(0, "settle", size, roll_days=days + 1)
            return self.estimate(spot, front, successor)
        return self.estimate(spot, ctx.futures(contract, "settle", size))


class SpendRatio(OLSRatio):
    """The minimum-variance ratio of spend ``Q·S`` per planned token
    (``tokbt.hedge.estimators.spend_ratio``) over the last ``window`` exchange
    days, ``q`` the realised tokens of each day; otherwise as ``OLSRatio``. With
    flat consumption it equals ``OLSRatio``. It estimates on the ``"front"`` series only.

    Requires: nothing. Sets: ``ratio``.
    """

    series_supported: tuple[RatioSeries, ...] = ("front",)

    def estimate_spend(self, tokens: Floats, spot: Floats, settle: Floats) -> Floats:
        """The ratio from aligned token, spot and settle histories (rows = events)."""
        d_spot, d_fut = paired_changes(tokens * spot, settle)
        self._check_window(tokens * spot, settle, d_spot, d_fut)
        return self._finish(
            spend_ratio(
                tokens,
                spot,
                settle,
                last=self.window,
                intercept=self.intercept,
                min_obs=self.min_obs,
            )
        )

    def from_context(self, ctx: Context, contract: str) -> Floats:
        """The estimate over the engine's whole history, hedging with ``contract``."""
        size = ctx.history_size
        return self.estimate_spend(
            ctx.consumption(size), ctx.spot("close", size), ctx.futures(contract, "settle", size)
        )


class EwmaRatio(_RatioBlock):
    """The EWMA (RiskMetrics) ratio ``σ_SF / σ²_F``, updated once per exchange day with
    the changes of spot and of the front contract (``roll_days`` as in
    ``OLSRatio``) since the last exchange day both had a value — both ends of a
    futures change are settlements of the same contract. ``fallback`` until
    ``min_obs`` changes are in.

    Requires: ``OnSettlement`` before it (one update per exchange day). Sets: ``ratio``.
    """

    def __init__(
        self,
        lam: float = 0.94,
        *,
        demean: bool = False,
        roll_days: int = 5,
        min_obs: int = 10,
        fallback: float = 1.0,
        scale: float = 1.0,
        bounds: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(
            roll_days=roll_days, min_obs=min_obs, fallback=fallback, scale=scale, bounds=bounds
        )
        self.lam = lam
        self.demean = demean
        self.moments: EwmaCovariance | None = None
        self.last: dict[str, tuple[Floats, Floats]] = {}
        """Per contract: spot and settle at the last exchange day both had a value, per path."""

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        if self.moments is None:
            self.moments = EwmaCovariance(ctx.n_paths, self.lam, demean=self.demean)
        spot = ctx.spot("close")
        chain = ctx.chain
        contract = _hedge_contract(ctx, self.roll_days)
        for code in chain.codes:
            settle = ctx.futures(code, "settle")
            both = np.isfinite(spot) & np.isfinite(settle)
            before = self.last.get(code)
            if code == contract and before is not None:
                self.moments.update(spot - before[0], settle - before[1])
            if before is None:
                before = (np.full(ctx.n_paths, np.nan), np.full(ctx.n_paths, np.nan))
            self.last[code] = (np.where(both, spot, before[0]), np.where(both, settle, before[1]))
        for code in set(self.last) - set(chain.codes):
            del self.last[code]
        state.ratio = self._finish(self.moments.ratio(self.min_obs))
        return True


# -- contracts and orders ----------------------------------------------------------------------


class Contracts:
    """Turn exposure into contracts: ``ratio × exposure / multiplier``, scaled down by the
    tailing factor ``exp(−r τ)`` (τ = years to the contract's final settlement) when
    ``tailing_rate`` is set, rounded to whole contracts when ``whole``.

    Requires: ``exposure``, ``ratio``. Sets: ``target``.
    """

    def __init__(self, *, tailing_rate: float | None = None, whole: bool = True) -> None:
        self.tailing_rate = tailing_rate
        self.whole = whole

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        if state.ratio is None:
            raise RuntimeError("Contracts needs a ratio block before it (no ratio set)")
        spec = ctx.spec
        for code, tokens in state.exposure.items():
            qty = state.ratio * tokens / spec.multiplier
            if self.tailing_rate is not None:
                settles = spec.contract(code).final_settlement_date
                qty = qty * tail_factor(self.tailing_rate, (settles - ctx.day).days / 365.0)
            state.target[code] = np.rint(qty) if self.whole else qty  # half to even
        return True


RebalanceMode = Literal["both", "up", "hold"]


class Rebalance:
    """Order each target where it differs from the position (pending orders included)
    by more than ``band`` × |target| (0: any difference).

    ``mode``: ``both`` trades either way; ``up`` only adds (a ladder's top-ups);
    ``hold`` trades a contract once per path and then leaves it to settlement
    (a static strip). With ``close_others``, held live contracts that have no
    target are closed — how a stack rolls. Contracts fewer than ``stop_days``
    exchange days from their last trading day are left alone: an order placed
    on the last trading day would fill after it (at the next open).

    Requires: ``target``. Sets: ``placed`` (in ``hold`` mode).
    """

    def __init__(
        self,
        band: float = 0.0,
        *,
        mode: RebalanceMode = "both",
        close_others: bool = False,
        stop_days: int = 1,
    ) -> None:
        if band < 0:
            raise ValueError(f"tolerance band must be non-negative, got {band}")
        self.band = band
        self.mode: RebalanceMode = mode
        self.close_others = close_others
        self.stop_days = stop_days

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        chain = ctx.chain
        tradable = {
            c
            for c, left in zip(chain.codes, chain.days_to_expiry, strict=True)
            if left >= self.stop_days
        }
        targets = {c: t for c, t in state.target.items() if c in tradable}
        if self.close_others:
            for code in sorted(tradable - set(targets), key=chain.codes.index):
                if (ctx.position(code) != 0).any():
                    targets[code] = np.zeros(ctx.n_paths)
        for code, target in targets.items():
            if not self._settled(state, code):
                self._order(ctx, state, code, target)
        return True

    def _settled(self, state: HedgeState, code: str) -> bool:
        """In ``hold`` mode, whether ``code`` has traded on every path: nothing is left to
        order in it (``_order`` would order nothing), so its books need not be read."""
        if self.mode != "hold" or code not in state.placed:
            return False
        if code not in state.everywhere and state.placed[code].all():
            state.everywhere.add(code)  # placed only grows: once everywhere, for good
        return code in state.everywhere

    def _order(self, ctx: Context, state: HedgeState, code: str, target: Floats) -> None:
        held = ctx.position(code) + ctx.pending(code)
        wanted = np.maximum(target, held) if self.mode == "up" else target
        move = np.abs(wanted - held) > self.band * np.abs(wanted)
        if self.mode == "hold":
            done = state.placed.setdefault(code, np.zeros(ctx.n_paths, dtype=bool))
            move &= ~done
            done |= move
        if move.any():
            ctx.target(code, np.where(move, wanted, held))


# -- calendar helpers --------------------------------------------------------------------------


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
