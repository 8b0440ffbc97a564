"""A run as the run store keeps it: the record, the metrics and, optionally, the journal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tokbt.metrics.evaluation import Evaluation


@dataclass(frozen=True)
class StoredRun:
    """One run: what was run (``record``) and what its metrics say (``evaluation``).

    Attributes:
        run_id: the store's id of the run (``""`` before it is saved).
        record: the run record — ``kind`` ("backtest" or "compare"), ``created``
            (ISO 8601 UTC), ``tokbt`` (version), ``seed``, ``config`` (the
            resolved config), ``inputs`` (content hashes of every input),
            ``market``, ``policies`` (a list of ``{"label", "strategy",
            "params"}``), ``paths`` (count), ``seconds`` (wall time per policy
            and ``total``), ``python``, ``numpy``. JSON-serialisable.
        evaluation: the metrics of every policy on the same paths.
        journal: the journal rows with a leading ``policy`` column, if kept.
    """

    run_id: str
    record: dict[str, Any]
    evaluation: Evaluation
    journal: pa.Table | None = None

    def _repr_html_(self) -> str:
        """Jupyter: the run id and kind, then the summary table."""
        head = f"<p><b>run {self.run_id or '(not saved)'}</b> · {self.record.get('kind', '')}</p>"
        return head + self.evaluation._repr_html_()
