"""Facility and place lists as CSV (schools, GP practices, a gemeente's own list).

A row becomes one point in RD New with its **placement precision** (``placement``):

* ``exact``: the row's own coordinates (WGS84 ``lat``/``lon`` or RD ``x``/``y``), address level;
* ``pc6`` / ``pc4``: only a postcode was usable, the point is that postcode's centroid
  (``weefsel.sources.postcode``); a PC6 without a PC6 table falls back to its PC4.

The type comes from the weefsel typology (``typology.yaml``): a ``type`` column whose values
are typology keys or their Dutch/English labels, a fixed type in a mapping file, or the
file name (``huisartsenpraktijken_*.csv`` -> ``gp_practice``, ``scholen_*.csv`` -> ``school``).

**Column mapping.** Columns are found by common names (``lat``/``latitude``/``breedtegraad``,
``postcode``, ``naam`` ...). For any other layout put a mapping file beside the CSV, named like
the CSV with ``.yaml`` instead of ``.csv`` (``buurthuizen.csv`` -> ``buurthuizen.yaml``)::

    type: community_centre          # one type for every row, or:
    type_column: soort              # a column with the type per row
    type_values: {BH: community_centre, BIEB: library}   # its values -> typology keys
    columns: {id: nummer, name: locatie, lat: breedte, lon: lengte,
              x: x_coord, y: y_coord, postcode: pc, place: plaats, capacity: m2}
    crs: EPSG:28992                 # CRS of x/y when not RD New
    source: gemeente-almere         # id prefix; publisher / licence for the provenance
    publisher: Gemeente Almere
    licence: CC0

A bad row gives one Dutch line naming file, line and field (``rejections``); the good rows go on.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from weefsel.errors import InputError
from weefsel.sources.base import FACILITY_COLUMNS, Rejection, SourceFrames, sha256_of
from weefsel.sources.coords import latlon_problem, rd_problem, to_rd, wgs84_to_rd
from weefsel.sources.postcode import PostcodeIndex, normalise_postcode
from weefsel.sources.typology import Typology, load_typology

#: Field -> column names tried (lower case), in order.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "facility_id", "brin6", "code", "nummer", "locatie_id", "vestigingsnummer"),
    "name": ("naam", "name", "locatie", "vestigingsnaam", "instellingsnaam", "titel"),
    "type": ("type", "voorziening", "soort_voorziening", "categorie", "category", "typologie"),
    "lat": ("lat", "latitude", "breedtegraad", "y_wgs84"),
    "lon": ("lon", "lng", "long", "longitude", "lengtegraad", "x_wgs84"),
    "x": ("x", "x_rd", "rd_x", "xcoord", "x_coordinaat"),
    "y": ("y", "y_rd", "rd_y", "ycoord", "y_coordinaat"),
    "postcode": ("postcode", "pc6", "postcode6", "pc4", "postcode4"),
    "place": ("plaats", "woonplaats", "place", "city", "plaatsnaam"),
    "capacity": ("capaciteit", "capacity"),
}
MAPPING_KEYS = {"type", "type_column", "type_values", "columns", "crs", "source", "publisher",
                "licence", "name"}
PLACEMENTS = ("exact", "pc6", "pc4")
#: Columns kept in ``tags`` (JSON) besides the mapped ones, when present.
KEEP_TAGS = ("straat", "straat_huisnummer", "adres", "postcode", "plaats", "soort", "brin",
             "denomination_code", "denominatie_code")


def read_mapping(path: Path) -> dict[str, Any]:
    """A mapping file (YAML) checked for known keys."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"kan het koppelbestand niet lezen ({exc})", where=str(path)) from exc
    if not isinstance(doc, dict):
        raise InputError("koppelbestand is geen YAML-mapping", where=str(path),
                         expected="type/type_column, columns: {...}")
    unknown = sorted(set(doc) - MAPPING_KEYS)
    if unknown:
        raise InputError(f"onbekende sleutel(s) {', '.join(unknown)} in koppelbestand",
                         where=str(path), expected=", ".join(sorted(MAPPING_KEYS)))
    cols = doc.get("columns") or {}
    if not isinstance(cols, dict) or set(cols) - set(ALIASES):
        raise InputError(f"columns kent alleen {', '.join(ALIASES)}", where=str(path))
    return doc


