"""Burgerberaad: selection by lot with quotas (sortition).

Pure functions for the CLI, the web page and scripts (the web router is in ``.web``):
``load_instance`` → ``run_draw`` (LEXIMIN/MAXIMIN/LEGACY, seeded panel) → ``build_audit``;
``replace_dropouts`` for cancellations; ``draw_from_published`` to verify a draw;
``quotas_from_population``/``area_shares`` for quotas from CBS.
"""

import importlib

# Lazy (PEP 562): importing one submodule, as the CLI does, must not pull in pandas (quotas)
# or scipy.stats; ``weefsel beraad`` starts in well under a second that way.
_WHERE = {"build_audit": "audit", "render_markdown": "audit", "render_report": "audit",
          "load_instance": "io", "write_categories": "io", "area_shares": "quotas",
          "quotas_from_population": "quotas", "draw_from_published": "select", "draw_panel": "select",
          "replace_dropouts": "select", "run_draw": "select"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
