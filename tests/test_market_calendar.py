"""Contract calendar: last trading days, delivery periods, listing, roll dates, cascades.

Expected dates are worked out by hand from a wall calendar (2026-01-01 is a
Thursday), not from the code under test.
"""

import datetime as dt

import numpy as np
import pytest

from tokbt.market import (
    TPI_MONTH,
    ContractSpec,
    ExchangeCalendar,
    FinalSettlementRule,
    LastTradingDayRule,
    ListingRule,
    Tenor,
    UnknownContractError,
    parse_code,
)

D = dt.date

# Last business day of each 2026 month (Mon-Fri calendar).
LTD_2026 = {
    1: D(2026, 1, 30),  # 31st is a Saturday
    2: D(2026, 2, 27),  # 28th is a Saturday
    3: D(2026, 3, 31),
    4: D(2026, 4, 30),
    5: D(2026, 5, 29),  # 31st is a Sunday
    6: D(2026, 6, 30),
    7: D(2026, 7, 31),
    8: D(2026, 8, 31),
    9: D(2026, 9, 30),
    10: D(2026, 10, 30),  # 31st is a Saturday
    11: D(2026, 11, 30),
    12: D(2026, 12, 31),
}
MONTH_DAYS_2026 = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


@pytest.mark.parametrize("month", range(1, 13))
def test_last_trading_day_and_delivery_period_for_every_month_of_2026(month: int) -> None:
    c = TPI_MONTH.contract(f"TPI-2026-{month:02d}")
    assert c.tenor is Tenor.MONTH
    assert c.last_trading_day == LTD_2026[month]
    assert c.delivery_start == D(2026, month, 1)
    assert c.delivery_end == D(2026, month, MONTH_DAYS_2026[month - 1])
    assert c.delivery_days == MONTH_DAYS_2026[month - 1]


@pytest.mark.parametrize(
    ("month", "final"),
    [
        (1, D(2026, 2, 2)),  # delivery ends Sat 31 Jan: settles the next business day
        (2, D(2026, 3, 2)),
        (3, D(2026, 3, 31)),  # ends on a business day: settles that day
        (5, D(2026, 6, 1)),
        (10, D(2026, 11, 2)),
        (12, D(2026, 12, 31)),
    ],
)
def test_average_settled_contract_settles_once_every_index_day_is_known(
    month: int, final: dt.date
) -> None:
    assert TPI_MONTH.contract(f"TPI-2026-{month:02d}").final_settlement_date == final


def test_last_day_fixing_settles_on_the_last_trading_day() -> None:
    spec = ContractSpec(final_settlement=FinalSettlementRule.LAST_DAY_FIXING)
    c = spec.contract("TPI-2026-01")
    assert c.final_settlement_date == D(2026, 1, 30)
    assert spec.fixing_dates(c).tolist() == [D(2026, 1, 30)]


def test_delivery_average_fixes_on_every_calendar_day_of_the_month() -> None:
    c = TPI_MONTH.contract("TPI-2026-02")
    days = TPI_MONTH.fixing_dates(c)
    assert len(days) == 28
    assert days[0] == np.datetime64("2026-02-01")
    assert days[-1] == np.datetime64("2026-02-28")


def test_final_settlement_price_is_the_mean_rounded_to_tick() -> None:
    # mean of 1.0, 1.0, 1.0025 = 1.000833.. -> 1.001 on a 0.001 tick
    assert TPI_MONTH.final_settlement_price([1.0, 1.0, 1.0025]) == 1.001
    with pytest.raises(ValueError, match="finite"):
        TPI_MONTH.final_settlement_price([1.0, np.nan])


@pytest.mark.parametrize(
    ("month", "k", "roll"),
    [
        (3, 5, D(2026, 3, 24)),  # Tue 31 Mar - 5 business days
        (1, 5, D(2026, 1, 23)),  # Fri 30 Jan - 5
        (5, 1, D(2026, 5, 28)),
        (8, 3, D(2026, 8, 26)),  # Mon 31 Aug - 3 = Wed 26 Aug
        (6, 0, D(2026, 6, 30)),
    ],
)
def test_roll_dates_are_k_business_days_before_last_trading(
    month: int, k: int, roll: dt.date
) -> None:
    assert TPI_MONTH.roll_date(f"TPI-2026-{month:02d}", k) == roll


def test_default_roll_offset_is_five_business_days() -> None:
    assert TPI_MONTH.roll_date("TPI-2026-03") == D(2026, 3, 24)


def test_twelve_serial_months_are_live_on_any_business_day() -> None:
    for day in TPI_MONTH.calendar.business_days("2026-01-01", "2027-12-31"):
        live = TPI_MONTH.contracts_live(day.item())
        assert len(live) == 12, day
        assert all(c.is_listed(day.item()) for c in live)


def test_front_month_rolls_to_the_next_after_its_last_trading_day() -> None:
    assert TPI_MONTH.contracts_live("2026-03-31")[0].code == "TPI-2026-03"
    live = TPI_MONTH.contracts_live("2026-04-01")
    assert next(c.code for c in live) == "TPI-2026-04"
    assert live[-1].code == "TPI-2027-03"  # listed that morning
    assert TPI_MONTH.contract("TPI-2027-03").listing_date == D(2026, 4, 1)


