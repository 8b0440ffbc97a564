"""Monte Carlo jobs on a Dask cluster: ``tokbt mc --executor dask [--address tcp://host:port]``.

``DaskExecutor`` is an ``Executor`` of ``tokbt.runs.mc``: it runs each job
(``run_job``, one chunk of paths of one grid cell) as a Dask task, either on the
scheduler at ``address`` or on a ``LocalCluster`` of real worker processes that it
starts and stops itself. Every worker writes its chunk's Parquet file into the run's
folder, so with a remote scheduler that folder must be on a file system the workers
share with this machine. Results do not depend on the executor (see
``tokbt.runs.mc``): a Dask run is bit-identical to a local one.

Dask is optional (``pip install 'tokbt[dask]'``); this module imports without it, and
``DaskExecutor`` raises ``DaskMissingError`` when it is not installed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from contextlib import ExitStack
from types import ModuleType
from typing import Any

from tokbt.errors import TokbtError
from tokbt.runs.mc import Job, _drain

INSTALL_HINT = "pip install 'tokbt[dask]'"
"""How to install the optional Dask dependency."""
TASK_PREFIX = "tokbt-mc-"
"""Every task key of a run starts with it."""


class DaskError(TokbtError):
    """The Dask cluster cannot be used (not installed, scheduler not reachable)."""


class DaskMissingError(DaskError, ImportError):
    """``dask.distributed`` is not installed; the message says how to install it."""


def _distributed() -> ModuleType:
    """The ``distributed`` module, or ``DaskMissingError``."""
    try:
        import distributed
    except ImportError as exc:
        raise DaskMissingError(
            f"the Dask executor needs dask.distributed ({exc}); install it with: {INSTALL_HINT}"
        ) from exc
    return distributed


@dataclasses.dataclass
class DaskExecutor:
    """Jobs as Dask tasks, on the scheduler at ``address`` or on a fresh ``LocalCluster``.

    Args:
        address: a running scheduler, ``"tcp://host:port"``. The executor connects a
            client for the run and closes it afterwards; the cluster keeps running.
            Without it, each ``run`` starts a ``LocalCluster`` on this machine with
            ``workers`` worker processes (one thread each; the scheduler, the workers and
            the scheduler's HTTP server or dashboard listen on free ports of 127.0.0.1)
            and shuts it down when the run ends, also on error.
        workers: worker processes of the local cluster (default: every core); ignored
            with ``address``.
        retries: times a failed job is resubmitted before the run gives up.

    ``run`` submits every job as a task keyed ``tokbt-mc-CELL-LO-TOKEN-ATTEMPT`` (TOKEN
    is random per run, so runs sharing a scheduler never share results, and a
    resubmission never collides with the failed attempt), with ``pure=False``. As tasks
    finish it calls ``done(job)``, or ``failed(job, "ErrorType: message")`` for a failed
    attempt and resubmits the job, up to ``retries`` times; when a job has failed
    ``retries + 1`` times it cancels the tasks still pending and raises ``ChunkError``.
    A worker that dies counts as the failure of its task once Dask gives up on it
    (``KilledWorker``).

    Raises:
        DaskMissingError: at construction, when ``dask.distributed`` is not installed.
        ValueError: ``workers`` below 1 or ``retries`` below 0.
    """

    address: str | None = None
    workers: int | None = None
    retries: int = 2

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.retries < 0:
            raise ValueError(f"retries must be at least 0, got {self.retries}")
        _distributed()

    def run(
        self, jobs: Sequence[Job], done: Callable[[Job], None], failed: Callable[[Job, str], None]
    ) -> None:
        """Run every job on the cluster, each failure retried up to ``retries`` times.

        Starts no cluster when there is no job. Raises ``ChunkError`` when a job fails
        every attempt and ``DaskError`` when the scheduler at ``address`` is unreachable.
        """
        if not jobs:
            return
        distributed = _distributed()
        with ExitStack() as stack:
            if self.address is not None:
                try:
                    client = stack.enter_context(distributed.Client(self.address))
                except (OSError, TimeoutError) as exc:
                    raise DaskError(
                        f"cannot reach the Dask scheduler at {self.address}: {exc}"
                    ) from exc
            else:
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=self.workers or os.cpu_count() or 1,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=":0",
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
                client.run(_quiet_failed_tasks)
            _drain_on(client, distributed, jobs, self.retries, done, failed)


def _drain_on(
    client: Any,
    distributed: ModuleType,
    jobs: Sequence[Job],
    retries: int,
    done: Callable[[Job], None],
    failed: Callable[[Job, str], None],
) -> None:
    """``mc._drain`` with Dask futures: one ``as_completed`` stream that every
    submission joins, so waiting for the next finished task costs the same however
    many are pending."""
    token = uuid.uuid4().hex[:8]
    attempts: Counter[tuple[int, int]] = Counter()
    stream = distributed.as_completed(loop=client.loop)

    def submit(fn: Callable[[Job], str], job: Job) -> Any:
        attempt = attempts[job.cell, job.lo]
        attempts[job.cell, job.lo] += 1
        key = f"{TASK_PREFIX}{job.cell}-{job.lo}-{token}-{attempt}"
        future = client.submit(fn, job, key=key, pure=False)
        stream.add(future)
        return future

    def first_done(_pending: Collection[Any]) -> Any:
        return next(stream)

    _drain(submit, jobs, retries, done, failed, first_done)


class _FailedTaskFilter(logging.Filter):
    """Drops a worker's "Compute Failed" record of a tokbt task: tokbt reports every
    failed attempt itself (``failed``), then raises ``ChunkError`` after the last."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Compute Failed") and TASK_PREFIX in message)


def _quiet_failed_tasks() -> None:
    """On a worker of tokbt's own ``LocalCluster``: install ``_FailedTaskFilter`` once.

    Only there: a user's cluster (``address``) keeps its logging as it is.
    """
    logger = logging.getLogger("distributed.worker")
    if not any(isinstance(f, _FailedTaskFilter) for f in logger.filters):
        logger.addFilter(_FailedTaskFilter())


__all__ = ["INSTALL_HINT", "DaskError", "DaskExecutor", "DaskMissingError"]
