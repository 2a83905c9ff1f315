"""Which files of a data folder go to which loader.

A file is recognised by its place and name *and* by sniffing its header, so a file
renamed by a person still lands at the right loader and a file that is not what it
claims to be is reported rather than silently ingested. National files sort before
regional subsets of the same kind: the build keeps the first value it sees for
(area, period, variable, breakdown), so a subset only fills codes the national file lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weefsel.errors import InputError, WeefselError

#: KWB table ids per year (CBS Kerncijfers wijken en buurten).
KWB_TABLES = {"2020": "84799NED", "2021": "85039NED", "2022": "85318NED",
              "2023": "85618NED", "2024": "85984NED", "2025": "86165NED"}
HEALTH_TABLE = "50090NED"
#: The publisher's own re-expression of the health monitor on a later indeling: fetched first
#: online, so its values win over our crosswalk of 50090NED where it has them.
HEALTH_REEXPRESSED_TABLE = "50150NED"
SES_TABLE = "85900NED"
VM_TABLE = "85146NED"
ONLINE_TABLES = [*KWB_TABLES.values(), HEALTH_REEXPRESSED_TABLE, HEALTH_TABLE, SES_TABLE,
                 VM_TABLE]

#: Loader kinds, in the order the build runs them (areas of earlier kinds win on names).
KIND_ORDER = ["region_list", "kwb_csv", "kwb_xlsx", "kwb_basic", "buurt_population", "health",
              "ses", "vm", "nabijheid", "crime", "odata", "boundaries", "pdok", "osm", "postcode",
              "facility_csv"]

#: Words in a file name that mark a regional subset of a national file.
SUBSET_WORDS = ("flevoland", "almere", "amsterdam", "lelystad", "utrecht", "rotterdam", "sample")
NATIONAL_WORDS = ("national", "nationaal")

SKIP_DIRS = {"participation", "__pycache__", ".git"}


@dataclass
class SourceSpec:
    """One file (or online table) and the loader that reads it."""

    kind: str
    path: Path | None
    scope: str = "national"              # national | partial | subset | online
    kwargs: dict[str, Any] = field(default_factory=dict)
    table_id: str | None = None

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else f"CBS OData {self.table_id}"

    @property
    def rank(self) -> tuple:
        scope_rank = {"national": 0, "online": 0, "partial": 1, "subset": 2}[self.scope]
        size = -(self.path.stat().st_size if self.path is not None and self.path.exists() else 0)
        return (KIND_ORDER.index(self.kind), scope_rank, self._vintage_distance(), size, self.label)

    def _vintage_distance(self) -> int:
        """Boundaries: prefer the vintage closest to the KWB classification year (2024)."""
        m = re.search(r"(20\d\d)", self.label)
        if self.kind != "boundaries" or not m:
            return 0
        year = int(m.group(1))
        return abs(year - 2024) * 2 - (1 if year > 2024 else 0)


def _scope_of(path: Path) -> str:
    name = path.name.lower()
    if any(w in name for w in NATIONAL_WORDS):
        return "national"
    if "partial" in name:
        return "partial"
    if any(w in name for w in SUBSET_WORDS):
        return "subset"
    return "national"


def _head(path: Path, n: int = 4096) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(n)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc}", where=str(path)) from exc
    return raw.decode("utf-8-sig", errors="replace")


def sniff_csv(path: Path) -> str | None:
    """The loader kind a CSV's header says it is, or None when unrecognised."""
    head = _head(path)
    first = head.splitlines()[0] if head else ""
    if "Nabijheid" in head[:400] or ("Onderwerp" in head and ";" in head) or (
            ";" in first and "Wijken en buurten" in first):
        return "nabijheid"
    cols = {c.strip().strip('"') for c in re.split(r"[,;]", first)}
    if {"Key", "Title"} <= cols and ("Municipality" in cols or "DetailRegionCode" in cols):
        return "region_list"
    if {"Key", "Title"} <= cols and ("Unit" in cols or "Decimals" in cols):
        return "dataproperties"
    if "buurtcode" in cols:
        return "buurt_population"
    if {"code", "level"} <= cols:
        return "kwb_basic"
    if "RegioS" in cols and "Marges" in cols:
        return "vm"
    if any(c.startswith("RegiocodeGemeenteWijkBuurt") for c in cols):
        return "ses"
    if "leeftijdsgroep" in cols or any(c.startswith("Eenzaam_") for c in cols):
        return "health"
    if any(c.startswith("Codering") for c in cols) and any(c.startswith("AantalInwoners")
                                                           for c in cols):
        return "kwb_csv"
    from weefsel.sources.crime import is_crime_table
    if is_crime_table(list(cols)):
        return "crime"
    from weefsel.sources.postcode import is_postcode_table
    if is_postcode_table(list(cols)):
        return "postcode"
    from weefsel.sources.facility_csv import is_facility_table
    if is_facility_table(list(cols)):
        return "facility_csv"
    return None


