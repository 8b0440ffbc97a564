"""NautilusTrader in the peer suite: a ``Strategy`` on futures bars and spot custom data.

Run with ``bench/peers/.venv-nautilus/bin/python`` (NautilusTrader needs pandas
< 3, vectorbt 1.2 pandas >= 3: two environments). A ``BacktestEngine`` with
one simulated venue (netting, margin account, bar execution) and one
``FuturesContract`` (tick 0.0001, multiplier 1, no fees, no margin) quoted in
``SETTLE``, a currency with 9 decimals: in USD, Nautilus would round every
realised P&L to the cent, far coarser than the P&L check. The futures come as
one-minute ``LAST`` bars (OHLC from the closes as engine_bench builds them,
stamped at the bar's end); the spot as ``SpotClose`` custom data (a float, not
a ``Price``, so it is not rounded) with the same stamps.

The strategy keeps the last ``window + 1`` closes of each in deques; once
both the spot and the futures of a bar have arrived it computes the target
with ``workload.window_target`` (``RollingHedge``'s arithmetic) and, when it
changes, submits a market order for the difference to the net position.
Nautilus fills a market order sent from ``on_bar`` against the book that the
bar itself has just moved to its close: the fill is at the bar's close.

The timer covers building the Nautilus bars and data, the engine and
``run()``; ``pnl`` is the account's balance change (realised P&L) plus the
portfolio's unrealised P&L at the last close, ``orders`` the orders submitted.
"""

from __future__ import annotations

import sys
from collections import deque
from decimal import Decimal
from typing import Any

import nautilus_trader  # type: ignore[import-not-found]
import numpy as np
import pandas as pd
import workload
from nautilus_trader.backtest.engine import (  # type: ignore[import-not-found]
    BacktestEngine,
    BacktestEngineConfig,
)
from nautilus_trader.config import LoggingConfig  # type: ignore[import-not-found]
from nautilus_trader.core.data import Data  # type: ignore[import-not-found]
from nautilus_trader.model.data import (  # type: ignore[import-not-found]
    Bar,
    BarType,
    CustomData,
    DataType,
)
from nautilus_trader.model.enums import (  # type: ignore[import-not-found]
    AccountType,
    AssetClass,
    CurrencyType,
    OmsType,
    OrderSide,
)
from nautilus_trader.model.identifiers import (  # type: ignore[import-not-found]
    ClientId,
    InstrumentId,
    Symbol,
    Venue,
)
from nautilus_trader.model.instruments import FuturesContract  # type: ignore[import-not-found]
from nautilus_trader.model.objects import (  # type: ignore[import-not-found]
    Currency,
    Money,
    Price,
    Quantity,
)
from nautilus_trader.persistence.wranglers import BarDataWrangler  # type: ignore[import-not-found]
from nautilus_trader.trading.strategy import Strategy  # type: ignore[import-not-found]

VENUE = Venue("SIM")
INSTRUMENT = InstrumentId(Symbol("TPI-F"), VENUE)
BAR_TYPE = BarType.from_str(f"{INSTRUMENT}-1-MINUTE-LAST-EXTERNAL")
SETTLE = Currency("STL", 9, 999, "settlement units, 9 decimals", CurrencyType.CRYPTO)
"""The contract's currency: 9 decimals, so the booked P&L is not rounded to cents."""
SPOT_CLIENT = ClientId("SPOT")
BAR_NS = 60_000_000_000
"""One-minute bars, stamped at their end (Nautilus' convention)."""


class SpotClose(Data):  # type: ignore[misc]
    """A spot close as custom data: the float itself, stamped like the futures bar."""

    def __init__(self, value: float, ts: int) -> None:
        self.value = value
        self._ts = ts

    @property
    def ts_event(self) -> int:
        """When the bar closed (nanoseconds)."""
        return self._ts

    @property
    def ts_init(self) -> int:
        """When the data reached the engine: the same."""
        return self._ts


