"""The REST API and the dashboard in one FastAPI app: ``create_app(warehouse_path)``.

All answers come from a read-only warehouse; unknown codes, indicators, levels and
periods are 404s with a Dutch message (``{"detail": "Onbekende gebiedscode: XX"}``), bad
parameters are 422s, and tabular endpoints also answer ``?format=csv``.
"""

from __future__ import annotations

import gzip
import importlib
import io
import json
import logging
import threading
import math
import re
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import pandas as pd
from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from weefsel.web.assets import StaticAssets, versioned
from weefsel.web.classing import (area_labels, classify, layer_decimals, layer_levels,
                                  missing_reasons)
from weefsel.web.data import LEVEL_LABELS, NotFound, WebData, clean_records
from weefsel.web.errors import ERROR_RESPONSES, clip, http_detail, validation_detail
from weefsel.web.shell import page_shell, render_markdown
from weefsel.web.profile import build_profile, render_document, render_fragment
from weefsel.web.tiles import LevelTiles, lonlat_bounds

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
Format = Literal["json", "csv"]
MAX_CACHE = 4000
TILE_TYPE = "application/vnd.mapbox-vector-tile"
MAX_TILE_ZOOM = 16
#: routes answering ?format=csv (and html): their 200 is documented with those types too
_TEXT = {"schema": {"type": "string"}}
def _allowed_methods(app: FastAPI, scope: dict) -> str:
    """Every method some route serves on this path (for the Allow header of a 405)."""
    from starlette.routing import Match
    methods: set[str] = set()
    for route in app.router.routes:
        if route.matches(scope)[0] != Match.NONE:  # PARTIAL: the path fits, the method not
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


CSV_200 = {200: {"description": "JSON, or CSV with ?format=csv",
                 "content": {"application/json": {}, "text/csv": _TEXT}}}
PROFILE_200 = {200: {"description": "JSON, or HTML/CSV with ?format=html|csv",
                     "content": {"application/json": {}, "text/csv": _TEXT, "text/html": _TEXT}}}


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=str).encode("utf-8")