def mapping_path(csv_path: Path) -> Path | None:
    """The sidecar mapping of a CSV (``x.yaml`` or ``x.yml`` beside ``x.csv``), if any."""
    for suffix in (".yaml", ".yml"):
        p = csv_path.with_suffix(suffix)
        if p.is_file():
            return p
    return None


def type_lookup(typology: Typology) -> dict[str, str]:
    """Every spelling of a type a person may write -> typology key (lower case)."""
    out: dict[str, str] = {}
    raw = _plural_labels()
    for t in typology.types:
        for label in (t.key, t.label_nl, t.label_en, raw.get(t.key)):
            if label:
                for part in str(label).split(" / "):
                    out.setdefault(part.strip().lower(), t.key)
                    out.setdefault(part.strip().lower().replace(" ", "_"), t.key)
    return out


@lru_cache(maxsize=1)
def _plural_labels() -> dict[str, str]:
    """Dutch plurals from typology.yaml (the Typology object does not carry them)."""
    from weefsel.sources.typology import TYPOLOGY_PATH

    doc = yaml.safe_load(TYPOLOGY_PATH.read_text(encoding="utf-8"))["types"]
    return {k: v.get("label_nl_plural") for k, v in doc.items() if v.get("label_nl_plural")}


def type_from_name(path: Path, typology: Typology) -> str | None:
    """The type a file name says, when one of its words is a type's key or label."""
    words = re.split(r"[_\-.\s]+", path.stem.lower())
    lookup = type_lookup(typology)
    hits = {lookup[w] for w in words if w in lookup}
    return hits.pop() if len(hits) == 1 else None


def _pick(columns: list[str], field: str, mapped: dict[str, str], where: str) -> str | None:
    if field in mapped:
        want = str(mapped[field])
        if want not in columns:
            raise InputError(f"kolom {want!r} (columns.{field} in het koppelbestand) staat niet "
                             f"in de kop; gevonden: {', '.join(columns[:10])}", where=where)
        return want
    lower = {c.strip().lower(): c for c in columns}
    for alias in ALIASES[field]:
        if alias in lower:
            return lower[alias]
    return None


def _read(path: Path, where: str) -> pd.DataFrame:
    """All cells as text; ',' or ';' sniffed; UTF-8, else Windows-1252 (Dutch Excel's 'CSV')."""
    last: Exception | None = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with open(path, encoding=encoding) as fh:
                head = fh.readline()
            sep = ";" if head.count(";") > head.count(",") else ","
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, sep=sep)
        except FileNotFoundError as exc:
            raise InputError("bestand niet gevonden", where=where) from exc
        except UnicodeDecodeError as exc:
            last = exc
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"kan de CSV niet lezen ({str(exc)[:160]})", where=where,
                             expected="een CSV met kopregel, gescheiden door ',' of ';'") from exc
    raise InputError(f"kan de CSV niet lezen ({str(last)[:160]})", where=where,
                     expected="UTF-8 of Windows-1252") from last


