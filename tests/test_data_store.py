"""BarStore: import, transactions, replace, Parquet round trip, reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import consumption_frame, futures_frame, spot_frame, store_content

from tokbt.data import BarStore, DataValidationError, default_store_path
from tokbt.errors import StoreError
from tokbt.market import SCU_MONTH


def _write(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def test_import_and_read_back(store: BarStore, tmp_path: Path) -> None:
    fut = futures_frame(contracts=("TPI-2026-01", "TPI-2026-03"))
    result = store.import_file(_write(tmp_path, "f.csv", fut), "ds", "futures")
    assert result.rows == len(fut) == 20
    table = store.read("ds", "futures")
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert table.schema.field("path").type == pa.int32()
    got = table.to_pandas()
    want = fut.sort_values(["ts", "path", "contract"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    assert got["limit_locked"].isna().all()  # optional column absent from the file
    info = store.info("ds")
    part = info.parts["futures"]  # type: ignore[index]
    assert (part.rows, part.n_paths, part.n_contracts) == (20, 2, 2)
    assert part.start == pd.Timestamp("2026-01-05")
    assert part.end == pd.Timestamp("2026-01-09")
    assert len(part.source_sha256) == 64


def test_a_dataset_holds_each_kind(store: BarStore, tmp_path: Path) -> None:
    store.import_file(_write(tmp_path, "s.csv", spot_frame()), "ds")
    store.import_file(_write(tmp_path, "f.csv", futures_frame()), "ds")
    store.import_file(_write(tmp_path, "c.csv", consumption_frame()), "ds")
    assert set(store.info("ds").parts) == {"spot", "futures", "consumption"}
    assert store.names() == ["ds"]


def test_reimport_needs_replace(store: BarStore, tmp_path: Path) -> None:
    path = _write(tmp_path, "s.csv", spot_frame())
    store.import_file(path, "ds", "spot")
    with pytest.raises(StoreError, match="already has spot bars; use --replace"):
        store.import_file(path, "ds", "spot")
    bigger = _write(tmp_path, "s3.csv", spot_frame(paths=3))
    store.import_file(bigger, "ds", "spot", replace=True)
    assert store.info("ds").parts["spot"].n_paths == 3  # type: ignore[index]
    assert len(store.read("ds", "spot")) == 15


def test_failed_import_leaves_the_store_content_unchanged(store: BarStore, tmp_path: Path) -> None:
    store.import_file(_write(tmp_path, "s.csv", spot_frame()), "ds", "spot")
    before = store_content(store)
    bad = spot_frame(paths=3)
    bad.loc[7, "high"] = 0.1
    with pytest.raises(DataValidationError):
        store.import_file(_write(tmp_path, "bad.csv", bad), "ds", "spot", replace=True)
    with pytest.raises(DataValidationError):
        store.import_file(_write(tmp_path, "bad2.csv", bad), "other", "spot")
    assert store_content(store) == before


class _FailOn:
    """A connection proxy that raises when a statement contains ``marker``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, marker: str) -> None:
        self._con, self._marker = con, marker

    def execute(self, sql: str, *args: Any) -> Any:
        if self._marker in sql:
            raise duckdb.IOException("disk full (simulated)")
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_failure_inside_the_write_transaction_rolls_everything_back(
    store: BarStore, tmp_path: Path
) -> None:
    store.import_file(_write(tmp_path, "s.csv", spot_frame()), "ds", "spot")
    before = store_content(store)
    real = store.con
    # The bars are deleted and re-inserted before the catalog row fails.
    store.con = _FailOn(real, "INSERT INTO dataset_parts")  # type: ignore[assignment]
    with pytest.raises(duckdb.IOException, match="simulated"):
        store.import_file(
            _write(tmp_path, "s3.csv", spot_frame(paths=3)), "ds", "spot", replace=True
        )
    store.con = real
    assert store_content(store) == before


def test_failed_import_into_a_file_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with BarStore(path) as s:
        s.import_file(_write(tmp_path, "s.csv", spot_frame()), "ds", "spot")
        before = store_content(s)
        bad = spot_frame()
        bad.loc[0, "close"] = -1.0
        with pytest.raises(DataValidationError):
            s.import_file(_write(tmp_path, "bad.csv", bad), "ds2", "spot")
    with BarStore(path, read_only=True) as s:
        assert store_content(s) == before


