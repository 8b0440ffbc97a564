"""Bars in and out: Arrow schemas, validation, the DuckDB ``BarStore`` and market sources.

A market source (``MarketSource``) hands the engine its timeline as
``MarketBlock``s: ``Feed`` reads a stored dataset, ``TableMarket`` holds Arrow
tables in memory (and ``tokbt.sim.SimMarket`` replays simulator arrays).
"""

from tokbt.data.arrays import market_from_arrays
from tokbt.data.feed import Feed
from tokbt.data.frames import (
    MarketBlock,
    MarketSource,
    TableMarket,
    Timeline,
    block_from_tables,
)
from tokbt.data.schemas import CONSUMPTION, FUTURES, SCHEMAS, SPOT, Kind, KindSchema, schema_for
from tokbt.data.store import BarStore, DatasetInfo, ImportResult, PartInfo, default_store_path
from tokbt.data.validate import DataValidationError, ValidationReport, Violation, validate_file

__all__ = [
    "CONSUMPTION",
    "FUTURES",
    "SCHEMAS",
    "SPOT",
    "BarStore",
    "DataValidationError",
    "DatasetInfo",
    "Feed",
    "ImportResult",
    "Kind",
    "KindSchema",
    "MarketBlock",
    "MarketSource",
    "PartInfo",
    "TableMarket",
    "Timeline",
    "ValidationReport",
    "Violation",
    "block_from_tables",
    "default_store_path",
    "market_from_arrays",
    "schema_for",
    "validate_file",
]