def _csv(df: pd.DataFrame, name: str) -> Response:
    """CSV for Dutch Excel: ';' between fields, decimal comma, "ja"/"nee" for yes/no, and a
    byte-order mark so Excel reads UTF-8 (é, ë) correctly."""
    df = df.copy()
    for col in df.columns:
        if df[col].dtype == bool or (df[col].dtype == object and
                                     df[col].map(lambda v: isinstance(v, bool)).any()):
            df[col] = df[col].map(lambda v: "ja" if v is True or v == True  # noqa: E712
                                  else "nee" if v is False or v == False else v)  # noqa: E712
    buf = io.StringIO()
    df.to_csv(buf, index=False, sep=";", decimal=",")
    return Response(("\ufeff" + buf.getvalue()).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def create_app(warehouse_path: str | Path, *, basemap_url: str | None = None,
               catalogue: list[dict] | None = None,
               warm_after: Callable[[], Any] | None = None) -> FastAPI:
    """Build the app for one warehouse file (opened read-only, cached in memory).

    ``catalogue`` overrides weefsel/indicators/catalogue.yaml (tests, demos). The first
    view (the page, the default level's values, names and tiles) is made before this
    returns; the other levels are warmed in a background thread that first calls
    ``warm_after`` (``weefsel serve``: wait until no request came for a moment).
    """
    data = WebData(warehouse_path, catalogue=catalogue)
    data._preloaded()  # profile rows in memory now, not on the first request
    tiles = LevelTiles(data.cursor)
    app_cache = data.response_cache

    def warm_values(level: str) -> None:
        """The first map of a level: default indicator, latest period."""
        lid, lay, per = _map_choice(data, level, None, None)
        key = ("values", level, lid, per)
        if key not in app_cache:
            app_cache[key] = _values(data, tiles, level, lay, per)
        if ("labels", level) not in app_cache:
            app_cache[("labels", level)] = _json(area_labels(data, level))
    # part of every tile URL: a rebuilt warehouse gets new URLs, so browsers never mix
    # cached tiles of an old build with the values of a new one
    tiles_version = f"{int(Path(warehouse_path).stat().st_mtime_ns) // 1_000_000:x}"
    app = FastAPI(
        title="weefsel API",
        description="Het sociaal weefsel van Nederlandse buurten: gebieden, indicatoren, "
                    "kaarten, tabellen en wijkprofielen uit het weefsel-warehouse.",
        version="0.1.0", docs_url=None, redoc_url=None, responses=ERROR_RESPONSES)
    app.state.data = data
    cache = data.response_cache

    def cached(key: tuple, make, request: Request | None = None) -> Response:
        """Serve bytes made once; large ones also gzipped once (maps of a whole level)."""
        body = cache.get(key)
        if body is None:
            body = make()
            if len(cache) > MAX_CACHE:
                cache.clear()
            cache[key] = body
        if request is not None and len(body) > 50_000 and \
                "gzip" in request.headers.get("accept-encoding", ""):
            gz = cache.get(("gz",) + key)
            if gz is None:
                gz = gzip.compress(body, compresslevel=5)
                cache[("gz",) + key] = gz
            return Response(gz, media_type="application/json",
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(body, media_type="application/json")

    # -- errors in Dutch ----------------------------------------------------------------------
    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": clip(exc)}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Dutch, one line, and the (possibly huge) input is not echoed back
        return JSONResponse({"detail": validation_detail(jsonable_encoder(exc.errors()))},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # the real reason a route gave is kept (only Starlette's English defaults are replaced)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # one path may be served by several routes (GET page, POST form): Allow names all
            headers = {**(headers or {}), "Allow": _allowed_methods(app, request.scope)}
        return JSONResponse({"detail": http_detail(exc.status_code, exc.detail,
                                                   request.url.path[:120])},
                            status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:  # last line of defence
        log.exception("unexpected error")
        return JSONResponse({"detail": "Interne fout; zie het serverlog."}, status_code=500)

    # -- API ------------------------------------------------------------------------------------
    @app.get("/api/info", summary="Over dit warehouse: niveaus, perioden, bouwgegevens")
    def info() -> dict:
        return {"levels": [{"id": lv, "label": LEVEL_LABELS[lv],
                            "n": int((data.areas["level"] == lv).sum()),
                            "n_geometry": int(((data.areas["level"] == lv) &
                                               data.areas["has_geom"]).sum())}
                           for lv in data.levels],
                "tables": sorted(data.tables), "build": data.build,
                "bounds": _bounds(data, tiles), "basemap_url": basemap_url,
                "tiles_version": tiles_version,
                "default_level": next(iter(sorted(_map_levels(data), key=lambda lv: lv != "wijk")),
                                      None),
                "default_indicator": (data.default_layer_ids(1) or [None])[0]}

    @app.get("/api/areas", summary="Gebieden zoeken op naam of code", responses=CSV_200)
    def areas(level: Annotated[str | None, Query(description="provincie, gemeente, wijk, buurt")] = None,
              q: Annotated[str | None, Query(max_length=100, description="naam of code")] = None,
              limit: Annotated[int, Query(ge=1, le=20000)] = 50,
              format: Format = "json"):
        df = data.search(q, level, limit)[["code", "name", "level", "gemeente_code",
                                           "wijk_code", "provincie_code", "has_geom"]]
        if format == "csv":
            return _csv(df, "gebieden")
        return {"areas": clean_records(df), "n": len(df)}

    @app.get("/api/areas/{code}", summary="Eén gebied met de gebieden waarin het ligt")
    def area(code: Annotated[str, PathParam(max_length=64)]) -> dict:
        a = data.area(code)
        children = data.areas[(data.areas["level"] != a["level"]) & (
            (data.areas["gemeente_code"] == code) | (data.areas["wijk_code"] == code) |
            (data.areas["provincie_code"] == code))]
        return {"area": a, "parents": data.parents(code),
                "children": clean_records(children[["code", "name", "level"]].head(500))}

    @app.get("/api/areas/{code}/profile",
             summary="Wijkprofiel: indicatoren naast gemeente, provincie en Nederland", responses=PROFILE_200)
    def profile(code: Annotated[str, PathParam(max_length=64)],
                format: Literal["json", "html", "csv"] = "json"):
        data.area(code)
        if format == "html":
            body = cache.get(("profile-html", code))
            if body is None:
                body = render_fragment(build_profile(data, code)).encode("utf-8")
                cache[("profile-html", code)] = body
            return HTMLResponse(body)
        if format == "csv":
            p = build_profile(data, code)
            rows = [_profile_csv_row(i) for i in p["indicators"]]
            return _csv(pd.DataFrame(rows), f"profiel_{code}")
        return cached(("profile", code), lambda: _json(build_profile(data, code)))

    @app.get("/api/areas/{code}/trends",
             summary="Ontwikkeling per indicator: reeks, verandering en gepubliceerde marge",
             responses=CSV_200)
    def trends(code: Annotated[str, PathParam(max_length=64)],
               indicator: Annotated[str | None, Query(max_length=200)] = None,
               format: Format = "json"):
        a = data.area(code)
        if indicator is not None:
            data.layer(indicator)
        p = build_profile(data, code)
        inds = [i for i in p["indicators"] if indicator is None or i["id"] == indicator]
        out = [{k: i.get(k) for k in ("id", "title", "unit", "direction", "trend",
                                      "missing_reason", "missing_reason_nl")} for i in inds]
        if format == "csv":
            rows = [{"indicator": i["id"], "periode": pt["period"], "waarde": pt["value"],
                     "ondergrens": pt["lower"], "bovengrens": pt["upper"],
                     "indeling": i["trend"].get("indeling"), "verandering": i["trend"]["change"],
                     "verandering_per_jaar": i["trend"]["annual_change"],
                     "buiten_marge": i["trend"]["exceeds_margin"]}
                    for i in out if i["trend"] for pt in i["trend"]["points"]]
            return _csv(pd.DataFrame(rows, columns=[
                "indicator", "periode", "waarde", "ondergrens", "bovengrens", "indeling",
                "verandering", "verandering_per_jaar", "buiten_marge"]), f"trends_{code}")
        return {"area": {k: a.get(k) for k in ("code", "name", "level")}, "indicators": out}

    @app.get("/api/indicators", summary="Catalogus: indicatoren, index, vlaggen en variabelen", responses=CSV_200)
    def indicators(request: Request, kind: str | None = None, format: Format = "json"):
        def rows_() -> list[dict]:
            at, dec = layer_levels(data), layer_decimals(data)
            return [{**lay.public(), "levels": at.get(lay.id, []), "decimals": dec.get(lay.id)}
                    for lay in data.layers.values() if not kind or lay.kind == kind]
        if format == "csv":
            return _csv(pd.DataFrame(rows_()), "indicatoren")
        # asked by every page load before the map starts: made once, sent gzipped
        return cached(("indicators", kind), lambda: _json(
            {"indicators": (r := rows_()), "n": len(r)}), request)

    @app.get("/api/indicators/{indicator}", summary="Eén indicator met zijn perioden")
    def indicator(indicator: Annotated[str, PathParam(max_length=200)]) -> dict:
        lay = data.layer(indicator)
        return {**lay.public(), "periods": data.periods(lay),
                "levels": [lv for lv in data.levels if data.periods(lay, lv)]}

    @app.get("/api/map/{level}", summary="GeoJSON (EPSG:4326) met waarden voor een kaart")
    def map_layer(request: Request, level: Annotated[str, PathParam(max_length=32)],
                  indicator: Annotated[str | None, Query(max_length=200)] = None,
                  period: Annotated[str | None, Query(max_length=16)] = None,
                  zoom: Annotated[int, Query(ge=0, le=22)] = 8,
                  meta: Annotated[bool, Query(description="alleen de legenda-gegevens")] = False):
        data.check_level(level)
        lid, lay, per = _map_choice(data, level, indicator, period)
        z = max(5, min(zoom, 13))
        body = cached(("map", level, lid, per, z),
                      lambda: _geojson(data, level, lay, per, z), request)
        if meta:
            return cached(("map-meta", level, lid, per, z),
                          lambda: _json(json.loads(cache[("map", level, lid, per, z)])["meta"]))
        return body

    @app.get("/api/map/{level}/values",
             summary="Waarden en legenda van een kaartlaag (bij de vectortegels)")
    def map_values(request: Request, level: Annotated[str, PathParam(max_length=32)],
                   indicator: Annotated[str | None, Query(max_length=200)] = None,
                   period: Annotated[str | None, Query(max_length=16)] = None):
        data.check_level(level)
        lid, lay, per = _map_choice(data, level, indicator, period)
        return cached(("values", level, lid, per),
                      lambda: _values(data, tiles, level, lay, per), request)

    @app.get("/api/map/{level}/labels",
             summary="Namen en middelpunten van de gebieden van een niveau (kaartlabels)")
    def map_labels(request: Request, level: Annotated[str, PathParam(max_length=32)]):
        data.check_level(level)
        return cached(("labels", level), lambda: _json(area_labels(data, level)), request)

    @app.get("/api/tiles/{level}/{z}/{x}/{y}.pbf",
             summary="Vectortegel (Mapbox Vector Tile) met de gebiedsgrenzen van een niveau",
             response_class=Response,
             responses={200: {"content": {TILE_TYPE: {}}}, 204: {"description": "lege tegel"}})
    def tile(request: Request, level: Annotated[str, PathParam(max_length=32)],
             z: Annotated[int, PathParam(ge=0, le=MAX_TILE_ZOOM)],
             x: Annotated[int, PathParam(ge=0, le=2 ** MAX_TILE_ZOOM)],
             y: Annotated[int, PathParam(ge=0, le=2 ** MAX_TILE_ZOOM)]) -> Response:
        data.check_level(level)
        if x >= 1 << z or y >= 1 << z:
            raise NotFound(f"Geen tegel {z}/{x}/{y}: x en y liggen tussen 0 en {(1 << z) - 1}.")
        body = tiles(level).tile(z, x, y)
        headers = {"Cache-Control": "public, max-age=86400"}
        if not body:
            return Response(status_code=204, headers=headers)
        if len(body) > 1000 and "gzip" in request.headers.get("accept-encoding", ""):
            key = ("tile-gz", level, z, x, y)
            gz = cache.get(key)
            if gz is None:
                gz = gzip.compress(body, compresslevel=5)
                if len(cache) > MAX_CACHE:
                    cache.clear()
                cache[key] = gz
            return Response(gz, media_type=TILE_TYPE,
                            headers={**headers, "Content-Encoding": "gzip",
                                     "Vary": "Accept-Encoding"})
        return Response(body, media_type=TILE_TYPE, headers=headers)

    @app.get("/api/table", summary="Tabel: gebieden van één niveau, één of meer indicatoren", responses=CSV_200)
    def table(level: Annotated[str, Query(max_length=32)],
              indicator: Annotated[list[str] | None, Query(max_length=200)] = None,
              period: Annotated[str | None, Query(max_length=16)] = None,
              q: Annotated[str | None, Query(max_length=100)] = None,
              format: Format = "json"):
        data.check_level(level)
        ids = indicator or data.default_layer_ids(6)
        lays = [data.layer(i) for i in ids]
        df = _table(data, level, lays, period, q)
        if format == "csv":
            return _csv(df, f"tabel_{level}")
        return {"level": level, "columns": [l.public() for l in lays],
                "rows": clean_records(df), "n": len(df),
                "ranks": df.attrs.get("ranks", {}), "reference": df.attrs.get("reference", {})}

    @app.get("/api/compare", summary="Twee tot vijf gebieden naast elkaar", responses=CSV_200)
    def compare(codes: Annotated[str, Query(max_length=400, description="2 tot 5 codes, komma-gescheiden",
                                            pattern=r"^ *[A-Za-z0-9_.-]+( *, *[A-Za-z0-9_.-]+){1,4} *$")],
                format: Format = "json"):
        code_list = [c.strip() for c in codes.split(",") if c.strip()]
        if not 2 <= len(code_list) <= 5:
            return JSONResponse({"detail": "Kies twee tot vijf gebieden om te vergelijken."},
                                status_code=422)
        areas_ = [data.area(c) for c in dict.fromkeys(code_list)]
        df = _compare(data, [a["code"] for a in areas_])
        extra = _compare_extra(data, areas_, df)
        if format == "csv":
            return _csv(_compare_csv(df, extra, [a["code"] for a in areas_]), "vergelijking")
        rows = clean_records(df)
        for row in rows:
            row.update(extra.get(row["indicator"], {"ranks": {}, "reference": []}))
        return {"areas": [{"code": a["code"], "name": a["name"], "level": a["level"]}
                          for a in areas_], "rows": rows}

    @app.get("/api/areas/{code:path}", include_in_schema=False)
    def area_with_slash(code: str, format: Literal["json", "html", "csv"] = "json"):
        """Codes with a '/' (police basisteams such as 'RG:basisteam:Lelystad / Zeewolde'):
        the routes above stop at the first '/', this one takes the whole rest."""
        if code.endswith("/profile"):
            return profile(code[: -len("/profile")], format)
        return area(code)

    # -- pages ------------------------------------------------------------------------------------
    @app.get("/profiel/{code:path}", response_class=HTMLResponse, include_in_schema=False)
    def print_profile(code: str) -> HTMLResponse:
        return HTMLResponse(render_document(build_profile(data, code)))

    @app.get("/docs/{name}", include_in_schema=False)
    def doc(name: str) -> Response:
        """The technical notes (docs/*.md, English) as a page in the dashboard's house."""
        docs = Path(__file__).resolve().parents[2] / "docs"
        path = (docs / name).resolve()
        if not name.endswith(".md") or path.parent != docs.resolve() or not path.exists():
            raise NotFound(f"Onbekend document: {name}")
        body = (f'<p class="melding">Technische toelichting, in het Engels. De uitleg in gewone '
                f'woorden staat op de pagina <a href="/methode">Methode</a>.</p>'
                f'<div lang="en">{render_markdown(path.read_text(encoding="utf-8"))}</div>')
        return HTMLResponse(page_shell(name.removesuffix(".md"), body, active="methode",
                                       heading=False))

    @app.get("/methode", response_class=HTMLResponse, include_in_schema=False)
    def method_page() -> HTMLResponse:
        """How the figures are made, in plain Dutch (the technical notes linked below it)."""
        body = cache.get(("methode",))
        if body is None:
            docs = Path(__file__).resolve().parents[2] / "docs"
            text = render_markdown((Path(__file__).with_name("methode.md"))
                                   .read_text(encoding="utf-8"))
            links = "".join(f'<li><a href="/docs/{p.name}" hreflang="en">{p.stem}</a></li>'
                            for p in sorted(docs.glob("*.md"))) if docs.is_dir() else ""
            if links:
                text += ('<h2>Technische toelichting (Engels)</h2><ul>' + links + '</ul>')
            body = cache[("methode",)] = page_shell("Methode", text, active="methode",
                                                    heading=False).encode("utf-8")
        return HTMLResponse(body)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        """The dashboard page with /api/info inside it: one round trip less before the
        map can start (the warehouse is read-only, so the page is made once)."""
        body = cache.get(("index",))
        if body is None:
            text = json.dumps(info(), ensure_ascii=False).replace("</", "<\\/")
            html = versioned((STATIC / "index.html").read_text(encoding="utf-8"), assets).replace(
                "<!--weefsel-info-->",
                f'<script id="weefsel-info" type="application/json">{text}</script>', 1)
            body = cache[("index",)] = html.encode("utf-8")
        return HTMLResponse(body)

    assets = StaticAssets(STATIC)
    app.mount("/static", assets, name="static")
    _include_participation(app)
    _include_registry(app, data)
    app.add_middleware(ProfileFastPath, cache=cache)
    from weefsel.web.fastcache import ResponseCache  # repeated reads: bytes, no threads
    app.add_middleware(ResponseCache)
    from weefsel.web.security import install as install_security  # outermost: covers all
    install_security(app, index_html=(STATIC / "index.html").read_text(encoding="utf-8"),
                     basemap_url=basemap_url)
    # the first view in memory before anyone can ask (issue 12 item 6); the rest later
    first = _first_view(data, tiles, warm_values, index, indicators, assets)
    warm = threading.Thread(target=_warm, args=(data, tiles, warm_values, first, warm_after),
                            daemon=True, name="weefsel-warm")
    data.background.append(warm)
    warm.start()
    return app


class ProfileFastPath:
    """ASGI shortcut for the hottest request: a profile already built is sent straight
    from the response cache, skipping routing and validation (the warehouse is read-only,
    so a cached profile never goes stale). Everything else goes to the app."""

    PATTERN = re.compile(r"^/api/areas/([^/]{1,64})/profile$")

    def __init__(self, app, cache: dict):
        self.app = app
        self.cache = cache

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            m = self.PATTERN.match(scope["path"])
            body = self.cache.get(("profile", m.group(1))) if m else None
            if body is not None:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _map_levels(data: WebData) -> list[str]:
    """Levels with boundaries, finest first (the dashboard opens on wijk when it can)."""
    with_geom = set(data.areas.loc[data.areas["has_geom"], "level"])
    return [lv for lv in reversed(data.levels) if lv in with_geom and lv != "land"]


def _bounds(data: WebData, tiles: LevelTiles) -> list[float] | None:
    """Lon/lat box of the finest level with boundaries: the map's first view."""
    for level in _map_levels(data):
        box = lonlat_bounds(tiles(level))
        if box:
            return box
    return None


#: tile zooms made ahead in the background for the other levels (a whole province to the
#: whole country), besides the zooms their first view needs (first_zooms)
WARM_ZOOMS = range(5, 9)
#: what the dashboard's first page load asks for, made before the server listens
FIRST_ASSETS = ("vendor/maplibre-gl.js", "vendor/maplibre-gl.css", "app.js", "style.css")


def _first_view(data: WebData, tiles: LevelTiles, warm_values, index, indicators,
                assets) -> str | None:
    """Make what the dashboard's first map needs (the page with /api/info, the static files,
    the default level's values, names and first-view tiles), so a person who opens it the
    moment the port accepts is answered from memory. Returns that level."""
    levels = sorted(_map_levels(data), key=lambda lv: lv != "wijk")
    try:
        index()
        indicators(None)  # type: ignore[arg-type]  # the list every page load asks for
        for rel in FIRST_ASSETS:
            assets.get(rel)
        if not levels:
            return None
        _warm_level(data, tiles, warm_values, levels[0], first=True)
    except Exception:  # warming is an optimisation; requests report real errors
        log.exception("preparing the first view failed")
    return levels[0] if levels else None


def first_zooms(box: list[float], screens=((320, 300), (1920, 1000))) -> range:
    """Tile zooms MapLibre asks for when it fits ``box`` (lon/lat) into a map of a phone's
    up to a wide desktop's size (512 px tiles; the tile zoom is the map zoom rounded down):
    what the first view of a level needs, however large the region."""
    def fit(w: int, h: int) -> int:
        def y(lat: float) -> float:
            return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
        fx = max(box[2] - box[0], 1e-9) / 360
        fy = max(y(box[3]) - y(box[1]), 1e-9) / (2 * math.pi)
        z = min(math.log2((w - 40) / (512 * fx)), math.log2((h - 40) / (512 * fy)))
        return max(0, min(int(math.floor(z)), 14))
    return range(fit(*screens[0]), fit(*screens[1]) + 1)


def _warm_level(data: WebData, tiles: LevelTiles, warm_values, level: str,
                first: bool = False) -> None:
    """A level's values and names, and its tiles over its extent: for the first view only
    the zooms a screen asks for; in the background also WARM_ZOOMS."""
    ts = tiles(level)
    warm_values(level)
    box = lonlat_bounds(ts)
    zooms = set(first_zooms(box)) if box else set()
    if box and not first:
        zooms |= set(WARM_ZOOMS)
    for z in sorted(zooms):
        for key in ts.tiles_for_bounds(z, box):
            if data.stopping.is_set():
                return
            ts.tile(*key)


def _warm(data: WebData, tiles: LevelTiles, warm_values, done: str | None = None,
          wait: Callable[[], Any] | None = None) -> None:
    """Make the tiles and values of the first views of the other levels in the background
    (after ``wait()``, so it does not compete with the first visitor): switching level is
    then drawn from memory too."""
    if wait is not None:
        wait()
    levels = [lv for lv in _map_levels(data) if lv != done]
    levels.sort(key=lambda lv: lv != "wijk")
    for level in levels:
        try:
            if data.stopping.is_set():
                return
            _warm_level(data, tiles, warm_values, level)
        except Exception:  # warming is an optimisation; requests report real errors
            log.exception("warming tiles of %s failed", level)


def _include_participation(app: FastAPI) -> None:
    """Mount the burgerbegroting and burgerberaad routers when they exist."""
    for module in ("weefsel.participation.web", "weefsel.participation.sortition.web",
                   "weefsel.forward.web", "weefsel.crisis.web"):
        try:
            router = importlib.import_module(module).router
        except Exception as exc:  # absent or broken: the dashboard still works
            log.info("participation router %s not mounted: %s", module, exc)
            continue
        app.include_router(router)


def _include_registry(app: FastAPI, data: WebData) -> None:
    """Mount the registry (initiatives, meeting places, signals); area codes are this warehouse's."""
    try:
        from weefsel.web.registry_web import router_for
        app.include_router(router_for(lambda: {str(c) for (c,) in
                                               data.cursor().execute("SELECT code FROM areas").fetchall()}))
    except Exception as exc:  # absent or broken: the dashboard still works
        log.info("registry router not mounted: %s", exc)


def _map_choice(data: WebData, level: str, indicator: str | None, period: str | None):
    """(layer id, layer, period) a map shows: the default layer when none is asked for, the
    latest period of it at this level when no period is."""
    lid = indicator or (data.default_layer_ids(1) or [None])[0]
    lay = data.layer(lid) if lid else None
    per = data.resolve_period(lay, level, period) if lay else None
    return lid, lay, per


def _map_values(data: WebData, level: str, lay, period: str | None, codes
                ) -> tuple[dict[str, tuple[float | None, str]], dict[str, Any]]:
    """code → (value, status) for the areas drawn (``codes``), and the legend metadata.

    status is "ok", "onderdrukt" (suppressed by the publisher) or "ontbreekt" (no value);
    the class breaks are quintiles of the drawn values."""
    vals: dict[str, tuple] = {}
    if lay is not None:
        q, params = data._layer_query(lay, level=level, period=period)
        for code, _, value, suppressed, *_ in data.cursor().execute(q, params).fetchall():
            vals.setdefault(code, (value, suppressed))
    counts = {"ok": 0, "onderdrukt": 0, "ontbreekt": 0}
    out: dict[str, tuple[float | None, str]] = {}
    for code in codes:
        value, status = None, "ontbreekt"
        hit = vals.get(code)
        if hit is not None:
            if hit[1]:
                status = "onderdrukt"
            elif hit[0] is not None and math.isfinite(hit[0]):
                value, status = float(hit[0]), "ok"
        counts[status] += 1
        out[code] = (value, status)
    n_level = int((data.areas["level"] == level).sum())
    ok = sorted(v for v, s in vals.values() if not s and v is not None and math.isfinite(v))
    pub = data._public[lay.id] if lay else {}
    classing = classify(ok, direction=pub.get("direction", ""), unit=pub.get("unit", ""),
                        title=pub.get("title", ""),
                        decimals=layer_decimals(data).get(lay.id) if lay else None)
    rs = data.ranks(lay, level, period) if lay is not None else None
    meta = {"level": level, "period": period,
            "rank": _rank_meta(rs, level),
            "data_periods": data.data_periods(lay, level, period) if lay else [],
            "counts": counts,
            "min": ok[0] if ok else None, "max": ok[-1] if ok else None,
            # upper edges between the classes (older pages read these)
            "breaks": [c.upper for c in classing.classes[:-1]],
            "classing": classing.public(),
            "missing": missing_reasons(data, lay, level, counts),
            "n_without_geometry": n_level - len(out),
            "indicator": pub or None}
    return out, meta


def _geojson(data: WebData, level: str, lay, period: str | None, zoom: int) -> bytes:
    """The FeatureCollection as bytes, joined from cached geometry text and fresh values."""
    geoms = data.geometries(level, zoom)
    names = data.areas.loc[data.areas["level"] == level].set_index("code")["name"].to_dict()
    vals, meta = _map_values(data, level, lay, period, list(geoms))
    rs = data.ranks(lay, level, period) if lay is not None else None
    ranks = {c: int(v[0]) for c, v in rs["by_code"].items()} if rs else {}
    feats = []
    for i, (code, geom) in enumerate(geoms.items()):
        value, status = vals[code]
        rank = ranks.get(code) if status == "ok" else None
        props = json.dumps({"code": code, "name": names.get(code, code), "value": value,
                            "status": status, "rank": rank}, ensure_ascii=False)
        feats.append(f'{{"type":"Feature","id":{i},"geometry":{geom},"properties":{props}}}')
    meta = {**meta, "zoom": zoom, "bbox": geoms.bbox}
    head = '{"type":"FeatureCollection","meta":' + json.dumps(meta, ensure_ascii=False)
    return (head + ',"features":[' + ",".join(feats) + "]}").encode("utf-8")


def _values(data: WebData, tiles: LevelTiles, level: str, lay, period: str | None) -> bytes:
    """The values of one map layer for the vector tiles: legend metadata plus
    ``values`` (code → number) and ``suppressed`` (codes); areas in neither have none."""
    ts = tiles(level)
    vals, meta = _map_values(data, level, lay, period, ts.codes)
    meta["bbox"] = lonlat_bounds(ts)
    rs = data.ranks(lay, level, period) if lay is not None else None
    ranks = {c: int(rs["by_code"][c][0]) for c, (v, s) in vals.items()
             if s == "ok" and rs and c in rs["by_code"]}
    body = {"meta": meta,
            "values": {c: v for c, (v, s) in vals.items() if s == "ok"},
            "ranks": ranks,
            "suppressed": [c for c, (_, s) in vals.items() if s == "onderdrukt"]}
    return _json(body)


def _rank_meta(rs: dict | None, level: str) -> dict | None:
    """The map's rank legend: how many areas are ranked, where, and which way round."""
    if not rs:
        return None
    from weefsel.indicators.reference import LEVEL_PLURAL
    ofs = {v[1] for v in rs["by_code"].values()}
    of = max(ofs) if ofs else 0
    one = {"best_first": "1 = gunstigst", "highest_first": "1 = hoogste waarde",
           "highest_score": "1 = hoogste score"}.get(rs["order"], "")
    return {"of": of, "scope": rs["scope"], "scope_code": rs["scope_code"],
            "order": rs["order"],
            "scope_nl": f"rang onder {of} {LEVEL_PLURAL.get(level, level)} {rs['place']} ({one})"}


def _profile_csv_row(i: dict) -> dict:
    """One indicator of the profile as a CSV row (Dutch headers, reference codes as columns)."""
    t = i.get("trend") or {}
    r = i.get("rank") or {}
    row = {"indicator": i["id"], "titel": i["title"], "eenheid": i["unit"],
           "periode": i["period"], "jaar_cijfer": i.get("data_period"), "waarde": i["value"],
           "onderdrukt": i["suppressed"], "reden_geen_waarde": i.get("missing_reason_nl"),
           **{f"waarde_{c}": v for c, v in i["comparators"].items()},
           **{f"basis_{x['code']}": x.get("basis") for x in i.get("reference") or []},
           "rang": r.get("rank"), "rang_van": r.get("of"), "rang_bereik": r.get("scope_nl"),
           "trend_van": t.get("first_period"), "trend_tot": t.get("last_period"),
           "verandering": t.get("change"), "verandering_per_jaar": t.get("annual_change"),
           "buiten_marge": t.get("exceeds_margin"), "bron": i["source"]}
    return row


def _table(data: WebData, level: str, lays, period: str | None, q: str | None) -> pd.DataFrame:
    df = data.areas[data.areas["level"] == level][["code", "name", "gemeente_code"]].copy()
    gm = data.areas.set_index("code")["name"]
    df["gemeente"] = df["gemeente_code"].map(gm)
    df = df.drop(columns=["gemeente_code"])
    if q:
        ql = q.lower()
        df = df[df["code"].str.lower().str.contains(ql, regex=False) |
                df["name"].str.lower().str.contains(ql, regex=False)]
    for lay in lays:
        per = data.resolve_period(lay, level, period if period else None) \
            if (period is None or period in data.periods(lay, level)) else \
            data.resolve_period(lay, level, None)
        v = data.values(lay, level=level, period=per).drop_duplicates("area_code")
        v = v.set_index("area_code")
        col = v["value"].where(~v["suppressed"].astype(bool), None)
        df[lay.id] = df["code"].map(col)
        df[lay.id + "|onderdrukt"] = df["code"].map(v["suppressed"].astype(bool)).eq(True)
        rs = data.ranks(lay, level, per)
        df[lay.id + "|rang"] = df["code"].map(
            {c: x[0] for c, x in rs["by_code"].items()} if rs else {}).astype("Float64")
        df.attrs.setdefault("periods", {})[lay.id] = per
        meta = _rank_meta(rs, level)
        if meta:
            df.attrs.setdefault("ranks", {})[lay.id] = meta
        df.attrs.setdefault("reference", {})[lay.id] = _reference_rows(data, lay, per)
    attrs = dict(df.attrs)
    df = df.reset_index(drop=True)
    df.attrs.update(attrs)
    return df


def _reference_rows(data: WebData, lay, period: str | None) -> list[dict]:
    """The layer's value for the provincie and Nederland areas of this warehouse."""
    refs = data.areas[data.areas["level"].isin(["provincie", "land"])]
    if refs.empty or period is None:
        return []
    vals = data.values(lay, codes=list(refs["code"]), period=period)
    vals = vals.drop_duplicates("area_code").set_index("area_code")
    out = []
    for a in refs.itertuples():
        hit = vals.loc[a.code] if a.code in vals.index else None
        v = None if hit is None or bool(hit["suppressed"]) else hit["value"]
        out.append({"code": a.code, "name": a.name, "level": a.level,
                    "value": None if v is None or pd.isna(v) else float(v)})
    return out


def _compare_extra(data: WebData, areas_: list[dict], df: pd.DataFrame) -> dict[str, dict]:
    """Per compared indicator: each area's rank (same as map, table and profile) and the
    values of the provincie and Nederland of the first area."""
    out: dict[str, dict] = {}
    first = areas_[0]["code"] if areas_ else None
    refs = [p for p in data.parents(first) if p["level"] in ("provincie", "land")] if first else []
    for row in df.itertuples(index=False):
        lay = data.layers[row.indicator]
        per = row.periode
        ranks = {}
        for a in areas_:
            r = data.rank_of(lay, a["level"], per, a["code"])
            if r:
                ranks[a["code"]] = {"rank": r["rank"], "of": r["of"], "scope_nl": r["scope_nl"]}
        ref = []
        if refs:
            vals = data.values(lay, codes=[p["code"] for p in refs], period=per)
            vals = vals.drop_duplicates("area_code").set_index("area_code")
            for p in refs:
                v = vals["value"].get(p["code"]) if p["code"] in vals.index else None
                sup = bool(vals["suppressed"].get(p["code"])) if p["code"] in vals.index else False
                ref.append({"code": p["code"], "name": p["name"], "level": p["level"],
                            "value": None if v is None or sup or pd.isna(v) else float(v)})
        out[row.indicator] = {"ranks": ranks, "reference": ref}
    return out


def _compare_csv(df: pd.DataFrame, extra: dict[str, dict], codes: list[str]) -> pd.DataFrame:
    out = df.copy()
    for c in codes:
        out[f"rang_{c}"] = [extra.get(i, {}).get("ranks", {}).get(c, {}).get("rank")
                            for i in out["indicator"]]
    ref_codes = []
    for e in extra.values():
        for r in e.get("reference", []):
            if r["code"] not in ref_codes:
                ref_codes.append(r["code"])
    for rc in ref_codes:
        out[f"waarde_{rc}"] = [next((r["value"] for r in extra.get(i, {}).get("reference", [])
                                     if r["code"] == rc), None) for i in out["indicator"]]
    return out


def _compare(data: WebData, codes: list[str]) -> pd.DataFrame:
    p = data.default_layer_ids(10_000)
    vals = data.values_many(codes, p)
    if vals.empty:
        return pd.DataFrame(columns=["indicator", "titel", "eenheid", "periode", *codes])
    vals = vals.sort_values("period")
    last = vals.groupby("layer")["period"].max()
    vals = vals[vals["period"] == vals["layer"].map(last)]
    vals = vals.assign(value=vals["value"].where(~vals["suppressed"].astype(bool)))
    wide = vals.pivot_table(index="layer", columns="area_code", values="value",
                            aggfunc="first", dropna=False)
    wide = wide.reindex(columns=codes)
    order = [lid for lid in p if lid in wide.index]
    wide = wide.loc[order]
    out = pd.DataFrame({"indicator": order,
                        "titel": [data.layers[l].title for l in order],
                        "eenheid": [data.layers[l].unit for l in order],
                        "richting": [data.layers[l].direction for l in order],
                        "periode": [last[l] for l in order]})
    for c in codes:
        out[c] = wide[c].to_numpy()
    return out
