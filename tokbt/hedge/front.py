"""The rolled front-month series: daily changes of the front month contract, each taken
within one contract, and the back-adjusted levels they add up to (numpy, no engine).

**Roll rule** (``roll_days``, the engine's own, ``Chain.nearby(0, roll_days)``): on
exchange day ``t`` the front is the month contract with the earliest last trading day
among those at least ``roll_days`` exchange days from it (``expiry − t ≥ roll_days``,
0 on the last trading day itself). With ``roll_days = 0`` a contract is front through
its last trading day and the next one takes over the day after; with ``roll_days = 5``
(tokbt's default) the roll is five exchange days before the last trading day.

**Changes**: the change on day ``t`` is that of the contract front *on day t*, from its
settlement on day ``t − 1`` to its settlement on day ``t``. On a roll day that is the
new front's change, never the difference between the new front's price and the old
one's, so a roll never enters as a price jump. The *back-adjusted* level series
(additive adjustment) is the front's settlement plus the sum of the roll gaps ahead of
it: its last row is the current front's price and its day-to-day differences are
exactly these changes.

Two layouts are served:

* **listed slots** (``tokbt.sim``): ``settle`` ``(n_days, n_paths, n_slots)`` with
  ``listed`` ``(n_days, n_slots)`` the contract id in each slot (-1: empty), one row per
  exchange day (``front_contracts``, ``rolled_changes``, ``back_adjusted``); a history
  whose columns are fixed contracts is the case ``listed[t] = ids`` for every row;
* **nearby series** (what ``Context.nearby`` serves a hedge block): the front's
  settlement under ``roll_days`` and under ``roll_days + 1`` (``rolled_paired_changes``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tokbt.hedge.estimators import paired_changes

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


def front_contracts(
    listed: Ints, expiry: Ints, roll_days: int, *, eligible: Mask | None = None
) -> Ints:
    """The front contract's id on each row, by the module's roll rule.

    Args:
        listed: ``(n_days, n_slots)`` contract ids listed on each exchange day (-1: none).
        expiry: ``(n_contracts,)`` the exchange-day row of each contract's last trading
            day, on the rows' axis (it may lie past the last row).
        roll_days: exchange days before the last trading day from which a contract no
            longer counts (``≥ 0``).
        eligible: ``(n_contracts,)`` the contracts that may be front (default all; pass
            the month contracts where quarters and years are listed too).

    Returns:
        ``(n_days,)``: on row ``t`` the eligible listed id with the smallest ``expiry``
        among those with ``expiry − t ≥ roll_days`` (ties: the smaller id), -1 if none.
    """
    if roll_days < 0:
        raise ValueError(f"roll_days must be non-negative, got {roll_days}")
    listed = np.asarray(listed, dtype=np.int64)
    expiry = np.asarray(expiry, dtype=np.int64)
    if listed.shape[1] == 0:
        return np.full(len(listed), -1, dtype=np.int64)
    ok = listed >= 0
    ids = np.where(ok, listed, 0)
    ok &= expiry[ids] - np.arange(len(listed))[:, None] >= roll_days
    if eligible is not None:
        ok &= np.asarray(eligible, dtype=bool)[ids]
    # the earliest (expiry, id): the key is unique per contract
    key = np.where(ok, expiry[ids] * (len(expiry) + 1) + ids, np.iinfo(np.int64).max)
    front = np.take_along_axis(ids, np.argmin(key, axis=1)[:, None], axis=1)[:, 0]
    return np.where(ok.any(axis=1), front, -1).astype(np.int64)


def roll_rows(front: Ints) -> Mask:
    """``(n_days,)``: the rows whose front differs from the row before's (the rolls;
    row 0 is not one)."""
    front = np.asarray(front)
    out = np.zeros(len(front), dtype=bool)
    out[1:] = front[1:] != front[:-1]
    return out


def _slot(listed: Ints, ids: Ints) -> Ints:
    """``(n_days,)``: the slot of ``ids[t]`` in ``listed[t]`` (-1: not listed or no id)."""
    hit = (listed == ids[:, None]) & (ids[:, None] >= 0)
    return np.where(hit.any(axis=1), np.argmax(hit, axis=1), -1)


def _settle_of(settle: Floats, listed: Ints, ids: Ints) -> Floats:
    """``(n_days, n_paths)``: each row's settlement of contract ``ids[t]`` (NaN: not listed)."""
    slot = _slot(listed, ids)
    rows = np.arange(len(ids))
    out = settle[rows, :, np.maximum(slot, 0)]
    return np.where((slot >= 0)[:, None], out, np.nan)