class Hedge(Strategy):  # type: ignore[misc]
    """The rolling hedge: trades once both the spot and the futures close of a bar arrived."""

    def __init__(self, window: int, exposure: float) -> None:
        super().__init__()
        self.window, self.exposure = window, exposure
        self.spot: deque[float] = deque(maxlen=window + 1)
        self.futures: deque[float] = deque(maxlen=window + 1)
        self.spot_ts = self.futures_ts = -1
        self.last = np.nan
        self.sent = 0

    def on_start(self) -> None:
        self.subscribe_bars(BAR_TYPE)
        self.subscribe_data(DataType(SpotClose), client_id=SPOT_CLIENT)

    def on_data(self, data: SpotClose) -> None:
        self.spot.append(data.value)
        self.spot_ts = data.ts_event
        self._decide(data.ts_event)

    def on_bar(self, bar: Bar) -> None:
        self.futures.append(bar.close.as_double())
        self.futures_ts = bar.ts_event
        self._decide(bar.ts_event)

    def _decide(self, ts: int) -> None:
        if self.spot_ts != ts or self.futures_ts != ts or len(self.futures) <= self.window:
            return
        target = workload.window_target(
            np.fromiter(self.spot, np.float64, len(self.spot)),
            np.fromiter(self.futures, np.float64, len(self.futures)),
            self.exposure,
        )
        if np.isnan(target) or target == self.last:
            return
        self.last = target
        delta = target - float(self.portfolio.net_position(INSTRUMENT))
        if delta == 0.0:
            return
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        order = self.order_factory.market(INSTRUMENT, side, Quantity.from_int(int(abs(delta))))
        self.submit_order(order)
        self.sent += 1


def contract() -> Any:
    """The futures contract: tick 0.0001, multiplier 1, no fees, no margin, in ``SETTLE``."""
    return FuturesContract(
        instrument_id=INSTRUMENT,
        raw_symbol=INSTRUMENT.symbol,
        asset_class=AssetClass.INDEX,
        currency=SETTLE,
        price_precision=4,
        price_increment=Price.from_str("0.0001"),
        multiplier=Quantity.from_int(1),
        lot_size=Quantity.from_int(1),
        underlying="TPI",
        activation_ns=0,
        expiration_ns=2**62,
        ts_event=0,
        ts_init=0,
        margin_init=Decimal(0),
        margin_maint=Decimal(0),
        maker_fee=Decimal(0),
        taker_fee=Decimal(0),
    )


def futures_bars(instrument: Any, futures: workload.FloatArray, ends: np.ndarray) -> list[Any]:
    """The futures as Nautilus bars (open = the previous close), stamped at ``ends``."""
    frame = pd.DataFrame(
        {**workload.bars_from_closes(futures), "volume": 1_000_000.0},
        index=pd.DatetimeIndex(ends.astype("datetime64[ns]"), tz="UTC"),
    )
    bars: list[Any] = BarDataWrangler(BAR_TYPE, instrument).process(frame)
    return bars


def run_path(
    spot: workload.FloatArray,
    futures: workload.FloatArray,
    ts: np.ndarray,
    window: int,
    exposure: float,
) -> workload.PathRun:
    """One path through ``BacktestEngine.run``."""
    ends = ts.astype(np.int64) * 1000 + BAR_NS  # microseconds -> nanoseconds, bar end
    with workload.Stopwatch() as watch:
        engine = BacktestEngine(
            BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
        )
        engine.add_venue(
            venue=VENUE,
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN,
            base_currency=SETTLE,
            starting_balances=[Money(workload.CAPITAL, SETTLE)],
            bar_execution=True,
        )
        instrument = contract()
        engine.add_instrument(instrument)
        spot_type = DataType(SpotClose)
        spot_data = [
            CustomData(spot_type, SpotClose(float(v), int(t)))
            for v, t in zip(spot, ends, strict=True)
        ]
        engine.add_data(spot_data, client_id=SPOT_CLIENT, sort=False)
        engine.add_data(futures_bars(instrument, futures, ends))
        strategy = Hedge(window, exposure)
        engine.add_strategy(strategy)
        engine.run()
        account = engine.portfolio.account(VENUE)
        realised = account.balance_total(SETTLE).as_double() - workload.CAPITAL
        unrealised = engine.portfolio.unrealized_pnl(INSTRUMENT)
        pnl = realised + (unrealised.as_double() if unrealised is not None else 0.0)
    engine.dispose()
    return workload.PathRun(watch.seconds, pnl, strategy.sent)


if __name__ == "__main__":
    sys.exit(workload.adapter_main("nautilus", nautilus_trader.__version__, run_path))
