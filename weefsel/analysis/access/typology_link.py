"""Link accessibility to the weefsel typology (weefsel/sources/typology.yaml, H2).

Which facility types count as meeting places for variety and reach, and which CBS
Nabijheid variable a type corresponds to (for ``compare_with_cbs``). The typology is
optional here: without it every type counts as a meeting place.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd


def _typology():
    try:
        from weefsel.sources.typology import load_typology
        return load_typology()
    except Exception:  # typology missing or broken: the stage still runs, with all types
        return None


def meeting_types(present: Iterable[str]) -> tuple[str, ...] | None:
    """Types among ``present`` that the typology marks ``meeting_place: true``.

    None (= every type counts) when the typology is unavailable or marks none of them.
    """
    typ = _typology()
    present = list(present)
    if typ is None:
        return None
    known = {t.key: t.meeting_place for t in typ.types}
    chosen = tuple(t for t in present if known.get(t, False))
    return chosen or None


def cbs_values_for_type(nabijheid: pd.DataFrame, type_key: str) -> pd.DataFrame:
    """The CBS distance (km) per area for ``type_key`` from a ``read_nabijheid_export`` frame.

    Empty when the type has no CBS counterpart (e.g. buurthuis) or the export lacks it.
    """
    typ = _typology()
    cols = ["area_code", "name", "value"]
    if typ is None:
        return pd.DataFrame(columns=cols)
    try:
        title = typ[type_key].nabijheid_title
    except KeyError:
        return pd.DataFrame(columns=cols)
    if not title:
        return pd.DataFrame(columns=cols)
    last = title.split("|")[-1].lower()
    var = nabijheid["variable"].str.replace("/", "|").str.lower()
    hit = var.str.endswith(last) | var.str.endswith(last + " (km)")
    return nabijheid.loc[hit, [c for c in cols if c in nabijheid.columns]].reset_index(drop=True)
