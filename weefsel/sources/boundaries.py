"""Area boundaries (CBS/PDOK gebiedsindelingen, municipal buurt files) into ``areas`` rows.

Reads GeoJSON, TopoJSON and GeoPackage in any CRS and stores every polygon as WKB in
RD New (EPSG:28992), because all distances and areas in weefsel are computed in metres.
The CRS a file *claims* is checked against its coordinate ranges: a file in RD that claims
lon/lat (a common export mistake) is refused instead of silently landing in the ocean.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import httpx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import shape

from weefsel.config import STORAGE_CRS
from weefsel.errors import InputError
from weefsel.sources.base import AREA_COLUMNS, Rejection, SourceFrames, sha256_of

#: Property names that hold the area code, in order of preference (publisher conventions:
#: PDOK gebiedsindelingen ``statcode``, Amsterdam ``cbsCode``, CBS wijk-en-buurtkaart ``gwb_code``).
CODE_KEYS = ("statcode", "cbsCode", "cbscode", "gwb_code", "gwb_code_10", "gwb_code_8",
             "buurtcode", "wijkcode", "gemeentecode", "BU_CODE", "WK_CODE", "GM_CODE", "PV_CODE",
             "code", "id")
NAME_KEYS = ("statnaam", "naam", "name", "gwb_naam", "buurtnaam", "wijknaam", "gemeentenaam",
             "BU_NAAM", "WK_NAAM", "GM_NAAM", "PV_NAAM", "provincienaam")
PREFIX_LEVEL = {"NL": "land", "PV": "provincie", "GM": "gemeente", "WK": "wijk", "BU": "buurt"}
LEVEL_PREFIX = {v: k for k, v in PREFIX_LEVEL.items()}
OGR_SUFFIXES = (".gpkg", ".shp", ".fgb", ".gml", ".zip")
CODE_RE = re.compile(r"^(NL|PV|GM|WK|BU)[0-9A-Z]+$")

#: CBS provincie codes by (accent-free, lower-case) name; Friesland/Fryslân both PV21.
PROVINCIE_CODES = {
    "groningen": "PV20", "fryslan": "PV21", "friesland": "PV21", "drenthe": "PV22",
    "overijssel": "PV23", "flevoland": "PV24", "gelderland": "PV25", "utrecht": "PV26",
    "noord-holland": "PV27", "zuid-holland": "PV28", "zeeland": "PV29", "noord-brabant": "PV30",
    "limburg": "PV31",
}

#: Bounding boxes (xmin, ymin, xmax, ymax) used to tell lon/lat from RD New.
_LONLAT_NL = (2.0, 50.0, 8.0, 54.5)
_RD_NL = (-30_000.0, 280_000.0, 320_000.0, 660_000.0)


def norm_name(text: str) -> str:
    """Lower-case, accent-free, punctuation-free form used to match names (Fryslân → fryslan)."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^0-9a-z]+", " ", text).strip()


def provincie_code_of_name(name: str) -> str | None:
    return PROVINCIE_CODES.get(norm_name(name).replace(" ", "-"))


# --------------------------------------------------------------------------- readers

def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc})", where=str(path),
                         expected="a GeoJSON or TopoJSON file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            f"the file may be truncated ({len(text):,} characters read)",
            where=str(path), expected="a complete GeoJSON or TopoJSON document") from None


def _crs_of_geojson(doc: dict, path: Path) -> CRS:
    """The legacy GeoJSON ``crs`` member, else CRS84 (RFC 7946)."""
    member = doc.get("crs")
    if not member:
        return CRS.from_user_input("OGC:CRS84")
    name = (member.get("properties") or {}).get("name") if isinstance(member, dict) else None
    try:
        return CRS.from_user_input(name)
    except Exception:
        raise InputError(f"unknown crs member {member!r}", where=str(path),
                         expected="an EPSG or OGC CRS name such as 'EPSG:28992'") from None


