"""``ContractSpec``: every piece of a futures product's economics, as data.

One frozen object answers all instrument questions — size, tick, listing,
expiry, settlement, limits, margin — so that no other module branches on
"which contract is this" (the backtrader ``CommInfo`` idea). Defaults follow
DOMAIN.md §3; values the paper does not state are marked **[assumption]**.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import overload

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tokbt.market.calendar import DateLike, ExchangeCalendar, as_date
from tokbt.market.config_errors import describe
from tokbt.market.contracts import (
    Contract,
    FinalSettlementRule,
    LastTradingDayRule,
    Period,
    Tenor,
    parse_code,
)
from tokbt.market.ticks import RoundMode, limit_band, round_to_tick


class UnknownContractError(ValueError):
    """A contract code that the spec does not list."""


class ListingRule(BaseModel):
    """How many contracts of each tenor are listed at any time.

    ``months`` serial month contracts are always listed (the front month being
    the one in or next to delivery); a new month lists on the business day
    after the oldest one stops trading. ``quarters`` and ``years`` (default 0)
    add longer contracts on the same rolling rule; they stop trading on the
    business day before their delivery starts and *cascade* into shorter
    contracts (EEX style): a quarter into its three months, a year into the
    months of its first quarter and its other three quarters (or into twelve
    months when no quarters are listed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    months: int = Field(12, ge=1, le=60, description="Serial months listed (EEX style: 12).")
    quarters: int = Field(0, ge=0, le=20, description="Quarters listed; 0 = none.")
    years: int = Field(0, ge=0, le=10, description="Calendar years listed; 0 = none.")

    @model_validator(mode="after")
    def _cascade_targets_are_listed(self) -> ListingRule:
        # A cascading contract's children must already trade on its last trading day.
        if self.quarters and self.months < 3:
            raise ValueError("quarters cascade into 3 months: list at least 3 months")
        if self.years and self.quarters and (self.months < 3 or self.quarters < 3):
            raise ValueError("years cascade into 3 months and 3 quarters: list at least 3 of each")
        if self.years and not self.quarters and self.months < 12:
            raise ValueError("without quarters, years cascade into 12 months: list 12 months")
        return self

    def count(self, tenor: Tenor) -> int:
        """Number of contracts of ``tenor`` listed at any time."""
        return {Tenor.MONTH: self.months, Tenor.QUARTER: self.quarters, Tenor.YEAR: self.years}[
            tenor
        ]


class ContractSpec(BaseModel):
    """A cash-settled futures product on a price index.

    Every field is part of the specification; the defaults describe tokbt's
    Token Price Index month future (preset ``tpi_month``). Construct with
    keyword arguments; unknown fields are rejected and the object is frozen.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: str = Field("TPI", pattern=r"^[A-Z][A-Z0-9]{1,7}$", description="Code prefix.")
    name: str = Field("Token Price Index month future", description="Human-readable name.")
    underlying: str = Field(
        "TPI",
        description="Index the contract cash-settles against (the paper's Token Price Index).",
    )
    quote_unit: str = Field(
        "USD per 1M SIT tokens",
        description="Unit of a price. Per 1M Standard Inference Tokens [assumption].",
    )
    multiplier: float = Field(
        1000.0,
        gt=0,
        description="Quote units per contract: 1,000 x 1M tokens = 1bn tokens "
        "[assumption; sources conflict].",
    )
    contract_unit: str = Field("1,000 x 1M SIT tokens", description="What one contract covers.")
    tick_size: float = Field(0.001, gt=0, description="Minimum price step [assumption].")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="Settlement currency.")
    listing: ListingRule = Field(default_factory=ListingRule, description="Listed tenors.")
    last_trading_day: LastTradingDayRule = Field(
        LastTradingDayRule.LAST_BUSINESS_DAY,
        description="Month contracts' last trading day [assumption: last business day "
        "of the delivery month].",
    )
    final_settlement: FinalSettlementRule = Field(
        FinalSettlementRule.DELIVERY_AVERAGE,
        description="delivery_average (EEX month-future style, default) or last_day_fixing.",
    )
    price_limit: float | None = Field(
        0.10,
        gt=0,
        lt=1,
        description="Daily limit as a fraction of the previous settlement; None = no limit "
        "(default 10%, as Coinbase derivatives).",
    )
    initial_margin: float = Field(
        0.10, gt=0, le=1, description="Initial margin, fraction of notional (paper: 8-12%)."
    )
    maintenance_ratio: float = Field(
        1.10, ge=1, description="Initial / maintenance margin (CME speculator ratio 1.10)."
    )
    calendar: ExchangeCalendar = Field(
        default_factory=ExchangeCalendar, description="Exchange business days."
    )
    roll_offset: int = Field(
        5,
        ge=0,
        le=60,
        description="Default roll: business days before the last trading day [assumption].",
    )

    # -- contracts -----------------------------------------------------------------

    def contract(self, code: str) -> Contract:
        """The contract with ``code``; ``UnknownContractError`` if this spec does not list it."""
        try:
            root, period = parse_code(code)
        except ValueError as exc:
            raise UnknownContractError(str(exc)) from None
        if root != self.root:
            raise UnknownContractError(
                f"contract code {code!r} has root {root!r}; this product's root is {self.root!r}"
            )
        if self.listing.count(period.tenor) == 0:
            raise UnknownContractError(
                f"contract code {code!r} is a {period.tenor} contract; "
                f"{self.root} lists no {period.tenor} contracts"
            )
        return _build_contract(self, period)

    @classmethod
    def for_series(
        cls,
        start: DateLike,
        end: DateLike,
        *,
        multiplier: float = 1.0,
        tick_size: float = 0.0001,
        calendar: str = "always",
        contract_unit: str = "1 unit of the index",
    ) -> tuple[ContractSpec, str]:
        """A product for one plain futures series over ``[start, end]``, and the code of the
        contract that trades on every day of it.

        A recorded or generated futures series has no delivery calendar of its own: to
        replay it, tokbt needs one contract that is listed on ``start`` and still trades
        after ``end``. This spec lists enough serial months for the contract delivering in
        the month after ``end`` to be live from ``start``, has no daily price limit, the
        given ``calendar`` (``always``: 24/7; ``weekdays``), ``multiplier`` and
        ``tick_size``. Raises ``ValueError`` if ``end`` is before ``start``.
        """
        first, last = as_date(start), as_date(end)
        if last < first:
            raise ValueError(f"for_series: end {last} is before start {first}")
        months = (last.year - first.year) * 12 + last.month - first.month + 3
        spec = cls(
            multiplier=multiplier,
            contract_unit=contract_unit,
            tick_size=tick_size,
            price_limit=None,
            calendar=ExchangeCalendar(kind=calendar),
            listing=ListingRule(months=months),
        )
        live = [c for c in spec.contracts_live(first) if c.last_trading_day > last]
        if not live:  # pragma: no cover - the listing is sized so that one always is
            raise ValueError(f"for_series: no contract trades from {first} past {last}")
        return spec, live[0].code

    def contracts_live(self, day: DateLike) -> list[Contract]:
        """Contracts that can be traded on ``day``, ordered by delivery start, then tenor."""
        d = as_date(day)
        return self.contracts_between(d, d)

    def contracts_between(self, start: DateLike, end: DateLike) -> list[Contract]:
        """Contracts listed on at least one day of ``[start, end]``, in delivery order."""
        first, last = as_date(start), as_date(end)
        found: list[Contract] = []
        for tenor in Tenor:
            n = self.listing.count(tenor)
            if n == 0:
                continue
            period = Period.containing(tenor, first).shifted(-1)
            stop = Period.containing(tenor, last).shifted(n + 1)
            while period.start <= stop.start:
                c = _build_contract(self, period)
                if c.listing_date <= last and c.last_trading_day >= first:
                    found.append(c)
                period = period.shifted(1)
        order = list(Tenor)
        return sorted(found, key=lambda c: (c.delivery_start, order.index(c.tenor)))

    def fixing_dates(self, contract: Contract) -> npt.NDArray[np.datetime64]:
        """Index dates whose values make up the final settlement price."""
        if contract.tenor is not Tenor.MONTH:
            raise ValueError(f"{contract.code} cascades and has no final settlement of its own")
        if self.final_settlement is FinalSettlementRule.LAST_DAY_FIXING:
            return np.array([contract.last_trading_day], dtype="datetime64[D]")
        return np.arange(
            np.datetime64(contract.delivery_start, "D"),
            np.datetime64(contract.delivery_end, "D") + 1,
            dtype="datetime64[D]",
        )

    def final_settlement_price(self, index_on_fixing_dates: npt.ArrayLike) -> float:
        """Final settlement price from the index on ``fixing_dates``: their mean, on the tick,
        at least one tick (prices are positive, as in ``limit_band``)."""
        values = np.asarray(index_on_fixing_dates, dtype=np.float64)
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError("final settlement needs a finite index value on every fixing date")
        return float(self.settlement_price(float(values.mean())))

    @overload
    def settlement_price(self, mean: float) -> float: ...
    @overload
    def settlement_price(self, mean: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def settlement_price(
        self, mean: float | npt.NDArray[np.float64]
    ) -> float | npt.NDArray[np.float64]:
        """A final settlement price from the mean of the fixings (per path): on the tick
        (nearest), at least one tick."""
        return round_to_tick(mean, self.tick_size, at_least_one_tick=True)

    def roll_date(self, contract: Contract | str, k: int | None = None) -> dt.date:
        """The business day ``k`` (default ``roll_offset``) business days before last trading."""
        c = self.contract(contract) if isinstance(contract, str) else contract
        return c.roll_date(self.calendar, self.roll_offset if k is None else k)

    # -- prices and money ------------------------------------------------------------

    def round_price(
        self, price: float | npt.NDArray[np.float64], mode: RoundMode = "nearest"
    ) -> float | npt.NDArray[np.float64]:
        """``price`` on the tick grid."""
        return round_to_tick(price, self.tick_size, mode)

    def limit_band(
        self, previous_settle: float | npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Tradable ``(low, high)`` for a day, from the previous settlement."""
        return limit_band(previous_settle, self.price_limit, self.tick_size)

    def notional(
        self, price: float | npt.NDArray[np.float64], qty: float | npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Money value ``|qty| x multiplier x price`` in ``currency``."""
        qty_abs = np.abs(np.asarray(qty, dtype=np.float64))
        return np.asarray(qty_abs * self.multiplier * np.asarray(price, dtype=np.float64))

    def initial_margin_for(
        self, price: float | npt.NDArray[np.float64], qty: float | npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Initial margin of a position: ``initial_margin x notional``."""
        return self.initial_margin * self.notional(price, qty)

    def maintenance_margin_for(
        self, price: float | npt.NDArray[np.float64], qty: float | npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Maintenance margin of a position: initial margin / ``maintenance_ratio``."""
        return self.initial_margin_for(price, qty) / self.maintenance_ratio


@lru_cache(maxsize=65536)
def _build_contract(spec: ContractSpec, period: Period) -> Contract:
    cal = spec.calendar
    n = spec.listing.count(period.tenor)
    code = f"{spec.root}-{period.suffix()}"
    ltd = _last_trading_day(spec, period)
    listing = cal.offset(_last_trading_day(spec, period.shifted(-n)), 1)
    if period.tenor is Tenor.MONTH:
        if spec.final_settlement is FinalSettlementRule.DELIVERY_AVERAGE:
            final = cal.on_or_after(period.end)
        else:
            final = ltd
        children: tuple[str, ...] = ()
    else:
        final = ltd
        children = _cascade(spec, period)
    return Contract(
        code=code,
        root=spec.root,
        tenor=period.tenor,
        delivery_start=period.start,
        delivery_end=period.end,
        listing_date=listing,
        last_trading_day=ltd,
        final_settlement_date=final,
        cascades_into=children,
    )


def _last_trading_day(spec: ContractSpec, period: Period) -> dt.date:
    before_delivery = spec.calendar.on_or_before(period.start - dt.timedelta(days=1))
    if period.tenor is not Tenor.MONTH:
        return before_delivery
    if spec.last_trading_day is LastTradingDayRule.BUSINESS_DAY_BEFORE_DELIVERY:
        return before_delivery
    return spec.calendar.on_or_before(period.end)


def _cascade(spec: ContractSpec, period: Period) -> tuple[str, ...]:
    months = [Period(Tenor.MONTH, period.year, period.month).shifted(i) for i in range(3)]
    if period.tenor is Tenor.QUARTER:
        parts = months
    elif spec.listing.quarters:
        parts = [*months, *(Period(Tenor.QUARTER, period.year, m) for m in (4, 7, 10))]
    else:
        parts = [Period(Tenor.MONTH, period.year, 1).shifted(i) for i in range(12)]
    return tuple(f"{spec.root}-{p.suffix()}" for p in parts)


TPI_MONTH = ContractSpec()
"""The Token Price Index month future with DOMAIN.md §3 defaults."""

SCU_MONTH = ContractSpec(
    root="SCU",
    name="Standard Compute Unit month future",
    underlying="SCU",
    quote_unit="USD per H100-equivalent GPU-hour",
    multiplier=1000.0,
    contract_unit="1,000 H100-equivalent GPU-hours [assumption]",
    tick_size=0.01,
)
"""The paper's GPU compute future: cash-settled on a GPU rental-price index in USD per
H100-equivalent GPU-hour. Size (1,000 GPU-hours) and tick ($0.01) are **[assumption]**s;
all other terms as ``TPI_MONTH``."""

TPI_MONTH_FIXING = ContractSpec(
    name="Token Price Index month future, last-day fixing",
    final_settlement=FinalSettlementRule.LAST_DAY_FIXING,
)
"""``TPI_MONTH`` settled on the index of its last trading day instead of the delivery-month
average: the settlement-rule alternative of the paper experiment's sensitivity."""

PRESETS: dict[str, ContractSpec] = {
    "tpi_month": TPI_MONTH,
    "tpi_month_fixing": TPI_MONTH_FIXING,
    "scu_month": SCU_MONTH,
}


def load_spec(name_or_path: str) -> ContractSpec:
    """A preset by name (``tpi_month``), or a spec from a TOML or JSON file of its fields.

    A file may hold the fields at top level or under a ``[contract]`` table;
    errors name the file and the offending field.
    """
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"{name_or_path!r} is neither a contract preset ({', '.join(PRESETS)}) nor a file"
        )
    is_json = path.suffix == ".json"
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if is_json else tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the contract spec: {exc}") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not valid {'JSON' if is_json else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a contract spec is a table of fields, not {type(data).__name__}")
    nested = "contract" in data
    try:
        return ContractSpec.model_validate(data["contract"] if nested else data)
    except ValidationError as exc:
        problems = describe(exc, ContractSpec, prefix="contract" if nested else "")
        raise ValueError(f"{path}: invalid contract spec: {problems}") from None


def preset(name: str) -> ContractSpec:
    """A named contract spec (``tpi_month``, ``scu_month``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown contract preset {name!r}; known: {', '.join(PRESETS)}") from None
