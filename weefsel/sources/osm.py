"""OpenStreetMap facilities (Overpass JSON, GeoJSON, optional .osm.pbf) on the weefsel typology.

Every element becomes at most one point in RD New: nodes as they are, ways/relations and
polygons by their Overpass ``center`` or a representative point (always inside the shape).
OSM tags are mapped onto ``typology.yaml``; elements that match no type are dropped and
counted, because most OSM amenities (parking, benches...) are not social infrastructure.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import httpx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from weefsel.config import STORAGE_CRS
from weefsel.errors import InputError, WeefselError
from weefsel.sources.base import FACILITY_COLUMNS, Rejection, SourceFrames, sha256_of
from weefsel.sources.typology import Typology, load_typology

log = logging.getLogger(__name__)

OSM_PUBLISHER = "OpenStreetMap contributors"
OSM_LICENCE = "ODbL 1.0 (© OpenStreetMap contributors)"
#: Tags kept (as JSON) besides the ones that decided the type.
KEEP_TAGS = ("name", "opening_hours", "wheelchair", "operator", "website")
#: Property names that are GeoJSON-export metadata, not OSM tags.
_META = {"@id", "id", "type", "osm_id", "osm_type", "@type", "@timestamp", "@version",
         "@changeset", "@user", "@uid", "timestamp", "version"}

_TO_RD = Transformer.from_crs("EPSG:4326", STORAGE_CRS, always_xy=True)

# ------------------------------------------------------------------ element → point


def _point_of_coords(coords: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Representative point of a way's node list (closed → polygon, else line centroid)."""
    if not coords:
        return None
    if len(coords) == 1:
        return coords[0]
    if len(coords) >= 4 and coords[0] == coords[-1]:
        poly = shapely.Polygon(coords)
        g = shapely.make_valid(poly) if not poly.is_valid else poly
        p = g.point_on_surface()
    else:
        p = shapely.LineString(coords).centroid
    return (p.x, p.y)


def _overpass_point(el: dict) -> tuple[float, float] | None:
    if "lon" in el and "lat" in el:
        return (float(el["lon"]), float(el["lat"]))
    if isinstance(el.get("center"), dict):
        return (float(el["center"]["lon"]), float(el["center"]["lat"]))
    if isinstance(el.get("geometry"), list):
        return _point_of_coords([(float(p["lon"]), float(p["lat"])) for p in el["geometry"] if p])
    if isinstance(el.get("bounds"), dict):
        b = el["bounds"]
        return ((b["minlon"] + b["maxlon"]) / 2, (b["minlat"] + b["maxlat"]) / 2)
    members = [m for m in el.get("members") or [] if isinstance(m.get("geometry"), list)]
    coords = [(float(p["lon"]), float(p["lat"])) for m in members for p in m["geometry"] if p]
    if coords:
        c = shapely.MultiPoint(coords).envelope.centroid
        return (c.x, c.y)
    return None


# Each record: (osm_type, osm_id, lon, lat, tags)
Record = tuple[str, str, float, float, dict]


def _records_from_overpass(doc: dict, source: str, rejections: list[Rejection]) -> tuple[list[Record], int]:
    elements = doc.get("elements")
    if not isinstance(elements, list):
        raise InputError("no 'elements' list", where=source, expected="an Overpass API JSON response")
    out: list[Record] = []
    for i, el in enumerate(elements):
        tags = el.get("tags") or {}
        if not tags:
            continue  # untagged nodes are way vertices, not facilities
        pt = _overpass_point(el)
        if pt is None:
            rejections.append(Rejection(source, f"element {i} ({el.get('type')}/{el.get('id')})",
                                        "no coordinates; query with 'out center' or 'out geom'"))
            continue
        out.append((str(el.get("type", "node")), str(el.get("id")), pt[0], pt[1], tags))
    return out, len(elements)


