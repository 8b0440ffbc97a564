"""Strategies for the engine's tests (the engine knows none of them by name)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np

from tokbt.engine import Context
from tokbt.ledger import MarginCall

Order = tuple[str, Any]  # (contract, qty per path or a callable ctx -> qty)


class Script:
    """Places the given orders in ``on_bar`` on the given days (``order`` adds,
    ``target`` sets); records what it saw."""

    def __init__(
        self,
        orders: dict[dt.date, list[Order]] | None = None,
        targets: dict[dt.date, list[Order]] | None = None,
    ) -> None:
        self.orders = orders or {}
        self.targets = targets or {}
        self.calls: list[MarginCall] = []
        self.seen: list[tuple[np.datetime64, float]] = []

    def _qty(self, ctx: Context, qty: Any) -> Any:
        return qty(ctx) if callable(qty) else qty

    def on_bar(self, ctx: Context) -> None:
        self.seen.append((ctx.now, float(np.nansum(ctx.spot("close")))))
        for contract, qty in self.orders.get(ctx.day, []):
            ctx.order(contract, self._qty(ctx, qty))
        for contract, qty in self.targets.get(ctx.day, []):
            ctx.target(contract, self._qty(ctx, qty))

    def on_margin_call(self, ctx: Context, call: MarginCall) -> None:
        self.calls.append(call)


class RandomTrader:
    """Random orders from a seeded generator, in every listed contract of the chain
    (orders for each path drawn independently of other paths' data)."""

    def __init__(
        self, seed: int = 0, p_trade: float = 0.3, max_qty: int = 5, quiet: tuple[int, ...] = ()
    ) -> None:
        self.seed, self.p_trade, self.max_qty = seed, p_trade, max_qty
        self.quiet = quiet  # paths that buy once at the start and then never trade
        self._started: set[int] = set()
        self._rng: dict[int, np.random.Generator] = {}

    def on_bar(self, ctx: Context) -> None:
        codes = ctx.chain.codes
        if not codes:
            return
        qty = np.zeros(ctx.n_paths)
        pick = np.zeros(ctx.n_paths, dtype=np.int64)
        for j, p in enumerate(ctx.path_ids):
            rng = self._rng.setdefault(int(p), np.random.default_rng([self.seed, int(p)]))
            if int(p) in self.quiet:
                if int(p) not in self._started:
                    self._started.add(int(p))
                    qty[j] = self.max_qty
                continue
            if rng.random() < self.p_trade:
                qty[j] = rng.integers(-self.max_qty, self.max_qty + 1)
                pick[j] = rng.integers(0, len(codes))
        for k, code in enumerate(codes):
            ctx.order(code, np.where(pick == k, qty, 0.0))


class Recorder:
    """Records every hook call with the event time: pins the order of events."""

    def __init__(self, act: Callable[[Context], None] | None = None) -> None:
        self.act = act
        self.log: list[tuple[str, np.datetime64]] = []

    def on_start(self, ctx: Context) -> None:
        self.log.append(("on_start", ctx.now))

    def on_bar(self, ctx: Context) -> None:
        self.log.append(("on_bar", ctx.now))
        if self.act is not None:
            self.act(ctx)

    def on_settle(self, ctx: Context) -> None:
        self.log.append(("on_settle", ctx.now))

    def on_margin_call(self, ctx: Context, call: MarginCall) -> None:
        self.log.append(("on_margin_call", ctx.now))

    def on_end(self, ctx: Context) -> None:
        self.log.append(("on_end", ctx.now))
