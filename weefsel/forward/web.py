"""REST API of forward monitoring (mounted under /api/vooruit) and its dashboard page /vooruit.

Reads the forward_* tables of the served warehouse (read-only). What-if requests rerun the
stored scenario with the changes (at most 500 draws) and answer without storing.
"""

from __future__ import annotations

import io
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from weefsel.web.data import NotFound

STATIC = Path(__file__).with_name("static")
router = APIRouter(tags=["vooruit"])
Format = Literal["json", "csv"]


def _cur(request: Request):
    return request.app.state.data.cursor()


def _has(cur, table: str) -> bool:
    return bool(cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchone()[0])


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = df.astype(object).where(df.notna(), None).to_dict("records")
    for r in out:
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                r[k] = None
    return out


def _answer(df: pd.DataFrame, fmt: str, name: str, key: str = "rows", **extra):
    if fmt == "csv":
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return JSONResponse({key: _records(df), "n": len(df), **extra})


def _runs(cur) -> pd.DataFrame:
    if not _has(cur, "forward_runs"):
        return pd.DataFrame(columns=["scenario", "variant"])
    return cur.execute("SELECT * FROM forward_runs ORDER BY scenario, variant").df()


def _need(cur, scenario: str, variant: str | None = None) -> pd.DataFrame:
    runs = _runs(cur)
    mine = runs[runs["scenario"] == scenario]
    if mine.empty:
        known = ", ".join(sorted(runs["scenario"].unique())) or "geen; draai eerst 'weefsel vooruit'"
        raise NotFound(f"Onbekend scenario: {scenario} (opgeslagen: {known})")
    if variant is not None and variant not in set(mine["variant"]):
        raise NotFound(f"Onbekende variant: {variant} (bekend: {', '.join(mine['variant'])})")
    return mine