def discover(data_dir: Path) -> list[SourceSpec]:
    """All recognised sources under ``data_dir``, national before subset, in build order.

    Raises a WeefselError when the folder does not exist or holds nothing weefsel reads.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise WeefselError(f"Data folder {data_dir} does not exist. Give --data DIR, or use "
                           "--online to read the CBS/PDOK sources over the internet.")
    specs: list[SourceSpec] = []
    dataprops: dict[str, Path] = {}
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(data_dir)
        if set(rel.parts[:-1]) & SKIP_DIRS or path.name.startswith("."):
            continue
        name = path.name.lower()
        kind: str | None = None
        if name.endswith(".csv"):
            kind = sniff_csv(path)
            if kind == "dataproperties":
                m = re.search(r"(\d{5}NED)", path.name)
                dataprops[m.group(1) if m else ""] = path
                continue
        elif re.match(r"kwb-?20\d\d.*\.xlsx$", name):
            kind = "kwb_xlsx"
        elif name.endswith((".topojson", ".gpkg")) or (
                name.endswith(".geojson") and "boundaries" in rel.parts):
            kind = "boundaries"
        elif name.endswith(".osm.pbf") or (
                name.endswith((".geojson", ".json")) and "facilities" in rel.parts):
            kind = "osm"
        elif name.endswith(".geojson"):
            kind = "osm" if '"Point"' in _head(path, 2000) else "boundaries"
        if kind is None:
            continue
        spec = SourceSpec(kind=kind, path=path, scope=_scope_of(path))
        m = re.search(r"(\d{5}NED)", path.name)
        spec.table_id = m.group(1) if m else None
        if kind == "kwb_xlsx":
            y = re.search(r"(20\d\d)", name)
            spec.kwargs["year"] = int(y.group(1)) if y else None
        specs.append(spec)
    postcode_tables = [s.path for s in specs if s.kind == "postcode"]
    for spec in specs:
        if spec.kind == "facility_csv":
            spec.kwargs["postcodes"] = postcode_tables
        if spec.kind == "kwb_csv":
            props = dataprops.get(spec.table_id or "") or (
                next(iter(dataprops.values())) if len(dataprops) == 1 else None)
            spec.kwargs["dataproperties"] = props
            if spec.table_id:
                spec.kwargs["table_id"] = spec.table_id
    if not specs:
        raise WeefselError(f"Data folder {data_dir} holds no file weefsel recognises "
                           "(see docs/warehouse.md for the expected layout).")
    return sorted(specs, key=lambda s: s.rank)


def gemeente_filter(gemeente_codes: list[str], key: str = "WijkenEnBuurten") -> str | None:
    """OData $filter selecting the rows of the given gemeenten (and their wijken/buurten).

    CBS keys are right-padded ('GM0034    '); characters 3-6 of every GM/WK/BU code are the
    gemeente number, so one ``substring`` test per gemeente selects all three levels.
    Returns None for 'all' (national builds fetch the whole table).
    """
    if not gemeente_codes:
        return None
    nums = sorted({c[2:6] for c in gemeente_codes})
    return " or ".join(f"substring({key},2,4) eq '{n}'" for n in nums)


def online_specs(tables: list[str] | None = None) -> list[SourceSpec]:
    """The CBS OData tables the online path fetches (the filter is added per region)."""
    return [SourceSpec(kind="odata", path=None, scope="online", table_id=t)
            for t in (tables or ONLINE_TABLES)]
