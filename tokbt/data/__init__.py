"""Bars in and out: Arrow schemas, validation, the DuckDB ``BarStore`` and the ``Feed``."""

from tokbt.data.feed import Block, Feed, Snapshot
from tokbt.data.schemas import CONSUMPTION, FUTURES, SCHEMAS, SPOT, Kind, KindSchema, schema_for
from tokbt.data.store import BarStore, DatasetInfo, ImportResult, PartInfo, default_store_path
from tokbt.data.validate import DataValidationError, ValidationReport, Violation, validate_file

__all__ = [
    "CONSUMPTION",
    "FUTURES",
    "SCHEMAS",
    "SPOT",
    "BarStore",
    "Block",
    "DataValidationError",
    "DatasetInfo",
    "Feed",
    "ImportResult",
    "Kind",
    "KindSchema",
    "PartInfo",
    "Snapshot",
    "ValidationReport",
    "Violation",
    "default_store_path",
    "schema_for",
    "validate_file",
]
