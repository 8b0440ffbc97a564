"""One way to say what is wrong with a config: ``field.path: problem; ...``."""

from __future__ import annotations

from pydantic import ValidationError


def describe(exc: ValidationError) -> str:
    """Each broken field of a pydantic validation error as ``a.b: message``, joined by ``; ``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or '<top>'}: {err['msg']}"
        for err in exc.errors()
    )