def rolled_changes(settle: Floats, listed: Ints, front: Ints) -> Floats:
    """Daily changes of the front contract, each within one contract.

    Args:
        settle: ``(n_days, n_paths, n_slots)`` daily settlements, aligned with ``listed``.
        listed: ``(n_days, n_slots)`` contract ids per slot (-1: none).
        front: ``(n_days,)`` the front's id per row (``front_contracts``; -1: none).

    Returns:
        ``(n_days, n_paths)``: row ``t`` is ``F_c(t) − F_c(t − 1)`` with ``c = front[t]``
        — on a roll day the new front's own change. NaN on row 0, where there is no
        front, or where ``c`` has no settlement on ``t`` or ``t − 1``.
    """
    settle = np.asarray(settle, dtype=np.float64)
    listed = np.asarray(listed, dtype=np.int64)
    front = np.asarray(front, dtype=np.int64)
    out = np.full(settle.shape[:2], np.nan)
    if len(front) > 1:
        now = _settle_of(settle[1:], listed[1:], front[1:])
        before = _settle_of(settle[:-1], listed[:-1], front[1:])
        out[1:] = now - before
    return out


def back_adjusted(settle: Floats, listed: Ints, front: Ints) -> Floats:
    """The back-adjusted (additive) front-month level series.

    ``A(t) = F_front(t)(t) + Σ_{rolls s > t} gap(s)``, where a roll on row ``s`` (the
    front changes from ``a`` to ``b``) has ``gap(s) = F_b(s − 1) − F_a(s − 1)``: the
    last row is the current front's settlement, and ``A(t) − A(t − 1)`` equals
    ``rolled_changes`` wherever both are defined. A NaN gap on a path leaves that
    path's earlier levels NaN (their adjustment is unknown).

    Arguments as ``rolled_changes``; returns ``(n_days, n_paths)``.
    """
    settle = np.asarray(settle, dtype=np.float64)
    listed = np.asarray(listed, dtype=np.int64)
    front = np.asarray(front, dtype=np.int64)
    level = _settle_of(settle, listed, front)
    rolls = np.flatnonzero(roll_rows(front))
    gap = np.zeros(level.shape)
    if len(rolls):
        new = _settle_of(settle[rolls - 1], listed[rolls - 1], front[rolls])
        old = _settle_of(settle[rolls - 1], listed[rolls - 1], front[rolls - 1])
        gap[rolls] = new - old
    # the adjustment of row t sums the gaps of the rolls after it
    ahead = np.cumsum(gap[::-1], axis=0)[::-1]
    adjustment = np.zeros(level.shape)
    adjustment[:-1] = ahead[1:]
    return np.asarray(level + adjustment, dtype=np.float64)


def rolled_paired_changes(level: Floats, front: Floats, successor: Floats) -> tuple[Floats, Floats]:
    """Changes of ``level`` (the index) and of the rolled front, from nearby series.

    ``front`` is the front's settlement under ``roll_days`` (``Context.nearby(0,
    roll_days=r)``) and ``successor`` the front's under ``roll_days + 1``
    (``Context.nearby(0, roll_days=r + 1)``), rows as ``tokbt.hedge.estimators.
    paired_changes``. Row ``i`` holds, for each path with ``level`` and ``front`` both
    at ``i``, ``level[i] − level[k]`` and ``front[i] − successor[k]``, with ``k`` the
    path's previous row with both (NaN elsewhere, and where ``successor[k]`` is NaN).

    Why ``successor``: for consecutive exchange days ``k < i`` a contract is at least
    ``r`` exchange days from its last trading day on ``i`` exactly when it is at least
    ``r + 1`` from it on ``k``, so the front under ``r`` on ``i`` is the front under
    ``r + 1`` on ``k`` — the same contract, also across a roll. This holds where the
    rows with a futures settlement are consecutive exchange days, one row each (the
    daily settlement bars of every market tokbt builds or implies); a market with a
    missing exchange day, or several futures rows a day, pairs other rows. Without a
    roll between ``k`` and ``i``, ``successor[k] = front[k]`` and this is
    ``paired_changes(level, front)``.
    """
    return paired_changes(level, front, before=successor)
