"""Burgerberaad: selection by lot with quotas (sortition).

Pure functions for the CLI, the web page and scripts (the web router is in ``.web``):
``load_instance`` → ``run_draw`` (LEXIMIN/MAXIMIN/LEGACY, seeded panel) → ``build_audit``;
``replace_dropouts`` for cancellations; ``draw_from_published`` to verify a draw;
``quotas_from_population``/``area_shares`` for quotas from CBS.
"""

from weefsel.participation.sortition.audit import build_audit, render_markdown, render_report
from weefsel.participation.sortition.io import load_instance, write_categories
from weefsel.participation.sortition.quotas import area_shares, quotas_from_population
from weefsel.participation.sortition.select import (
    draw_from_published,
    draw_panel,
    replace_dropouts,
    run_draw,
)

__all__ = ["area_shares", "build_audit", "draw_from_published", "draw_panel", "load_instance",
           "quotas_from_population", "render_markdown", "render_report", "replace_dropouts",
           "run_draw", "write_categories"]
