"""Feed: one timeline of dense per-path arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from conftest import DAYS, consumption_frame, futures_frame, spot_frame

from tokbt.data import BarStore, Feed


def _load(store: BarStore, paths: int = 3) -> None:
    fut = pd.concat(
        [
            futures_frame(paths=paths, contracts=("TPI-2026-03",)),
            # the Feb contract trades only on the last three days
            futures_frame(paths=paths, contracts=("TPI-2026-02",), days=DAYS[2:]),
        ]
    ).sort_values(["ts", "path", "contract"])
    for kind, frame in (
        ("spot", spot_frame(paths)),
        ("futures", fut),
        ("consumption", consumption_frame(paths)),
    ):
        store.write_table(pa.Table.from_pandas(frame, preserve_index=False), "ds", kind)


def test_dense_arrays_with_nan_for_missing_bars(store: BarStore) -> None:
    _load(store)
    feed = Feed(store, "ds")
    assert feed.contracts == ("TPI-2026-02", "TPI-2026-03")  # delivery order
    assert feed.paths.tolist() == [0, 1, 2]
    assert feed.timeline.tolist() == DAYS.to_numpy().astype("datetime64[us]").tolist()
    snaps = list(feed)
    assert len(snaps) == 5
    first, last = snaps[0], snaps[-1]
    np.testing.assert_allclose(first.spot["close"], [2.0, 2.1, 2.2])
    assert first.futures["settle"].shape == (3, 2)
    assert np.isnan(first.futures["settle"][:, 0]).all()  # Feb not traded yet
    np.testing.assert_allclose(first.futures["settle"][:, 1], [2.0, 2.1, 2.2])
    np.testing.assert_allclose(last.futures["settle"][:, 0], [2.02, 2.12, 2.22])
    np.testing.assert_allclose(last.consumption["tokens"], [1000.0, 1001.0, 1002.0])
    np.testing.assert_allclose(last.consumption["plan"], 1000.0)


def test_block_size_does_not_change_the_data(store: BarStore) -> None:
    _load(store)
    whole = Feed(store, "ds")
    tiny = Feed(store, "ds", memory_budget=1)
    assert tiny.block_size == 1
    assert whole.block_size >= 5
    for a, b in zip(whole, tiny, strict=True):
        assert a.ts == b.ts
        for kind in ("spot", "futures", "consumption"):
            for field, arr in getattr(a, kind).items():
                np.testing.assert_array_equal(arr, getattr(b, kind)[field])


def test_selected_paths_keep_their_order(store: BarStore) -> None:
    _load(store, paths=4)
    feed = Feed(store, "ds", paths=[3, 1])
    snap = next(iter(feed))
    np.testing.assert_allclose(snap.spot["close"], [2.3, 2.1])


def test_recorded_single_path_spot_only(tmp_path: Path) -> None:
    with BarStore(tmp_path / "s.duckdb") as store:
        store.write_table(pa.Table.from_pandas(spot_frame(1), preserve_index=False), "rec", "spot")
        feed = Feed(store, "rec")
        assert feed.n_paths == 1
        assert feed.contracts == ()
        block = next(feed.blocks())
        assert block.spot["close"].shape == (5, 1)
        assert block.futures == {}
