"""The pure adherence core: models, timelines, rules, the per-agent reducer.

Nothing in this package does I/O, reads the clock or imports infrastructure
(enforced by import-linter, see pyproject.toml). Time is always passed in.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