def test_parquet_round_trip(store: BarStore, tmp_path: Path) -> None:
    fut = futures_frame(paths=3, contracts=("TPI-2026-01", "TPI-2026-02"))
    store.import_file(_write(tmp_path, "f.csv", fut), "ds", "futures")
    store.import_file(_write(tmp_path, "c.csv", consumption_frame(paths=3)), "ds")
    written = store.export("ds", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "dataset=ds/kind=consumption/part-0.parquet",
        "dataset=ds/kind=futures/part-0.parquet",
    ]
    fut_file = tmp_path / "out/dataset=ds/kind=futures/part-0.parquet"
    assert pq.read_schema(fut_file).field("ts").type == pa.timestamp("us")
    for kind, file in (
        ("futures", fut_file),
        ("consumption", tmp_path / "out/dataset=ds/kind=consumption/part-0.parquet"),
    ):
        store.import_file(file, "copy", kind)
        assert store.read("copy", kind).equals(store.read("ds", kind))
    # the exported layout is hive-partitioned for other tools
    hive = (
        duckdb.connect()
        .execute(
            f"SELECT count(*), any_value(dataset), any_value(kind) FROM read_parquet("
            f"'{tmp_path}/out/*/kind=futures/*.parquet', hive_partitioning=true)"
        )
        .fetchone()
    )
    assert hive == (len(fut), "ds", "futures")


def test_write_table_validates_like_a_file_import(store: BarStore) -> None:
    table = pa.Table.from_pandas(spot_frame(), preserve_index=False)
    store.write_table(table, "gen", "spot", source="unit-test")
    assert store.info("gen").parts["spot"].source == "unit-test"  # type: ignore[index]
    bad = spot_frame()
    bad.loc[2, "low"] = np.nan
    with pytest.raises(DataValidationError, match=r"<unit-test>, row 3, column 'low'"):
        store.write_table(
            pa.Table.from_pandas(bad, preserve_index=False), "gen2", "spot", source="unit-test"
        )
    assert "gen2" not in store.names()


def test_reads_filter_paths_and_time(store: BarStore, tmp_path: Path) -> None:
    store.import_file(_write(tmp_path, "s.parquet", spot_frame(paths=4)), "ds", "spot")
    t = store.read(
        "ds",
        "spot",
        paths=[1, 3],
        start="2026-01-06",
        end="2026-01-08",
        columns=["ts", "path", "close"],
    )
    assert t.column_names == ["ts", "path", "close"]
    assert t["path"].to_pylist() == [1, 3, 1, 3]
    arrays = store.read_numpy("ds", "spot", columns=["ts", "close"], paths=[0])
    assert arrays["ts"].dtype == np.dtype("datetime64[us]")
    np.testing.assert_allclose(arrays["close"], [2.0, 2.01, 2.02, 2.03, 2.04])
    with pytest.raises(StoreError, match="no column"):
        store.read("ds", "spot", columns=["settle"])
    with pytest.raises(StoreError, match="no futures bars"):
        store.read("ds", "futures")


def test_spec_is_stored_and_mixing_products_is_refused(store: BarStore, tmp_path: Path) -> None:
    scu = futures_frame().assign(contract="SCU-2026-03")
    store.import_file(_write(tmp_path, "scu.csv", scu), "gpu", spec=SCU_MONTH)
    assert store.spec("gpu") == SCU_MONTH
    with pytest.raises(StoreError, match="different spec"):
        store.import_file(
            _write(tmp_path, "s.csv", spot_frame()),
            "gpu",
            spec=SCU_MONTH.model_copy(update={"tick_size": 0.05}),
        )
    # TPI codes are unknown to an SCU dataset
    with pytest.raises(DataValidationError, match="unknown_contract"):
        store.import_file(_write(tmp_path, "tpi.csv", futures_frame()), "gpu", replace=True)


def test_names_delete_and_unknown_dataset(store: BarStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="invalid"):
        store.import_file(_write(tmp_path, "s.csv", spot_frame()), "bad name!")
    store.import_file(_write(tmp_path, "s.csv", spot_frame()), "a")
    store.delete("a")
    assert store.names() == []
    assert store.con.execute("SELECT count(*) FROM spot_bars").fetchone() == (0,)
    with pytest.raises(StoreError, match="no dataset 'a'"):
        store.info("a")


def test_store_path_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TOKBT_STORE", raising=False)
    assert default_store_path() == Path("tokbt.duckdb")
    monkeypatch.setenv("TOKBT_STORE", str(tmp_path / "env.duckdb"))
    assert default_store_path() == tmp_path / "env.duckdb"
    assert default_store_path(tmp_path / "x.duckdb") == tmp_path / "x.duckdb"
    with pytest.raises(StoreError, match="does not exist"):
        BarStore(tmp_path / "missing.duckdb", read_only=True)


def test_a_parquet_file_changed_between_validation_and_insert_is_refused(
    store: BarStore, tmp_path: Path
) -> None:
    from tokbt.data.validate import check_unchanged, stage, unstage
    from tokbt.errors import DataError

    path = _write(tmp_path, "s.parquet", spot_frame())
    _, src, _ = stage(store.con, path, "spot")
    check_unchanged(src)  # untouched: fine
    _write(tmp_path, "s.parquet", spot_frame(paths=3))
    with pytest.raises(DataError, match="changed during the import"):
        check_unchanged(src)
    unstage(store.con)
