"""tokbt — event-driven backtesting of AI-inference compute-cost hedges with token futures."""

__version__ = "0.1.0"
