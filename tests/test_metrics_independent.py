"""Metrics against independent implementations on large random inputs.

The per-path metrics are recomputed with pandas group-bys from a large random
journal, written from the docstrings (``tokbt.ledger.journal``,
``tokbt.metrics.path``) rather than from the code; the across-path statistics
are recomputed with numpy, pandas and scipy from the definitions in the
docstring of ``tokbt.metrics.stats``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.stats

from tokbt.ledger import EVENT_SCHEMA, JOURNAL_SCHEMA
from tokbt.metrics.evaluate import evaluate
from tokbt.metrics.evaluation import PATH_METRICS, SUMMARY_METRICS, Evaluation
from tokbt.metrics.path import PathResults, measure
from tokbt.metrics.rows import RunFrame
from tokbt.metrics.stats import (
    BLOCK_MONTHS,
    STATISTICS,
    Resamples,
    Sample,
    block_resamples,
    cvar,
)

# -- a large random journal ---------------------------------------------------------------

N_PATHS, N_DAYS = 200, 400
FIRST = np.datetime64("2026-01-01", "D")
LAST = FIRST + (N_DAYS - 1)  # 2027-02-04
MULTIPLIER = 2.5
DAY_US = 86_400 * 1_000_000
# monthly contracts from one delivering before the run to some delivering after it
DELIVERY = np.arange(np.datetime64("2025-12", "M"), np.datetime64("2027-05", "M"))
CONTRACTS = [
    (f"TPI-{m}", m.astype("datetime64[D]"), (m + 1).astype("datetime64[D]") - 1) for m in DELIVERY
]
SCENARIOS = ("none", "delivered", "closed", "closed_accrual", "liquidated", "open")
HEDGE_KINDS = ("variation_margin", "final_settlement", "fee", "interest")
TRANSFER_KINDS = ("deposit", "margin_call", "withdrawal")
QTY_STEPS = np.array([-3, -2, -1, -0.5, -0.3, -0.2, -0.1, 0.1, 0.2, 0.3, 0.5, 1, 2, 3])
EXACT_STEPS = np.array([-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0])  # sums are exact


class _Rows:
    """Journal rows built one by one; a row's time is drawn within the day it describes."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.cols: dict[str, list[object]] = {
            k: [] for k in ("us", "path", "account", "contract", "kind", "qty", "price", "amount")
        }

    def stamp(self, day: int) -> int:
        """Microseconds since FIRST of an event describing ``day``: 00:00 of the next
        day, any time during the day, or 1 µs after the day's midnight."""
        mode = self.rng.integers(3)
        offset = (DAY_US, int(self.rng.integers(1, DAY_US)), 1)[mode]
        return int(day) * DAY_US + offset

    def add(
        self,
        day: int,
        path: int,
        account: str,
        kind: str,
        amount: float,
        *,
        contract: str | None = None,
        qty: float | None = None,
        price: float | None = None,
        us: int | None = None,
    ) -> int:
        us = self.stamp(day) if us is None else us
        for key, value in (
            ("us", us),
            ("path", int(path)),
            ("account", account),
            ("contract", contract),
            ("kind", kind),
            ("qty", None if qty is None else float(qty)),
            ("price", None if price is None else float(price)),
            ("amount", float(amount)),
        ):
            self.cols[key].append(value)
        return us

    def transfer(self, day: int, path: int, kind: str, source: str, target: str, x: float) -> None:
        us = self.add(day, path, source, kind, -x)
        self.add(day, path, target, kind, x, us=us)

    def table(self) -> pa.Table:
        us = np.asarray(self.cols["us"], np.int64)
        order = np.argsort(us, kind="stable")  # journals are in time order
        ts = np.datetime64(FIRST, "us") + us.astype("timedelta64[us]")
        arrays = {
            "ts": pa.array(ts[order]),
            "path": pa.array(np.asarray(self.cols["path"], np.int32)[order]),
        }
        for key, typ in (
            ("account", pa.string()),
            ("contract", pa.string()),
            ("kind", pa.string()),
            ("qty", pa.float64()),
            ("price", pa.float64()),
            ("amount", pa.float64()),
        ):
            arrays[key] = pa.array(self.cols[key], typ).take(pa.array(order))
        return pa.table(arrays, schema=JOURNAL_SCHEMA)


