"""The compiled core: one state of arrays and every broker and ledger rule, written once.

Every piece of broker and ledger arithmetic — order intake, fill prices
(spread, depth and impact, slippage, tick rounding against the order, the
tick floor), fees, position limits, funding checks, initial-margin top-ups,
daily variation margin, margin models (spec and SPAN), margin calls with
deadlines and liquidation, final settlement, quarter/year cascades, limited
funding and the credit line, interest, consumption and sweeps — lives here,
in numba functions over the arrays of ``tokbt.core.layout``. The Python
``Broker`` (``tokbt.engine.broker``) and ``Ledger`` (``tokbt.ledger.book``)
own the arrays, choose the models and turn the row buffers into Arrow; the
compiled driver of kernel strategies (``tokbt.engine.kernels``) calls the
same functions from inside its loop. There is no second copy of a rule.

This room imports only ``tokbt.market`` (the tick rule).
"""

from tokbt.core.layout import Book, Orders, Rows, Terms

__all__ = ["Book", "Orders", "Rows", "Terms"]
