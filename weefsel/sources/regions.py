"""Region selection for ``weefsel build --region``: 'nl', provinces, gemeenten, or a list of them.

Province membership of a gemeente comes from geometry (``boundaries.provincie_of_gemeenten``)
or from ``areas.provincie_code``; the fixed Flevoland list below is only a documented
fallback for offline runs without province polygons.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import pandas as pd

from weefsel.errors import RegionError
from weefsel.sources.boundaries import PROVINCIE_CODES, norm_name

#: CBS provincie names (current spelling) by code.
PROVINCIE_NAMES = {
    "PV20": "Groningen", "PV21": "Fryslân", "PV22": "Drenthe", "PV23": "Overijssel",
    "PV24": "Flevoland", "PV25": "Gelderland", "PV26": "Utrecht", "PV27": "Noord-Holland",
    "PV28": "Zuid-Holland", "PV29": "Zeeland", "PV30": "Noord-Brabant", "PV31": "Limburg",
}

#: Fallback when no geometry and no provincie_code is available: the six Flevoland gemeenten
#: (unchanged since Zeewolde was founded in 1984; CBS gemeentelijke indeling 2024).
FLEVOLAND_GEMEENTEN = {"GM0034": "Almere", "GM0995": "Lelystad", "GM0303": "Dronten",
                       "GM0050": "Zeewolde", "GM0171": "Noordoostpolder", "GM0184": "Urk"}
FALLBACK_MEMBERS = {"PV24": FLEVOLAND_GEMEENTEN}

#: Common names that differ from the CBS name.
GEMEENTE_ALIASES = {"den haag": "GM0518", "the hague": "GM0518", "s gravenhage": "GM0518",
                    "den bosch": "GM0796", "s hertogenbosch": "GM0796"}

NATIONAL = {"nl", "nl00", "nederland", "netherlands", "the netherlands", "land"}
_CODE = re.compile(r"^(PV\d{2}|GM\d{4})$", re.I)


@dataclass
class RegionSelection:
    """The areas a build keeps; ``contains`` decides per area code."""

    name: str
    provincie_codes: list[str] = field(default_factory=list)
    gemeente_codes: list[str] = field(default_factory=list)
    is_national: bool = False
    #: member gemeenten of named regions (RG:...), from area_members; used by ``contains``.
    region_members: dict[str, set[str]] = field(default_factory=dict)

    def contains(self, code: str) -> bool:
        """True for NL00, the selected provinces, the gemeenten and every WK/BU/RG inside them."""
        code = str(code).strip()
        if code.upper() == "NL00" or self.is_national:
            return True
        up = code.upper()
        if up.startswith("PV"):
            return up in self.provincie_codes
        if up.startswith(("GM", "WK", "BU")) and len(up) >= 6:
            return "GM" + up[2:6] in self._gemeenten
        if code in self.region_members:
            return bool(self.region_members[code] & self._gemeenten)
        return False

    @property
    def _gemeenten(self) -> set[str]:
        return set(self.gemeente_codes)

    def with_members(self, members: pd.DataFrame) -> "RegionSelection":
        """Attach area_members (region_code, member_code) so RG codes can be tested."""
        grouped: dict[str, set[str]] = {}
        for r, m in zip(members["region_code"], members["member_code"]):
            grouped.setdefault(str(r), set()).add(str(m).upper())
        self.region_members = grouped
        return self


def _gemeente_table(areas: pd.DataFrame) -> pd.DataFrame:
    g = areas[areas["level"] == "gemeente"][["code", "name"]].dropna(subset=["code"])
    g = g.assign(code=g["code"].astype(str).str.strip().str.upper()).drop_duplicates("code")
    return g


def _members_of(pv: str, gemeenten: pd.DataFrame, provincie_of: dict[str, str],
                areas: pd.DataFrame) -> list[str]:
    members = {gm for gm, p in provincie_of.items() if p == pv}
    if "provincie_code" in areas:
        sel = areas[(areas["level"] == "gemeente") & (areas["provincie_code"] == pv)]
        members |= set(sel["code"].astype(str))
    if not members and pv in FALLBACK_MEMBERS:
        members = set(FALLBACK_MEMBERS[pv])
    return sorted(members)


def resolve_region(spec: str, areas: pd.DataFrame, provincie_of: dict[str, str],
                   members: pd.DataFrame | None = None) -> RegionSelection:
    """Parse a ``--region`` spec into a :class:`RegionSelection`.

    Accepts 'nl'/'nederland'; a province by name (case- and accent-insensitive: 'fryslan',
    'noord-holland') or code (PV24); gemeenten by name or code; comma-separated lists.
    Where a name is both a province and a gemeente (Groningen, Utrecht) the province wins;
    write 'gemeente:utrecht' or GM0344 for the gemeente. Unknown names raise
    :class:`RegionError` with the closest matches.
    """
    if not spec or not str(spec).strip():
        raise RegionError("empty --region; use 'nl', a province (flevoland) or gemeenten (almere,lelystad)")
    gemeenten = _gemeente_table(areas)
    gm_names = {gm: str(n) for gm, n in zip(gemeenten["code"], gemeenten["name"]) if pd.notna(n)}
    known_gm = set(gm_names) | set(provincie_of) | set(FLEVOLAND_GEMEENTEN)
    by_gm_name: dict[str, list[str]] = {}
    for gm, n in {**FLEVOLAND_GEMEENTEN, **gm_names}.items():
        by_gm_name.setdefault(norm_name(n), [])
        if gm not in by_gm_name[norm_name(n)]:
            by_gm_name[norm_name(n)].append(gm)
    pv_names = {norm_name(n): c for n, c in PROVINCIE_CODES.items()}
    pv_names.update({norm_name(n): c for c, n in PROVINCIE_NAMES.items()})
    if "level" in areas:
        for c, n in areas.loc[areas["level"] == "provincie", ["code", "name"]].itertuples(index=False):
            if pd.notna(n):
                pv_names.setdefault(norm_name(n), str(c).upper())

    provinces: list[str] = []
    gms: list[str] = []
    labels: list[str] = []
    for raw in str(spec).split(","):
        token = raw.strip()
        if not token:
            continue
        kind = None
        if ":" in token:
            kind, token = (s.strip() for s in token.split(":", 1))
            kind = kind.lower()
        key = norm_name(token)
        if key in NATIONAL and kind is None:
            return RegionSelection(name="Nederland", provincie_codes=sorted(PROVINCIE_NAMES),
                                   gemeente_codes=sorted(known_gm), is_national=True)
        if _CODE.match(token):
            code = token.upper()
            if code.startswith("PV"):
                if code not in PROVINCIE_NAMES:
                    raise RegionError(f"unknown province code {code}; known: PV20..PV31")
                provinces.append(code)
                labels.append(PROVINCIE_NAMES[code])
            else:
                if known_gm and code not in known_gm:
                    raise RegionError(f"unknown gemeente code {code} (not in the region list)")
                gms.append(code)
                labels.append(gm_names.get(code, code))
            continue
        if kind in (None, "provincie", "province") and key in pv_names:
            provinces.append(pv_names[key])
            labels.append(PROVINCIE_NAMES[pv_names[key]])
            continue
        codes = [GEMEENTE_ALIASES[key]] if key in GEMEENTE_ALIASES else list(by_gm_name.get(key, []))
        if not codes:  # 'bergen' → 'Bergen (NH.)' and 'Bergen (L.)': names with a bracketed suffix
            codes = [gm for n, lst in by_gm_name.items() if n.startswith(key + " ") for gm in lst]
        if kind in (None, "gemeente", "gm") and codes:
            if len(codes) > 1:
                options = ", ".join(f"{gm_names.get(c, c)} ({c})" for c in codes)
                raise RegionError(f"'{token}' is ambiguous: {options}; give the code")
            gms.append(codes[0])
            labels.append(gm_names.get(codes[0], token))
            continue
        candidates = {**{n: PROVINCIE_NAMES[c] for n, c in pv_names.items()},
                      **{n: gm_names.get(lst[0], n) for n, lst in by_gm_name.items()}}
        close = difflib.get_close_matches(key, list(candidates), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(candidates[c] for c in close)}?" if close else ""
        raise RegionError(f"unknown region '{token}'{hint} "
                          "(use 'nl', a province name or PVxx code, or gemeente names/GMxxxx codes, "
                          "comma-separated)")

    all_gm = set(gms)
    for pv in provinces:
        found = _members_of(pv, gemeenten, provincie_of, areas)
        if not found:
            raise RegionError(f"no gemeenten known for {PROVINCIE_NAMES[pv]} ({pv}): load the province "
                              "polygons or a region list with provincie codes")
        all_gm |= set(found)
    sel = RegionSelection(name=", ".join(dict.fromkeys(labels)),
                          provincie_codes=sorted(set(provinces)), gemeente_codes=sorted(all_gm))
    if members is not None:
        sel.with_members(members)
    return sel


def resolve_region_online(spec: str, *, year: int | None = None, pdok=None) -> RegionSelection:
    """Resolve ``spec`` without local files: gemeente and provincie outlines from the PDOK WFS.

    Tries the given year, else this year and the two before (PDOK publishes a service per year).
    Used by the build when there is no data folder.
    """
    from datetime import date

    from weefsel.sources.boundaries import PdokClient, provincie_of_gemeenten

    pdok = pdok or PdokClient()
    errors = []
    for y in ([year] if year else [date.today().year - k for k in range(3)]):
        try:
            gem = pdok.fetch("gemeente", y)
            prov = pdok.fetch("provincie", y)
        except Exception as exc:  # noqa: BLE001 - try the previous year's service
            errors.append(f"{y}: {exc}")
            continue
        return resolve_region(spec, gem.areas, provincie_of_gemeenten(gem, prov))
    if norm_name(spec) in NATIONAL or "," not in spec and norm_name(spec) == "flevoland":
        areas = pd.DataFrame({"code": list(FLEVOLAND_GEMEENTEN), "name": list(FLEVOLAND_GEMEENTEN.values()),
                              "level": "gemeente"})
        return resolve_region(spec, areas, {})
    raise RegionError(f"cannot resolve region {spec!r} online (PDOK not reachable: {'; '.join(errors)}); "
                      "give gemeente codes (GM0034,GM0995) or a data folder with boundaries")