def _contract_rows(
    rows: _Rows, rng: np.random.Generator, pid: int, code: str, end: np.datetime64
) -> str:
    """Rows of one contract on one path under a random scenario; return the scenario."""
    scenario = str(rng.choice(SCENARIOS, p=[0.3, 0.25, 0.15, 0.1, 0.1, 0.1]))
    fs_day = int((end - FIRST).astype(np.int64)) + 1  # settles the day after delivery ends
    in_run = fs_day <= N_DAYS - 1
    if scenario == "delivered" and not in_run:
        scenario = "open"
    if scenario == "none":
        return scenario
    last = min(fs_day, N_DAYS - 1)
    steps = EXACT_STEPS if scenario == "closed_accrual" else QTY_STEPS
    qtys = list(rng.choice(steps, rng.integers(1, 5)))
    net = sum(qtys)
    if scenario in ("delivered", "open") and abs(net) < 0.05:
        qtys.append(1.0)
    if scenario in ("closed", "closed_accrual"):
        qtys.append(-sum(qtys))  # may leave a rounding residue of ~1e-17 ("closed")
    days = np.sort(rng.integers(0, last + 1, len(qtys)))
    for day, q in zip(days, qtys, strict=True):
        price = rng.uniform(5, 15)
        rows.add(day, pid, "margin", "fill", 0.0, contract=code, qty=q, price=price)
        rows.add(day, pid, "margin", "fee", -0.02 * abs(q), contract=code)
    for day in rng.integers(0, last + 1, rng.integers(1, 8)):
        amount = rng.normal(0, 200)
        rows.add(day, pid, "margin", "variation_margin", amount, contract=code, price=10.0)
    held = sum(qtys)
    if scenario == "liquidated":
        if held == 0:
            held = 1.0
            rows.add(days[-1], pid, "margin", "fill", 0.0, contract=code, qty=1.0, price=9.0)
        day = rng.integers(days[-1], last + 1)
        rows.add(day, pid, "margin", "liquidation", 0.0, contract=code, qty=-held, price=9.5)
    if scenario == "delivered":
        price, amount = rng.uniform(5, 15), rng.normal(0, 300)
        rows.add(fs_day, pid, "margin", "final_settlement", amount, contract=code, qty=-held,
                 price=price)  # fmt: skip
    if scenario == "closed_accrual" and in_run:
        assert held == 0.0
        amount = rng.normal(0, 50)
        rows.add(fs_day, pid, "margin", "final_settlement", amount, contract=code, qty=-held,
                 price=10.0)  # fmt: skip
    return scenario


@dataclass(frozen=True)
class RandomRun:
    frame: RunFrame
    journal: pa.Table
    events: pa.Table
    scenarios: pd.Series


def _random_run(seed: int = 20261122) -> RandomRun:
    rng = np.random.default_rng(seed)
    ids = rng.choice(100_000, N_PATHS, replace=False)  # unsorted, not 0..n-1
    plan = rng.uniform(5_000, 10_000, N_PATHS)
    plan[::7] = np.nan
    frame = RunFrame.build(ids, FIRST, LAST, CONTRACTS, MULTIPLIER, plan)
    rows = _Rows(rng)
    scenarios = []
    for j, pid in enumerate(ids):
        if j >= 5:  # the first paths consume nothing
            for day in rng.integers(0, N_DAYS, rng.poisson(90)):
                q, p = rng.uniform(1, 100), rng.uniform(5, 15)
                rows.add(day, pid, "operating", "consumption", -q * p, qty=q, price=p)
        for day in rng.integers(0, N_DAYS, 20):
            account = str(rng.choice(["operating", "margin", "credit"]))
            rows.add(day, pid, account, "interest", rng.normal(0, 20))
        for day in rng.integers(0, N_DAYS, 15):
            kind = str(rng.choice([*TRANSFER_KINDS, "repayment"]))
            x = rng.uniform(100, 5_000)
            if kind in ("deposit", "margin_call"):
                rows.transfer(day, pid, kind, str(rng.choice(["operating", "credit"])), "margin", x)
            elif kind == "withdrawal":
                rows.transfer(day, pid, kind, "margin", "operating", x)
            else:
                rows.transfer(day, pid, kind, "operating", "credit", x)
        for day in rng.integers(0, N_DAYS, 3):
            rows.add(day, pid, "margin", "fee", -rng.uniform(0, 5))  # a fee without a contract
        for code, _, end in CONTRACTS:
            scenarios.append((int(pid), code, _contract_rows(rows, rng, pid, code, end)))
    n_events = 600
    event_us = np.sort([rows.stamp(d) for d in rng.integers(0, N_DAYS, n_events)])
    names = ["margin_call", "liquidation", "order_rejected"]
    events = pa.table(
        {
            "ts": pa.array(np.datetime64(FIRST, "us") + event_us.astype("timedelta64[us]")),
            "path": pa.array(rng.choice(ids[: N_PATHS - 10], n_events).astype(np.int32)),
            "event": pa.array(rng.choice(names, n_events, p=[0.6, 0.15, 0.25]).astype(str)),
            "contract": pa.nulls(n_events, pa.string()),
            "qty": pa.nulls(n_events, pa.float64()),
            "amount": pa.nulls(n_events, pa.float64()),
            "detail": pa.nulls(n_events, pa.string()),
        },
        schema=EVENT_SCHEMA,
    )
    index = pd.MultiIndex.from_tuples([s[:2] for s in scenarios], names=["path", "contract"])
    return RandomRun(frame, rows.table(), events, pd.Series([s[2] for s in scenarios], index))


# -- the metrics recomputed with pandas, from the docstrings -----------------------------


KINDS_USED = ("consumption", "variation_margin", "final_settlement", "fee", "interest")


def position_of(frame: RunFrame) -> dict[int, int]:
    """Array position of each path id."""
    return {int(p): j for j, p in enumerate(frame.path_ids)}


def _decoded(run: RandomRun) -> pd.DataFrame:
    df = run.journal.to_pandas()
    # an event at 00:00 describes the previous day: the day of ts − 1 µs
    day = (df["ts"] - pd.Timedelta(1, "us")).dt.floor("D")
    df["day"] = (day - pd.Timestamp(FIRST)).dt.days.astype(np.int64)
    df["month"] = day.dt.to_period("M")
    df["pos"] = df["path"].map(position_of(run.frame)).astype(np.int64)
    return df


