"""Validation: one failing file per rule; each message names the file, the row and the rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import consumption_frame, futures_frame, spot_frame

from tokbt.data import DataValidationError, validate_file
from tokbt.errors import DataError

Mutation = Callable[[pd.DataFrame], pd.DataFrame]


def _set(row: int, column: str, value: object) -> Mutation:
    """Set data row ``row`` (1-based) of ``column``; the column becomes text if needed."""

    def apply(df: pd.DataFrame) -> pd.DataFrame:
        df = df.astype({column: object})
        df.loc[row - 1, column] = value
        return df

    return apply


def _swap_ts(a: int, b: int) -> Mutation:
    def apply(df: pd.DataFrame) -> pd.DataFrame:
        ts = df["ts"].to_numpy().copy()
        ts[[a - 1, b - 1]] = ts[[b - 1, a - 1]]
        return df.assign(ts=ts)

    return apply


# (rule, mutation of the valid 2-path x 5-day x 1-contract futures frame, first bad data row)
FUTURES_CASES: list[tuple[str, Mutation, int]] = [
    ("type", _set(3, "close", "abc"), 3),
    ("type", _set(4, "ts", "2026-02-30"), 4),
    ("required", _set(2, "settle", None), 2),
    ("required", _set(5, "contract", None), 5),
    ("integer", _set(4, "path", "1.5"), 4),
    ("integer", _set(6, "path", "-1"), 6),
    ("finite", _set(5, "close", "nan"), 5),
    ("finite", _set(7, "volume", "inf"), 7),
    ("positive_price", _set(6, "low", "-0.5"), 6),
    ("positive_price", _set(8, "settle", "0"), 8),
    ("non_negative", _set(7, "volume", "-5"), 7),
    ("non_negative", _set(3, "open_interest", "-1"), 3),
    ("high_ge_low", _set(2, "high", "1.0"), 2),
    ("open_in_range", _set(3, "open", "9.0"), 3),
    ("close_in_range", _set(4, "close", "0.5"), 4),
    ("sorted", _swap_ts(1, 3), 3),  # rows 1 and 3 are path 0 on day 1 and day 2
    ("unique", _set(3, "ts", "2026-01-05"), 3),
    ("unknown_contract", _set(5, "contract", "XYZ-2026-03"), 5),
    ("unknown_contract", _set(5, "contract", "TPI-2026-13"), 5),
    ("before_listing", _set(9, "contract", "TPI-2027-06"), 9),  # lists 2026-07-01
    ("after_last_trading_day", _set(2, "contract", "TPI-2025-12"), 2),  # LTD 2025-12-31
]


@pytest.mark.parametrize(
    ("rule", "mutate", "row"), FUTURES_CASES, ids=[c[0] for c in FUTURES_CASES]
)
def test_each_rule_names_file_row_line_and_rule_csv(
    tmp_path: Path, rule: str, mutate: Mutation, row: int
) -> None:
    path = tmp_path / f"{rule}.csv"
    mutate(futures_frame()).to_csv(path, index=False)
    report = validate_file(path)
    hits = [v for v in report.errors if v.rule == rule]
    assert hits, f"rule {rule} not reported; got {[str(v) for v in report.errors]}"
    first = hits[0]
    assert first.row == row
    text = str(first)
    assert str(path) in text
    assert f"row {row} (line {row + 1})" in text
    assert f"[rule: {rule}]" in text
    with pytest.raises(DataValidationError, match=f"rule: {rule}"):
        report.raise_for_errors()


def test_valid_files_of_every_kind_pass(tmp_path: Path) -> None:
    for name, frame in [
        ("spot", spot_frame()),
        ("futures", futures_frame(contracts=("TPI-2026-01", "TPI-2026-03"))),
        ("consumption", consumption_frame()),
    ]:
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        report = validate_file(path)
        assert report.ok, [str(e) for e in report.errors]
        assert report.kind == name
        assert report.rows == len(frame)
        assert report.warnings == []


def test_missing_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    futures_frame().drop(columns=["settle"]).assign(foo=1).to_csv(path, index=False)
    with pytest.raises(DataValidationError) as err:
        validate_file(path)
    rules = {v.rule for v in err.value.violations}
    assert rules == {"missing_columns", "extra_columns"}
    assert "'settle'" in str(err.value)
    assert "'foo'" in str(err.value)


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    path = tmp_path / "lean.csv"
    futures_frame().drop(columns=["volume", "open_interest"]).to_csv(path, index=False)
    assert validate_file(path).ok


def test_settle_outside_the_limit_band_is_a_warning_not_an_error(tmp_path: Path) -> None:
    df = futures_frame()
    # path 0 settles 2.00 on day 1; 2.25 on day 2 is beyond +10 % (2.20)
    df.loc[2, ["settle", "high"]] = [2.25, 2.3]
    path = tmp_path / "band.csv"
    df.to_csv(path, index=False)
    report = validate_file(path)
    assert report.ok
    # day 3 (2.02) is then more than 10 % below day 2's 2.25: a second warning
    assert [(v.rule, v.row) for v in report.warnings] == [
        ("settle_in_band", 3),
        ("settle_in_band", 5),
    ]
    w = report.warnings[0]
    assert "row 3 (line 4)" in str(w)
    assert "[1.8, 2.2]" in str(w)


def test_many_bad_rows_are_counted(tmp_path: Path) -> None:
    df = futures_frame(paths=10)
    df["volume"] = -1.0
    path = tmp_path / "many.csv"
    df.to_csv(path, index=False)
    hits = [v for v in validate_file(path).errors if v.rule == "non_negative"]
    assert [v.row for v in hits] == [1, 2, 3]
    assert "and 47 more rows" in str(hits[-1])


def test_parquet_rows_are_numbered_and_column_types_checked(tmp_path: Path) -> None:
    df = futures_frame()
    df.loc[4, "high"] = 1.0
    path = tmp_path / "f.parquet"
    df.to_parquet(path, index=False)
    (hit,) = [v for v in validate_file(path).errors if v.rule == "high_ge_low"]
    assert hit.row == 5
    assert "line" not in str(hit)

    bad = tmp_path / "typed.parquet"
    table = pa.Table.from_pandas(futures_frame(), preserve_index=False)
    table = table.set_column(
        table.schema.get_field_index("close"), "close", pa.array(["x"] * len(table))
    )
    pq.write_table(table, bad)
    with pytest.raises(DataValidationError, match=r"column 'close': has type string.*column_type"):
        validate_file(bad)


def test_spot_and_consumption_rules(tmp_path: Path) -> None:
    spot = spot_frame()
    spot.loc[6, "close"] = 99.0
    sp = tmp_path / "spot.csv"
    spot.to_csv(sp, index=False)
    (hit,) = validate_file(sp).errors
    assert (hit.rule, hit.row) == ("close_in_range", 7)

    cons = consumption_frame()
    cons.loc[3, "tokens"] = -5.0
    cons.loc[8, "ts"] = cons.loc[0, "ts"]
    cp = tmp_path / "cons.csv"
    cons.to_csv(cp, index=False)
    errors = validate_file(cp).errors
    assert {(v.rule, v.row) for v in errors} == {("non_negative", 4), ("sorted", 9)}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty file"),
        ("junk.parquet", b"PAR1 not really parquet", "not a readable Parquet"),
        ("ragged.csv", b"ts,path,open,high,low,close\n2026-01-05,0,1,1,1\n", "unreadable"),
        ("binary.csv", b"ts,path\n\xff\xfe\x00\x01", "file_format"),
    ],
)
def test_unreadable_files_raise_a_data_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        validate_file(path, kind="spot")
    assert name in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        validate_file(tmp_path / "nope.csv")


def test_kind_is_inferred_from_columns(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    consumption_frame().to_csv(path, index=False)
    assert validate_file(path).kind == "consumption"
    assert validate_file(path).rows == 10


def test_intraday_bars_are_band_checked_on_daily_settlements(tmp_path: Path) -> None:
    days = pd.bdate_range("2026-01-05", periods=3)
    hours = pd.DatetimeIndex([d + pd.Timedelta(hours=h) for d in days for h in (9, 12, 16)])
    # the day's settlement repeats on each bar; day 3 jumps 15 % above day 2
    settle = np.repeat([2.0, 2.1, 2.415], 3)
    df = pd.DataFrame(
        {
            "ts": hours,
            "path": 0,
            "contract": "TPI-2026-03",
            "open": settle,
            "high": settle + 0.2,
            "low": settle - 0.2,
            "close": settle,
            "settle": settle,
        }
    )
    path = tmp_path / "hourly.csv"
    df.to_csv(path, index=False)
    report = validate_file(path)
    assert report.ok
    assert [(w.rule, w.row) for w in report.warnings] == [("settle_in_band", 9)]
    assert "2.1" in str(report.warnings[0])
