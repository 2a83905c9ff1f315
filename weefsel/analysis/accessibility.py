"""Accessibility stage (issue 4): the public entry point.

The implementation lives in :mod:`weefsel.analysis.access` (demand, distance, decay,
measures, aggregate, engine, warehouse, cbs); this module re-exports it so callers can
write ``from weefsel.analysis.accessibility import run_access, what_if``.
"""

from weefsel.analysis.access import *  # noqa: F401,F403
from weefsel.analysis.access import __all__  # noqa: F401
