"""Exchange business-day calendars.

A calendar answers one question — is this date an exchange business day? —
and the date arithmetic that follows from it. It wraps numpy's
``busdaycalendar`` so that every query is vectorised and exact.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property, lru_cache
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

DateLike = dt.date | np.datetime64 | str

_WEEKMASKS = {"weekdays": "1111100", "always": "1111111"}


def as_date(value: DateLike) -> dt.date:
    """Coerce a ``date``, ``datetime64`` or ISO string to ``datetime.date``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(np.datetime64(str(value), "D")))


def _d64(day: DateLike) -> np.datetime64:
    return np.datetime64(as_date(day).isoformat(), "D")


class ExchangeCalendar(BaseModel):
    """The days on which the exchange trades and settles.

    ``kind="weekdays"`` (the default) trades Monday to Friday;
    ``kind="always"`` trades every day (a 24/7 venue, as crypto exchanges and
    token marketplaces run). ``holidays`` removes further dates. Token markets
    have no official holiday list yet, so none is assumed **[assumption]**.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["weekdays", "always"] = Field(
        "weekdays", description="'weekdays' (Mon-Fri) or 'always' (24/7)."
    )
    holidays: tuple[dt.date, ...] = Field((), description="Extra non-business dates.")

    @cached_property
    def _busdaycal(self) -> np.busdaycalendar:
        return _numpy_calendar(self.kind, self.holidays)

    def is_business_day(self, day: DateLike) -> bool:
        """Whether ``day`` is a business day."""
        return bool(np.is_busday(_d64(day), busdaycal=self._busdaycal))

    def business_days(self, start: DateLike, end: DateLike) -> np.ndarray:
        """All business days in ``[start, end]`` (both inclusive) as ``datetime64[D]``."""
        days = np.arange(
            _d64(start),
            _d64(end) + 1,
            dtype="datetime64[D]",
        )
        return days[np.is_busday(days, busdaycal=self._busdaycal)]

    def offset(self, day: DateLike, n: int) -> dt.date:
        """The business day ``n`` business days after ``day`` (before, if ``n < 0``).

        A non-business ``day`` first rolls forward when ``n >= 0`` and backward
        when ``n < 0``, so ``offset(d, 0)`` is the first business day on or
        after ``d``.
        """
        return _offset(self.kind, self.holidays, as_date(day), n)

    def on_or_after(self, day: DateLike) -> dt.date:
        """The first business day on or after ``day``."""
        return self.offset(day, 0)

    def on_or_before(self, day: DateLike) -> dt.date:
        """The last business day on or before ``day``."""
        rolled = np.busday_offset(_d64(day), 0, roll="backward", busdaycal=self._busdaycal)
        return as_date(str(rolled))

    def count(self, start: DateLike, end: DateLike) -> int:
        """Number of business days in ``[start, end)``."""
        return _count(self.kind, self.holidays, as_date(start), as_date(end))


# Engines ask the same few thousand questions on every path chunk (days to each live
# contract's expiry, call deadlines): they are answered once per process.


@lru_cache(maxsize=64)
def _numpy_calendar(kind: str, holidays: tuple[dt.date, ...]) -> np.busdaycalendar:
    return np.busdaycalendar(
        weekmask=_WEEKMASKS[kind], holidays=np.array(holidays, dtype="datetime64[D]")
    )


@lru_cache(maxsize=1 << 17)
def _count(kind: str, holidays: tuple[dt.date, ...], start: dt.date, end: dt.date) -> int:
    return int(np.busday_count(_d64(start), _d64(end), busdaycal=_numpy_calendar(kind, holidays)))


@lru_cache(maxsize=1 << 17)
def _offset(kind: str, holidays: tuple[dt.date, ...], day: dt.date, n: int) -> dt.date:
    roll: Literal["forward", "backward"] = "forward" if n >= 0 else "backward"
    cal = _numpy_calendar(kind, holidays)
    return as_date(str(np.busday_offset(_d64(day), n, roll=roll, busdaycal=cal)))