def test_contracts_between_lists_everything_traded_in_the_window() -> None:
    codes = [c.code for c in TPI_MONTH.contracts_between("2026-01-05", "2026-03-31")]
    assert codes[0] == "TPI-2026-01"
    assert codes[-1] == "TPI-2027-02"  # listed on 2026-03-02; 2027-03 lists on 2026-04-01
    assert len(codes) == 14


def test_quarters_and_years_cascade_before_delivery() -> None:
    spec = ContractSpec(listing=ListingRule(months=6, quarters=4, years=2))
    q = spec.contract("TPI-2026-Q3")
    assert q.tenor is Tenor.QUARTER
    assert (q.delivery_start, q.delivery_end) == (D(2026, 7, 1), D(2026, 9, 30))
    assert q.last_trading_day == D(2026, 6, 30)
    assert q.cascades_into == ("TPI-2026-07", "TPI-2026-08", "TPI-2026-09")
    y = spec.contract("TPI-2027-CAL")
    assert y.last_trading_day == D(2026, 12, 31)
    assert y.cascades_into == (
        "TPI-2027-01",
        "TPI-2027-02",
        "TPI-2027-03",
        "TPI-2027-Q2",
        "TPI-2027-Q3",
        "TPI-2027-Q4",
    )
    # every cascade target trades on the day after the cascading contract's last day
    for parent in (q, y):
        next_day = spec.calendar.offset(parent.last_trading_day, 1)
        live = {c.code for c in spec.contracts_live(next_day)}
        assert set(parent.cascades_into) <= live


def test_year_without_quarters_cascades_into_twelve_months() -> None:
    spec = ContractSpec(listing=ListingRule(months=12, years=1))
    assert len(spec.contract("TPI-2027-CAL").cascades_into) == 12


@pytest.mark.parametrize(
    "listing",
    [
        {"months": 2, "quarters": 1},
        {"months": 3, "quarters": 2, "years": 1},
        {"months": 6, "years": 1},
    ],
)
def test_listing_rules_whose_cascades_would_land_in_unlisted_contracts_are_rejected(
    listing: dict[str, int],
) -> None:
    with pytest.raises(ValueError, match="cascade"):
        ListingRule(**listing)


def test_business_day_before_delivery_rule() -> None:
    spec = ContractSpec(last_trading_day=LastTradingDayRule.BUSINESS_DAY_BEFORE_DELIVERY)
    c = spec.contract("TPI-2026-03")
    assert c.last_trading_day == D(2026, 2, 27)
    assert len(spec.contracts_live("2026-03-15")) == 12
    assert spec.contracts_live("2026-03-15")[0].code == "TPI-2026-04"


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("TPI-2026-13", "month 13"),
        ("TPI-26-03", "of the form"),
        ("tpi-2026-03", "of the form"),
        ("SCU-2026-03", "root 'SCU'"),
        ("TPI-2026-Q2", "no quarter"),
    ],
)
def test_unknown_codes_are_rejected_with_the_reason(code: str, problem: str) -> None:
    with pytest.raises(UnknownContractError, match=problem):
        TPI_MONTH.contract(code)


def test_codes_round_trip() -> None:
    for c in ContractSpec(listing=ListingRule(months=6, quarters=4, years=2)).contracts_live(
        "2026-05-05"
    ):
        root, period = parse_code(c.code)
        assert root == "TPI"
        assert period.start == c.delivery_start


def test_always_open_calendar_trades_on_weekends() -> None:
    spec = ContractSpec(calendar=ExchangeCalendar(kind="always"))
    c = spec.contract("TPI-2026-01")
    assert c.last_trading_day == D(2026, 1, 31)  # a Saturday
    assert c.final_settlement_date == D(2026, 1, 31)
    assert spec.roll_date(c, 5) == D(2026, 1, 26)


def test_holidays_are_not_business_days() -> None:
    cal = ExchangeCalendar(holidays=(D(2026, 3, 31),))
    assert not cal.is_business_day("2026-03-31")
    spec = ContractSpec(calendar=cal)
    assert spec.contract("TPI-2026-03").last_trading_day == D(2026, 3, 30)
    assert cal.count("2026-03-30", "2026-04-02") == 2  # Mon 30, Wed 1 (31 is a holiday)


def test_calendar_offsets_roll_off_weekends() -> None:
    cal = ExchangeCalendar()
    assert cal.offset("2026-03-28", 0) == D(2026, 3, 30)  # Sat -> Mon
    assert cal.offset("2026-03-28", -1) == D(2026, 3, 26)  # Sat -> Fri -> Thu
    assert cal.on_or_before("2026-03-29") == D(2026, 3, 27)
    assert cal.business_days("2026-03-27", "2026-03-30").tolist() == [
        D(2026, 3, 27),
        D(2026, 3, 30),
    ]