def decode_topojson(topo: dict, object_name: str | None = None) -> list[tuple[dict, Any]]:
    """Decode a TopoJSON topology into (properties, shapely geometry) pairs.

    Arcs are delta-encoded when the topology has a ``transform`` (quantized): positions are the
    running sum of the deltas, then ``x * scale + translate``. Arc index ``~i`` (i.e. ``-i-1``)
    means arc ``i`` reversed; consecutive arcs in a ring share their joint point.
    """
    transform = topo.get("transform")
    raw_arcs = topo.get("arcs") or []
    arcs: list[np.ndarray] = []
    for arc in raw_arcs:
        a = np.asarray(arc, dtype=float)[:, :2] if len(arc) else np.empty((0, 2))
        if transform:
            a = np.cumsum(a, axis=0) * np.asarray(transform["scale"], float) \
                + np.asarray(transform["translate"], float)
        arcs.append(a)

    def ring(indices: list[int]) -> np.ndarray:
        parts = []
        for k, i in enumerate(indices):
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            parts.append(a if k == 0 else a[1:])
        return np.concatenate(parts) if parts else np.empty((0, 2))

    def point(p: list[float]) -> list[float]:
        if transform:
            return [p[0] * transform["scale"][0] + transform["translate"][0],
                    p[1] * transform["scale"][1] + transform["translate"][1]]
        return p

    def geom(g: dict):
        t = g.get("type")
        if t == "Polygon":
            return shapely.Polygon(ring(g["arcs"][0]), [ring(r) for r in g["arcs"][1:]])
        if t == "MultiPolygon":
            return shapely.MultiPolygon([shapely.Polygon(ring(p[0]), [ring(r) for r in p[1:]])
                                         for p in g["arcs"]])
        if t == "LineString":
            return shapely.LineString(ring(g["arcs"]))
        if t == "Point":
            return shapely.Point(point(g["coordinates"]))
        return None

    objects = topo.get("objects") or {}
    names = [object_name] if object_name else list(objects)
    out: list[tuple[dict, Any]] = []

    def walk(g: dict) -> None:
        if g.get("type") == "GeometryCollection" and "geometries" in g:
            for sub in g["geometries"]:
                walk(sub)
            return
        props = dict(g.get("properties") or {})
        if "id" in g and "id" not in props:
            props["id"] = g["id"]
        out.append((props, geom(g) if g.get("type") else None))

    for name in names:
        if name not in objects:
            raise InputError(f"TopoJSON has no object {name!r}; it has {sorted(objects)}")
        walk(objects[name])
    return out


def _read_features(path: Path, level: str | None) -> tuple[list[tuple[dict, Any]], CRS, str | None]:
    """(properties, geometry) pairs, the CRS and the document's ``name`` member (metadata)."""
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise InputError("top-level JSON is not an object", where=str(path),
                         expected="a GeoJSON FeatureCollection or a TopoJSON Topology")
    if doc.get("type") == "Topology":
        objects = doc.get("objects") or {}
        name = None
        if level and len(objects) > 1:
            matches = [n for n in objects if level in n.lower()]
            name = matches[0] if len(matches) == 1 else None
        return decode_topojson(doc, name), _crs_of_geojson(doc, path), None
    if doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list):
            raise InputError("FeatureCollection without a 'features' list", where=str(path))
        for i, f in enumerate(feats):
            if not isinstance(f, dict) or f.get("type") != "Feature":
                raise InputError(f"feature {i} is not a GeoJSON Feature object", where=str(path),
                                 expected='{"type": "Feature", "geometry": ..., "properties": ...}')
        geoms = _geoms_of(feats, path)
        out = []
        for f, geom in zip(feats, geoms):
            props = dict(f.get("properties") or {})
            if "id" in f and "id" not in props:
                props["id"] = f["id"]
            out.append((props, geom))
        doc_name = doc.get("name") if isinstance(doc.get("name"), str) else None
        return out, _crs_of_geojson(doc, path), doc_name
    raise InputError(f"JSON type {doc.get('type')!r} is not supported", where=str(path),
                     expected="a GeoJSON FeatureCollection or a TopoJSON Topology")


def _geoms_of(feats: list[dict], path: Path) -> list[Any]:
    """Shapely geometries of GeoJSON features, converted in one vectorised call (a national
    buurt file took seconds feature by feature); a broken one is named by its index."""
    raw = [f.get("geometry") for f in feats]
    try:
        texts = [json.dumps(g) if g else None for g in raw]
        geoms = shapely.from_geojson(texts, on_invalid="raise")
        return [g if g is not None else None for g in geoms]
    except Exception:
        pass
    out = []
    for i, g in enumerate(raw):
        try:
            out.append(shape(g) if g else None)
        except Exception as exc:
            raise InputError(f"geometry cannot be read ({exc})", where=f"{path}: feature {i}",
                             expected="a GeoJSON Polygon or MultiPolygon") from None
    return out


