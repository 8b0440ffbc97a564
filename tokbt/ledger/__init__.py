"""The ledger: accounts and the append-only journal of every money movement.

The margin, settlement and margin-call models that write to it arrive with the
engine (issue 4); this room imports only ``tokbt.market``.
"""

from tokbt.ledger.journal import JOURNAL_SCHEMA, Account, EntryKind, Journal

__all__ = ["JOURNAL_SCHEMA", "Account", "EntryKind", "Journal"]