_CSV_200 = {200: {"description": "JSON, or CSV with ?format=csv",
                  "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}}


PAGE_TITLE = "Vooruitblik: voorzieningen bij groei"


@lru_cache(maxsize=1)
def page_html() -> bytes:
    """/vooruit in the dashboard's house (same header, navigation, footer and style as the
    map); its own script and chart style come after the house style. Made once."""
    from weefsel.web.shell import page_shell
    head = ('<link rel="stylesheet" href="/vooruit/vooruit.css">'
            '<script type="module" src="/vooruit/vooruit.js"></script>')
    body = (STATIC / "vooruit_main.html").read_text(encoding="utf-8")
    return page_shell(PAGE_TITLE, body, active="vooruit", head=head).encode("utf-8")


@router.get("/vooruit", include_in_schema=False)
def page() -> HTMLResponse:
    return HTMLResponse(page_html())


@router.get("/vooruit/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    files = {"vooruit.js": "text/javascript", "vooruit.css": "text/css"}
    if name not in files:
        raise NotFound("Niet gevonden")
    return FileResponse(STATIC / name, media_type=f"{files[name]}; charset=utf-8")


@router.get("/api/vooruit/scenarios", summary="Opgeslagen vooruitblik-scenario's en hun varianten", responses=_CSV_200)
def scenarios(request: Request, format: Format = "json"):
    runs = _runs(_cur(request))
    cols = [c for c in ("scenario", "variant", "title_nl", "voorbeeld", "draws", "seed", "base_year",
                        "horizon", "dwellings", "notes", "created_at") if c in runs.columns]
    return _answer(runs[cols], format, "scenarios", "scenarios")


@router.get("/api/vooruit/{scenario}/areas", summary="Gebieden van een scenario (buurten, nieuwe gebieden, gemeenten)", responses=_CSV_200)
def areas(request: Request, scenario: str, format: Format = "json"):
    cur = _cur(request)
    _need(cur, scenario)
    df = cur.execute("SELECT code, name, gemeente_code, x_rd, y_rd, svi_themes_flagged FROM forward_areas "
                     "WHERE scenario = ? ORDER BY code", [scenario]).df()
    gem = cur.execute("SELECT DISTINCT area_code AS code, level FROM forward_projection WHERE scenario = ? "
                      "AND level IN ('gemeente', 'totaal') ORDER BY level DESC, code", [scenario]).df()
    if len(gem):
        names = cur.execute("SELECT code, name FROM areas WHERE code IN (SELECT unnest(?))",
                            [gem["code"].tolist()]).df() if _has(cur, "areas") else pd.DataFrame()
        gem = gem.merge(names, on="code", how="left").assign(gemeente_code=lambda d: d["code"])
        gem.loc[gem["level"] == "totaal", "name"] = "Alle gebieden samen"
        gem = gem.drop(columns=["level"])
        df = pd.concat([gem, df], ignore_index=True)
    return _answer(df, format, f"gebieden_{scenario}", "areas")


@router.get("/api/vooruit/{scenario}/projection", summary="Inwoners per leeftijdsgroep en jaar met 80/95%-intervallen", responses=_CSV_200)
def projection(request: Request, scenario: str,
               area: Annotated[str, Query(max_length=64, description="gebiedscode")],
               variant: Annotated[str, Query(max_length=64)] = "basis", format: Format = "json"):
    cur = _cur(request)
    _need(cur, scenario, variant)
    df = cur.execute("SELECT year, age_group, p025, p10, p50, p90, p975 FROM forward_projection WHERE "
                     "scenario = ? AND variant = ? AND area_code = ? ORDER BY year, age_group",
                     [scenario, variant, area]).df()
    if df.empty:
        raise NotFound(f"Onbekend gebied in dit scenario: {area}")
    return _answer(df, format, f"vooruit_{scenario}_{area}", area=area, variant=variant)


@router.get("/api/vooruit/{scenario}/gap", summary="Vraag, aanbod binnen bereik en tekort per voorziening en jaar", responses=_CSV_200)
def gap(request: Request, scenario: str, area: Annotated[str, Query(max_length=64)],
        variant: Annotated[str, Query(max_length=64)] = "basis", format: Format = "json"):
    cur = _cur(request)
    _need(cur, scenario, variant)
    df = cur.execute("SELECT norm, label_nl, unit, year, demand_p50, supply_p50, gap_p10, gap_p50, gap_p90, "
                     "p_shortfall FROM forward_gap WHERE scenario = ? AND variant = ? AND area_code = ? "
                     "ORDER BY norm, year", [scenario, variant, area]).df()
    if df.empty:
        raise NotFound(f"Geen tekortberekening voor gebied {area} (gemeenten: kies een buurt)")
    return _answer(df, format, f"tekort_{scenario}_{area}", area=area, variant=variant)


@router.get("/api/vooruit/{scenario}/gaplist", summary="Tekortlijst: gebieden en voorzieningen naar eerste jaar van tekort", responses=_CSV_200)
def gaplist(request: Request, scenario: str, variant: Annotated[str, Query(max_length=64)] = "basis",
            norm: Annotated[str | None, Query(max_length=64)] = None,
            limit: Annotated[int, Query(ge=1, le=100000)] = 500, format: Format = "json"):
    cur = _cur(request)
    _need(cur, scenario, variant)
    q = ("SELECT g.area_code, a.name, g.norm, g.label_nl, g.first_year, g.probability, g.gap_p50, g.text_nl "
         "FROM forward_gaplist g LEFT JOIN forward_areas a ON a.code = g.area_code AND a.scenario = g.scenario "
         "WHERE g.scenario = ? AND g.variant = ?")
    params: list = [scenario, variant]
    if norm:
        q += " AND g.norm = ?"
        params.append(norm)
    df = cur.execute(q + " ORDER BY g.first_year, g.probability DESC LIMIT ?", params + [limit]).df()
    return _answer(df, format, f"tekortlijst_{scenario}", variant=variant)


@router.get("/api/vooruit/{scenario}/map", summary="Kaart: eerste jaar van tekort per gebied (punten, lon/lat)")
def first_year_map(request: Request, scenario: str, norm: Annotated[str, Query(max_length=64)],
                   variant: Annotated[str, Query(max_length=64)] = "basis"):
    from pyproj import Transformer
    cur = _cur(request)
    _need(cur, scenario, variant)
    df = cur.execute("SELECT a.code, a.name, a.x_rd, a.y_rd, g.first_year, g.probability FROM forward_areas a "
                     "LEFT JOIN forward_gaplist g ON g.area_code = a.code AND g.scenario = a.scenario AND "
                     "g.variant = ? AND g.norm = ? WHERE a.scenario = ? AND a.x_rd IS NOT NULL AND "
                     "NOT isnan(a.x_rd)", [variant, norm, scenario]).df()
    lon, lat = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True).transform(
        df["x_rd"].to_numpy(), df["y_rd"].to_numpy())
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(float(x), 5), round(float(y), 5)]},
              "properties": r} for x, y, r in zip(lon, lat, _records(df.drop(columns=["x_rd", "y_rd"])))]
    return {"type": "FeatureCollection", "features": feats, "norm": norm, "variant": variant}


