"""A process killed (SIGKILL) in the middle of a write never corrupts the store.

* An import killed while validating, or inside its transaction with every row inserted,
  and a Parquet-backed write killed between chunks: the store opens, the dataset committed
  before reads back identical, the interrupted dataset is absent with no temporary table
  or Parquet part left, and the import succeeds when retried.
* ``tokbt mc`` killed inside the run store's save transaction (after its chunks are
  written): ``tokbt runs ls`` lists only complete runs, and the same command resumes every
  chunk from the folder and saves the run.

The children pause at the kill point (a marker file says they are there) so that the kill
lands where it is meant to, not merely somewhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from test_fuzz_import import content_hash, leftovers, valid_bars
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.data import BarStore, Kind, validate_file
from tokbt.runs.mc import LocalExecutor, load_mc_config, monte_carlo
from tokbt.runs.store import RunStore

ROWS = 120_000
"""Rows of the imported CSV: about two seconds of staging and validation."""

IMPORT_CHILD = """
import pathlib, sys, time
from tokbt.data import BarStore, Kind
from tokbt.data.store import DatasetWriter
store, source, marker, point = sys.argv[1:5]

def pause() -> None:
    pathlib.Path(marker).write_text(point)
    time.sleep(600)

if point == "commit":  # every row inserted, the transaction not committed
    finish = DatasetWriter._finish
    def paused_finish(self):
        finish(self)
        pause()
    DatasetWriter._finish = paused_finish
with BarStore(store) as bs:
    if point == "parquet":  # a Parquet-backed write, killed between two chunks
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
        table = pq.read_table(source)
        with bs.writer("big", storage="parquet") as w:
            w.append_table(Kind.SPOT, table.filter(pc.equal(table["path"], 0)))
            pause()
    mark = (lambda step: pathlib.Path(marker).write_text(step)) if point == "order" else None
    bs.import_file(source, "big", on_step=lambda step: mark and step == "order" and mark(step))
"""

SAVE_CHILD = """
import pathlib, sys, time
from tokbt.cli import app
from tokbt.runs.store import RunStore
marker = sys.argv[1]
insert = RunStore._insert

def paused_insert(self, table, run_id, source):
    insert(self, table, run_id, source)
    pathlib.Path(marker).write_text(table)
    time.sleep(600)

RunStore._insert = paused_insert
app(sys.argv[2:])
"""


def _spot_csv(path: Path, rows: int) -> None:
    """A valid spot CSV of ``rows`` rows (a multiple of 100): 100 paths of daily bars."""
    paths = 100
    days = rows // paths
    ts = np.repeat(
        np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + days), paths
    )
    close = np.round(2 + np.random.default_rng(0).uniform(0, 1, days * paths), 3)
    table = pa.table(
        {
            "ts": ts.astype("datetime64[us]"),
            "path": np.tile(np.arange(paths, dtype=np.int32), days),
            **{c: close for c in ("open", "close")},
            "high": close + 0.01,
            "low": close - 0.01,
        }
    )
    pacsv.write_csv(table.select(["ts", "path", "open", "high", "low", "close"]), path)


def _start(args: list[str], marker: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", *args]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=marker.parent
    )


def _kill_at(child: subprocess.Popen[bytes], marker: Path, timeout: float = 90) -> None:
    """SIGKILL ``child`` once it has written ``marker`` (fail if it ends or times out first)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"the child ended early: {child.stderr.read().decode()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the child never reached the kill point"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL


def test_a_killed_import_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    _spot_csv(source, ROWS)
    pq.write_table(pacsv.read_csv(source), tmp_path / "big.parquet")
    points = {"order": source, "commit": source, "parquet": tmp_path / "big.parquet"}
    hashes, children = {}, {}
    for point, input_file in points.items():  # the children run at once: one store each
        store = tmp_path / f"{point}.duckdb"
        with BarStore(store) as bs:
            for kind in Kind:
                bs.write_table(valid_bars(kind), "base", kind)
            hashes[point] = content_hash(bs)
        marker = tmp_path / f"{point}.marker"
        args = [IMPORT_CHILD, str(store), str(input_file), str(marker), point]
        children[point] = (_start(args, marker), marker)
    for child, marker in children.values():
        _kill_at(child, marker)
    for point, input_file in points.items():
        with BarStore(tmp_path / f"{point}.duckdb") as bs:
            assert bs.names() == ["base"], point
            assert content_hash(bs) == hashes[point], point
            assert not leftovers(bs), point
            _retry(bs, input_file)
            assert bs.info("big").parts[Kind.SPOT].rows == ROWS
            exported = bs.export("big", tmp_path / f"export-{point}")
        assert validate_file(exported[0], "spot").ok


def _retry(store: BarStore, input_file: Path) -> None:
    """The interrupted write again, to the end: the CSV import, or the Parquet-backed write."""
    if input_file.suffix == ".csv":
        store.import_file(input_file, "big")
        return
    with store.writer("big", storage="parquet") as w:
        w.append_table(Kind.SPOT, pq.read_table(input_file))


def test_a_monte_carlo_killed_while_saving_resumes_and_saves_once(tmp_path: Path) -> None:
    config = tmp_path / "mc.toml"
    config.write_text(
        'chunk_paths = 6\n[market.simulate]\nscenario = "baseline"\npaths = 12\n'
        'horizon_days = 90\nseed = 3\n[[policies]]\nname = "no_hedge"\n[[policies]]\n'
        'name = "static"\nparams = { start = 10, months = 2 }\n[bootstrap]\nresamples = 20\n'
    )
    store, out = tmp_path / "runs.duckdb", tmp_path / "run"
    mc = ["mc", str(config), "--out", str(out), "--workers", "1", "--store", str(store)]
    with RunStore(store) as rs:
        before = rs.save(monte_carlo(load_mc_config(config), out, executor=LocalExecutor(1)))
    saved = before.run_id

    marker = tmp_path / "save.marker"
    _kill_at(_start([SAVE_CHILD, str(marker), *mc], marker), marker)
    listing = CliRunner().invoke(app, ["runs", "ls", "--store", str(store)])
    assert listing.exit_code == 0, listing.output
    assert saved in listing.output
    with RunStore(store, read_only=True) as rs:
        assert list(rs.runs()["run_id"]) == [saved], "the killed save left a run behind"
        assert rs.load(saved).evaluation.equals(before.evaluation)
    assert not list(out.glob("**/*.partial"))

    resumed = monte_carlo(load_mc_config(config), out, executor=LocalExecutor(1))
    assert resumed.record["chunks"]["resumed"] == 2
    with RunStore(store) as rs:
        again = rs.save(resumed)
        assert len(rs.runs()) == 2
        assert rs.load(again.run_id).evaluation.equals(before.evaluation)
