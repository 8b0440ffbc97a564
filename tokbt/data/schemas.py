"""Arrow schemas of the three kinds of bars tokbt stores and replays.

Every kind has a timestamp ``ts`` (naive, UTC, start of the bar's period) and
a ``path``: 0 for a recorded history, ``0..N-1`` for simulated paths (see the
house plan, "one event loop, many worlds").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from tokbt.errors import DataError


class Kind(StrEnum):
    """The kinds of bar a dataset holds."""

    SPOT = "spot"
    FUTURES = "futures"
    CONSUMPTION = "consumption"


@dataclass(frozen=True)
class KindSchema:
    """Columns of one kind of bar.

    Attributes:
        kind: which kind.
        table: DuckDB table holding every dataset's bars of this kind.
        schema: the Arrow schema of a bar (required and optional columns).
        required: columns a file must have, with a value in every row; the others
            may be absent or empty (NULL).
        key: columns that identify a series; ``ts`` must increase strictly within one.
        prices: columns that must be finite and positive.
        non_negative: columns that must be finite and >= 0.
    """

    kind: Kind
    table: str
    schema: pa.Schema
    required: tuple[str, ...]
    key: tuple[str, ...]
    prices: tuple[str, ...]
    non_negative: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.names)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.required)

    def duckdb_type(self, column: str) -> str:
        """The DuckDB type a column is stored as."""
        arrow_type = self.schema.field(column).type
        if pa.types.is_timestamp(arrow_type):
            return "TIMESTAMP"
        if pa.types.is_integer(arrow_type):
            return "INTEGER"
        if pa.types.is_floating(arrow_type):
            return "DOUBLE"
        if pa.types.is_boolean(arrow_type):
            return "BOOLEAN"
        return "VARCHAR"


_TS = pa.field("ts", pa.timestamp("us"), nullable=False)
# ``limit_locked`` (futures, optional): the settlement sits at the daily price limit,
# so the market was locked and orders on that bar do not fill.
_PATH = pa.field("path", pa.int32(), nullable=False)
_OHLC = [pa.field(c, pa.float64(), nullable=False) for c in ("open", "high", "low", "close")]

SPOT = KindSchema(
    kind=Kind.SPOT,
    table="spot_bars",
    schema=pa.schema([_TS, _PATH, *_OHLC, pa.field("volume", pa.float64())]),
    required=("ts", "path", "open", "high", "low", "close"),
    key=("path",),
    prices=("open", "high", "low", "close"),
    non_negative=("volume",),
)

FUTURES = KindSchema(
    kind=Kind.FUTURES,
    table="futures_bars",
    schema=pa.schema(
        [
            _TS,
            _PATH,
            pa.field("contract", pa.string(), nullable=False),
            *_OHLC,
            pa.field("settle", pa.float64(), nullable=False),
            pa.field("volume", pa.float64()),
            pa.field("open_interest", pa.float64()),
            pa.field("limit_locked", pa.bool_()),
        ]
    ),
    required=(
        "ts",
        "path",
        "contract",
        "open",
        "high",
        "low",
        "close",
        "settle",
    ),
    key=("path", "contract"),
    prices=("open", "high", "low", "close", "settle"),
    non_negative=("volume", "open_interest"),
)

CONSUMPTION = KindSchema(
    kind=Kind.CONSUMPTION,
    table="consumption",
    schema=pa.schema(
        [_TS, _PATH, pa.field("tokens", pa.float64()), pa.field("plan", pa.float64())]
    ),
    required=("ts", "path", "tokens"),
    key=("path",),
    prices=(),
    non_negative=("tokens", "plan"),
)
"""Realised ``tokens`` (millions of tokens consumed in the bar's period) and the
optional ``plan`` (the forecast a hedger hedges against), same unit."""

SCHEMAS: dict[Kind, KindSchema] = {s.kind: s for s in (SPOT, FUTURES, CONSUMPTION)}


class UnknownKindError(DataError, ValueError):
    """A kind of bars that is not ``spot``, ``futures`` or ``consumption``."""


def schema_for(kind: Kind | str) -> KindSchema:
    """The schema of ``kind`` (``spot``, ``futures`` or ``consumption``);
    ``UnknownKindError`` for any other value."""
    try:
        return SCHEMAS[Kind(kind)]
    except ValueError:
        raise UnknownKindError(
            f"unknown kind {kind!r}; expected one of {', '.join(k.value for k in Kind)}"
        ) from None


def infer_kind(columns: list[str]) -> Kind:
    """Guess a file's kind from its columns: ``contract`` → futures, ``tokens`` → consumption."""
    if "contract" in columns:
        return Kind.FUTURES
    if "tokens" in columns:
        return Kind.CONSUMPTION
    return Kind.SPOT
