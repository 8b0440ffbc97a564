"""The ledger: positions, accounts, the margin / settlement / margin-call models, the journal.

A facade over the compiled core (``tokbt.core``): it owns the core's state and turns its
rows into Arrow. This room imports only ``tokbt.market`` and ``tokbt.core``.
"""

from tokbt.ledger.book import Ledger, SettleOutcome
from tokbt.ledger.config import LedgerConfig, SpanConfig
from tokbt.ledger.journal import (
    EVENT_SCHEMA,
    JOURNAL_SCHEMA,
    POSITION_SCHEMA,
    Account,
    EntryKind,
    Journal,
    RowLog,
)
from tokbt.ledger.margin import MarginModel, SpanMargin, SpecMargin
from tokbt.ledger.margin_call import (
    MARGIN_CALL_MODELS,
    CallOutcome,
    MarginCall,
    MarginCallModel,
    PartialMarginCalls,
    StandardMarginCalls,
)
from tokbt.ledger.settlement import DailySettlement, IndexLookup, SettlementModel

__all__ = [
    "EVENT_SCHEMA",
    "JOURNAL_SCHEMA",
    "MARGIN_CALL_MODELS",
    "POSITION_SCHEMA",
    "Account",
    "CallOutcome",
    "DailySettlement",
    "EntryKind",
    "IndexLookup",
    "Journal",
    "Ledger",
    "LedgerConfig",
    "MarginCall",
    "MarginCallModel",
    "MarginModel",
    "PartialMarginCalls",
    "RowLog",
    "SettleOutcome",
    "SettlementModel",
    "SpanConfig",
    "SpanMargin",
    "SpecMargin",
    "StandardMarginCalls",
]
