"""Contracts of a futures product: codes, listing, expiry and delivery dates.

Contract codes are ``ROOT-YYYY-MM`` for months (``TPI-2026-03``),
``ROOT-YYYY-QN`` for quarters (``TPI-2026-Q2``) and ``ROOT-YYYY-CAL`` for
calendar years (``TPI-2027-CAL``). They are readable, unambiguous across
decades (unlike ``TPIH6``) and sort chronologically within a tenor.

The dates of a contract follow from its ``ContractSpec`` alone; this module
holds the pure date logic and the ``Contract`` record it produces.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from tokbt.market.calendar import ExchangeCalendar


class Tenor(StrEnum):
    """Length of a contract's delivery period."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class LastTradingDayRule(StrEnum):
    """When a month contract stops trading.

    ``last_business_day``: the last exchange business day of the delivery
    month (tokbt's default, **[assumption]** — DOMAIN.md §3).
    ``business_day_before_delivery``: the last business day before the
    delivery month starts (EEX Phelix style).
    """

    LAST_BUSINESS_DAY = "last_business_day"
    BUSINESS_DAY_BEFORE_DELIVERY = "business_day_before_delivery"


class FinalSettlementRule(StrEnum):
    """How the final settlement price of a month contract is fixed.

    ``delivery_average``: arithmetic mean of the daily index over every
    calendar day of the delivery month, rounded to the tick (EEX Phelix month
    futures; the default). ``last_day_fixing``: the index on the last trading
    day.
    """

    DELIVERY_AVERAGE = "delivery_average"
    LAST_DAY_FIXING = "last_day_fixing"


_CODE_RE = re.compile(
    r"^(?P<root>[A-Z][A-Z0-9]{1,7})-(?P<year>\d{4})-(?P<period>\d{2}|Q[1-4]|CAL)$"
)


@dataclass(frozen=True, slots=True)
class Period:
    """A delivery period: its tenor and its first month, e.g. (QUARTER, 2026, 4)."""

    tenor: Tenor
    year: int
    month: int

    @property
    def n_months(self) -> int:
        return {Tenor.MONTH: 1, Tenor.QUARTER: 3, Tenor.YEAR: 12}[self.tenor]

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def end(self) -> dt.date:
        """Last calendar day of the period (inclusive)."""
        last_year, last_month = add_months(self.year, self.month, self.n_months - 1)
        return dt.date(last_year, last_month, _calendar.monthrange(last_year, last_month)[1])

    def suffix(self) -> str:
        if self.tenor is Tenor.MONTH:
            return f"{self.year:04d}-{self.month:02d}"
        if self.tenor is Tenor.QUARTER:
            return f"{self.year:04d}-Q{(self.month - 1) // 3 + 1}"
        return f"{self.year:04d}-CAL"

    def shifted(self, n: int) -> Period:
        """The period ``n`` periods of the same tenor later (earlier if negative)."""
        year, month = add_months(self.year, self.month, n * self.n_months)
        return Period(self.tenor, year, month)

    @classmethod
    def containing(cls, tenor: Tenor, day: dt.date) -> Period:
        """The period of ``tenor`` that contains ``day``."""
        month = {Tenor.MONTH: day.month, Tenor.QUARTER: 3 * ((day.month - 1) // 3) + 1}.get(
            tenor, 1
        )
        return cls(tenor, day.year, month)


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    """``(year, month)`` moved by ``n`` months."""
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def parse_code(code: str) -> tuple[str, Period]:
    """Split a contract code into its root and delivery period.

    Raises ``ValueError`` naming the code and the expected format.
    """
    match = _CODE_RE.match(code)
    if match is None:
        raise ValueError(
            f"contract code {code!r} is not of the form ROOT-YYYY-MM, ROOT-YYYY-QN or ROOT-YYYY-CAL"
        )
    year, period = int(match["year"]), match["period"]
    if period == "CAL":
        return match["root"], Period(Tenor.YEAR, year, 1)
    if period.startswith("Q"):
        return match["root"], Period(Tenor.QUARTER, year, 3 * (int(period[1]) - 1) + 1)
    month = int(period)
    if not 1 <= month <= 12:
        raise ValueError(f"contract code {code!r} has month {month:02d}, not 01..12")
    return match["root"], Period(Tenor.MONTH, year, month)


@dataclass(frozen=True, slots=True)
class Contract:
    """One listed futures contract and its calendar.

    Attributes:
        code: ``ROOT-YYYY-MM`` / ``ROOT-YYYY-QN`` / ``ROOT-YYYY-CAL``.
        tenor: month, quarter or year.
        delivery_start, delivery_end: the delivery period, calendar days, inclusive.
        listing_date: first business day on which the contract trades.
        last_trading_day: last business day on which it trades.
        final_settlement_date: business day on which a month contract is
            cash-settled (quarters and years never settle: they cascade).
        cascades_into: codes that replace a quarter or year at its last
            trading day, position for position (EEX cascading); empty for months.
    """

    code: str
    root: str
    tenor: Tenor
    delivery_start: dt.date
    delivery_end: dt.date
    listing_date: dt.date
    last_trading_day: dt.date
    final_settlement_date: dt.date
    cascades_into: tuple[str, ...]

    @property
    def delivery_days(self) -> int:
        """Calendar days in the delivery period."""
        return (self.delivery_end - self.delivery_start).days + 1

    def is_listed(self, day: dt.date) -> bool:
        """Whether the contract can be traded on ``day``."""
        return self.listing_date <= day <= self.last_trading_day

    def is_open(self, day: dt.date) -> bool:
        """Whether a position can exist on ``day``: from listing through final settlement."""
        return self.listing_date <= day <= self.final_settlement_date

    def roll_date(self, cal: ExchangeCalendar, k: int) -> dt.date:
        """The business day ``k`` business days before the last trading day."""
        return cal.offset(self.last_trading_day, -k)
