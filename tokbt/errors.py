"""Exceptions tokbt raises for problems a user can fix."""


class TokbtError(Exception):
    """Base class: a problem with the user's input, config or store, with a message to show."""


class DataError(TokbtError):
    """A data file or dataset that tokbt cannot use (unreadable, wrong shape, missing)."""


class StoreError(TokbtError):
    """A store operation that cannot be done as asked (name taken, dataset unknown, ...)."""