@router.get("/api/vooruit/compare", summary="Scenario's naast elkaar: inwoners en gebieden met tekort", responses=_CSV_200)
def compare(request: Request, names: Annotated[str, Query(max_length=500, pattern=r"^[ \t]*[^, \t]", description="namen, komma-gescheiden")],
            format: Format = "json"):
    from weefsel.forward.whatif import compare as cmp
    cur = _cur(request)
    # the same blanks as the pattern above (not Unicode's wider \s), so schema and handler agree
    wanted = [n.strip(" \t") for n in names.split(",") if n.strip(" \t")]
    if not wanted:
        raise HTTPException(422, "Ongeldige invoer: geef minstens één scenarionaam in 'names'")
    for n in wanted:
        _need(cur, n)
    tot, g = cmp(cur, wanted)
    t = tot.groupby(["scenario", "variant", "year"], as_index=False)[["p10", "p50", "p90"]].sum()
    if format == "csv":
        return _answer(g, "csv", "vergelijking")
    return {"totals": _records(t), "shortfall": _records(g), "names": wanted}


@router.post("/api/vooruit/{scenario}/wat-als", summary="Wat als: voorziening openen/sluiten/vergroten of wijk toevoegen")
def what_if(request: Request, scenario: str, body: Annotated[dict, Body(examples=[{
        "changes": [{"action": "add", "type": "school", "lon": 5.155, "lat": 52.405, "capacity": 2}],
        "variant": "basis", "draws": 100}])]):
    from weefsel.errors import WeefselError
    from weefsel.forward.scenario import parse_scenario
    from weefsel.forward.whatif import gap_moves
    from weefsel.forward.whatif import what_if as run_what_if
    cur = _cur(request)
    variant = str(body.get("variant", "basis"))
    run = _need(cur, scenario, variant).iloc[0]
    changes = body.get("changes")
    if not isinstance(changes, list) or not changes:
        raise HTTPException(422, "Ongeldige invoer: 'changes' moet een lijst met minstens één wijziging zijn")
    try:
        draws = int(body.get("draws", 100))
    except (TypeError, ValueError):
        raise HTTPException(422, "Ongeldige invoer: 'draws' is geen getal") from None
    if not 1 <= draws <= 500:
        raise HTTPException(422, "Ongeldige invoer: 'draws' moet tussen 1 en 500 liggen")
    if not isinstance(run.get("spec"), str) or not run.get("spec"):
        raise HTTPException(409, "Dit scenario is opgeslagen zonder scenariobestand; draai 'weefsel vooruit' opnieuw")
    path = request.app.state.data.path if hasattr(request.app.state.data, "path") else None
    if path is None:
        raise HTTPException(500, "Warehouse-pad onbekend")
    try:
        sc = parse_scenario(json.loads(run["spec"]), file=str(run.get("file", scenario)))
        fac = [(t, Path(f)) for t, f in json.loads(run.get("facility_files") or "[]")]
        before, after, gains = run_what_if(path, sc, changes, name=f"{scenario}+wat-als", file="wijzigingen",
                                           facilities=fac, draws=draws, seed=int(run["seed"]),
                                           variants=[variant], norms=run.get("norms_file") or None,
                                           decay=str(run.get("decay") or "gaussian:1500"))
    except WeefselError as exc:
        raise HTTPException(422, str(exc)) from None
    except (TypeError, ValueError, KeyError) as exc:  # malformed estate fields etc.
        raise HTTPException(422, f"Ongeldige invoer in 'changes': {exc}") from None
    return {"gains": _records(gains), "gap_moves": _records(gap_moves(before, after)), "draws": draws,
            "variant": variant}
