"""Indicators of the social fabric: the catalogue, and the notebook-friendly API.

    from weefsel.indicators import compute_indicators, svi, composite, inequality
    values = compute_indicators("weefsel.duckdb", level="buurt")      # long DataFrame
    ranks = svi("weefsel.duckdb", level="buurt", reference="province")
    index = composite("weefsel.duckdb", spec=CompositeSpec(normalisation="zscore"))
    index.attrs["sensitivity"]                                          # which choice moves ranks
"""

from weefsel.analysis.composite import CompositeSpec
from weefsel.indicators.catalogue import Catalogue, Indicator, load_catalogue
from weefsel.indicators.pipeline import (compute_all, compute_indicators, composite, inequality,
                                         load_weights, run_index, svi, write_tables)

__all__ = ["Catalogue", "CompositeSpec", "Indicator", "compute_all", "compute_indicators",
           "composite", "inequality", "load_catalogue", "load_weights", "run_index", "svi",
           "write_tables"]