def _records_from_geojson(doc: dict, source: str, rejections: list[Rejection]) -> tuple[list[Record], int]:
    feats = doc.get("features")
    if not isinstance(feats, list):
        raise InputError("FeatureCollection without 'features'", where=source)
    out: list[Record] = []
    for i, f in enumerate(feats):
        props = dict(f.get("properties") or {})
        tags = props.get("tags") if isinstance(props.get("tags"), dict) else {
            k: v for k, v in props.items() if k not in _META and v is not None}
        if "osm_keyword" in tags:  # KaMatulla sample: osm_keyword is the amenity value
            tags = {k: v for k, v in tags.items() if k != "osm_keyword"}
            tags.setdefault("amenity", props["osm_keyword"])
        ident = str(props.get("@id") or props.get("id") or f.get("id") or "")
        if "/" in ident:
            osm_type, osm_id = ident.split("/", 1)
        else:
            osm_type = str(props.get("osm_type") or props.get("type") or "node")
            osm_id = str(props.get("osm_id") or ident or i)
        g = f.get("geometry")
        try:
            geom = shapely.geometry.shape(g) if g else None
        except Exception:
            geom = None
        if geom is None or geom.is_empty:
            rejections.append(Rejection(source, f"feature {i}", "no readable geometry"))
            continue
        p = geom if geom.geom_type == "Point" else shapely.make_valid(geom).point_on_surface()
        out.append((osm_type, osm_id, p.x, p.y, tags))
    return out, len(feats)


def _records_from_pbf(path: Path, typology: Typology, rejections: list[Rejection]) -> tuple[list[Record], int]:
    try:
        import osmium  # BSD-2-Clause; optional
    except ImportError:
        raise InputError("reading .osm.pbf needs the optional package 'osmium' (pip install osmium)",
                         where=str(path), expected="Overpass JSON or GeoJSON, or osmium installed") from None
    out: list[Record] = []
    n = 0
    for obj in osmium.FileProcessor(str(path)).with_locations():
        n += 1
        if not len(obj.tags):
            continue
        tags = {t.k: t.v for t in obj.tags}
        if typology.classify(tags) is None:
            continue
        if obj.is_node():
            pt = (obj.location.lon, obj.location.lat) if obj.location.valid() else None
            kind = "node"
        elif obj.is_way():
            pt = _point_of_coords([(nd.lon, nd.lat) for nd in obj.nodes if nd.location.valid()])
            kind = "way"
        else:
            rejections.append(Rejection(str(path), f"relation/{obj.id}",
                                        "relations are not read from .pbf (use Overpass 'out center')"))
            continue
        if pt is None:
            rejections.append(Rejection(str(path), f"{kind}/{obj.id}", "no node locations"))
            continue
        out.append((kind, str(obj.id), pt[0], pt[1], tags))
    return out, n


# ------------------------------------------------------------------ records → frames


def records_to_frames(records: Sequence[Record], source: str, rows_read: int,
                      typology: Typology | None = None,
                      rejections: list[Rejection] | None = None) -> SourceFrames:
    """Classify records on the typology and build the ``facilities`` frame (points in RD New)."""
    typology = typology or load_typology()
    frames = SourceFrames(source=source, rows_read=rows_read)
    frames.rejections.extend(rejections or [])
    kept, unmapped = [], Counter()
    seen: set[str] = set()
    for osm_type, osm_id, lon, lat, tags in records:
        ftype = typology.classify(tags)
        if ftype is None:
            main = next((f"{k}={tags[k]}" for k in ("amenity", "leisure", "shop", "healthcare")
                         if k in tags), "other")
            unmapped[main] += 1
            continue
        sid = f"{osm_type}/{osm_id}"
        if sid in seen:
            continue
        seen.add(sid)
        rule_keys = {k for rule in typology[ftype].rules for k, _ in rule}
        kept_tags = {k: tags[k] for k in sorted(tags) if k in KEEP_TAGS or k in rule_keys}
        kept.append((f"osm:{sid}", ftype, tags.get("name"), "osm", sid, lon, lat, kept_tags))
    if unmapped:
        top = ", ".join(f"{k} {v}" for k, v in unmapped.most_common(8))
        frames.rejections.append(Rejection(
            source, "unmapped tags",
            f"{sum(unmapped.values())} elements match no weefsel type and were dropped ({top})"))
    frames.unmapped = unmapped  # type: ignore[attr-defined]
    if kept:
        lon = np.array([k[5] for k in kept], dtype=float)
        lat = np.array([k[6] for k in kept], dtype=float)
        x, y = _TO_RD.transform(lon, lat)
        frames.facilities = pd.DataFrame({
            "facility_id": [k[0] for k in kept], "type": [k[1] for k in kept],
            "name": [k[2] for k in kept], "source": "osm", "source_id": [k[4] for k in kept],
            "x_rd": np.asarray(x, float), "y_rd": np.asarray(y, float), "capacity": 1.0,
            "area_code": pd.Series([None] * len(kept), dtype="object"),
            "tags": [json.dumps(k[7], ensure_ascii=False) for k in kept],
        }, columns=FACILITY_COLUMNS)
    return frames


