"""The house plan's rooms: lower rooms never import higher ones, and there is no cycle.

Every ``import tokbt.x`` / ``from tokbt.x import ...`` in ``tokbt/`` (also inside
functions) is read with ``ast`` and checked against each room's allowed rooms
(ARCHITECTURE.md, with ``tokbt/core`` — the compiled core of broker and ledger
rules — between ``market`` and ``ledger``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "tokbt"

UTILITIES = {"errors", "closing", "numeric", "numba_cache"}
"""Shared leaf modules any room may use."""

ALLOWED: dict[str, set[str]] = {
    "market": set(),
    "core": {"market"},
    "data": {"market"},
    "ledger": {"market", "core"},
    "sim": {"market", "data"},
    "engine": {"market", "data", "core", "ledger"},
    "strategy": {"market", "ledger", "engine"},
    "metrics": {"core", "ledger"},
    "kernel_strategy": {"market", "core", "engine", "strategy"},
    "hedge": {"market", "engine", "strategy"},
    "runs": {"market", "data", "sim", "core", "ledger", "engine", "strategy", "metrics", "hedge"},
    "report": {"__init__", "market", "sim", "metrics", "runs"},
    "cli": {"market", "data", "sim", "strategy", "metrics", "runs", "report"},
    "__init__": {"runs"},
}


def _room(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    """The rooms of ``tokbt`` that a module imports."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "tokbt" and len(parts) > 1:
                rooms.add(parts[1])
    return rooms


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        room = _room(path)
        graph.setdefault(room, set()).update(_imports(path) - {room} - UTILITIES)
    return graph


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_a_room_imports_only_the_rooms_below_it(room: str) -> None:
    used = _graph().get(room, set())
    assert used <= ALLOWED[room], f"{room} imports {sorted(used - ALLOWED[room])}"


def test_every_room_is_in_the_plan() -> None:
    assert set(_graph()) - UTILITIES <= set(ALLOWED)


def test_the_allowed_rooms_have_no_cycle() -> None:
    """A room's allowed rooms are all of a lower level (so imports cannot form a cycle)."""
    level: dict[str, int] = {}

    def depth(room: str, seen: tuple[str, ...] = ()) -> int:
        assert room not in seen, f"cycle: {' -> '.join((*seen, room))}"
        if room not in level:
            below = [depth(r, (*seen, room)) for r in ALLOWED[room]]
            level[room] = 1 + max(below, default=0)
        return level[room]

    for room in ALLOWED:
        depth(room)