def _per_path(series: pd.Series, fill: float = 0.0) -> np.ndarray:
    return series.reindex(range(N_PATHS), fill_value=fill).to_numpy(np.float64)


def _daily(df: pd.DataFrame, mask: pd.Series, values: str = "amount") -> pd.DataFrame:
    """(day × path position) sums of ``values`` over ``mask``, on the full grid."""
    sums = df[mask].groupby(["day", "pos"])[values].sum().unstack(fill_value=0.0)
    return sums.reindex(index=range(N_DAYS), columns=range(N_PATHS), fill_value=0.0)


def _expected(run: RandomRun) -> dict[str, np.ndarray]:
    df = _decoded(run)
    out: dict[str, np.ndarray] = {}
    kind = df["kind"]
    by_kind = df.groupby(["pos", "kind"])["amount"].sum().unstack(fill_value=0.0)
    flow = {k: _per_path(by_kind[k]) if k in by_kind else np.zeros(N_PATHS) for k in KINDS_USED}

    # Spend
    cons = df[kind == "consumption"]
    out["tokens"] = _per_path(cons[cons["qty"] > 0].groupby("pos")["qty"].sum())
    out["unhedged_cost"] = -flow["consumption"]
    out["futures_pnl"] = flow["variation_margin"] + flow["final_settlement"]
    out["fees"] = -flow["fee"]
    out["funding_cost"] = -flow["interest"]
    out["hedged_cost"] = -(
        flow["consumption"]
        + flow["variation_margin"]
        + flow["final_settlement"]
        + flow["fee"]
        + flow["interest"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        tokens = np.where(out["tokens"] > 0, out["tokens"], np.nan)
        out["unit_cost_unhedged"] = out["unhedged_cost"] / tokens
        out["unit_cost_hedged"] = out["hedged_cost"] / tokens
    first_price = cons.sort_values("ts", kind="stable").groupby("pos")["price"].first()
    out["budget"] = run.frame.plan_tokens * _per_path(first_price, np.nan)
    out["overrun"] = out["hedged_cost"] - out["budget"]

    # Attribution, per (path, contract)
    fut = df[df["contract"].notna()].copy()
    fut["vm"] = np.where(fut["kind"] == "variation_margin", fut["amount"], 0.0)
    fut["fs"] = np.where(fut["kind"] == "final_settlement", fut["amount"], 0.0)
    fut["traded"] = np.where(fut["kind"].isin(["fill", "liquidation"]), fut["qty"], 0.0)
    is_delivery = (fut["kind"] == "final_settlement") & (fut["qty"].fillna(0.0) != 0)
    fut["delivered"] = np.where(is_delivery, -fut["qty"], 0.0)
    fut["fsp"] = np.where(is_delivery, fut["price"], np.nan)
    cells = fut.groupby(["pos", "contract"]).agg(
        vm=("vm", "sum"),
        fs=("fs", "sum"),
        traded=("traded", "sum"),
        delivered=("delivered", "sum"),
        held_at_fs=("delivered", lambda s: bool((s != 0).any())),
        fsp=("fsp", "max"),
    )
    # closed out before final settlement: nothing held at it, trades net to zero
    cells["closed"] = ~cells["held_at_fs"] & (cells["traded"].abs() < 1e-9)
    by_path = cells.groupby(level="pos")
    out["roll_pnl"] = _per_path(by_path.apply(lambda c: (c["vm"] + c["fs"])[c["closed"]].sum()))
    out["variation_margin"] = _per_path(by_path.apply(lambda c: c["vm"][~c["closed"]].sum()))
    out["final_settlement"] = _per_path(by_path.apply(lambda c: c["fs"][~c["closed"]].sum()))
    cells["tokens_delivered"] = cells["delivered"] * MULTIPLIER
    consumed = _per_path(cons.groupby("pos")["qty"].sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        delivered = _per_path(cells["tokens_delivered"].groupby(level="pos").sum())
        out["hedge_ratio"] = np.where(consumed > 0, delivered / consumed, np.nan)
    # basis: Σ delivered tokens × (FSP − spend-weighted price paid in the delivery period)
    basis = np.zeros(N_PATHS)
    for code, start, end in CONTRACTS:
        lo, hi = (start - FIRST).astype(int), (end - FIRST).astype(int)
        period = cons[(cons["day"] >= lo) & (cons["day"] <= hi)].groupby("pos")
        spend, qty = -period["amount"].sum(), period["qty"].sum()
        for (pos, contract), cell in cells[cells["held_at_fs"]].iterrows():
            if contract == code and qty.get(pos, 0.0) > 0:
                basis[pos] += cell["tokens_delivered"] * (cell["fsp"] - spend[pos] / qty[pos])
    out["basis_pnl"] = basis
    out["cells"] = cells  # type: ignore[assignment]

    # Funding, day by day
    margin = df["account"] == "margin"
    out["margin_posted"] = _daily(df, margin).cumsum().to_numpy()
    out["funding_need"] = _daily(df, margin & kind.isin(TRANSFER_KINDS)).cumsum().to_numpy()
    out["hedge_pnl"] = _daily(df, kind.isin(HEDGE_KINDS)).cumsum().to_numpy()
    credit = _daily(df, df["account"] == "credit").cumsum()
    out["peak_margin"] = np.maximum(out["margin_posted"].max(axis=0), 0.0)
    out["peak_funding"] = np.maximum(out["funding_need"].max(axis=0), 0.0)
    out["peak_credit"] = np.maximum(-credit.min(axis=0).to_numpy(), 0.0)
    hedge = pd.concat([pd.DataFrame(np.zeros((1, N_PATHS))), pd.DataFrame(out["hedge_pnl"])])
    out["max_drawdown"] = (hedge.cummax() - hedge).max(axis=0).to_numpy()

    # HedgeRatio, day by day
    trades = df["contract"].notna() & kind.isin(["fill", "liquidation", "final_settlement"])
    held = _daily(df, trades, "qty").cumsum().to_numpy() * MULTIPLIER
    used = _daily(df, kind == "consumption", "qty")
    out["remaining"] = (used.sum(axis=0) - used.cumsum()).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["daily_hedge_ratio"] = np.where(out["remaining"] > 0.5, held / out["remaining"], np.nan)

    # MonthlyCost: contract rows count in their delivery-start month (clipped to the run)
    months = pd.period_range(pd.Timestamp(FIRST), pd.Timestamp(LAST), freq="M")
    delivery = {code: pd.Period(pd.Timestamp(start), "M") for code, start, _ in CONTRACTS}
    month = df["month"].copy()
    has = df["contract"].notna()
    month[has] = df.loc[has, "contract"].map(delivery)
    month = month.clip(lower=months[0], upper=months[-1])
    df["mpos"] = month.map({m: i for i, m in enumerate(months)}).astype(np.int64)

    def monthly(mask: pd.Series, values: pd.Series) -> np.ndarray:
        sums = values[mask].groupby([df["pos"][mask], df["mpos"][mask]]).sum().unstack(fill_value=0)
        full = sums.reindex(index=range(N_PATHS), columns=range(len(months)), fill_value=0.0)
        return full.to_numpy(np.float64)

    use = kind == "consumption"
    out["monthly_tokens"] = monthly(use, df["qty"])
    out["monthly_unhedged"] = monthly(use, -df["amount"])
    out["monthly_hedged"] = out["monthly_unhedged"] - monthly(kind.isin(HEDGE_KINDS), df["amount"])

    # MarginEvents
    ev = run.events.to_pandas()
    ev["pos"] = ev["path"].map(position_of(run.frame))
    for column, name in (("margin_calls", "margin_call"), ("liquidations", "liquidation")):
        out[column] = _per_path(ev[ev["event"] == name].groupby("pos").size().astype(float))
    return out


@pytest.fixture(scope="module")
def run() -> RandomRun:
    return _random_run()


@pytest.fixture(scope="module")
def expected(run: RandomRun) -> dict[str, np.ndarray]:
    return _expected(run)


@pytest.fixture(scope="module")
def measured(run: RandomRun) -> PathResults:
    return measure(run.frame, run.journal, run.events, "default")


def _close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6, equal_nan=True, err_msg=what)


# -- tests: the generator ----------------------------------------------------------------


def test_random_journal_is_large_and_follows_the_ledger_conventions(run: RandomRun) -> None:
    df = _decoded(run)
    assert 40_000 <= len(df) <= 70_000
    assert set(run.scenarios) == set(SCENARIOS)
    # every transfer is two rows summing to zero; trades move no cash
    transfers = df[df["kind"].isin([*TRANSFER_KINDS, "repayment"])]
    assert len(transfers) % 2 == 0
    np.testing.assert_allclose(transfers.groupby(["ts", "pos"])["amount"].sum(), 0.0, atol=1e-9)
    assert (df.loc[df["kind"].isin(["fill", "liquidation"]), "amount"] == 0).all()
    # timestamps include midnights (previous day) and 1 µs after midnight (the same day)
    midnight = df["ts"] == df["ts"].dt.floor("D")
    assert midnight.any()
    assert (~midnight).any()
    assert (
        df.loc[midnight, "day"] == (df.loc[midnight, "ts"] - pd.Timestamp(FIRST)).dt.days - 1
    ).all()
    assert df["day"].min() == 0
    assert df["day"].max() == N_DAYS - 1


# -- tests: per-path metrics ---------------------------------------------------------------


SPEND = (
    "tokens",
    "unhedged_cost",
    "hedged_cost",
    "futures_pnl",
    "fees",
    "funding_cost",
    "unit_cost_unhedged",
    "unit_cost_hedged",
    "budget",
    "overrun",
)


@pytest.mark.parametrize("column", SPEND)
def test_spend_matches_pandas(measured: PathResults, expected: dict, column: str) -> None:
    _close(measured.columns[column], expected[column], column)


def test_spend_identity_and_paths_without_consumption(measured: PathResults) -> None:
    c = measured.columns
    _close(
        c["hedged_cost"], c["unhedged_cost"] - c["futures_pnl"] + c["fees"] + c["funding_cost"], ""
    )
    assert (c["tokens"][:5] == 0).all()
    assert np.isnan(c["unit_cost_hedged"][:5]).all()
    assert np.isnan(c["budget"][::7]).all()
    assert np.isfinite(c["budget"][8:14]).all()


def test_attribution_matches_pandas(measured: PathResults, expected: dict) -> None:
    for column in ("variation_margin", "final_settlement", "roll_pnl", "basis_pnl", "hedge_ratio"):
        _close(measured.columns[column], expected[column], column)
    c = measured.columns
    _close(c["variation_margin"] + c["final_settlement"] + c["roll_pnl"], c["futures_pnl"], "sum")
    assert (expected["basis_pnl"] != 0).sum() > N_PATHS // 2  # the basis is exercised


def test_contracts_closed_before_settlement_count_in_roll_pnl(
    run: RandomRun, measured: PathResults, expected: dict
) -> None:
    cells = expected["cells"]
    scenario = run.scenarios.rename(index=position_of(run.frame), level="path")
    scenario.index = scenario.index.set_names(["pos", "contract"])
    cells = cells.join(scenario.rename("scenario"))
    # the generator's scenarios and the docstring's definition agree
    closing = cells["scenario"].isin(["closed", "closed_accrual", "liquidated"])
    assert (cells["closed"] == closing).all()
    # a rounding residue of the fills (~1e-17) still closes the contract
    assert ((cells["traded"] != 0) & cells["closed"]).any()
    # a final-settlement row of quantity 0 (accrual only) does not make a delivery
    assert ((cells["fs"] != 0) & cells["closed"]).any()
    # roll P&L per path: exactly the flows of closed contracts
    roll = (cells["vm"] + cells["fs"]).where(cells["closed"], 0.0).groupby(level="pos").sum()
    _close(measured.columns["roll_pnl"], _per_path(roll), "roll")


def test_closed_contract_alone_is_all_roll_pnl() -> None:
    """Fills netting to zero with no final-settlement row: every flow is roll P&L."""
    frame = RunFrame.build([7, 3], FIRST, FIRST + 40, CONTRACTS, MULTIPLIER)
    rows = _Rows(np.random.default_rng(1))
    code, code2 = CONTRACTS[2][0], CONTRACTS[3][0]
    for q, day in ((0.1, 1), (0.2, 2), (-0.3, 5)):  # nets to 5.6e-17, not 0
        rows.add(day, 7, "margin", "fill", 0.0, contract=code, qty=q, price=10.0)
    rows.add(3, 7, "margin", "variation_margin", 125.0, contract=code, price=11.0)
    rows.add(4, 7, "margin", "variation_margin", -25.0, contract=code, price=10.0)
    rows.add(2, 7, "margin", "fill", 0.0, contract=code2, qty=1.0, price=10.0)  # still open
    rows.add(3, 7, "margin", "variation_margin", 40.0, contract=code2, price=10.0)
    got = measure(frame, rows.table(), None, "default").columns
    assert got["roll_pnl"].tolist() == [100.0, 0.0]
    assert got["variation_margin"].tolist() == [40.0, 0.0]
    assert got["futures_pnl"].tolist() == [140.0, 0.0]


def test_monthly_hedge_accounting_matches_pandas(measured: PathResults, expected: dict) -> None:
    assert measured.monthly["tokens"].shape == (N_PATHS, 14)
    _close(measured.monthly["tokens"], expected["monthly_tokens"], "tokens")
    _close(measured.monthly["unhedged_cost"], expected["monthly_unhedged"], "unhedged")
    _close(measured.monthly["hedged_cost"], expected["monthly_hedged"], "hedged")
    # months add up to the horizon
    _close(measured.monthly["hedged_cost"].sum(axis=1), measured.columns["hedged_cost"], "sum")
    _close(measured.monthly["tokens"].sum(axis=1), measured.columns["tokens"], "tokens sum")


def test_daily_funding_matches_pandas(measured: PathResults, expected: dict) -> None:
    for series in ("margin_posted", "funding_need", "hedge_pnl"):
        assert measured.daily[series].shape == (N_DAYS, N_PATHS)
        _close(measured.daily[series], expected[series], series)
    for column in ("peak_margin", "peak_funding", "peak_credit", "max_drawdown"):
        _close(measured.columns[column], expected[column], column)
    assert (expected["max_drawdown"] > 0).all()
    assert (expected["peak_credit"] > 0).any()


def test_daily_hedge_ratio_matches_pandas(measured: PathResults, expected: dict) -> None:
    got, want = measured.daily["hedge_ratio"], expected["daily_hedge_ratio"]
    assert (np.isnan(got) == np.isnan(want)).all()
    _close(got, want, "hedge_ratio")
    assert np.isfinite(want).sum() > N_PATHS * N_DAYS // 2


def test_margin_events_counted(measured: PathResults, expected: dict) -> None:
    for column in ("margin_calls", "liquidations"):
        np.testing.assert_array_equal(measured.columns[column], expected[column])
    assert expected["margin_calls"].sum() > 300
    assert expected["liquidations"][-10:].sum() == 0


def test_batches_measure_like_one_table(run: RandomRun, measured: PathResults) -> None:
    batches = run.journal.to_batches(max_chunksize=3_333)
    assert len(batches) > 10
    chunked = measure(run.frame, batches, run.events.to_batches(max_chunksize=97), "default")
    for name, values in measured.columns.items():
        _close(chunked.columns[name], values, name)
    for name, values in measured.daily.items():
        _close(chunked.daily[name], values, name)
    for name, values in measured.monthly.items():
        _close(chunked.monthly[name], values, name)


# -- statistics: PathResults built directly ------------------------------------------------


def _results(
    n: int,
    *,
    months: int = 12,
    seed: int = 0,
    monthly: dict[str, np.ndarray] | None = None,
    **columns: np.ndarray,
) -> PathResults:
    rng = np.random.default_rng(seed)
    last = (np.datetime64("2026-01", "M") + months).astype("datetime64[D]") - 1
    frame = RunFrame.build(np.arange(n), "2026-01-01", last)
    derived = ("unit_cost_var_hedged", "unit_cost_var_unhedged")  # from the monthly arrays
    cols = {name: rng.normal(1e6, 1e5, n) for name in PATH_METRICS if name not in derived}
    cols.update(columns)
    if monthly is None:
        tokens = rng.uniform(1e3, 2e3, (n, months))
        monthly = {
            "tokens": tokens,
            "unhedged_cost": tokens * rng.normal(10, 2, (n, months)),
            "hedged_cost": tokens * rng.normal(10, 1, (n, months)),
        }
    return PathResults(frame, cols, {}, monthly)


def _summary(ev: Evaluation, policy: str = "p") -> pd.DataFrame:
    return ev.summary[ev.summary["policy"] == policy].set_index("metric")


def _comparison(ev: Evaluation, policy: str) -> pd.DataFrame:
    return ev.comparisons[ev.comparisons["policy"] == policy].set_index("metric")


@pytest.fixture(scope="module")
def big() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 5_000
    h = rng.normal(1e6, 1e5, n)
    u = h + rng.normal(0, 2e5, n)
    overrun = rng.normal(0, 5e4, n)
    return {
        "hedged_cost": h,
        "unhedged_cost": u,
        "budget": h - overrun,
        "overrun": overrun,
        "liquidations": rng.poisson(0.05, n).astype(float),
        "margin_calls": rng.poisson(2.0, n).astype(float),
        "unit_cost_hedged": rng.normal(10, 1, n),
        "hedge_ratio": rng.uniform(0, 1, n),
    }


def test_point_statistics_match_numpy_pandas_scipy(big: dict[str, np.ndarray]) -> None:
    n = len(big["hedged_cost"])
    ev = evaluate({"p": _results(n, seed=1, **big)}, resamples=50, seed=3)
    got = _summary(ev)["value"]
    h, u = pd.Series(big["hedged_cost"]), pd.Series(big["unhedged_cost"])
    assert got["mean_cost"] == pytest.approx(math.fsum(h) / n, rel=1e-12)
    assert got["sd_cost"] == pytest.approx(h.std(), rel=1e-10)
    assert got["vr_std"] == pytest.approx(1 - h.std() / u.std(), rel=1e-10)
    he = 1 - scipy.stats.tvar(h) / scipy.stats.tvar(u)
    assert got["he_var"] == pytest.approx(he, rel=1e-10)
    assert got["he_var"] == pytest.approx(1 - (1 - got["vr_std"]) ** 2, rel=1e-12)
    assert got["p95_cost"] == pytest.approx(h.quantile(0.95), rel=1e-12)
    p95 = scipy.stats.mstats.mquantiles(h, [0.95], alphap=1, betap=1)[0]
    assert got["p95_cost"] == pytest.approx(p95, rel=1e-12)
    # n divisible by 20: CVaR95 is the mean of the top 5 %
    assert got["cvar95_cost"] == pytest.approx(np.sort(h)[-n // 20 :].mean(), rel=1e-12)
    assert got["cvar95_cost"] == pytest.approx(
        scipy.stats.trim1(h.to_numpy(), 0.95, tail="left").mean(), rel=1e-12
    )
    assert got["budget_at_risk"] == pytest.approx(pd.Series(big["overrun"]).quantile(0.95))
    assert got["p_overrun"] == np.mean(big["hedged_cost"] > big["budget"])
    assert got["p_liquidation"] == np.mean(big["liquidations"] > 0)
    assert 0 < got["p_liquidation"] < 0.1
    assert got["mean_margin_calls"] == pytest.approx(big["margin_calls"].mean(), rel=1e-12)
    assert got["mean_unit_cost"] == pytest.approx(big["unit_cost_hedged"].mean(), rel=1e-12)
    assert got["mean_hedge_ratio"] == pytest.approx(big["hedge_ratio"].mean(), rel=1e-12)


def test_he_is_one_minus_squared_vr_on_every_resample(big: dict[str, np.ndarray]) -> None:
    n = len(big["hedged_cost"])
    sample = Sample(big, np.zeros((n, 1)), np.zeros((n, 1)))
    draws = Resamples.draw(n, 1, 200, seed=11)
    assert draws.boot.shape == (200, n)
    vr = STATISTICS["vr_std"](sample, draws.boot)
    he = STATISTICS["he_var"](sample, draws.boot)
    np.testing.assert_allclose(he, 1 - (1 - vr) ** 2, rtol=1e-12)
    h, u = big["hedged_cost"][draws.boot], big["unhedged_cost"][draws.boot]
    np.testing.assert_allclose(vr, 1 - h.std(axis=1, ddof=1) / u.std(axis=1, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(he, 1 - h.var(axis=1, ddof=1) / u.var(axis=1, ddof=1), rtol=1e-10)
    assert np.unique(vr).size > 150  # the resamples differ


@pytest.mark.parametrize("n", [1, 2, 19, 20, 21, 39, 40, 41, 1_000, 4_999, 5_000])
@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_cvar_is_the_mean_of_the_worst_values(n: int, level: float) -> None:
    x = np.random.default_rng(n).normal(size=(7, n))
    k = math.ceil(round((1 - level) * n, 9))
    want = np.sort(x, axis=1)[:, n - k :].mean(axis=1)
    np.testing.assert_allclose(cvar(x, level), want, rtol=1e-12)
    if level == 0.95 and n % 20 == 0:
        trimmed = [scipy.stats.trim1(row, 0.95, tail="left").mean() for row in x]
        np.testing.assert_allclose(cvar(x, level), trimmed, rtol=1e-12)


def test_cvar_with_ties_and_of_one_large_sample() -> None:
    x = np.repeat(np.arange(100.0), 50)[None]  # 5,000 values, ties at the cut
    assert cvar(x)[0] == pytest.approx(np.sort(x[0])[-250:].mean())
    assert cvar(x)[0] == 97.0


def test_interval_is_the_percentile_of_resampled_statistics() -> None:
    res = _results(300, seed=2)
    ev = evaluate({"p": res}, resamples=400, seed=9, confidence=0.9)
    draws = Resamples.draw(300, 12, 400, 9)
    means = res.columns["hedged_cost"][draws.boot].mean(axis=1)
    lo, hi = np.quantile(means, [0.05, 0.95])
    row = _summary(ev).loc["mean_cost"]
    assert (row["lo"], row["hi"]) == pytest.approx((lo, hi), rel=1e-12)


def test_interval_coverage_of_the_mean() -> None:
    n, reps, mu = 40, 200, 1_000.0
    hits = 0
    for rep in range(reps):
        h = np.random.default_rng([rep, 77]).normal(mu, 50.0, n)
        ev = evaluate({"p": _results(n, months=2, seed=rep, hedged_cost=h)}, resamples=200,
                      seed=rep)  # fmt: skip
        row = _summary(ev).loc["mean_cost"]
        hits += bool(row["lo"] <= mu <= row["hi"])
    assert 0.88 <= hits / reps <= 0.99


def test_intervals_are_reproducible_and_depend_on_the_seed() -> None:
    results = {"a": _results(200, seed=1), "b": _results(200, seed=2)}
    one = evaluate(results, resamples=100, seed=4)
    again = evaluate(results, resamples=100, seed=4)
    other = evaluate(results, resamples=100, seed=5)
    assert one.equals(again)
    pd.testing.assert_frame_equal(one.summary, again.summary)
    a, b = one.summary, other.summary
    np.testing.assert_array_equal(a["value"], b["value"])  # points do not depend on it
    finite = np.isfinite(a["lo"]).to_numpy()
    assert finite.sum() > 30
    assert (a["lo"].to_numpy()[finite] != b["lo"].to_numpy()[finite]).mean() > 0.8
    assert not one.comparisons["lo"].equals(other.comparisons["lo"])


@pytest.mark.parametrize("c", [37.0, -37.0])
def test_constant_shift_gives_exact_difference(c: float) -> None:
    n = 64  # means of integers over a power of two are exact
    h = np.random.default_rng(3).integers(1_000, 2_000, n).astype(float)
    base = _results(n, seed=8, hedged_cost=h)
    shifted = PathResults(
        base.frame, {**base.columns, "hedged_cost": h + c}, base.daily, base.monthly
    )
    ev = evaluate({"base": base, "shifted": shifted}, resamples=300, seed=1)
    cmp = _comparison(ev, "shifted")
    expected_verdict = "worse" if c > 0 else "better"
    for metric in ("mean_cost", "cvar95_cost"):
        row = cmp.loc[metric]
        assert (row["diff"], row["lo"], row["hi"]) == (c, c, c), metric
        assert row["verdict"] == expected_verdict
    row = cmp.loc["p95_cost"]
    assert (row["diff"], row["lo"], row["hi"]) == pytest.approx((c, c, c), rel=1e-9)
    assert row["verdict"] == expected_verdict
    for metric in set(SUMMARY_METRICS) - {"mean_cost", "cvar95_cost", "p95_cost"}:
        row = cmp.loc[metric]
        assert (row["diff"], row["lo"], row["hi"], row["verdict"]) == (0.0, 0.0, 0.0, ""), metric


def test_verdicts_follow_the_better_direction() -> None:
    n = 400
    rng = np.random.default_rng(21)
    base = _results(n, seed=1)
    c = base.columns
    policies = {"base": base}
    for k, scale in enumerate((0.0, 0.005, 0.05, 0.3)):
        cols = {m: v + rng.normal(0, scale * 1e5, n) + scale * 1e4 * rng.choice([-1, 1])
                for m, v in c.items()}  # fmt: skip
        cols["hedged_cost"] = c["hedged_cost"] * (1 - scale) + scale * 1e6  # less volatile
        cols["hedge_ratio"] = c["hedge_ratio"] + 0.5 + k  # "none": never a verdict
        policies[f"p{k}"] = PathResults(base.frame, cols, {}, base.monthly)
    ev = evaluate(policies, resamples=200, seed=2)
    seen = set()
    for row in ev.comparisons.itertuples():
        better = SUMMARY_METRICS[row.metric].better
        if better == "none" or not (row.lo > 0 or row.hi < 0):
            want = ""
        else:
            want = "better" if (row.lo > 0) == (better == "higher") else "worse"
        assert row.verdict == want, row
        if want:
            assert row.lo <= row.diff <= row.hi or not math.isfinite(row.diff)
        seen.add(want)
    assert seen == {"", "better", "worse"}
    hr = ev.comparisons[ev.comparisons["metric"] == "mean_hedge_ratio"]
    assert (hr["lo"] > 0).all()
    assert (hr["verdict"] == "").all()
    # a less volatile hedged cost: lower sd, higher VR and HE
    p3 = _comparison(ev, "p3")
    assert p3.loc["sd_cost", "verdict"] == "better"
    assert p3.loc["vr_std", "verdict"] == "better"
    assert p3.loc["he_var", "verdict"] == "better"


def test_identical_policies_have_zero_difference_and_no_verdict() -> None:
    res = _results(150, seed=6)
    ev = evaluate({"a": res, "b": res, "c": _results(150, seed=6)}, resamples=100, seed=0)
    assert len(ev.comparisons) == 2 * len(SUMMARY_METRICS)
    assert (ev.comparisons[["diff", "lo", "hi"]] == 0.0).all().all()
    assert (ev.comparisons["verdict"] == "").all()


def test_paired_interval_is_much_narrower_than_unpaired() -> None:
    n = 500
    rng = np.random.default_rng(13)
    common = rng.normal(1e6, 1e5, n)
    a = _results(n, seed=1, hedged_cost=common + rng.normal(0, 1e3, n))
    b = _results(n, seed=1, hedged_cost=common + 5e3 + rng.normal(0, 1e3, n))
    ev = evaluate({"a": a, "b": b}, resamples=400, seed=3)
    sa, sb = _summary(ev, "a").loc["mean_cost"], _summary(ev, "b").loc["mean_cost"]
    paired = _comparison(ev, "b").loc["mean_cost"]
    unpaired = math.hypot(sa["hi"] - sa["lo"], sb["hi"] - sb["lo"])
    assert paired["hi"] - paired["lo"] < 0.05 * unpaired
    assert sb["lo"] < sa["hi"]  # the separate intervals overlap ...
    assert paired["lo"] > 0
    assert paired["verdict"] == "worse"
    assert paired["diff"] == pytest.approx(
        np.mean(b.columns["hedged_cost"] - a.columns["hedged_cost"])
    )


def _monthly_arrays(n: int, months: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tokens = rng.uniform(1e3, 2e3, (n, months))
    tokens[rng.random((n, months)) < 0.1] = 0.0  # months without consumption
    if n > 1:
        tokens[0, 1:] = 0.0  # a path with a single month: no variance over time
    return {
        "tokens": tokens,
        "unhedged_cost": tokens * rng.normal(10, 2, (n, months)),
        "hedged_cost": tokens * rng.normal(10, 1, (n, months)) + rng.normal(0, 100, (n, months)),
    }


def test_vr_std_monthly_of_one_path() -> None:
    monthly = _monthly_arrays(1, 36, seed=4)
    ev = evaluate({"p": _results(1, months=36, monthly=monthly)}, resamples=300, seed=1)
    tokens = pd.Series(monthly["tokens"][0]).replace(0.0, np.nan)
    h = pd.Series(monthly["hedged_cost"][0]) / tokens
    u = pd.Series(monthly["unhedged_cost"][0]) / tokens
    assert tokens.isna().any()
    got = _summary(ev)
    assert got.loc["vr_std_monthly", "value"] == pytest.approx(1 - h.std() / u.std(), rel=1e-10)
    assert got.loc["he_var_monthly", "value"] == pytest.approx(1 - h.var() / u.var(), rel=1e-10)
    # one path: months are resampled (blocks); path metrics get no interval
    lo, hi = got.loc["vr_std_monthly", ["lo", "hi"]]
    assert lo < got.loc["vr_std_monthly", "value"] < hi
    assert np.isnan(got.loc["mean_cost", ["lo", "hi"]].astype(float)).all()


@pytest.mark.filterwarnings("ignore:Degrees of freedom <= 0:RuntimeWarning")
def test_vr_std_monthly_pools_variances_over_paths() -> None:
    n, months = 300, 12
    monthly = _monthly_arrays(n, months, seed=5)
    ev = evaluate({"p": _results(n, months=months, monthly=monthly)}, resamples=100, seed=1)
    tokens = pd.DataFrame(monthly["tokens"]).replace(0.0, np.nan)
    h = pd.DataFrame(monthly["hedged_cost"]) / tokens
    u = pd.DataFrame(monthly["unhedged_cost"]) / tokens
    vh, vu = h.var(axis=1).mean(), u.var(axis=1).mean()  # ddof 1, NaN skipped
    got = _summary(ev)["value"]
    assert got["vr_std_monthly"] == pytest.approx(1 - math.sqrt(vh) / math.sqrt(vu), rel=1e-10)
    assert got["he_var_monthly"] == pytest.approx(1 - vh / vu, rel=1e-10)


@pytest.mark.parametrize("months", [1, 2, 3, 4, 12, 13, 25])
def test_block_resamples_are_runs_of_consecutive_months(months: int) -> None:
    idx = block_resamples(months, 500, np.random.default_rng(months))
    assert idx.shape == (500, months)
    assert idx.dtype == np.int64
    assert idx.min() >= 0
    assert idx.max() < months
    block = min(BLOCK_MONTHS, months)
    for start in range(0, months, block):
        for k in range(1, block):
            if start + k < months:
                np.testing.assert_array_equal(idx[:, start + k], (idx[:, start] + k) % months)
    assert set(idx[:, 0]) == set(range(months))  # every start month is drawn
    # wraps around the end when a block starts near it
    if months > BLOCK_MONTHS:
        assert ((idx[:, 1] == 0) & (idx[:, 0] == months - 1)).any()
