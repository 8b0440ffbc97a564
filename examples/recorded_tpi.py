"""Build the recorded Token Price Index, store it, and replay it through the Feed.

Run: ``python examples/recorded_tpi.py [STORE]`` (default: a temporary store).
It prints the index's path, the contracts that were live on a few dates, and
how a strategy would see the history: one timestamp at a time, arrays over paths.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from tokbt.data import BarStore, Feed
from tokbt.data.recorded import price_points_path, recipe_path, spot_bars_from_series
from tokbt.market import TPI_MONTH
from tokbt.market.tpi import build_tpi, load_price_points, load_recipe


def main(store_path: Path) -> None:
    recipe = load_recipe(recipe_path("gpt4_class"))
    tpi = build_tpi(load_price_points(price_points_path()), recipe)
    ends = (tpi.index == tpi.index[0]) | (tpi.index == tpi.index[-1])
    yearly = tpi[tpi.index.is_year_start | ends]
    print("GPT-4-class Token Price Index, USD per 1M SIT tokens:")
    for day, value in yearly.items():
        print(f"  {day:%Y-%m-%d}  {value:8.3f}")

    with BarStore(store_path) as store:
        store.write_table(spot_bars_from_series(tpi), "tpi_example", "spot", replace=True)
        feed = Feed(store, "tpi_example")
        closes = np.concatenate([block.spot["close"][:, 0] for block in feed.market_blocks()])
        print(
            f"\nreplayed {len(feed.events)} daily bars on {feed.n_paths} path; "
            f"largest one-day cut {np.min(np.diff(closes) / closes[:-1]):.1%}"
        )

    for day in ("2024-06-14", "2025-11-24"):
        live = TPI_MONTH.contracts_live(day)
        print(f"\nTPI futures live on {day}: {live[0].code} … {live[-1].code}")
        print(
            f"  front month trades until {live[0].last_trading_day}, "
            f"rolls (5 business days before) on {TPI_MONTH.roll_date(live[0])}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp) / "example.duckdb")
