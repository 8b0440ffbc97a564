"""The run store: exact round trips, prefixes, transactions, SQL users, the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from evaluation_fixtures import synthetic_run
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.data import BarStore
from tokbt.errors import StoreError
from tokbt.ledger import JOURNAL_SCHEMA
from tokbt.metrics.evaluation import PATH_METRICS
from tokbt.runs import RunStore, StoredRun
from tokbt.runs.store import RUN_COLUMNS, RUN_JOURNAL_SCHEMA, RUN_TABLES, market_name

DOC = Path(__file__).resolve().parents[1] / "docs" / "run-store.md"
DOC_ID = "9f2c41d07e3a"  # the run id the doc's examples use
runner = CliRunner()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "runs.duckdb"


def save(path: Path, run: StoredRun) -> StoredRun:
    with RunStore(path) as rs:
        return rs.save(run)


def rows_of(path: Path, run_id: str | None = None) -> dict[str, int]:
    """Rows per run table, of one run or of all."""
    with duckdb.connect(str(path), read_only=True) as con:
        where = "" if run_id is None else f"WHERE run_id = '{run_id}'"
        return {
            t: int(con.execute(f"SELECT count(*) FROM {t} {where}").fetchone()[0])  # type: ignore[index]
            for t in RUN_TABLES
        }


def journal_for(policies: tuple[str, ...], paths: int = 3) -> pa.Table:
    """A small journal: ``policy`` then ``JOURNAL_SCHEMA``'s columns, with nulls."""
    parts = []
    for k, policy in enumerate(policies):
        n = 2 * paths
        table = pa.table(
            {
                "ts": pa.array(
                    [dt.datetime(2026, 1, 5 + i // paths, 16) for i in range(n)],
                    pa.timestamp("us"),
                ),
                "path": pa.array([i % paths for i in range(n)], pa.int32()),
                "account": ["margin", "operating"] * paths,
                "contract": pa.array(["TPI-2026-03", None] * paths, pa.string()),
                "kind": ["fill", "consumption"] * paths,
                "qty": pa.array([float(k + 1), None] * paths, pa.float64()),
                "price": pa.array([2.5 + k / 10, None] * paths, pa.float64()),
                "amount": pa.array([0.0, -100.0 * (k + 1)] * paths, pa.float64()),
            },
            schema=JOURNAL_SCHEMA,
        )
        parts.append(table.add_column(0, "policy", pa.array([policy] * n, pa.string())))
    return pa.concat_tables(parts)


def with_record(run: StoredRun, **changes: Any) -> StoredRun:
    return dataclasses.replace(run, record=run.record | changes)


# -- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("sweep", [False, True])
def test_round_trip_through_a_reopened_file(path: Path, sweep: bool) -> None:
    run = synthetic_run(sweep=sweep)
    saved = save(path, run)
    assert re.fullmatch(r"[0-9a-f]{12}", saved.run_id)
    assert saved.evaluation is run.evaluation
    with RunStore(path, read_only=True) as rs:
        back = rs.load(saved.run_id, journal=True)
    assert back.run_id == saved.run_id
    assert back.evaluation.equals(run.evaluation)
    assert back.record == run.record
    assert back.journal is None
    if sweep:
        assert len(back.evaluation.sweep) == 4
    else:
        assert list(back.evaluation.sweep.columns) == ["policy", "param", "value"]
        assert [str(d) for d in back.evaluation.sweep.dtypes] == ["object", "object", "float64"]


def test_round_trip_keeps_the_dtypes_of_the_documented_contract(path: Path) -> None:
    """``object`` strings and ``datetime64[ns]`` (as documented) come back as such."""
    run = synthetic_run(sweep=True)
    ev = run.evaluation

    def contract(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for col in out.columns:
            if pd.api.types.is_string_dtype(out[col]):
                out[col] = out[col].astype(object)
            elif pd.api.types.is_datetime64_dtype(out[col]):
                out[col] = out[col].astype("datetime64[ns]")
        return out

    names = ("paths", "monthly", "series", "summary", "comparisons", "sweep")
    ev = dataclasses.replace(ev, **{n: contract(getattr(ev, n)) for n in names})
    assert str(ev.monthly["month"].dtype) == "datetime64[ns]"
    assert ev.paths["policy"].dtype == object
    saved = save(path, dataclasses.replace(run, evaluation=ev))
    with RunStore(path, read_only=True) as rs:
        back = rs.load(saved.run_id).evaluation
    assert back.equals(ev)
    assert str(back.series["day"].dtype) == "datetime64[ns]"
    assert back.comparisons["verdict"].dtype == object


def test_nan_in_frames_round_trips_and_is_null_in_sql(path: Path) -> None:
    run = synthetic_run()
    summary = run.evaluation.summary.copy()
    summary.loc[summary["metric"] == "p_overrun", ["lo", "hi"]] = np.nan
    paths = run.evaluation.paths.copy()
    paths["budget"] = np.nan
    ev = dataclasses.replace(run.evaluation, summary=summary, paths=paths)
    saved = save(path, dataclasses.replace(run, evaluation=ev))
    with RunStore(path, read_only=True) as rs:
        assert rs.load(saved.run_id).evaluation.equals(ev)
    with duckdb.connect(str(path), read_only=True) as con:
        nulls = con.execute(
            "SELECT count(*) FROM run_paths WHERE metric = 'budget' AND value IS NULL"
        ).fetchone()
        assert nulls == (len(paths),)


def test_journal_round_trip_only_on_request(path: Path) -> None:
    run = synthetic_run()
    journal = journal_for(run.evaluation.policies)
    assert journal.schema.equals(RUN_JOURNAL_SCHEMA)
    saved = save(path, dataclasses.replace(run, journal=journal))
    with RunStore(path, read_only=True) as rs:
        assert rs.load(saved.run_id).journal is None
        back = rs.load(saved.run_id, journal=True)
    assert back.journal is not None
    assert back.journal.equals(journal)
    assert back.evaluation.equals(run.evaluation)
    assert rows_of(path, saved.run_id)["run_journal"] == journal.num_rows
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT journal_rows FROM runs").fetchone() == (journal.num_rows,)


def test_an_empty_journal_is_still_a_journal(path: Path) -> None:
    run = synthetic_run()
    empty = journal_for(run.evaluation.policies).slice(0, 0)
    saved = save(path, dataclasses.replace(run, journal=empty))
    with RunStore(path, read_only=True) as rs:
        back = rs.load(saved.run_id, journal=True).journal
    assert back is not None
    assert back.num_rows == 0
    assert back.schema.equals(RUN_JOURNAL_SCHEMA)


def test_a_journal_with_other_columns_is_refused(path: Path) -> None:
    run = synthetic_run()
    bad = journal_for(run.evaluation.policies).drop_columns(["price"])
    with RunStore(path) as rs, pytest.raises(StoreError, match="journal has columns"):
        rs.save(dataclasses.replace(run, journal=bad))
    assert sum(rows_of(path).values()) == 0


def test_the_record_goes_through_json(path: Path) -> None:
    run = with_record(
        synthetic_run(),
        horizon=(2026, 2029),
        stats={"nan": float("nan"), "n": np.int64(3), "x": np.float64(0.5), "ok": np.bool_(True)},
    )
    saved = save(path, run)
    with RunStore(path, read_only=True) as rs:
        record = rs.load(saved.run_id).record
    assert record["horizon"] == [2026, 2029]
    assert record["stats"] == {"nan": None, "n": 3, "x": 0.5, "ok": True}
    assert record["config"] == run.record["config"]
    assert list(record) == list(run.record)  # key order kept


def test_a_record_that_is_not_json_is_refused_by_key(path: Path) -> None:
    run = synthetic_run()
    bad = with_record(run, config={"market": {"start": dt.date(2026, 1, 1)}})
    with RunStore(path) as rs:
        with pytest.raises(StoreError, match=r"record\['config'\]\['market'\]\['start'\]"):
            rs.save(bad)
        with pytest.raises(StoreError, match="key 1"):
            rs.save(with_record(run, seconds={1: 2.0}))
    assert sum(rows_of(path).values()) == 0


def test_runs_row_describes_the_run(path: Path) -> None:
    run = synthetic_run(n_paths=20)
    saved = save(path, run)
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(
            "SELECT created, kind, tokbt_version, seed, n_paths, policies, baseline, market, "
            "seconds, confidence, resamples, bootstrap_seed, journal_rows, record->>'$.numpy' "
            "FROM runs WHERE run_id = ?",
            [saved.run_id],
        ).fetchone()
    assert row == (
        dt.datetime(2026, 11, 22, 12),
        "compare",
        "0.1.0",
        7,
        20,
        ["no_hedge", "static", "rolling"],
        "no_hedge",
        "demand_explosion",
        3.0,
        0.95,
        200,
        0,
        None,
        "2.1.0",
    )


def test_market_name() -> None:
    assert market_name({"simulate": {"scenario": "baseline", "paths": 3}}) == "baseline"
    assert market_name({"dataset": "tpi_gpt4_class"}) == "tpi_gpt4_class"
    assert market_name({"market": {"dataset": "d", "simulate": None}}) == "d"
    assert market_name("feed") == "feed"
    assert market_name(None) is None


# -- ids -------------------------------------------------------------------------------


def test_a_given_run_id_is_kept_unless_taken(path: Path) -> None:
    with RunStore(path) as rs:
        first = rs.save(synthetic_run(run_id="mine0001"))
        second = rs.save(synthetic_run(run_id="mine0001"))
        assert first.run_id == "mine0001"
        assert re.fullmatch(r"[0-9a-f]{12}", second.run_id)
        third = rs.save(synthetic_run())
        assert len({first.run_id, second.run_id, third.run_id}) == 3
        with pytest.raises(StoreError, match="invalid"):
            rs.save(synthetic_run(run_id="no spaces"))


def test_prefix_lookup_and_its_errors_name_the_store(path: Path) -> None:
    with RunStore(path) as rs:
        rs.save(synthetic_run(run_id="abcd0001"))
        rs.save(synthetic_run(run_id="abcd0002", seed=1))
    with RunStore(path, read_only=True) as rs:
        assert rs.load("abcd0002").evaluation.seed == 1
        assert rs.resolve("abcd0001") == "abcd0001"
        with pytest.raises(StoreError, match="ambiguous") as info:
            rs.load("abcd")
        assert str(path) in str(info.value)
        assert "abcd0001" in str(info.value)
        assert "abcd0002" in str(info.value)
        with pytest.raises(StoreError, match="no run 'ffff'") as unknown:
            rs.load("ffff")
        assert str(path) in str(unknown.value)
        with pytest.raises(StoreError, match="at least 4"):
            rs.load("abc")


def test_a_unique_prefix_loads_the_run(path: Path) -> None:
    saved = save(path, synthetic_run())
    other = save(path, synthetic_run())
    prefix = next(
        saved.run_id[:k] for k in range(4, 13) if not other.run_id.startswith(saved.run_id[:k])
    )
    with RunStore(path, read_only=True) as rs:
        assert rs.load(prefix).run_id == saved.run_id


# -- transactions ----------------------------------------------------------------------


def test_a_failed_insert_leaves_nothing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = save(path, synthetic_run())
    before = rows_of(path)
    calls: list[str] = []
    original = RunStore._insert

    def flaky(self: RunStore, table: str, run_id: str, source: pa.Table) -> None:
        calls.append(table)
        if len(calls) == 3:
            raise RuntimeError(f"disk full while writing {table}")
        original(self, table, run_id, source)

    monkeypatch.setattr(RunStore, "_insert", flaky)
    with RunStore(path) as rs, pytest.raises(RuntimeError, match="disk full"):
        rs.save(dataclasses.replace(synthetic_run(sweep=True), run_id="half0001"))
    assert calls == ["run_metrics", "run_paths", "run_monthly"]
    assert rows_of(path, "half0001") == dict.fromkeys(RUN_TABLES, 0)
    assert rows_of(path) == before
    monkeypatch.undo()
    with RunStore(path) as rs:
        assert list(rs.runs()["run_id"]) == [kept.run_id]
        assert rs.save(synthetic_run(run_id="half0001")).run_id == "half0001"


def test_a_frame_duckdb_refuses_leaves_nothing(path: Path) -> None:
    run = synthetic_run()
    monthly = run.evaluation.monthly.copy()
    monthly["month"] = "not a date"
    bad = dataclasses.replace(run, evaluation=dataclasses.replace(run.evaluation, monthly=monthly))
    with RunStore(path) as rs, pytest.raises(StoreError, match="cannot save the run"):
        rs.save(bad)
    assert sum(rows_of(path).values()) == 0


def test_frames_without_the_documented_columns_are_refused(path: Path) -> None:
    run = synthetic_run()
    series = run.evaluation.series.drop(columns=["q95"])
    bad = dataclasses.replace(run, evaluation=dataclasses.replace(run.evaluation, series=series))
    with RunStore(path) as rs, pytest.raises(StoreError, match=r"evaluation.series"):
        rs.save(bad)


def test_a_read_only_store_refuses_writes(path: Path) -> None:
    saved = save(path, synthetic_run())
    with RunStore(path, read_only=True) as rs:
        with pytest.raises(StoreError, match="read-only"):
            rs.save(synthetic_run())
        with pytest.raises(StoreError, match="read-only"):
            rs.delete(saved.run_id)


# -- listing and deleting --------------------------------------------------------------


def test_runs_newest_first_with_the_best_vr_std(path: Path) -> None:
    old = with_record(synthetic_run(), created="2026-01-01T09:00:00+01:00")
    summary = old.evaluation.summary.copy()
    vr = summary["metric"] == "vr_std"
    summary.loc[vr, "value"] = [0.1, np.nan, 0.9]  # NaN must not win
    old = dataclasses.replace(old, evaluation=dataclasses.replace(old.evaluation, summary=summary))
    with RunStore(path) as rs:
        a = rs.save(old)
        b = rs.save(with_record(synthetic_run(), created="2026-06-01T00:00:00Z"))
        c = rs.save(with_record(synthetic_run(seed=3), created="2026-06-01T00:00:00Z"))
        listing = rs.runs()
    assert list(listing.columns) == list(RUN_COLUMNS)
    assert list(listing["run_id"]) == [c.run_id, b.run_id, a.run_id]
    first = listing.iloc[-1]
    assert first["created"] == pd.Timestamp("2026-01-01 08:00")  # UTC
    assert first["best"] == "rolling"
    assert first["best_vr_std"] == pytest.approx(0.9)
    assert first["policies"] == "no_hedge, static, rolling"
    assert first["market"] == "demand_explosion"
    assert first["n_paths"] == 50
    assert first["seconds"] == pytest.approx(3.0)
    vr_c = c.evaluation.summary.loc[c.evaluation.summary["metric"] == "vr_std"]
    top = vr_c.loc[vr_c["value"].idxmax()]
    assert listing.iloc[0]["best"] == top["policy"]
    assert listing.iloc[0]["best_vr_std"] == pytest.approx(top["value"])


def test_delete_removes_the_run_from_every_table(path: Path) -> None:
    run = dataclasses.replace(synthetic_run(sweep=True), run_id="gone0001")
    run = dataclasses.replace(run, journal=journal_for(run.evaluation.policies))
    with RunStore(path) as rs:
        gone = rs.save(run)
        kept = rs.save(synthetic_run(sweep=True))
    assert all(rows_of(path, gone.run_id).values())  # every table had rows
    with RunStore(path) as rs:
        assert rs.delete("gone") == "gone0001"
        assert list(rs.runs()["run_id"]) == [kept.run_id]
        with pytest.raises(StoreError, match="no run"):
            rs.delete("gone0001")
    assert rows_of(path, gone.run_id) == dict.fromkeys(RUN_TABLES, 0)
    with RunStore(path, read_only=True) as rs:
        assert rs.load(kept.run_id).evaluation.equals(kept.evaluation)


def test_a_big_run_round_trips(path: Path) -> None:
    run = synthetic_run(n_paths=1000, policies=tuple(f"p{k}" for k in range(7)), months=36)
    assert len(run.evaluation.monthly) == 252_000
    with RunStore(path) as rs:
        saved = rs.save(run)
        assert rs.load(saved.run_id).evaluation.equals(run.evaluation)
    assert rows_of(path, saved.run_id)["run_paths"] == 7000 * len(PATH_METRICS)


# -- the file is one store -------------------------------------------------------------


def test_a_run_store_file_is_a_bar_store_and_back(tmp_path: Path) -> None:
    runs_first = tmp_path / "runs_first.duckdb"
    RunStore(runs_first).close()
    with BarStore(runs_first, read_only=True) as bs:
        assert bs.names() == []
    bars_first = tmp_path / "bars_first.duckdb"
    BarStore(bars_first).close()
    with RunStore(bars_first, read_only=True) as rs:
        assert rs.runs().empty
        assert list(rs.runs().columns) == list(RUN_COLUMNS)
        with pytest.raises(StoreError, match="holds no runs"):
            rs.load("abcd")
    saved = save(bars_first, synthetic_run())
    with BarStore(bars_first, read_only=True) as bs:
        assert bs.names() == []
    with RunStore(bars_first, read_only=True) as rs:
        assert rs.load(saved.run_id).evaluation.equals(saved.evaluation)


def test_another_runs_schema_version_is_refused(path: Path) -> None:
    RunStore(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE tokbt_meta SET value = '2' WHERE key = 'runs_schema_version'")
    for read_only in (False, True):
        with pytest.raises(StoreError, match="schema version 2") as info:
            RunStore(path, read_only=read_only)
        assert str(path) in str(info.value)


def test_a_missing_store_is_an_error_when_read_only(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        RunStore(tmp_path / "nope.duckdb", read_only=True)


# -- the documentation -----------------------------------------------------------------


def documented_tables() -> dict[str, list[tuple[str, str]]]:
    """``{table: [(column, type), ...]}`` from the markdown tables of docs/run-store.md."""
    tables: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if heading := re.fullmatch(r"### `(\w+)`", line):
            current = heading.group(1)
            tables[current] = []
        elif current and (row := re.match(r"\| `(\w+)` \| ([A-Z\[\]]+) \|", line)):
            tables[current].append((row.group(1), row.group(2)))
    return tables


def doc_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_documents_every_table_and_column(path: Path) -> None:
    RunStore(path).close()
    with duckdb.connect(str(path), read_only=True) as con:
        actual: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'runs' OR table_name LIKE 'run\\_%' ESCAPE '\\' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall():
            actual.setdefault(table, []).append((column, kind))
    documented = documented_tables()
    assert sorted(documented) == sorted(RUN_TABLES)
    assert documented == actual


def test_the_doc_queries_run_and_give_the_numbers(path: Path) -> None:
    old = with_record(synthetic_run(seed=1), created="2026-01-01T00:00:00Z")
    latest = synthetic_run(run_id=DOC_ID, seed=2)
    paths = latest.evaluation.paths.copy()
    paths["liquidations"] = 0.0
    hit = (paths["policy"] == "static") & paths["path"].isin([3, 7])
    paths.loc[hit, "liquidations"] = [1.0, 2.0]
    latest = dataclasses.replace(
        latest, evaluation=dataclasses.replace(latest.evaluation, paths=paths)
    )
    with RunStore(path) as rs:
        rs.save(old)
        rs.save(latest)
    queries = doc_queries()
    assert len(queries) >= 4
    results = []
    with duckdb.connect(str(path), read_only=True) as con:
        for sql in queries:
            results.append(con.execute(sql).df())
    pivot, vr_std, mean_cost, liquidated, _best = results[:5]

    pd.testing.assert_frame_equal(pivot[list(paths.columns)], paths, check_dtype=False)

    summary = latest.evaluation.summary
    expected = summary[summary["metric"] == "vr_std"].reset_index(drop=True)
    assert list(vr_std["policy"]) == list(latest.evaluation.policies)
    np.testing.assert_array_equal(vr_std["vr_std"], expected["value"])
    np.testing.assert_array_equal(vr_std["lo"], expected["lo"])
    np.testing.assert_array_equal(vr_std["hi"], expected["hi"])

    both = pd.concat([old.evaluation.paths, paths])
    means = both.groupby("policy")["hedged_cost"].mean()
    for row in mean_cost.itertuples():
        assert row.runs == 2
        assert row.paths == 100
        assert row.mean_hedged_cost == pytest.approx(means[row.policy])

    mine = liquidated[liquidated["run_id"] == DOC_ID]
    assert list(zip(mine["policy"], mine["path"], mine["liquidations"], strict=True)) == [
        ("static", 3, 1.0),
        ("static", 7, 2.0),
    ]
    static = paths[paths["policy"] == "static"].set_index("path")["hedged_cost"]
    assert list(mine["hedged_cost"]) == [static[3], static[7]]


# -- the command line ------------------------------------------------------------------


def test_cli_ls_show_rm(path: Path) -> None:
    store = ["--store", str(path)]
    missing = runner.invoke(app, ["runs", "ls", *store])
    assert missing.exit_code == 0
    assert "no store" in missing.output
    RunStore(path).close()
    assert "holds no runs" in runner.invoke(app, ["runs", "ls", *store]).output

    run = synthetic_run(sweep=True)
    saved = save(path, run)
    listing = runner.invoke(app, ["runs", "ls", *store])
    assert listing.exit_code == 0, listing.output
    assert saved.run_id in listing.output
    assert "compare" in listing.output

    shown = runner.invoke(app, ["runs", "show", saved.run_id[:6], *store])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert f"run {saved.run_id}" in out
    assert "sha256:abc" in out
    assert "demand_explosion" in out
    assert "baseline no_hedge" in out
    for label in ("VR_std", "P(liquidation)", "mean realised hedge ratio"):
        assert label in out
    vr = run.evaluation.summary.query("metric == 'vr_std' and policy == 'static'").iloc[0]
    assert f"{vr['value']:.1%} [{vr['lo']:.1%}, {vr['hi']:.1%}]" in out
    assert "paired differences" in out
    assert "better" in out

    removed = runner.invoke(app, ["runs", "rm", saved.run_id[:5], *store])
    assert removed.exit_code == 0, removed.output
    assert f"deleted run {saved.run_id}" in removed.output
    assert "holds no runs" in runner.invoke(app, ["runs", "ls", *store]).output


def test_cli_unknown_run_exits_1(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save(path, synthetic_run())
    monkeypatch.setenv("TOKBT_STORE", str(path))
    for command in ("show", "rm"):
        result = runner.invoke(app, ["runs", command, "ffff0000"])
        assert result.exit_code == 1
        assert "no run 'ffff0000'" in result.output
        assert str(path) in result.output.replace("\n", "")
    short = runner.invoke(app, ["runs", "show", "ab"])
    assert short.exit_code == 1
    assert "at least 4" in short.output


def test_the_record_dump_is_valid_json(path: Path) -> None:
    """``record`` is stored as text DuckDB and ``json`` both parse."""
    saved = save(path, synthetic_run())
    with duckdb.connect(str(path), read_only=True) as con:
        text, layout = con.execute("SELECT record, frames FROM runs").fetchone()  # type: ignore[misc]
        assert json.loads(text) == saved.record
        assert [c for c, _ in json.loads(layout)["paths"]] == list(saved.evaluation.paths)
        assert con.execute("SELECT record->>'$.kind' FROM runs").fetchone() == ("compare",)


def test_cli_show_splits_many_policies_into_tables_that_fit(path: Path) -> None:
    policies = tuple(f"static[ratio={r},tailing_rate=0.05]" for r in (0.5, 1.0, 1.5, 2.0, 2.5))
    run = synthetic_run(policies=("no_hedge", *policies), n_paths=10, months=3)
    saved = save(path, run)
    shown = runner.invoke(app, ["runs", "show", saved.run_id, "--store", str(path)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    tables = lines[next(k for k, line in enumerate(lines) if "summary:" in line) :]
    assert max(len(line) for line in tables) <= 120
    summary = run.evaluation.summary.set_index(["policy", "metric"])
    for policy in run.evaluation.policies:
        assert policy in shown.output
        vr = summary.loc[(policy, "p_overrun")]
        assert f"{vr['value']:.1%} [{vr['lo']:.1%}, {vr['hi']:.1%}]" in shown.output
    listing = runner.invoke(app, ["runs", "ls", "--store", str(path)])
    assert "no_hedge … (6 in" in listing.output  # "all)" wraps in its column
