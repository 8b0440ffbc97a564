"""numba's on-disk cache, kept honest across files.

numba keys a cached function on its own source file only. A function that calls
(or inlines) rules from another file, or reads its constants, keeps the machine
code it was compiled with after that other file changes — the driver in
``tokbt/engine/kernels.py`` would go on booking with yesterday's core rules.
``refresh`` closes the gap: called at the top of a module, before its compiled
functions are defined, it deletes the module's cache files when the sources it
depends on are not the ones its cache was built from. A leaf module: any room may use it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from numba import njit

_PACKAGE = Path(__file__).resolve().parent


def refresh(module_file: str, *depends_on: str) -> None:
    """Delete numba's cache of the module ``module_file`` if any of ``depends_on``
    (paths relative to the ``tokbt`` package, e.g. ``"core/rules.py"``) changed since the
    cache was written. A relocated cache (``NUMBA_CACHE_DIR``) or a read-only install is
    left alone."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    module = Path(module_file).resolve()
    digest = hashlib.sha256()
    for name in depends_on:
        digest.update((_PACKAGE / name).read_bytes())
    folder = module.parent / "__pycache__"
    marker = folder / f"{module.stem}.depends"
    try:
        if marker.exists() and marker.read_text() == digest.hexdigest():
            return
        for stale in (*folder.glob(f"{module.stem}.*.nbi"), *folder.glob(f"{module.stem}.*.nbc")):
            stale.unlink(missing_ok=True)
        folder.mkdir(exist_ok=True)
        partial = marker.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(digest.hexdigest())
        partial.replace(marker)
    except OSError:  # a read-only install: numba will not write a cache there either
        return


NO_REFCOUNTS: dict[str, Any] = {"_nrt": False}
"""numba's option (absent from its type stubs) compiling a function without reference
counts: for compiled code that allocates no array — the compiled driver's loop, decision
kernels compiled with ``tokbt.kernel_strategy.kernel_jit``, the metrics' row passes. numba
counts references to every array a function passes or views with atomic increments, which
cost more than the arithmetic of loops like these (inlined helpers taking arrays made the
metric passes 5x slower). Use as ``njit(..., **NO_REFCOUNTS)`` or ``njit_without_refcounts``."""

F = TypeVar("F", bound=Callable[..., Any])


def njit_without_refcounts(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options, **NO_REFCOUNTS)`` as a typed decorator."""
    decorator: Callable[[F], F] = njit(**options, **NO_REFCOUNTS)
    return decorator
