"""``refresh`` moved to the leaf utility ``tokbt.numba_cache`` (any room may use it); this
name stays for the core's modules that import it from here."""

from tokbt.numba_cache import refresh

__all__ = ["refresh"]
