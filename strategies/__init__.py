"""tokbt's built-in hedge policies, registered through the ``tokbt.strategies`` entry
points like any outside plugin; they use only tokbt's public API."""
