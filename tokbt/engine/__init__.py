"""The engine: the event loop, the strategy's ``Context``, and the ``Broker``.

Imports ``tokbt.market``, ``tokbt.data``, ``tokbt.core`` and ``tokbt.ledger`` only.
"""

from tokbt.engine.broker import Broker
from tokbt.engine.config import BrokerConfig, EngineConfig, LiquidityConfig
from tokbt.engine.context import Chain, Context, MarginStatus
from tokbt.engine.errors import LookAheadError, StrategyError
from tokbt.engine.loop import Engine, Outputs, Phase

__all__ = [
    "Broker",
    "BrokerConfig",
    "Chain",
    "Context",
    "Engine",
    "EngineConfig",
    "LiquidityConfig",
    "LookAheadError",
    "MarginStatus",
    "Outputs",
    "Phase",
    "StrategyError",
]
