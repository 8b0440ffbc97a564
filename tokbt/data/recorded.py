"""Recorded histories shipped in ``datasets/``, and turning an index series into bars.

In a source checkout the data lives in ``<repo>/datasets``; an installed wheel
carries the same files as ``tokbt/_datasets``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tokbt.data.schemas import SPOT
from tokbt.errors import DataError

LLM_PRICES = "llm_prices"


def datasets_dir() -> Path:
    """The folder holding tokbt's recorded datasets."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "_datasets", package.parent / "datasets"):
        if candidate.is_dir():
            return candidate
    raise DataError("tokbt's recorded datasets are not installed (no tokbt/_datasets or datasets/)")


def price_points_path() -> Path:
    """The dated LLM API list prices (``datasets/llm_prices/price_points.csv``)."""
    return datasets_dir() / LLM_PRICES / "price_points.csv"


def recipe_path(recipe: str) -> Path:
    """A TPI recipe by name (``gpt4_class``, ``market_basket``) or by file path."""
    path = Path(recipe)
    if path.suffix == ".toml" and path.is_file():
        return path
    shipped = datasets_dir() / LLM_PRICES / "recipes" / f"{recipe}.toml"
    if shipped.is_file():
        return shipped
    known = sorted(p.stem for p in shipped.parent.glob("*.toml"))
    raise DataError(f"no TPI recipe {recipe!r}; shipped recipes: {', '.join(known)}")


def spot_bars_from_series(series: pd.Series, path: int = 0) -> pa.Table:
    """Daily spot bars of an index series: ``open = high = low = close`` = the value.

    A fixing-based index has one value per day, so the bar is flat; volume is
    unknown (NULL).
    """
    values = series.to_numpy(dtype=np.float64)
    n = len(values)
    columns = {
        "ts": pa.array(series.index.to_numpy().astype("datetime64[us]"), pa.timestamp("us")),
        "path": pa.array(np.full(n, path, dtype=np.int32)),
        **{c: pa.array(values) for c in ("open", "high", "low", "close")},
        "volume": pa.nulls(n, pa.float64()),
    }
    return pa.table(columns, schema=SPOT.schema)
