"""``python -m tokbt.cli``: the ``tokbt`` command line (spawned workers import this module as
``__mp_main__``, so the app runs only when it is the main module)."""

from tokbt.cli import app

if __name__ == "__main__":  # pragma: no cover
    app()
