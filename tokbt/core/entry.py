"""Calling the core's rules without numba's per-call typing of their arguments.

A call through a numba dispatcher types every argument first. For the core's state
tuples (``Orders``, ``Book``, ``Terms``, ``Rows``: some forty arrays) that costs more
than a rule's own work on a few paths, and the Python facades call a rule at every
engine step. ``compiled_entry`` compiles a rule for the types of one set of arguments
(or loads it from numba's cache, as a dispatcher call would) and returns its entry
point, which skips the typing; ``Entries`` keeps one per rule for a facade whose state
objects never change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compiled_entry(rule: Any, args: tuple[Any, ...]) -> Callable[..., Any]:
    """``rule`` (a core rule, a numba dispatcher) compiled for the types of ``args`` — or
    loaded from numba's cache — as its entry point.

    The entry point does not check its arguments: every call must pass arguments of the
    types of ``args`` (the same dtypes, dimensions and layouts; ``int`` and ``bool``
    scalars as such).
    """
    from numba import typeof

    signature = tuple(typeof(a) for a in args)  # type: ignore[no-untyped-call]
    entry: Callable[..., Any] = rule.compile(signature)
    return entry


class Entries:
    """Each rule's entry point, compiled on its first call for that call's argument types.

    For a facade whose state tuples and argument kinds never change type: every later
    call of a rule must pass arguments of the types of its first (``compiled_entry``).
    """

    def __init__(self) -> None:
        self._entries: dict[Any, Callable[..., Any]] = {}

    def __call__(self, rule: Any, *args: Any) -> Any:
        """``rule(*args)`` through its entry point."""
        entry = self._entries.get(rule)
        if entry is None:
            entry = self._entries[rule] = compiled_entry(rule, args)
        return entry(*args)