def _id_columns(columns: list[str], given: object, where: str) -> list[str]:
    """Columns whose values together identify a row: the mapping's (a name or a list), DUO's
    BRIN + vestiging (its ``brin6`` repeats for vestiging 000 and 100), else a common id name."""
    if given is not None:
        cols = [str(c) for c in (given if isinstance(given, list) else [given])]
        missing = [c for c in cols if c not in columns]
        if missing:
            raise InputError(f"kolom {missing[0]!r} (columns.id in het koppelbestand) staat niet "
                             "in de kop", where=where)
        return cols
    lower = {c.strip().lower(): c for c in columns}
    if "brin" in lower and "vestiging" in lower:
        return [lower["brin"], lower["vestiging"]]
    found = _pick(columns, "id", {}, where)
    return [found] if found else []


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def load_facility_csv(path: Path, *, postcodes: PostcodeIndex | None = None,
                      mapping: dict[str, Any] | Path | None = None,
                      typology: Typology | None = None) -> SourceFrames:
    """Read one facility list into facilities (with ``placement``) and per-row rejections."""
    path = Path(path)
    where = str(path)
    typology = typology or load_typology()
    if isinstance(mapping, Path):
        mapping = read_mapping(mapping)
    elif mapping is None:
        side = mapping_path(path)
        mapping = read_mapping(side) if side else {}
    df = _read(path, where)
    df.columns = [c.strip() for c in df.columns]
    columns = list(df.columns)
    mapped = {k: v if isinstance(v, list) else str(v)
              for k, v in (mapping.get("columns") or {}).items()}
    id_cols = _id_columns(columns, mapped.pop("id", None), where)
    col = {f: _pick(columns, f, mapped, where) for f in ALIASES if f != "id"}
    col["id"] = "+".join(id_cols) if id_cols else None
    if mapping.get("type_column"):
        if mapping["type_column"] not in columns:
            raise InputError(f"type_column {mapping['type_column']!r} staat niet in de kop",
                             where=where)
        col["type"] = mapping["type_column"]
    lookup = type_lookup(typology)
    fixed_type = mapping.get("type")
    if fixed_type is not None and str(fixed_type).lower() not in lookup:
        raise InputError(f"type {fixed_type!r} staat niet in de typologie", where=where,
                         expected=", ".join(typology.keys))
    fixed_type = lookup[str(fixed_type).lower()] if fixed_type is not None else None
    if fixed_type is None and col["type"] is None:
        fixed_type = type_from_name(path, typology)
        if fixed_type is None:
            raise InputError("onbekend soort voorziening: geef een kolom 'type', of een "
                             f"koppelbestand {path.with_suffix('.yaml').name} met 'type:'",
                             where=where, expected=", ".join(typology.keys))
    has_latlon = col["lat"] is not None and col["lon"] is not None
    has_xy = col["x"] is not None and col["y"] is not None
    if not (has_latlon or has_xy or col["postcode"] is not None):
        raise InputError("geen kolommen om te plaatsen: verwacht lat/lon, x/y (RD) of postcode",
                         where=where, expected="lat+lon, x+y of postcode (PC6/PC4)")
    type_values = {str(k).strip().lower(): str(v) for k, v in
                   (mapping.get("type_values") or {}).items()}
    for v in type_values.values():
        if v.lower() not in lookup:
            raise InputError(f"type_values noemt {v!r}, dat staat niet in de typologie",
                             where=where, expected=", ".join(typology.keys))
    source = _slug(str(mapping.get("source") or f"csv:{path.stem}")).replace("csv_", "csv:", 1)
    crs = str(mapping.get("crs") or "EPSG:28992")
    name = path.name

    n = len(df)
    lines = np.arange(n) + 2          # line 1 is the header
    num = lambda c: pd.to_numeric(df[c].str.replace(",", ".", regex=False),
                                  errors="coerce").to_numpy(float) if c else np.full(n, np.nan)
    lat, lon = num(col["lat"]), num(col["lon"])
    xr, yr = num(col["x"]), num(col["y"])
    if has_xy:
        xr, yr = to_rd(xr, yr, crs)
    with np.errstate(invalid="ignore"):
        xw, yw = wgs84_to_rd(np.where(np.isfinite(lon), lon, 0.0), np.where(np.isfinite(lat), lat, 0.0))
    rejections: list[Rejection] = []

    def reject(i: int, field: str | None, problem: str) -> None:
        f = f", veld {field}" if field else ""
        rejections.append(Rejection(name, f"regel {int(lines[i])}{f}",
                                    f"{name}, regel {int(lines[i])}{f}: {problem}"))

    records: list[dict[str, Any]] = []
    seen: dict[str, tuple] = {}
    for i in range(n):
        row = df.iloc[i]
        # type
        if fixed_type is not None:
            ftype = fixed_type
        else:
            raw_t = str(row[col["type"]]).strip()
            ftype = type_values.get(raw_t.lower()) or lookup.get(raw_t.lower())
            ftype = lookup.get(ftype.lower(), ftype) if ftype else None
            if not ftype:
                reject(i, col["type"], f"soort {raw_t!r} staat niet in de typologie "
                       "(gebruik een sleutel uit docs/typology.md of type_values)")
                continue
        # placement: own coordinates first, then the postcode
        x = y = None
        placement = None
        coord_problem = None
        if has_latlon and (row[col["lat"]].strip() or row[col["lon"]].strip()):
            coord_problem = latlon_problem(lat[i], lon[i])
            if coord_problem is None:
                x, y, placement = float(xw[i]), float(yw[i]), "exact"
            else:
                coord_field = f"{col['lat']}/{col['lon']}"
        if x is None and has_xy and (row[col["x"]].strip() or row[col["y"]].strip()):
            problem = rd_problem(xr[i], yr[i])
            if problem is None:
                x, y, placement = float(xr[i]), float(yr[i]), "exact"
            elif coord_problem is None:
                coord_problem, coord_field = problem, f"{col['x']}/{col['y']}"
        pc_text = str(row[col["postcode"]]).strip() if col["postcode"] else ""
        if x is None:
            pc = normalise_postcode(pc_text)
            placed = None
            if pc and postcodes:
                placed = postcodes.place(pc, str(row[col["place"]]) if col["place"] else None)
            if placed is not None:
                x, y, placement = placed
                if coord_problem:
                    reject(i, coord_field, f"{coord_problem}; geplaatst op het midden van "
                           f"postcode {pc[:4] if placement == 'pc4' else pc} ({placement})")
            else:
                if coord_problem:
                    reject(i, coord_field, coord_problem)
                elif not pc_text:
                    reject(i, None, "geen coördinaten en geen postcode")
                elif not pc:
                    reject(i, col["postcode"], f"{pc_text!r} is geen postcode (1234AB of 1234)")
                elif not postcodes:
                    reject(i, col["postcode"], "alleen een postcode en geen postcodetabel "
                           "(postcode/pc4_*.csv) om die te plaatsen")
                else:
                    reject(i, col["postcode"], f"postcode {pc} staat niet in de postcodetabel")
                continue
        # identity: a repeated id with the same data is a duplicate row; with other data it is
        # another facility whose id the file got wrong, so it is kept under a line-suffixed id
        ident = "".join(str(row[c]).strip() for c in id_cols) or f"r{int(lines[i])}"
        fingerprint = tuple(row.tolist())
        if ident in seen:
            if seen[ident] == fingerprint:
                reject(i, col["id"] or "id", f"rij herhaalt een eerdere rij met id {ident!r}; "
                       "overgeslagen")
                continue
            new_id = f"{ident}~r{int(lines[i])}"
            reject(i, col["id"] or "id", f"id {ident!r} komt al eerder voor met andere gegevens; "
                   f"bewaard als {new_id!r}")
            ident = new_id
        seen[ident] = fingerprint
        cap = 1.0
        if col["capacity"] and str(row[col["capacity"]]).strip():
            c = pd.to_numeric(str(row[col["capacity"]]).replace(",", "."), errors="coerce")
            if not np.isfinite(c) or c < 0:
                reject(i, col["capacity"], f"capaciteit {row[col['capacity']]!r} is geen getal "
                       ">= 0; capaciteit 1 gebruikt")
            else:
                cap = float(c)
        tags = {k: str(row[k]) for k in columns if k.lower() in KEEP_TAGS and str(row[k]).strip()}
        tags["placement"] = placement
        records.append({
            "facility_id": f"{source}:{ident}", "type": ftype,
            "name": str(row[col["name"]]).strip() or None if col["name"] else None,
            "source": source, "source_id": ident, "x_rd": x, "y_rd": y, "capacity": cap,
            "area_code": None, "tags": json.dumps(tags, ensure_ascii=False),
            "placement": placement})
    out = SourceFrames(source=source)
    out.facilities = pd.DataFrame(records, columns=FACILITY_COLUMNS) if records else \
        pd.DataFrame({c: pd.Series(dtype="object") for c in FACILITY_COLUMNS})
    out.rejections = rejections
    out.rows_read = n
    out.provenance = [{
        "file": str(path), "sha256": sha256_of(path),
        "publisher": mapping.get("publisher") or _publisher_of(path),
        "licence": mapping.get("licence") or _licence_of(path),
        "table_id": source, "rows_read": n,
        "rows_rejected": len({r.where.split(",")[0] for r in rejections
                              if "geplaatst op" not in r.reason and "capaciteit" not in r.reason})}]
    return out


def _publisher_of(path: Path) -> str:
    name = path.name.lower()
    if "scholen" in name or "school" in name:
        return "DUO (via Scholen op de kaart)"
    if "huisarts" in name:
        return "hand-compiled list (wieismijnwaarnemer)"
    return "facility list (CSV)"


def _licence_of(path: Path) -> str:
    return "unknown (no licence file at the source)" if _publisher_of(path) != \
        "facility list (CSV)" else "unknown"


def is_facility_table(columns: list[str]) -> bool:
    """A header that looks like a facility list: a name and a way to place it."""
    cols = {c.strip().lower() for c in columns}
    has_name = bool(cols & set(ALIASES["name"]))
    placeable = (bool(cols & set(ALIASES["lat"])) and bool(cols & set(ALIASES["lon"]))) or (
        bool(cols & set(ALIASES["x"])) and bool(cols & set(ALIASES["y"]))) or bool(
        cols & set(ALIASES["postcode"]))
    return has_name and placeable