def load_osm(path: Path, typology: Typology | None = None) -> SourceFrames:
    """Read OSM facilities from Overpass JSON, GeoJSON or (with ``osmium``) .osm.pbf."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", where=str(path), expected="an OSM extract")
    typology = typology or load_typology()
    rejections: list[Rejection] = []
    if path.name.lower().endswith(".pbf"):
        records, n = _records_from_pbf(path, typology, rejections)
    else:
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"not valid JSON ({exc}); the file may be truncated", where=str(path),
                             expected="Overpass JSON or GeoJSON") from None
        if isinstance(doc, dict) and "elements" in doc:
            records, n = _records_from_overpass(doc, path.name, rejections)
        elif isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
            records, n = _records_from_geojson(doc, path.name, rejections)
        else:
            raise InputError("neither Overpass JSON ('elements') nor a GeoJSON FeatureCollection",
                             where=str(path), expected="Overpass JSON or GeoJSON")
    frames = records_to_frames(records, path.name, n, typology, rejections)
    frames.provenance.append({
        "file": str(path), "sha256": sha256_of(path), "publisher": OSM_PUBLISHER,
        "licence": OSM_LICENCE, "table_id": None, "rows_read": n,
        "rows_rejected": sum(1 for r in rejections),
        "ingested_at": datetime.now(timezone.utc).replace(tzinfo=None),
    })
    return frames


# ------------------------------------------------------------------ Overpass client

BBox = tuple[float, float, float, float]   # (south, west, north, east), as Overpass wants it


def build_overpass_query(bbox_or_area: BBox | int | str, typology: Typology | None = None,
                         timeout: int = 180) -> str:
    """Overpass QL for every typology rule inside a bbox, an area id or an admin area name."""
    typology = typology or load_typology()
    if isinstance(bbox_or_area, (tuple, list)) and len(bbox_or_area) == 4:
        s, w, n, e = (float(v) for v in bbox_or_area)
        if not (s < n and w < e):
            raise InputError(f"bbox {bbox_or_area} is not (south, west, north, east)")
        head, scope = "", f"({s},{w},{n},{e})"
    elif isinstance(bbox_or_area, int):
        head, scope = f"area({bbox_or_area})->.a;\n", "(area.a)"
    elif isinstance(bbox_or_area, str) and bbox_or_area.strip():
        name = bbox_or_area.strip().replace('"', '\\"')
        head = f'area["name"="{name}"]["boundary"="administrative"]->.a;\n'
        scope = "(area.a)"
    else:
        raise InputError(f"cannot build an Overpass query for {bbox_or_area!r}",
                         expected="(south, west, north, east), an area id or a gemeente name")
    lines = []
    for rule in typology.tag_filters():
        filt = "".join(f'["{k}"~"^({"|".join(v)})$"]' for k, v in rule)
        lines.append(f"  nwr{filt}{scope};")
    return f"[out:json][timeout:{timeout}];\n{head}(\n" + "\n".join(lines) + "\n);\nout center tags;\n"


class OverpassClient:
    """Fetch facilities from an Overpass API server, retrying when it is busy (429/502/503/504)."""

    RETRY_STATUS = (429, 502, 503, 504)

    def __init__(self, url: str = "https://overpass-api.de/api/interpreter",
                 client: httpx.Client | None = None, *, max_attempts: int = 4,
                 backoff: float = 5.0, sleep: Callable[[float], None] = time.sleep):
        self.url = url
        self.client = client or httpx.Client(timeout=200, headers={"User-Agent": "weefsel"})
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep

    def _post(self, query: str) -> dict:
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self.client.post(self.url, data={"data": query})
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    try:
                        return resp.json()
                    except ValueError:
                        raise InputError("Overpass answered 200 but not with JSON", where=self.url,
                                         expected="[out:json] output") from None
                if resp.status_code not in self.RETRY_STATUS:
                    raise WeefselError(f"{self.url}: Overpass answered HTTP {resp.status_code}: "
                                       f"{resp.text[:200]}")
                last = f"HTTP {resp.status_code}"
                retry_after = resp.headers.get("Retry-After")
                if retry_after and retry_after.isdigit() and attempt < self.max_attempts:
                    self.sleep(float(retry_after))
                    continue
            if attempt < self.max_attempts:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        raise WeefselError(f"{self.url}: Overpass still busy after {self.max_attempts} attempts "
                           f"({last}); try later or load a saved extract with load_osm")

    def fetch(self, bbox_or_area: BBox | int | str,
              typology: Typology | Path | str | None = None) -> SourceFrames:
        """Facilities of every typology type in a bbox (south, west, north, east), an Overpass
        area id, or an administrative area name; ``typology`` may be a Typology or a YAML path."""
        typology = typology if isinstance(typology, Typology) else load_typology(
            Path(typology) if typology else None)
        query = build_overpass_query(bbox_or_area, typology)
        doc = self._post(query)
        rejections: list[Rejection] = []
        records, n = _records_from_overpass(doc, f"overpass:{self.url}", rejections)
        frames = records_to_frames(records, "overpass", n, typology, rejections)
        frames.provenance.append({
            "file": self.url, "sha256": None, "publisher": OSM_PUBLISHER, "licence": OSM_LICENCE,
            "table_id": "overpass", "rows_read": n, "rows_rejected": len(rejections),
            "ingested_at": datetime.now(timezone.utc).replace(tzinfo=None),
        })
        return frames


# ------------------------------------------------------------------ point in area

LEVEL_RANK = {"buurt": 0, "wijk": 1, "gemeente": 2}


def assign_areas(facilities: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Fill ``area_code`` with the finest area (buurt, else wijk, else gemeente) containing each point.

    Vectorised with one shapely STRtree over all buurt/wijk/gemeente polygons. Points outside
    every polygon keep ``area_code`` None; their ids are listed in ``result.attrs['unassigned']``
    and logged, so the build can report them.
    """
    out = facilities.copy()
    if "area_code" not in out:
        out["area_code"] = None
    out["area_code"] = pd.Series([c if isinstance(c, str) else None for c in out["area_code"]],
                                 index=out.index, dtype="object")
    if out.empty:
        out.attrs["unassigned"] = []
        return out
    polys = areas[areas["level"].isin(list(LEVEL_RANK)) & areas["geom_rd"].notna()]
    geoms = shapely.from_wkb(polys["geom_rd"].to_numpy())
    points = shapely.points(out["x_rd"].to_numpy(float), out["y_rd"].to_numpy(float))
    tree = shapely.STRtree(geoms)
    pt_idx, poly_idx = tree.query(points, predicate="intersects")
    if len(pt_idx):
        hits = pd.DataFrame({"pt": pt_idx,
                             "rank": polys["level"].map(LEVEL_RANK).to_numpy()[poly_idx],
                             "code": polys["code"].to_numpy()[poly_idx]})
        best = hits.sort_values(["pt", "rank", "code"]).drop_duplicates("pt")
        codes = np.array(out["area_code"].tolist(), dtype=object)
        codes[best["pt"].to_numpy()] = best["code"].to_numpy()
        out["area_code"] = pd.Series(codes, index=out.index, dtype="object")
    missing = out.loc[out["area_code"].isna(), "facility_id"].tolist()
    out.attrs["unassigned"] = missing
    if missing:
        log.warning("%d facilities lie outside every area polygon: %s", len(missing),
                    ", ".join(map(str, missing[:10])))
    return out