def _ogr_layers(path: Path, level: str | None) -> list[str]:
    """Polygon layers to read: the one named after ``level`` if given, else all of them
    (the CBS wijk- en buurtkaart GeoPackage holds gemeenten, wijken and buurten as layers)."""
    import pyogrio

    try:
        listing = [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputError(f"cannot open as a GIS file ({exc})", where=str(path),
                         expected="a GeoPackage with a polygon layer") from None
    polygons = [n for n, t in listing if "polygon" in t.lower()] or [n for n, _ in listing]
    if not polygons:
        raise InputError("no layers", where=str(path), expected="a GeoPackage with a polygon layer")
    if level:
        matches = [n for n in polygons if level in n.lower()]
        if len(matches) == 1:
            return matches
    return polygons


def _read_ogr_layer(path: Path, layer: str) -> tuple[list[tuple[dict, Any]], CRS]:
    import pyogrio

    gdf = pyogrio.read_dataframe(path, layer=layer)
    if gdf.crs is None:
        raise InputError(f"layer {layer!r} has no CRS", where=str(path),
                         expected="a layer with a declared CRS such as EPSG:28992")
    props = gdf.drop(columns=gdf.geometry.name).to_dict("records")
    return list(zip(props, list(gdf.geometry.values))), CRS.from_user_input(gdf.crs)


# ------------------------------------------------------------------------- conversion

def _check_crs_range(geoms: np.ndarray, crs: CRS, where: str) -> None:
    valid = geoms[~shapely.is_missing(geoms)]
    if not len(valid):
        return
    xmin, ymin, xmax, ymax = shapely.total_bounds(valid)
    looks_rd = _RD_NL[0] <= xmin and xmax <= _RD_NL[2] and _RD_NL[1] <= ymin and ymax <= _RD_NL[3]
    looks_ll = -180 <= xmin and xmax <= 180 and -90 <= ymin and ymax <= 90
    box = f"coordinates span x {xmin:,.3f}..{xmax:,.3f}, y {ymin:,.3f}..{ymax:,.3f}"
    if crs.is_geographic and not looks_ll:
        hint = " which looks like RD New (EPSG:28992)" if looks_rd else ""
        raise InputError(f"the file claims lon/lat ({crs.name}) but its {box}{hint}", where=where,
                         expected="a 'crs' member naming the real CRS, e.g. "
                                  "{\"type\":\"name\",\"properties\":{\"name\":\"EPSG:28992\"}}, "
                                  "or load_boundaries(..., crs='EPSG:28992')")
    if crs.is_projected and looks_ll and xmax - xmin < 20:
        raise InputError(f"the file claims {crs.name} but its {box}, which looks like lon/lat",
                         where=where, expected="the CRS the coordinates are really in")


def _to_rd(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    target = CRS.from_user_input(STORAGE_CRS)
    if crs == target:
        return geoms
    tr = Transformer.from_crs(crs, target, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def _pick_key(props: list[dict], keys: Iterable[str], pattern: re.Pattern | None = None) -> str | None:
    present = set().union(*(p.keys() for p in props)) if props else set()
    lower = {k.lower(): k for k in present}
    for key in keys:
        real = key if key in present else lower.get(key.lower())
        if real is None:
            continue
        values = [p.get(real) for p in props if p.get(real) not in (None, "")]
        if not values:
            continue
        if pattern is None:
            return real
        hits = sum(bool(pattern.match(str(v).strip())) for v in values)
        if hits >= 0.5 * len(values):
            return real
    return None


def _years_in(text: str) -> list[int]:
    return [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", str(text))]


def _vintage_from(path: Path) -> int | None:
    years = _years_in(path.name)
    return max(years) if years else None


#: Gemeente codes with a known first or last year of existence (CBS gemeentelijke indeling),
#: used to date a boundary file from its codes: a file holding Haaren (GM0788) is of 2020 or
#: earlier; one holding Land van Cuijk (GM1982) of 2022 or later.
GEMEENTE_YEARS: dict[str, tuple[int | None, int | None]] = {
    "GM0788": (None, 2020),   # Haaren, split over Boxtel, Oisterwijk, Tilburg, Vught in 2021
    "GM0756": (None, 2021),   # Boxmeer  -> Land van Cuijk (GM1982) in 2022
    "GM1684": (None, 2021),   # Cuijk    -> Land van Cuijk
    "GM0786": (None, 2021),   # Grave    -> Land van Cuijk
    "GM0815": (None, 2021),   # Mill en Sint Hubert -> Land van Cuijk
    "GM1702": (None, 2021),   # Sint Anthonis -> Land van Cuijk
    "GM0457": (None, 2021),   # Weesp -> Amsterdam in 2022
    "GM0398": (None, 2021),   # Heerhugowaard -> Dijk en Waard (GM1980) in 2022
    "GM0416": (None, 2021),   # Langedijk -> Dijk en Waard
    "GM0501": (None, 2022),   # Brielle -> Voorne aan Zee (GM1992) in 2023
    "GM0530": (None, 2022),   # Hellevoetsluis -> Voorne aan Zee
    "GM0614": (None, 2022),   # Westvoorne -> Voorne aan Zee
    "GM1959": (2019, None),   # Altena
    "GM1960": (2019, None),   # West Betuwe
    "GM1961": (2019, None),   # Vijfheerenlanden
    "GM1963": (2019, None),   # Hoeksche Waard
    "GM1966": (2019, None),   # Het Hogeland
    "GM1969": (2019, None),   # Westerkwartier
    "GM1970": (2019, None),   # Noardeast-Fryslân
    "GM1978": (2019, None),   # Molenlanden
    "GM1980": (2022, None),   # Dijk en Waard
    "GM1982": (2022, None),   # Land van Cuijk
    "GM1991": (2022, None),   # Maashorst
    "GM1992": (2023, None),   # Voorne aan Zee
}


def vintage_range_of_codes(codes: Iterable[str]) -> tuple[int | None, int | None]:
    """(earliest, latest) indeling year the gemeente codes in ``codes`` allow (None = open)."""
    gms = {"GM" + c[2:6] for c in codes if isinstance(c, str) and c[:2] in ("GM", "WK", "BU")
           and len(c) >= 6}
    lo = max((GEMEENTE_YEARS[g][0] for g in gms if g in GEMEENTE_YEARS
              and GEMEENTE_YEARS[g][0] is not None), default=None)
    hi = min((GEMEENTE_YEARS[g][1] for g in gms if g in GEMEENTE_YEARS
              and GEMEENTE_YEARS[g][1] is not None), default=None)
    return lo, hi


def detect_vintage(path: Path | None, props: list[dict], codes: Iterable[str],
                   doc_name: str | None = None) -> tuple[int | None, str]:
    """The indeling year of a boundary file and how it was found.

    In order: the features' own year (PDOK ``jaarcode``/``jrstatcode``), the document's
    ``name`` member, the file name, then the gemeente codes (``GEMEENTE_YEARS``). A year from
    metadata or name that the codes contradict (a file called 2024 holding Haaren) gives way
    to the codes, so an old file is never taken for current boundaries.
    """
    codes = list(codes)
    lo, hi = vintage_range_of_codes(codes)
    found: tuple[int | None, str] = (None, "unknown")
    for key in ("jaarcode", "jaar", "jrstatcode"):
        vals = [p.get(key) for p in props[:50] if p.get(key) not in (None, "")]
        years = [y for v in vals for y in _years_in(str(v)[:4])]
        if years:
            found = (max(years), f"property {key}")
            break
    if found[0] is None and doc_name and _years_in(doc_name):
        found = (max(_years_in(doc_name)), "document name")
    if found[0] is None and path is not None and _vintage_from(path):
        found = (_vintage_from(path), "file name")
    year, how = found
    if year is not None and ((hi is not None and year > hi) or (lo is not None and year < lo)):
        span = f"{lo or '..'}-{hi or '..'}"
        return (hi if hi is not None else lo), f"gemeente codes (fit {span}; {how} said {year})"
    if year is None and hi is not None:   # codes that ended: an old file, at latest `hi`
        return hi, "gemeente codes"
    return year, how


#: Property names that mark approximate (fitted) polygons, with their quality figures.
APPROX_KEYS = ("fit_iou_gemeente", "fit_m_per_svg_unit")


def geom_quality_of(path: Path | None, props: list[dict], source: str = "") -> str:
    """exact | generalised | approximate for the polygons of one file or service.

    Approximate: features carry fit quality fields or the name says 'benaderd'/'approx'.
    Generalised: CBS/PDOK 'gegeneraliseerd' files and the PDOK service. Anything else (a
    gemeente's own file such as Amsterdam's buurten) is taken as exact.
    """
    name = (path.name if path is not None else source).lower()
    if any(k in p for p in props[:20] for k in APPROX_KEYS) or "benaderd" in name \
            or "approx" in name:
        return "approximate"
    if "gegeneraliseerd" in name or "generalised" in name or name.startswith("pdok:") \
            or any("jrstatcode" in p for p in props[:1]):
        return "generalised"
    return "exact"


def _geom_note(quality: str, p: dict, vintage: int | None) -> str | None:
    """Dutch note shown beside the polygon (profile, export)."""
    if quality == "approximate":
        bits = []
        if p.get("fit_m_per_svg_unit") not in (None, ""):
            bits.append(f"ca. {float(p['fit_m_per_svg_unit']):.0f} m per tekeneenheid")
        if p.get("fit_iou_gemeente") not in (None, ""):
            bits.append(f"overlap met de gemeentegrens {float(p['fit_iou_gemeente']):.2f}")
        extra = f" ({'; '.join(bits)})" if bits else ""
        return ("Benaderde grens: vereenvoudigde buurtvorm ingepast op de wijkgrenzen, "
                f"tientallen meters onnauwkeurig{extra}.")
    if quality == "generalised":
        return f"Gegeneraliseerde CBS/PDOK-grens{f' (indeling {vintage})' if vintage else ''}."
    return None


def _polygonal(g):
    """Keep only the polygon parts of a repaired geometry (make_valid can add lines/points)."""
    if g is None or g.is_empty:
        return None
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    if g.geom_type == "GeometryCollection":
        polys = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
        if polys:
            return shapely.union_all(polys)
    return None


def _publisher(path: Path, props: list[dict]) -> tuple[str, str]:
    name = path.name.lower()
    if "amsterdam" in name and any("cbsCode" in p for p in props[:1]):
        return "Gemeente Amsterdam (gebieden/buurten)", "CC0 or CC BY 4.0 (attribute Gemeente Amsterdam)"
    if "benaderd" in name or any(k in p for p in props[:1] for k in APPROX_KEYS):
        return ("CBS/Kadaster via PDOK (buurt_gegeneraliseerd), approximately refitted",
                "CC BY 4.0")
    if "gegeneraliseerd" in name or any("jrstatcode" in p for p in props[:1]):
        return "CBS/Kadaster via PDOK (gebiedsindelingen)", "CC BY 4.0"
    return "unknown", "unknown"


#: Extra area columns a boundary file fills (see schema.sql: areas).
GEOM_COLUMNS = ["geom_quality", "geom_note"]


def features_to_frames(features: list[tuple[dict, Any]], crs: CRS, source: str, *,
                       where: str, level: str | None = None, vintage: int | None = None,
                       path: Path | None = None, doc_name: str | None = None) -> SourceFrames:
    """Shared tail of every boundary reader: codes, levels, CRS check, repair, RD, WKB.

    ``vintage`` is checked against the codes (:func:`detect_vintage`); the frames carry
    ``indeling`` (= vintage) and the polygons' ``geom_quality``/``geom_note``.
    """
    frames = SourceFrames(source=source)
    props = [p for p, _ in features]
    frames.rows_read = len(features)
    if not features:
        raise InputError("no features", where=where, expected="at least one polygon")
    code_key = _pick_key(props, CODE_KEYS, CODE_RE)
    if code_key is None and level:
        code_key = _pick_key(props, CODE_KEYS)
    if code_key is None:
        keys = sorted(set().union(*(p.keys() for p in props)))
        raise InputError(f"no area-code property found among {keys}", where=where,
                         expected=f"one of {', '.join(CODE_KEYS[:8])} holding codes like GM0034")
    name_key = _pick_key(props, NAME_KEYS)
    level_prefix = LEVEL_PREFIX.get(level or "")
    quality = geom_quality_of(path, props, source)

    geoms = np.array([g for _, g in features], dtype=object)
    _check_crs_range(geoms, crs, where)
    geoms = _to_rd(geoms, crs)

    rows: list[dict] = []
    kept: list[Any] = []
    first_index: dict[str, int] = {}
    valid = shapely.is_valid(geoms)       # vectorised: the per-feature check was the hot spot
    for i, (p, g) in enumerate(zip(props, geoms)):
        raw = p.get(code_key)
        code = str(raw).strip().upper().replace(" ", "") if raw not in (None, "") else ""
        if code and not CODE_RE.match(code) and level_prefix:
            code = level_prefix + code
        if not code:
            frames.rejections.append(Rejection(source, f"feature {i}", f"no value in '{code_key}'"))
            continue
        lvl = PREFIX_LEVEL.get(code[:2]) or level
        if lvl is None:
            frames.rejections.append(Rejection(source, f"feature {i} ({code})",
                                               "code has no GM/WK/BU/PV prefix and no level given"))
            continue
        if code in first_index:
            raise InputError(f"area code {code} appears twice: features {first_index[code]} and {i}",
                             where=where, expected="one feature per area code")
        first_index[code] = i
        if g is not None:
            if g.geom_type not in ("Polygon", "MultiPolygon"):
                frames.rejections.append(Rejection(
                    source, f"feature {i} ({code})", f"geometry is a {g.geom_type}, not a polygon"))
                continue
            if not valid[i]:
                # reason text without its coordinates, so the build report can group the notes
                full = shapely.is_valid_reason(g)
                kind, _, at = full.partition("[")
                spot = f"feature {i} ({code})" + (f" at RD {at.rstrip(']')}" if at else "")
                fixed = _polygonal(shapely.make_valid(g))
                if fixed is None:
                    frames.rejections.append(Rejection(
                        source, spot, f"invalid geometry ({kind}) cannot be repaired; row dropped"))
                    continue
                frames.rejections.append(Rejection(
                    source, spot, f"invalid geometry ({kind}) repaired with make_valid; row kept"))
                g = fixed
        gm = "GM" + code[2:6] if lvl in ("gemeente", "wijk", "buurt") and len(code) >= 6 else None
        rows.append({
            "code": code,
            "level": lvl,
            "name": (str(p[name_key]).strip() if name_key and p.get(name_key) is not None else None),
            "gemeente_code": gm,
            "wijk_code": "WK" + code[2:8] if lvl == "buurt" and len(code) >= 8 else None,
            "provincie_code": code if lvl == "provincie" else None,
            "vintage": vintage,
            "source": source,
            "geom_quality": quality if g is not None else None,
            "geom_note": (_geom_note(quality, p, vintage) if quality == "approximate" else None)
            if g is not None else None,
        })
        kept.append(g)
    frames.areas = pd.DataFrame(rows, columns=[*AREA_COLUMNS, *GEOM_COLUMNS])
    frames.areas["geom_rd"] = list(shapely.to_wkb(np.array(kept, dtype=object))) if kept else []
    codes = frames.areas["code"].tolist()
    if vintage is None:
        vintage, how = detect_vintage(path, props, codes, doc_name)
    else:
        how = "given"
        lo, hi = vintage_range_of_codes(codes)
        if (hi is not None and vintage > hi) or (lo is not None and vintage < lo):
            fixed = hi if hi is not None and vintage > hi else lo
            how = f"gemeente codes (fit {lo or '..'}-{hi or '..'}; {vintage} was given)"
            vintage = fixed
    if how.startswith("gemeente codes ("):
        frames.rejections.append(Rejection(
            source, "whole file", f"indeling taken as {vintage} from its {how}"))
    frames.vintage_how = how
    frames.areas["vintage"] = vintage
    if quality != "approximate":
        note = _geom_note(quality, {}, vintage)
        frames.areas["geom_note"] = frames.areas["geom_quality"].map(
            lambda q: note if isinstance(q, str) else None)
    frames.areas["vintage"] = frames.areas["vintage"].astype("Int64")
    frames.areas["indeling"] = frames.areas["vintage"]
    if path is not None:
        publisher, licence = _publisher(path, props)
        frames.provenance.append({
            "file": str(path), "sha256": sha256_of(path), "publisher": publisher,
            "licence": licence, "table_id": None, "rows_read": frames.rows_read,
            "rows_rejected": frames.rows_read - len(frames.areas),
            "ingested_at": datetime.now(timezone.utc).replace(tzinfo=None),
        })
    return frames


def load_boundaries(path: Path, level: str | None = None, vintage: int | None = None, *,
                    crs: str | None = None) -> SourceFrames:
    """Read one boundary file into ``areas`` rows (geometry as WKB in EPSG:28992).

    ``level`` is only needed when codes carry no GM/WK/BU/PV prefix; ``vintage`` defaults to the
    (latest) year in the file name. ``crs`` overrides what the file declares (for files such as
    cartomap's ``rd/*.topojson`` that are in RD New but carry no CRS). Duplicated codes raise
    :class:`InputError`; invalid polygons are repaired with ``make_valid`` and noted in ``rejections``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", where=str(path), expected="a boundary file")
    if path.suffix.lower() in OGR_SUFFIXES:
        vintage = vintage if vintage is not None else _vintage_from(path)
        parts = []
        for layer in _ogr_layers(path, level):
            features, file_crs = _read_ogr_layer(path, layer)
            parts.append(features_to_frames(features, CRS.from_user_input(crs) if crs else file_crs,
                                            path.name, where=f"{path} layer {layer}",
                                            level=level, vintage=vintage, path=path))
        return _concat_frames(parts, path)
    features, file_crs, doc_name = _read_features(path, level)
    return features_to_frames(features, CRS.from_user_input(crs) if crs else file_crs, path.name,
                              where=str(path), level=level, vintage=vintage, path=path,
                              doc_name=doc_name)


def _concat_frames(parts: list[SourceFrames], path: Path) -> SourceFrames:
    """One SourceFrames for a multi-layer file; a code in two layers is a duplicate."""
    if len(parts) == 1:
        return parts[0]
    out = SourceFrames(source=parts[0].source)
    out.areas = pd.concat([p.areas for p in parts], ignore_index=True)
    dup = out.areas["code"][out.areas["code"].duplicated()]
    if len(dup):
        raise InputError(f"area code {dup.iloc[0]} appears in two layers", where=str(path),
                         expected="each code in one layer only")
    out.rejections = [r for p in parts for r in p.rejections]
    out.rows_read = sum(p.rows_read for p in parts)
    prov = dict(parts[0].provenance[0])
    prov.update(rows_read=out.rows_read, rows_rejected=out.rows_read - len(out.areas))
    out.provenance = [prov]
    return out


# ------------------------------------------------------------------ province lookup

def _geoms_and_codes(frame: Any, *, kind: str) -> tuple[np.ndarray, list[str], list[str | None]]:
    """(RD geometries, codes, names) from SourceFrames, an areas DataFrame or a GeoDataFrame."""
    if isinstance(frame, SourceFrames):
        frame = frame.areas
    try:
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a dependency
        gpd = None
    if gpd is not None and isinstance(frame, gpd.GeoDataFrame):
        gdf = frame.to_crs(STORAGE_CRS) if frame.crs is not None else frame
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        cols = {c.lower(): c for c in gdf.columns}
        ck = next((cols[k.lower()] for k in CODE_KEYS if k.lower() in cols), None)
        nk = next((cols[k.lower()] for k in NAME_KEYS if k.lower() in cols), None)
        codes = [str(c).strip() for c in gdf[ck]] if ck else [None] * len(gdf)
        names = list(gdf[nk]) if nk else [None] * len(gdf)
        return geoms, codes, names
    if not isinstance(frame, pd.DataFrame) or "geom_rd" not in frame:
        raise InputError(f"{kind} must be SourceFrames, an areas DataFrame with geom_rd, or a GeoDataFrame")
    frame = frame[frame["geom_rd"].notna()]
    geoms = shapely.from_wkb(frame["geom_rd"].to_numpy())
    names = list(frame["name"]) if "name" in frame else [None] * len(frame)
    return geoms, [str(c) for c in frame["code"]], names


def provincie_of_gemeenten(gemeenten: Any, provincies: Any) -> dict[str, str]:
    """Map GMxxxx → PVxx by the gemeente's representative point inside the province polygon.

    The representative point (always inside the polygon, unlike the centroid) is matched to the
    province that contains it; where generalised outlines of different years leave it just
    outside every province, the nearest province within 5 km is used.
    """
    g_geoms, g_codes, _ = _geoms_and_codes(gemeenten, kind="gemeenten")
    p_geoms, p_codes, p_names = _geoms_and_codes(provincies, kind="provincies")
    pv = []
    for code, name in zip(p_codes, p_names):
        if code and str(code).upper().startswith("PV"):
            pv.append(str(code).upper())
        else:
            pv.append(provincie_code_of_name(name or "") or "")
    keep = [i for i, c in enumerate(g_codes) if c and c.upper().startswith("GM")]
    points = shapely.point_on_surface(g_geoms[keep])
    tree = shapely.STRtree(p_geoms)
    pt_idx, pv_idx = tree.query(points, predicate="within")
    out: dict[str, str] = {}
    for pi, vi in zip(pt_idx, pv_idx):
        out.setdefault(g_codes[keep[pi]].upper(), pv[vi])
    missing = [k for k, i in enumerate(keep) if g_codes[i].upper() not in out]
    if missing:
        near_pt, near_pv = tree.query_nearest(points[missing], max_distance=5_000)
        for pi, vi in zip(near_pt, near_pv):
            out.setdefault(g_codes[keep[missing[pi]]].upper(), pv[vi])
    return {k: v for k, v in out.items() if v}


# ------------------------------------------------------------------ online: PDOK WFS

class PdokClient:
    """CBS gebiedsindelingen from the PDOK WFS (GeoJSON output, paged with startIndex/count).

    Asks for EPSG:28992 so no axis-order ambiguity arises (WFS 2.0 EPSG:4326 is lat/lon).
    Layer names: ``gebiedsindelingen:<level>_gegeneraliseerd`` in the yearly service
    (https://service.pdok.nl/cbs/gebiedsindelingen/<year>/wfs/v1_0).
    """

    URL = "https://service.pdok.nl/cbs/gebiedsindelingen/{year}/wfs/v1_0"

    def __init__(self, url: str = URL, client: httpx.Client | None = None, page_size: int = 1000):
        self.url = url
        self.client = client or httpx.Client(timeout=120, headers={"User-Agent": "weefsel"})
        self.page_size = page_size

    def fetch(self, level: str, year: int, *, layer: str | None = None) -> SourceFrames:
        """All features of ``gebiedsindelingen:<level>_gegeneraliseerd`` (or ``layer``) for ``year``."""
        if level not in ("provincie", "gemeente", "wijk", "buurt"):
            raise InputError(f"PDOK has no level {level!r}", expected="provincie, gemeente, wijk or buurt")
        layer = layer or f"gebiedsindelingen:{level}_gegeneraliseerd"
        url = self.url.format(year=year)
        features: list[tuple[dict, Any]] = []
        start = 0
        crs = CRS.from_user_input(STORAGE_CRS)
        while True:
            params = {"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                      "typeNames": layer, "outputFormat": "application/json",
                      "srsName": "EPSG:28992", "count": self.page_size, "startIndex": start}
            resp = self.client.get(url, params=params)
            if resp.status_code != 200:
                raise InputError(f"PDOK answered HTTP {resp.status_code}: {resp.text[:200]}",
                                 where=f"{url} {layer}", expected="a GeoJSON page")
            try:
                doc = resp.json()
            except ValueError:
                raise InputError("PDOK answer is not JSON", where=f"{url} {layer} startIndex={start}",
                                 expected="outputFormat=application/json") from None
            page = doc.get("features") or []
            if doc.get("crs"):
                crs = _crs_of_geojson(doc, Path(url))
            for f in page:
                props = dict(f.get("properties") or {})
                g = f.get("geometry")
                features.append((props, shape(g) if g else None))
            if len(page) < self.page_size:
                break
            start += len(page)
        frames = features_to_frames(features, crs, f"pdok:{layer}:{year}", where=f"{url} {layer}",
                                    level=level, vintage=year)
        frames.provenance.append({
            "file": f"{url}?typeNames={layer}", "sha256": None,
            "publisher": "CBS/Kadaster via PDOK (gebiedsindelingen)", "licence": "CC BY 4.0",
            "table_id": layer, "rows_read": frames.rows_read,
            "rows_rejected": frames.rows_read - len(frames.areas),
            "ingested_at": datetime.now(timezone.utc).replace(tzinfo=None)})
        return frames
