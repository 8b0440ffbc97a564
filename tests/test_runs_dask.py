"""The Dask executor: a sweep on a LocalCluster of real worker processes is bit-identical
to the local executor and to another chunking; failures are reported, retried, then raised."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import dask
import distributed

from tokbt.errors import TokbtError
from tokbt.runs.dask import DaskError, DaskExecutor, DaskMissingError
from tokbt.runs.mc import ChunkError, Job, LocalExecutor, McConfig, jobs, monte_carlo

CONFIG: dict[str, Any] = {
    "chunk_paths": 20,
    "market": {
        "simulate": {"scenario": "demand_explosion", "paths": 40, "horizon_days": 240, "seed": 3}
    },
    "policies": [{"name": "no_hedge"}, {"name": "static", "params": {"start": 20, "months": 5}}],
    "grid": {"ledger.margin_buffer": [0.0, 0.25]},
    "bootstrap": {"resamples": 100},
}


def config(**changes: Any) -> McConfig:
    return McConfig.model_validate(CONFIG | changes)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a LocalCluster of two worker processes, shared by the module."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address


class Recorder:
    """The ``done`` and ``failed`` callbacks of an executor, recording their calls."""

    def __init__(self) -> None:
        self.done: list[Job] = []
        self.failed: list[tuple[Job, str]] = []

    def on_done(self, job: Job) -> None:
        self.done.append(job)

    def on_failed(self, job: Job, error: str) -> None:
        self.failed.append((job, error))


def test_sweep_on_dask_is_bit_identical_to_local_and_to_other_chunks(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker_pids: list[set[int]] = []

    class Client(distributed.Client):
        """A client that notes its cluster's worker processes before it closes."""

        def close(self, *args: Any, **kwargs: Any) -> Any:
            if self.status == "running":
                worker_pids.append(set(self.run(os.getpid).values()))
            return super().close(*args, **kwargs)

    monkeypatch.setattr(distributed, "Client", Client)
    calls: list[tuple[int, int]] = []

    cfg = config()
    on_dask = monte_carlo(
        cfg, tmp_path / "a", executor=DaskExecutor(workers=2), progress=lambda *c: calls.append(c)
    )
    # The executor's own LocalCluster ran two worker processes, neither of them this one.
    assert len(worker_pids) == 1
    assert len(worker_pids[0]) == 2
    assert os.getpid() not in worker_pids[0]
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]  # done once per job

    local = monte_carlo(cfg, tmp_path / "b", executor=LocalExecutor(workers=1))
    rechunked = monte_carlo(
        config(chunk_paths=15), tmp_path / "c", executor=DaskExecutor(address=scheduler)
    )
    assert len(list((tmp_path / "c").glob("cell-*/paths-*.parquet"))) == 6

    assert on_dask.evaluation.equals(local.evaluation)
    assert on_dask.evaluation.equals(rechunked.evaluation)
    assert on_dask.record["chunks"] == {"total": 4, "resumed": 0, "failures": []}


def test_a_job_that_always_fails_is_retried_reported_then_raised(
    tmp_path: Path, scheduler: str
) -> None:
    good = jobs(config(), tmp_path)[:2]
    bad = Job(cell=0, lo=40, hi=41, config="{not json", out=str(tmp_path))
    seen = Recorder()
    with pytest.raises(ChunkError, match=r"cell 0, paths 40-40, failed after retries"):
        DaskExecutor(address=scheduler, retries=2).run([*good, bad], seen.on_done, seen.on_failed)
    assert [job for job, _ in seen.failed] == [bad] * 3
    assert all(error.startswith("ValidationError: ") for _, error in seen.failed)
    assert bad not in seen.done
    assert len(seen.done) == len(set(seen.done))  # each job reported done at most once


def test_a_failed_attempt_is_resubmitted_and_the_job_reported_done_once(
    tmp_path: Path, scheduler: str
) -> None:
    every = jobs(config(), tmp_path)
    first, second = every[0], every[2]  # cells 0 and 1
    blocker = first.path.parent  # a file where cell 0's folder must go: the write fails
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("")
    seen = Recorder()

    def failed(job: Job, error: str) -> None:
        seen.on_failed(job, error)
        blocker.unlink()  # the next attempt succeeds

    DaskExecutor(address=scheduler, retries=1).run([first, second], seen.on_done, failed)
    assert [job for job, _ in seen.failed] == [first]
    assert seen.failed[0][1].startswith("FileExistsError: ")
    assert sorted(seen.done, key=lambda j: j.cell) == [first, second]
    assert first.path.exists()
    assert second.path.exists()


def test_tokbts_own_cluster_leaves_failed_attempts_to_tokbts_report(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # the workers' "Compute Failed" log would repeat, above tokbt's report, what tokbt
    # reports itself (the executor's `failed`, then ChunkError): on its own cluster it is off
    bad = Job(cell=0, lo=7, hi=8, config="{not json", out=str(tmp_path))
    seen = Recorder()
    with pytest.raises(ChunkError, match=r"cell 0, paths 7-7, failed after retries"):
        DaskExecutor(workers=1, retries=1).run([bad], seen.on_done, seen.on_failed)
    assert [job for job, _ in seen.failed] == [bad] * 2
    err = capfd.readouterr().err
    assert "Compute Failed" not in err
    assert "tokbt-mc-" not in err


def worker_log_filters() -> list[str]:
    """On a worker: the class names of its ``distributed.worker`` logger's filters."""
    return [type(f).__name__ for f in logging.getLogger("distributed.worker").filters]


def test_a_users_cluster_keeps_its_logging(tmp_path: Path, scheduler: str) -> None:
    bad = Job(cell=0, lo=9, hi=10, config="{not json", out=str(tmp_path))
    with pytest.raises(ChunkError):
        DaskExecutor(address=scheduler, retries=0).run(
            [bad], Recorder().on_done, Recorder().on_failed
        )
    with distributed.Client(scheduler) as client:
        filters = client.run(worker_log_filters)
    assert all("_FailedTaskFilter" not in names for names in filters.values())


def test_no_job_starts_no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("started a cluster")

    monkeypatch.setattr(distributed, "LocalCluster", refuse)
    DaskExecutor(workers=1).run([], Recorder().on_done, Recorder().on_failed)


def test_an_unreachable_scheduler_is_a_dask_error() -> None:
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(DaskError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:1"),
    ):
        DaskExecutor(address="tcp://127.0.0.1:1").run(
            jobs(config(), Path("unused"))[:1], Recorder().on_done, Recorder().on_failed
        )


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="workers"):
        DaskExecutor(workers=0)
    with pytest.raises(ValueError, match="retries"):
        DaskExecutor(retries=-1)


def test_without_dask_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    with pytest.raises(DaskMissingError, match=r"pip install 'tokbt\[dask\]'") as caught:
        DaskExecutor()
    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value, TokbtError)


def test_the_module_imports_without_dask() -> None:
    code = (
        "import sys; sys.modules['dask'] = sys.modules['distributed'] = None; "
        "import tokbt.runs.dask, tokbt.runs.mc"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
