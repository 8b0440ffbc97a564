"""The nouns of the token futures market: calendars, contracts, specs, the index.

This room imports nothing else of tokbt.
"""

from tokbt.market.calendar import ExchangeCalendar, as_date
from tokbt.market.contracts import (
    Contract,
    FinalSettlementRule,
    LastTradingDayRule,
    Period,
    Tenor,
    parse_code,
)
from tokbt.market.spec import (
    PRESETS,
    SCU_MONTH,
    TPI_MONTH,
    ContractSpec,
    ListingRule,
    UnknownContractError,
    load_spec,
    preset,
)
from tokbt.market.ticks import limit_band, round_to_tick

__all__ = [
    "PRESETS",
    "SCU_MONTH",
    "TPI_MONTH",
    "Contract",
    "ContractSpec",
    "ExchangeCalendar",
    "FinalSettlementRule",
    "LastTradingDayRule",
    "ListingRule",
    "Period",
    "Tenor",
    "UnknownContractError",
    "as_date",
    "limit_band",
    "load_spec",
    "parse_code",
    "preset",
    "round_to_tick",
]
