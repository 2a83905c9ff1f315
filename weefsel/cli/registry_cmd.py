"""``weefsel registry``: the operational store (first admin, import, snapshot, exports, retention)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import typer

sub = typer.Typer(help="The registry of initiatives, meeting places and signals (SQLite or PostgreSQL; "
                       "the store is WEEFSEL_REGISTRY, default weefsel-registry.sqlite).",
                  no_args_is_help=True)


def _store(url: str | None, warehouse: Path | None = None):
    from weefsel.registry.ops import OpsStore
    codes = None
    if warehouse is not None:
        import duckdb
        if not Path(warehouse).exists():
            from weefsel.errors import InputError
            raise InputError(f"warehouse {warehouse} bestaat niet")
        con = duckdb.connect(str(warehouse), read_only=True)
        codes = {c for (c,) in con.execute("SELECT code FROM areas").fetchall()}
        con.close()
    return OpsStore(url, area_codes=codes)


URL = typer.Option(None, "--url", help="SQLAlchemy URL (default: WEEFSEL_REGISTRY or the SQLite file)")


def _importer(url: str | None, warehouse: Path | None, username: str, file: Path):
    """The store and the logged-in contributor for an import (password from WEEFSEL_PASSWORD or asked)."""
    from weefsel.errors import InputError
    store = _store(url, warehouse)
    pw = os.environ.get("WEEFSEL_PASSWORD") or typer.prompt("Wachtwoord", hide_input=True)
    user = store.session_user(store.login(username, pw)[0])
    if not file.exists():
        raise InputError(f"{file} bestaat niet")
    return store, user


@sub.command("create-admin")
def create_admin(username: str = typer.Argument(...), gemeente: str = typer.Argument(..., help="GMxxxx"),
                 url: str = URL) -> None:
    """Create the first admin (password from WEEFSEL_ADMIN_PASSWORD or asked, never an argument)."""
    pw = os.environ.get("WEEFSEL_ADMIN_PASSWORD") or typer.prompt("Wachtwoord", hide_input=True,
                                                                  confirmation_prompt=True)
    uid = _store(url).create_user(username, pw, "admin", gemeente)
    typer.echo(f"beheerder {username} aangemaakt (id {uid}) voor {gemeente.upper()}")


@sub.command("migrate")
def migrate_cmd(url: str = URL) -> None:
    """Apply the schema migrations of the one store (registry and burgerbegroting; also done on
    every start) and list the versions the database now has."""
    from weefsel.registry.ops import applied, make_engine, migrate, store_url
    engine = make_engine(store_url(url))
    try:
        done = migrate(engine)
        have = applied(engine)
    finally:
        engine.dispose()
    typer.echo("nu toegepast: " + (", ".join(map(str, done)) or "geen (database was al bij)"))
    for m in have:
        typer.echo(f"  {m['version']:>3}  {m['applied_at']}  {m['name']}")


@sub.command("import-initiatives")
def import_initiatives(file: Path = typer.Argument(..., help="CSV: name, area_codes and/or lat,lon, themes, ..."),
                       username: str = typer.Option(..., "--as", help="the contributor who imports"),
                       url: str = URL,
                       warehouse: Path = typer.Option(None, help="check area codes against it")) -> None:
    """Import initiatives, skipping ones already there (similar name in the same area or within 150 m)."""
    store, user = _importer(url, warehouse, username, file)
    with file.open(encoding="utf-8-sig", newline="") as fh:
        rows = [{{"naam": "name", "beschrijving": "description", "gebieden": "area_codes"}.get(k, k): v
                 for k, v in r.items()} for r in csv.DictReader(fh)]
    res = store.import_initiatives(user, rows, source=file.name)
    typer.echo(f"{res['added']} initiatieven toegevoegd, {res['duplicates']} dubbel overgeslagen")


@sub.command("import-places")
def import_places(file: Path = typer.Argument(..., help="CSV (name,type,lat,lon,...) or GeoJSON points"),
                  username: str = typer.Option(..., "--as", help="the contributor who imports"),
                  url: str = URL, warehouse: Path = typer.Option(None, help="check area codes against it"),
                  place_type: str = typer.Option(None, "--type", help="type for rows without one (e.g. huisarts)"),
                  bbox: str = typer.Option(None, help="keep only points in lon1,lat1,lon2,lat2")) -> None:
    """Import meeting places, skipping ones already there (similar name within 150 m)."""
    from weefsel.errors import InputError
    store, user = _importer(url, warehouse, username, file)
    if file.suffix.lower() in (".geojson", ".json"):
        try:
            gj = json.loads(file.read_text(encoding="utf-8"))
            rows = []
            for i, f in enumerate(gj["features"], start=1):
                g = f.get("geometry") or {}
                if g.get("type") != "Point" or len(g.get("coordinates") or []) < 2:
                    raise InputError(f"object {i}: geen punt-geometrie", where=str(file))
                lon, lat = g["coordinates"][:2]
                rows.append({**(f.get("properties") or {}), "lat": lat, "lon": lon})
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"geen geldige GeoJSON: {exc}", where=str(file)) from None
    else:
        with file.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    alias = {"naam": "name", "soort": "type", "breedtegraad": "lat", "lengtegraad": "lon",
             "amenity": "type_osm"}
    rows = [{alias.get(k, k): v for k, v in r.items()} for r in rows]
    if place_type:
        rows = [{**r, "type": r.get("type") or place_type} for r in rows]
    if bbox:
        try:
            x1, y1, x2, y2 = (float(v) for v in bbox.split(","))
        except ValueError:
            raise InputError(f"--bbox {bbox!r}: geef vier getallen lon1,lat1,lon2,lat2") from None
        rows = [r for r in rows if _inside(r, x1, y1, x2, y2)]
    keep = {"name", "type", "lat", "lon", "area_code", "opening_hours", "capacity", "step_free", "toilet",
            "kis_veelzijdig", "kis_vanzelfsprekend", "kis_uitnodigend", "kis_toegankelijk", "programme", "source"}
    rows = [{k: v for k, v in r.items() if k in keep} for r in rows]
    res = store.import_places(user, rows, source=file.name)
    typer.echo(f"{res['added']} plekken toegevoegd, {res['duplicates']} dubbel overgeslagen")


def _inside(r: dict, x1: float, y1: float, x2: float, y2: float) -> bool:
    try:
        return x1 <= float(r.get("lon")) <= x2 and y1 <= float(r.get("lat")) <= y2
    except (TypeError, ValueError):
        return True  # let the store name the bad row


@sub.command("snapshot")
def snapshot_cmd(warehouse: Path = typer.Argument(..., help="the warehouse .duckdb"), url: str = URL) -> None:
    """Write registry counts (initiatives per 1,000, places per type/KIS key, signals per theme)
    into the warehouse as indicators with source 'registry', in one transaction."""
    from weefsel.registry.export import snapshot
    res = snapshot(_store(url), warehouse)
    typer.echo(f"momentopname {res['date']}: {res['observations']} waarden, {res['facilities']} plekken "
               f"als voorzieningen, {res['skipped_unknown_areas']} tellingen buiten dit warehouse")


@sub.command("divergence")
def divergence_cmd(warehouse: Path = typer.Argument(..., help="the warehouse .duckdb"),
                   theme: str = typer.Option(..., help="signal theme, e.g. eenzaamheid"),
                   variable: str = typer.Option(None, help="indicator variable (default per theme)"),
                   level: str = typer.Option("wijk"), url: str = URL) -> None:
    """Where signals and an indicator diverge (many signals where the monitor shows little, or the reverse)."""
    from weefsel.registry.export import divergence
    rows = divergence(_store(url), warehouse, theme, variable, level=level)
    if not rows:
        typer.echo("geen gebieden waar signalen en indicator sterk uiteenlopen")
    for r in rows:
        typer.echo(f"{r['area_code']}: {r['direction_nl']} ({r['variable']} = {r['indicator_value']:g}; "
                   f"rang signalen {r['rank_signals']}, rang indicator {r['rank_indicator']})")


@sub.command("export")
def export_cmd(what: str = typer.Argument(..., help="initiatives or places"),
               out: Path = typer.Argument(..., help=".csv, .geojson or .gpkg"), url: str = URL) -> None:
    """Export the public fields as CSV, GeoJSON or GeoPackage (open data)."""
    from weefsel.errors import InputError
    from weefsel.registry import export as rx
    if what not in rx.PUBLIC:
        raise InputError(f"onbekend: {what}", expected="initiatives of places")
    rows = rx.public_rows(_store(url), what)
    if out.suffix.lower() == ".csv":
        out.write_bytes(rx.to_csv(rows))
    elif out.suffix.lower() in (".geojson", ".json"):
        out.write_text(json.dumps(rx.to_geojson(rows), ensure_ascii=False), encoding="utf-8")
    elif out.suffix.lower() == ".gpkg":
        import geopandas as gpd
        gj = rx.to_geojson(rows)
        if not rows:
            raise InputError("niets te exporteren naar GeoPackage (geen rijen)")
        gdf = gpd.GeoDataFrame.from_features(gj["features"], crs="EPSG:4326")
        gdf.to_file(out, layer=what, driver="GPKG")
    else:
        raise InputError(f"{out}: kies een .csv-, .geojson- of .gpkg-bestand")
    typer.echo(f"{len(rows)} {what} naar {out}")


@sub.command("retention")
def retention_cmd(days: int = typer.Option(90, help="blank reporters' contact details older than this"),
                  url: str = URL) -> None:
    """Blank reporters' contact details after the retention period (run daily)."""
    n = _store(url).apply_retention(days)
    typer.echo(f"{n} contactgegevens gewist (ouder dan {days} dagen)")


def register(app: typer.Typer) -> None:
    """Add ``weefsel registry`` to the main app."""
    app.add_typer(sub, name="registry")
