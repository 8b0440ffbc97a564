"""``with`` support for objects that hold a resource and release it in ``close()``.

A top-level module, like ``tokbt.errors``: every room may import it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """Mixin: ``with obj: ...`` calls ``obj.close()`` on the way out, whatever happens."""

    def close(self) -> None:
        """Release the resource (subclasses; idempotent)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
