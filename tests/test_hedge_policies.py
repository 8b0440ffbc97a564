"""The built-in hedge policies (``strategies/``): paths in lockstep, no look-ahead,
behaviour checked by hand, and their parameters.

Every policy starts after ``START`` exchange days (2026-02-26 for a 2026-01-01
start: 41 weekdays, no holidays) and hedges the ``MONTHS`` delivery months after
that month: March to November 2026. The demand-explosion plan is about 1,000 M
tokens a day, so a month is about 30 contracts of 1,000 M tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from engine_markets import after

from strategies.volume_aware import VolumeAwareParams
from tokbt.data import Kind, TableMarket
from tokbt.hedge import (
    After,
    Block,
    Contracts,
    Every,
    HedgePolicy,
    OLSRatio,
    OnSettlement,
    Rebalance,
    StripExposure,
)
from tokbt.market import Contract, load_spec
from tokbt.runs import Result, backtest
from tokbt.runs.config import RunSettings
from tokbt.sim import SimChunk, SimMarket, SimPlan, load_scenario, simulate_paths
from tokbt.strategy import PluginError, create

POLICIES = ("no_hedge", "static", "min_variance", "rolling", "ewma", "layered", "volume_aware")
START, WINDOW, MONTHS, ROLL_DAYS, MULT = 40, 30, 9, 5, 1000.0
PARAMS: dict[str, dict[str, Any]] = {
    "no_hedge": {},
    "static": {"start": START, "months": MONTHS},
    "min_variance": {"start": START, "window": WINDOW, "months": MONTHS},
    "rolling": {"start": START, "window": WINDOW, "months": MONTHS},
    "ewma": {"start": START, "months": MONTHS},
    "layered": {"start": START, "months": MONTHS},
    "volume_aware": {"start": START, "window": WINDOW, "months": MONTHS},
}
ESTIMATING = ("min_variance", "rolling", "ewma", "volume_aware")
"""Policies whose ratio is estimated from prices (the others follow the plan)."""
HORIZON = tuple(f"TPI-2026-{m:02d}" for m in range(3, 12))
DECISION_DAY = pd.Timestamp("2026-02-26")
"""Exchange day ``START`` (0-based): the first hedge decision, at its settlement."""
ROWS = RunSettings(journal="rows", positions=False)
PATH = 417


def _fills(result: Result) -> pd.DataFrame:
    j = result.journal
    return j.filter(pc.equal(j["kind"], "fill")).to_pandas()


def _of_path(table: pa.Table, path: int) -> pa.Table:
    return table.filter(pc.equal(table["path"], path))


# -- 1,000 paths in lockstep against one path alone -------------------------------------------


@pytest.fixture(scope="module")
def explosion() -> tuple[SimPlan, SimChunk]:
    """1,000 demand-explosion paths over 400 days (price limits on: some bars lock)."""
    plan = SimPlan.build(load_scenario("demand_explosion"), 400, 0)
    return plan, simulate_paths(plan, range(1000))


@pytest.mark.parametrize("name", POLICIES)
def test_a_path_among_1000_is_the_path_alone(
    explosion: tuple[SimPlan, SimChunk], name: str
) -> None:
    plan, chunk = explosion
    together = backtest(SimMarket(plan, chunk), name, params=PARAMS[name], config=ROWS)
    alone = backtest(
        SimMarket(plan, simulate_paths(plan, [PATH])), name, params=PARAMS[name], config=ROWS
    )
    assert together.paths.num_rows == 1000
    mine = _of_path(together.journal, PATH)
    assert mine.num_rows == alone.journal.num_rows > 0
    assert mine.equals(alone.journal)
    assert _of_path(together.paths, PATH).equals(alone.paths)
    row = together.paths["path"].to_pylist().index(PATH)
    held = dict(zip(together.contracts, together.final_positions[row], strict=True))
    assert {c: q for c, q in held.items() if q} == {
        c: q for c, q in zip(alone.contracts, alone.final_positions[0], strict=True) if q
    }
    fills = _fills(together)
    if name == "no_hedge":
        assert fills.empty
    else:
        assert (fills.path == PATH).sum() > 0
        assert fills.path.nunique() > 900  # (nearly) every path hedges


# -- no look-ahead -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_tables() -> tuple[SimPlan, dict[Kind, pa.Table]]:
    plan = SimPlan.build(load_scenario("demand_explosion"), 300, 1)
    return plan, simulate_paths(plan, [3, 50, 700]).tables(plan)


def _fill_decisions(result: Result) -> list[tuple[Any, ...]]:
    f = _fills(result)
    return sorted(zip(f.ts, f.path, f.contract, f.qty, strict=True))


@pytest.mark.parametrize("name", POLICIES)
def test_no_look_ahead(small_tables: tuple[SimPlan, dict[Kind, pa.Table]], name: str) -> None:
    """Changing every spot, futures and consumption bar known after a time t (the plan is
    the treasury's forecast, known from the start, and stays) changes nothing booked
    before t."""
    plan, tables = small_tables
    cut = np.datetime64("2026-06-15T00:00", "us")
    moved_tables = after(tables, cut, seed=5)
    assert moved_tables[Kind.CONSUMPTION]["plan"].equals(tables[Kind.CONSUMPTION]["plan"])
    base = backtest(TableMarket(plan.spec, tables), name, params=PARAMS[name])
    moved = backtest(TableMarket(plan.spec, moved_tables), name, params=PARAMS[name])
    stamp = pa.scalar(cut, pa.timestamp("us"))

    def before(t: pa.Table) -> pa.Table:
        return t.filter(pc.less(t["ts"], stamp))

    assert before(base.journal).num_rows > 0
    assert before(base.journal).equals(before(moved.journal))
    assert before(base.events).equals(before(moved.events))
    assert before(base.positions).equals(before(moved.positions))
    decided_before = [f for f in _fill_decisions(base) if f[0] < cut]
    assert decided_before == [f for f in _fill_decisions(moved) if f[0] < cut]
    assert (len(decided_before) > 0) is (name != "no_hedge")
    # the changed bars did change what came after (the test has teeth)
    assert not base.journal.equals(moved.journal)
    if name in ESTIMATING[1:]:  # re-estimated after the cut: other orders
        assert _fill_decisions(base) != _fill_decisions(moved)


# -- behaviour, by hand ------------------------------------------------------------------------


@dataclass
class Clean:
    """A demand-explosion market without price limits (no bar locks, so every order
    fills at the next exchange day's open) and its bars as frames, for hand checks."""

    plan: SimPlan
    chunk: SimChunk
    tables: dict[Kind, pa.Table]

    @property
    def ids(self) -> list[int]:
        return [int(p) for p in self.chunk.paths]

    def market(self) -> SimMarket:
        return SimMarket(self.plan, self.chunk)

    def run(self, name: str, **params: Any) -> Result:
        return backtest(self.market(), name, params={**PARAMS[name], **params})

    @cached_property
    def spot(self) -> pd.DataFrame:
        """Daily spot closes, ``ts × path``."""
        frame = self.tables[Kind.SPOT].to_pandas()
        return frame.pivot(index="ts", columns="path", values="close")[self.ids]

    @cached_property
    def settles(self) -> dict[str, pd.DataFrame]:
        """Each contract's settlements, ``ts × path``."""
        frame = self.tables[Kind.FUTURES].to_pandas()
        return {
            code: g.pivot(index="ts", columns="path", values="settle")[self.ids]
            for code, g in frame.groupby("contract")
        }

    @cached_property
    def exchange_days(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(sorted(self.tables[Kind.FUTURES]["ts"].unique().to_pylist()))

    @cached_property
    def contracts(self) -> dict[str, Contract]:
        return {c.code: c for c in self.plan.contracts}

    def planned(self, code: str) -> float:
        """The plan (M tokens) over ``code``'s delivery month."""
        frame = self.tables[Kind.CONSUMPTION].to_pandas()
        one = frame[frame.path == self.ids[0]].set_index("ts")["plan"]
        c = self.contracts[code]
        days = (one.index >= pd.Timestamp(c.delivery_start)) & (
            one.index <= pd.Timestamp(c.delivery_end)
        )
        return float(one[days].sum())

    def left(self, t: int, code: str) -> int:
        """Exchange days from exchange day ``t`` to ``code``'s last trading day."""
        ltd = pd.Timestamp(self.contracts[code].last_trading_day)
        return int(np.searchsorted(self.exchange_days, ltd)) - t

    def front(self, t: int, roll_days: int) -> str:
        """The nearest live month at least ``roll_days`` exchange days from its last trading day."""
        day = self.exchange_days[t]
        live = sorted(
            (c for c in self.plan.contracts if pd.Timestamp(c.listing_date) <= day),
            key=lambda c: c.last_trading_day,
        )
        return next(c.code for c in live if self.left(t, c.code) >= roll_days)

    def fill_ts(self, t: int) -> pd.Timestamp:
        """When an order decided at exchange day ``t``'s settlement is booked: at the end
        of the next exchange day's bar, whose open it fills at."""
        return self.exchange_days[t + 1] + pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def clean() -> Clean:
    spec = load_spec("tpi_month").model_copy(update={"price_limit": None})
    plan = SimPlan.build(load_scenario("demand_explosion"), 400, 0, spec=spec)
    chunk = simulate_paths(plan, range(0, 1000, 40))
    assert not chunk.locked.any()
    market = Clean(plan, chunk, chunk.tables(plan))
    assert market.exchange_days[START] == DECISION_DAY
    return market


def test_static_buys_each_months_plan_once_and_never_sells(clean: Clean) -> None:
    fills = _fills(clean.run("static"))
    assert (fills.qty > 0).all()
    assert set(fills.ts) == {clean.fill_ts(START)}
    got = {(f.path, f.contract): f.qty for f in fills.itertuples()}
    assert len(got) == len(fills) == len(clean.ids) * len(HORIZON)  # once per month and path
    for code in HORIZON:
        qty = np.round(clean.planned(code) / MULT)
        assert 25 <= qty <= 60
        assert all(got[(p, code)] == qty for p in clean.ids)


def test_tailing_buys_fewer_contracts(clean: Clean) -> None:
    rate = 0.05
    plain = {(f.path, f.contract): f.qty for f in _fills(clean.run("static")).itertuples()}
    tailed_fills = _fills(clean.run("static", tailing_rate=rate))
    tailed = {(f.path, f.contract): f.qty for f in tailed_fills.itertuples()}
    assert tailed.keys() == plain.keys()
    for (path, code), qty in tailed.items():
        years = (clean.contracts[code].final_settlement_date - DECISION_DAY.date()).days / 365
        assert qty == np.round(clean.planned(code) / MULT * np.exp(-rate * years))
        assert qty <= plain[(path, code)]
    assert tailed[(clean.ids[0], HORIZON[-1])] < plain[(clean.ids[0], HORIZON[-1])]


def _ols_slope(d_spot: np.ndarray, d_fut: np.ndarray) -> np.ndarray:
    """The OLS slope (with intercept) of each column of ``d_spot`` on ``d_fut``."""
    dx, dy = d_fut - d_fut.mean(axis=0), d_spot - d_spot.mean(axis=0)
    return np.asarray((dx * dy).sum(axis=0) / (dx * dx).sum(axis=0))


def _assert_min_variance_fills(clean: Clean, h: np.ndarray, **params: Any) -> None:
    """min_variance buys ``round(h × plan / multiplier)`` of each horizon month on every
    path at the decision day and holds: unclipped with ``max_ratio=None``, clipped to
    [0, 2] by default."""
    assert h.std() > 0.05  # a different ratio on each path
    assert (h > 2).any()  # so the default clip matters
    for max_ratio, ratio in ((None, h), (2.0, np.clip(h, 0.0, 2.0))):
        fills = _fills(clean.run("min_variance", max_ratio=max_ratio, **params))
        expected = {
            (p, code): np.round(ratio[i] * clean.planned(code) / MULT)
            for i, p in enumerate(clean.ids)
            for code in HORIZON
        }
        got = {(f.path, f.contract): f.qty for f in fills.itertuples()}
        assert got == {k: q for k, q in expected.items() if q != 0}
        assert set(fills.ts) == {clean.fill_ts(START)}  # placed once and held


def _rolled_front_changes(clean: Clean, end: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The last ``WINDOW`` daily spot changes up to exchange day ``end`` and the changes of
    the rolled front month — on each day the contract front that day (``ROLL_DAYS``), from
    its previous settlement — and those fronts, by hand."""
    d_spot, d_fut, fronts = [], [], []
    for t in range(end - WINDOW + 1, end + 1):
        code = clean.front(t, ROLL_DAYS)
        now, then = clean.exchange_days[t], clean.exchange_days[t - 1]
        d_spot.append(clean.spot.loc[now].to_numpy() - clean.spot.loc[then].to_numpy())
        d_fut.append(clean.settles[code].loc[now].to_numpy() - clean.settles[code].loc[then])
        fronts.append(code)
    return np.array(d_spot), np.array(d_fut, dtype=np.float64), fronts


def test_min_variance_fills_are_h_star_times_plan(clean: Clean) -> None:
    """``series="front"``: h* = the OLS slope (with intercept) of the last ``WINDOW`` daily
    spot changes on the changes of the one contract front on the decision day,
    recomputed from the bars with numpy."""
    front = clean.front(START, ROLL_DAYS)
    assert front == "TPI-2026-03"  # February's contract expires within 5 days
    days = clean.exchange_days[START - WINDOW : START + 1]
    d_spot = np.diff(clean.spot.loc[days].to_numpy(), axis=0)
    d_fut = np.diff(clean.settles[front].loc[days].to_numpy(), axis=0)
    _assert_min_variance_fills(clean, _ols_slope(d_spot, d_fut), series="front")


def test_min_variance_fits_h_star_on_the_rolled_front_series_by_default(clean: Clean) -> None:
    """The default ``series="rolled"``: h* is fitted on the rolled front month — each day
    the change of the contract front that day, so the window crosses rolls without ever
    differencing two contracts — recomputed from the bars by hand."""
    d_spot, d_fut, fronts = _rolled_front_changes(clean, START)
    assert fronts[0] == "TPI-2026-01"  # two rolls inside the window
    assert fronts[-1] == "TPI-2026-03"
    h = _ols_slope(d_spot, d_fut)
    _assert_min_variance_fills(clean, h)
    # the rolled estimate is neither the single contract's nor the unadjusted nearby's
    days = clean.exchange_days[START - WINDOW : START + 1]
    single = np.diff(clean.settles["TPI-2026-03"].loc[days].to_numpy(), axis=0)
    nearby = [
        clean.settles[clean.front(t, ROLL_DAYS)].loc[clean.exchange_days[t]].to_numpy()
        for t in range(START - WINDOW, START + 1)
    ]
    jumps = np.diff(np.array(nearby), axis=0)
    for other in (single, jumps):
        assert np.abs(_ols_slope(d_spot, other) - h).max() > 0.05


@pytest.mark.parametrize("series", ["rolled", "front"])
def test_min_variance_reads_no_settlement_after_the_decision_day(clean: Clean, series: str) -> None:
    """Every bar known after the decision day's settlement redrawn: the same orders (the
    ratio is estimated from settlements up to that day only); redrawn from the decision
    day on, other orders (the test has teeth)."""
    params = {**PARAMS["min_variance"], "series": series}

    def decisions(tables: dict[Kind, pa.Table]) -> list[tuple[Any, ...]]:
        fills = _fills(
            backtest(TableMarket(clean.plan.spec, tables), "min_variance", params=params)
        )
        return sorted(zip(fills.path, fills.contract, fills.qty, strict=True))

    base = decisions(clean.tables)
    assert len(base) > 0
    decided = np.datetime64(DECISION_DAY + pd.Timedelta(days=1), "us")  # its bar is known
    assert decisions(after(clean.tables, decided, seed=11)) == base
    assert decisions(after(clean.tables, decided - np.timedelta64(1, "D"), seed=11)) != base


def _ewma_ratio(clean: Clean, lam: float) -> np.ndarray:
    """RiskMetrics h_t per exchange day and path: zero-mean EWMA of the products of the
    day's spot change and front-contract change (both ends on the same contract)."""
    n_days = len(clean.exchange_days)
    x = np.full((n_days, len(clean.ids)), np.nan)
    y = np.full_like(x, np.nan)
    for t in range(1, n_days - ROLL_DAYS):
        code = clean.front(t, ROLL_DAYS)
        now, then = clean.exchange_days[t], clean.exchange_days[t - 1]
        x[t] = clean.spot.loc[now].to_numpy() - clean.spot.loc[then].to_numpy()
        y[t] = clean.settles[code].loc[now].to_numpy() - clean.settles[code].loc[then].to_numpy()
    xs, ys = pd.DataFrame(x[1:]), pd.DataFrame(y[1:])
    ewm = {"alpha": 1 - lam, "adjust": False}
    h = ((xs * ys).ewm(**ewm).mean() / (ys * ys).ewm(**ewm).mean()).to_numpy()
    return np.vstack([np.full((1, len(clean.ids)), np.nan), h])


@pytest.mark.parametrize(("band", "max_ratio"), [(0.10, None), (0.0, None), (0.10, 2.0)])
def test_ewma_trades_only_when_off_target_by_more_than_the_band(
    clean: Clean, band: float, max_ratio: float | None
) -> None:
    lam = 0.94
    fills = _fills(clean.run("ewma", band=band, lam=lam, max_ratio=max_ratio))
    h = _ewma_ratio(clean, lam)
    if max_ratio is not None:
        assert (h[START:] > max_ratio).any()  # the clip matters
        h = np.clip(h, 0.0, max_ratio)
    expected = []
    for code in HORIZON:
        held = np.zeros(len(clean.ids))
        planned = clean.planned(code)
        for t in range(START, len(clean.exchange_days)):
            if clean.left(t, code) < 1:  # an order on the last trading day fills too late
                break
            target = np.round(h[t] * planned / MULT)
            move = np.abs(target - held) > band * np.abs(target)
            expected += [
                (clean.fill_ts(t), clean.ids[i], code, target[i] - held[i])
                for i in np.flatnonzero(move)
            ]
            held = np.where(move, target, held)
    got = sorted(zip(fills.ts, fills.path, fills.contract, fills.qty, strict=True))
    assert got == sorted(expected)
    assert len(got) > 3 * len(HORIZON) * len(clean.ids)  # it does rebalance
    if band:  # every trade moved the position by more than the band
        pos = fills.groupby(["path", "contract"]).qty.cumsum()
        assert (fills.qty.abs() > band * pos.abs()).all()


@pytest.mark.parametrize("roll_days", [5, 3])
def test_rolling_holds_one_month_and_leaves_it_before_expiry(clean: Clean, roll_days: int) -> None:
    result = backtest(
        clean.market(), "rolling", params={**PARAMS["rolling"], "roll_days": roll_days}
    )
    held = result.positions.to_pandas()
    held = held[held.qty != 0]
    # one contract month at a time (next-open fills: both legs of a roll fill together)
    assert held.groupby(["ts", "path"]).contract.nunique().max() == 1
    # held at the settlement of the day the roll is decided, flat from the next day on
    day = [int(np.searchsorted(clean.exchange_days, ts - pd.Timedelta(days=1))) for ts in held.ts]
    held["left"] = [clean.left(t, c) for t, c in zip(day, held.contract, strict=True)]
    last = held.groupby("contract").left.min()
    rolled = [c for c in HORIZON if c in last.index]
    assert rolled == list(HORIZON)  # the stack walks through every month of the horizon
    assert (last[rolled] == roll_days - 1).all()
    # closed before final settlement: all futures P&L is roll P&L
    j = result.journal.to_pandas()
    assert not (j.kind == "final_settlement").any()
    np.testing.assert_allclose(result.paths["roll_pnl"], result.paths["futures_pnl"])


def test_layered_tops_up_to_80_percent_a_month_before_delivery(clean: Clean) -> None:
    fills = _fills(clean.run("layered"))
    assert (fills.qty > 0).all()  # only ever adds
    # at the start, months 1..9 ahead get the ladder {12: .25, 6: .5, 3: .65, 1: .8}
    fractions = [0.80, 0.725, 0.65, 0.60, 0.55, 0.50, 0.5 - 0.25 / 6, 0.5 - 0.5 / 6, 0.375]
    first = fills[fills.ts == clean.fill_ts(START)]
    got = {(f.path, f.contract): f.qty for f in first.itertuples()}
    for code, fraction in zip(HORIZON, fractions, strict=True):
        qty = np.round(fraction * clean.planned(code) / MULT)
        assert all(got[(p, code)] == qty for p in clean.ids)
    # topped up on the first exchange day of each month
    days = clean.exchange_days
    firsts = [days[days >= pd.Timestamp(2026, m, 1)][0] for m in range(3, 12)]
    tops = {clean.fill_ts(int(clean.exchange_days.get_loc(d))) for d in firsts}
    assert set(fills.ts) <= tops | {clean.fill_ts(START)}
    for code in HORIZON:
        mine = fills[fills.contract == code]
        start = pd.Timestamp(clean.contracts[code].delivery_start)
        target = np.round(0.80 * clean.planned(code) / MULT)
        by_delivery = mine[mine.ts <= start].groupby("path").qty.sum()
        assert (by_delivery == target).all()  # 80 % by the month before delivery
        assert (mine.groupby("path").qty.sum() == target).all()  # and no more
        assert len(by_delivery) == len(clean.ids)


class PriceRatioStrip(HedgePolicy):
    """volume_aware's stack with the price ratio (``OLSRatio``) for the spend ratio."""

    Params = VolumeAwareParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            Every(p.rebalance_days),
            StripExposure("plan", p.lookback),
            OLSRatio(**p.estimator()),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(p.band),
        ]


def test_volume_aware_with_flat_consumption_is_the_price_ratio(clean: Clean) -> None:
    """With the same tokens every day the spend ratio is the price ratio: volume_aware
    trades what the same strip at the OLS price ratio does."""
    tables = dict(clean.tables)
    use = tables[Kind.CONSUMPTION]
    flat = pa.array(np.full(use.num_rows, 1000.0))
    tables[Kind.CONSUMPTION] = use.set_column(use.schema.get_field_index("tokens"), "tokens", flat)
    params = PARAMS["volume_aware"]
    aware = _fills(backtest(TableMarket(clean.plan.spec, tables), "volume_aware", params=params))
    price = _fills(backtest(TableMarket(clean.plan.spec, tables), PriceRatioStrip, params=params))
    assert (aware.groupby(["path", "contract"]).size() > 1).any()  # re-estimated and traded
    pd.testing.assert_frame_equal(aware.reset_index(drop=True), price.reset_index(drop=True))


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("ewma", {"lam": 1.5}, "lam"),
        ("ewma", {"band": -0.1}, "band"),
        ("layered", {"ladder": {12: 3.0}}, "ladder"),
        ("static", {"windw": 30}, "windw"),
        ("min_variance", {"window": 1}, "window"),
        ("min_variance", {"series": "spliced"}, "series"),
        ("min_variance_kernel", {"series": "rolled"}, "series"),
        ("rolling", {"roll_days": 0}, "roll_days"),
        ("volume_aware", {"source": "oracle"}, "source"),
        ("no_hedge", {"start": 3}, "start"),
    ],
)
def test_bad_parameters_name_the_strategy_and_field(
    name: str, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(PluginError, match=rf"strategy '{name}'.*{field}"):
        create(name, params)


def test_bad_parameters_stop_a_backtest_before_it_runs(
    small_tables: tuple[SimPlan, dict[Kind, pa.Table]],
) -> None:
    plan, tables = small_tables
    with pytest.raises(PluginError, match=r"strategy 'layered'.*ladder"):
        backtest(TableMarket(plan.spec, tables), "layered", params={"ladder": {12: 3.0}})


def test_horizon_constants_are_the_calendar() -> None:
    """The hand-written horizon: the 9 months after the decision day's month."""
    day = DECISION_DAY.date()
    months = [(day.year * 12 + day.month - 1 + k) for k in range(1, MONTHS + 1)]
    assert tuple(f"TPI-{m // 12}-{m % 12 + 1:02d}" for m in months) == HORIZON
