"""Build a warehouse for one region, atomically.

Everything is written into a fresh file ``<out>.tmp-<pid>`` next to ``out``; only after the
data, the validation report and build_info are in, and the connection is checkpointed and
closed, is it moved onto ``out`` with ``os.replace`` (atomic on one filesystem). Any error or
interrupt removes the temporary file, so a reader never sees half a warehouse and a failed
build leaves the previous one byte for byte as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from weefsel.errors import InputError, WeefselError
from weefsel.sources.base import (
    AREA_COLUMNS,
    FACILITY_COLUMNS,
    MEMBER_COLUMNS,
    OBSERVATION_COLUMNS,
    VARIABLE_COLUMNS,
    SourceFrames,
    empty,
)
from weefsel.warehouse.discover import (
    SourceSpec,
    discover,
    gemeente_filter,
    online_specs,
)
from weefsel.config import default_geo_dir
from weefsel.warehouse.crosswalk import CURRENT_INDELING
from weefsel.warehouse.store import create_schema
from weefsel.warehouse.vintages import (
    VintageParts,
    lend_geometry,
    reexpress_all,
    split_frames,
)
from weefsel.warehouse.writer import insert_frame

LEVEL_PREFIX = {"NL": "land", "PV": "provincie", "GM": "gemeente", "WK": "wijk", "BU": "buurt"}
NATIONAL_ALIASES = {"NL01": "NL00"}
#: Online boundaries: PDOK gebiedsindelingen of the KWB classification year.
PDOK_YEAR = 2024
PDOK_LEVELS = ["provincie", "gemeente", "wijk", "buurt"]
#: Indeling of the health monitor (50090NED): its buurten are fetched for the crosswalk.
HEALTH_INDELING = 2020
#: Extra area columns (boundary quality) merged with the loader contract's AREA_COLUMNS.
AREA_EXTRA = ["geom_quality", "geom_note"]
GEOM_RANK = {"exact": 0, "generalised": 1, "approximate": 2}


@dataclass
class SourceReport:
    """What one source contributed (for the validation report and `weefsel info`)."""

    label: str
    kind: str
    scope: str
    table_id: str | None = None
    rows_read: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    observations: int = 0           # long-form values read
    kept: int = 0                   # values kept after region filter and dedupe
    duplicates: int = 0             # values dropped because an earlier source had them
    areas: int = 0
    facilities: int = 0
    seconds: float = 0.0


@dataclass
class BuildReport:
    region: str
    out: Path
    data_dir: Path | None
    online: bool
    sources: list[SourceReport] = field(default_factory=list)
    level_counts: dict[str, int] = field(default_factory=dict)
    observations: int = 0
    facilities: int = 0
    validation: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0
    region_name: str = ""
    gemeenten: list[str] = field(default_factory=list)
    #: the registry snapshot carried over from the warehouse this build replaced (or None)
    registry: dict | None = None

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.sources)


# --------------------------------------------------------------------------- loaders

def _load(spec: SourceSpec, context: dict[str, Any]) -> SourceFrames:
    """Call the loader for one spec (imports lazily: loaders pull in heavy libraries)."""
    k, p, kw = spec.kind, spec.path, spec.kwargs
    if k == "region_list":
        from weefsel.sources import kwb
        return kwb.load_region_list(p)
    if k == "kwb_csv":
        from weefsel.sources import kwb
        return kwb.load_kwb_csv(p, dataproperties=kw.get("dataproperties"),
                                table_id=kw.get("table_id") or "85984NED")
    if k == "kwb_xlsx":
        from weefsel.sources import kwb
        return kwb.load_kwb_xlsx(p, year=kw.get("year"))
    if k == "kwb_basic":
        from weefsel.sources import kwb
        return kwb.load_kwb_basic(p)
    if k == "buurt_population":
        from weefsel.sources import kwb
        return kwb.load_buurt_population(p)
    if k == "health":
        from weefsel.sources import health
        return health.load_health_csv(p)
    if k == "ses":
        from weefsel.sources import ses
        return ses.load_ses_csv(p)
    if k == "vm":
        from weefsel.sources import veiligheidsmonitor
        return veiligheidsmonitor.load_vm_csv(p, known_areas=context.get("areas"))
    if k == "nabijheid":
        from weefsel.sources import nabijheid
        return nabijheid.load_nabijheid_csv(p)
    if k == "boundaries":
        from weefsel.sources import boundaries
        return boundaries.load_boundaries(p)
    if k == "osm":
        from weefsel.sources import osm
        return osm.load_osm(p)
    if k == "crime":
        from weefsel.sources import crime
        return crime.load_crime_csv(p)
    if k in ("postcode", "facility_csv"):
        return _facility_list(spec, context)
    if k == "odata":
        client = context.get("odata_client")
        if client is None:
            from weefsel.sources.cbs_odata import ODataClient
            client = context["odata_client"] = ODataClient()
        return client.load_table(spec.table_id, filter=kw.get("filter"))
    if k == "pdok":
        frames = _pdok(context, kw["level"], kw["year"])
        if len(frames.areas) and "indeling" not in frames.areas.columns:
            frames.areas = frames.areas.assign(indeling=kw["year"])
        return frames
    raise WeefselError(f"no loader for source kind {k!r}")


def _facility_list(spec: SourceSpec, context: dict[str, Any]) -> SourceFrames:
    """Postcode centroid tables (kept for placing) and CSV facility lists placed with them."""
    from weefsel.sources import facility_csv, postcode
    if spec.kind == "postcode":
        idx = postcode.load_postcode_index([spec.path])
        context.setdefault("postcode_tables", {})[str(spec.path)] = idx
        from weefsel.sources.base import sha256_of
        rows = sum(len(v) for v in idx.pc4.values()) + len(idx.pc6)
        return SourceFrames(source=spec.label, rows_read=rows, provenance=[{
            "file": str(spec.path), "sha256": sha256_of(spec.path), "table_id": "postcode",
            "publisher": "GeoNames postal codes (via symerio/postal-codes-data)"
            if "geonames" in spec.label.lower() else "postcode centroids",
            "licence": "CC BY 4.0" if "geonames" in spec.label.lower() else None}])
    tables = context.setdefault("postcode_tables", {})
    merged = postcode.PostcodeIndex()
    for path in spec.kwargs.get("postcodes") or []:
        idx = tables.get(str(path)) or postcode.load_postcode_index([path])
        tables[str(path)] = idx
        for k, v in idx.pc6.items():
            merged.pc6.setdefault(k, v)
        for k, v in idx.pc4.items():
            merged.pc4.setdefault(k, v)
    return facility_csv.load_facility_csv(spec.path, postcodes=merged)


def _pdok(context: dict[str, Any], level: str, year: int) -> SourceFrames:
    """PDOK gebiedsindelingen for one level/year, fetched once per build (cached)."""
    cache = context.setdefault("pdok_cache", {})
    if (level, year) not in cache:
        client = context.get("pdok_client")
        if client is None:
            from weefsel.sources.boundaries import PdokClient
            client = context["pdok_client"] = PdokClient()
        try:
            cache[(level, year)] = client.fetch(level, year)
        except WeefselError:
            raise
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:   # network down, DNS, TLS: one clear line
            raise WeefselError(f"PDOK boundaries ({level} {year}) not reachable: "
                               f"{type(exc).__name__}: {exc}. Without internet, build from "
                               "files with --data DIR.") from exc
    return cache[(level, year)]


def load_source(spec: SourceSpec, context: dict[str, Any]) -> SourceFrames:
    """Run one loader; turn anything unexpected into an InputError naming the file."""
    try:
        frames = _load(spec, context)
    except WeefselError as exc:
        if spec.path is not None and spec.path.name not in str(exc):
            raise InputError(str(exc), where=str(spec.path)) from exc
        raise
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # a broken file must give one clear line, not a traceback
        if spec.path is None:
            raise WeefselError(f"{spec.label} not reachable ({type(exc).__name__}: {exc}). "
                               "Without internet, build from files with --data DIR.") from exc
        raise InputError(f"could not read {spec.kind} source ({type(exc).__name__}: {exc})",
                         where=str(spec.path)) from exc
    if not isinstance(frames, SourceFrames):
        raise WeefselError(f"loader for {spec.label} returned {type(frames).__name__}, "
                           "not SourceFrames")
    return frames


# --------------------------------------------------------------------------- merging

def _norm_codes(s: pd.Series) -> pd.Series:
    s = s.astype("object").where(s.notna(), None)
    s = s.map(lambda v: v.strip() if isinstance(v, str) else v)
    return s.replace(NATIONAL_ALIASES)


def _conform(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    if frame is None or len(frame) == 0:
        return empty(columns)
    out = frame.copy()
    for c in columns:
        if c not in out.columns:
            out[c] = None
    return out[columns]


def merge_areas(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per code; each column takes the first non-null value in source order.

    Source order puts the region list and the KWB tables first (names, parents) and the
    boundary files after them (geometry), so names come from CBS and geometry from PDOK.
    The polygon (with its quality and note) is taken whole from one source: the best quality
    (exact, then generalised, then approximate), in source order among equals, so an
    approximate map never replaces an exact polygon.
    """
    cols = [*AREA_COLUMNS, *AREA_EXTRA]
    parts = [_conform(f, cols) for f in frames if f is not None and len(f)]
    if not parts:
        return empty(cols)
    allareas = pd.concat(parts, ignore_index=True)
    allareas["code"] = _norm_codes(allareas["code"])
    allareas = allareas[allareas["code"].notna() & (allareas["code"] != "")]
    for c in cols:
        allareas[c] = allareas[c].astype("object")
    geo_cols = ["geom_rd", "geom_quality", "geom_note"]
    rest = [c for c in cols if c not in geo_cols]
    merged = allareas[rest].groupby("code", sort=False, dropna=True).first().reset_index()
    geo = allareas[allareas["geom_rd"].notna()][["code", *geo_cols]]
    if len(geo):
        geo = geo.assign(_r=geo["geom_quality"].map(GEOM_RANK).fillna(1))
        geo = geo.sort_values("_r", kind="stable").drop_duplicates("code")
        merged = merged.merge(geo[["code", *geo_cols]], on="code", how="left")
    else:
        for c in geo_cols:
            merged[c] = None
    return complete_parents(merged[cols])


def complete_parents(areas: pd.DataFrame) -> pd.DataFrame:
    """Fill level, gemeente_code and wijk_code from the CBS code structure where missing."""
    areas = areas.copy()
    prefix = areas["code"].str[:2]
    derived_level = prefix.map(LEVEL_PREFIX)
    areas["level"] = areas["level"].where(areas["level"].notna(), derived_level)
    gm = "GM" + areas["code"].str[2:6]
    is_gwb = prefix.isin(["GM", "WK", "BU"]) & (areas["code"].str.len() >= 6)
    areas["gemeente_code"] = areas["gemeente_code"].where(
        areas["gemeente_code"].notna() | ~is_gwb, gm)
    is_bu = (prefix == "BU") & (areas["code"].str.len() >= 8)
    areas["wijk_code"] = areas["wijk_code"].where(
        areas["wijk_code"].notna() | ~is_bu, "WK" + areas["code"].str[2:8])
    return areas


def add_provinces(areas: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """provincie_code for gemeenten by polygon overlay, propagated to wijken and buurten."""
    areas = areas.copy()
    gem = areas[(areas["level"] == "gemeente") & areas["geom_rd"].notna()]
    prov = areas[(areas["level"] == "provincie") & areas["geom_rd"].notna()]
    mapping: dict[str, str] = {}
    if len(gem) and len(prov):
        from weefsel.sources.boundaries import provincie_of_gemeenten
        mapping = dict(provincie_of_gemeenten(gem, prov))
    # keep what loaders already knew, fill the rest from the overlay
    known = areas[(areas["level"] == "gemeente") & areas["provincie_code"].notna()]
    for code, pv in zip(known["code"], known["provincie_code"]):
        mapping.setdefault(code, pv)
    fill = areas["gemeente_code"].map(mapping)
    areas["provincie_code"] = areas["provincie_code"].where(areas["provincie_code"].notna(), fill)
    if not (areas["code"] == "NL00").any():
        land = {c: None for c in AREA_COLUMNS}
        land.update(code="NL00", level="land", name="Nederland", source="weefsel")
        areas = pd.concat([pd.DataFrame([land]), areas], ignore_index=True)
    return areas, mapping


def select_codes(areas: pd.DataFrame, members: pd.DataFrame, selection: Any) -> set[str]:
    """Codes of the region: its own areas, the land (reference), its provinces, and named
    regions (police basisteams...) with at least one member gemeente inside."""
    if getattr(selection, "is_national", False):
        return set(areas["code"])
    keep = {c for c in areas["code"] if selection.contains(c)}
    keep |= set(areas.loc[areas["level"] == "land", "code"])
    keep |= set(getattr(selection, "provincie_codes", []) or [])
    if len(members):
        inside = members[members["member_code"].isin(keep)]["region_code"]
        keep |= set(inside)
    return keep


def _resolve(region: str, areas: pd.DataFrame, provincie_of: dict[str, str],
             members: pd.DataFrame | None = None) -> Any:
    from weefsel.sources.regions import resolve_region
    if members is not None and len(members):
        return resolve_region(region, areas, provincie_of, members)
    return resolve_region(region, areas, provincie_of)


# --------------------------------------------------------------------------- build

def _tmp_path(out: Path) -> Path:
    return out.with_name(f"{out.name}.tmp-{os.getpid()}")


def _remove(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  transient=False) as prog:
        yield prog


def plan_sources(data_dir: Path | None, online: bool, gemeenten: list[str] | None = None,
                 tables: list[str] | None = None) -> list[SourceSpec]:
    """Offline specs from the data folder, or the online OData tables for the gemeenten."""
    if online:
        specs = online_specs(tables)
        flt = gemeente_filter(gemeenten or [])
        for s in specs:
            if s.table_id != "85146NED":     # VM is small and keyed by name: fetch whole
                s.kwargs["filter"] = flt
        for level in PDOK_LEVELS:
            specs.append(SourceSpec(kind="pdok", path=None, scope="online",
                                    kwargs={"level": level, "year": PDOK_YEAR},
                                    table_id=f"pdok:{level}_gegeneraliseerd:{PDOK_YEAR}"))
        # the health monitor's own indeling, for the crosswalk onto the current one
        specs.append(SourceSpec(kind="pdok", path=None, scope="online",
                                kwargs={"level": "buurt", "year": HEALTH_INDELING},
                                table_id=f"pdok:buurt_gegeneraliseerd:{HEALTH_INDELING}"))
        return specs
    if data_dir is None:
        raise WeefselError("No data folder found (looked for $WEEFSEL_DATA and ../shared/data). "
                           "Give --data DIR, or --online to fetch from CBS.")
    return discover(Path(data_dir)) + geo_specs(default_geo_dir(Path(data_dir)))


def geo_specs(geo_dir: Path | None) -> list[SourceSpec]:
    """Boundary files of the geo folder (``$WEEFSEL_GEO`` or a ``geo/`` folder beside the data
    folder), read after every data source: each file's vintage and quality come from the file
    itself, so a 2019 file only feeds the crosswalk and approximate polygons only fill areas
    that have no better one."""
    if geo_dir is None:
        return []
    files = sorted(p for p in Path(geo_dir).iterdir()
                   if p.is_file() and p.suffix.lower() in (".geojson", ".topojson", ".gpkg"))
    return [SourceSpec(kind="boundaries", path=p, scope="national", kwargs={"geo": True})
            for p in files]


def build(region: str, data_dir: Path | None, out: Path, online: bool = False,
          progress: bool = True, *, odata_client: Any = None, pdok_client: Any = None,
          overpass_client: Any = None, specs: list[SourceSpec] | None = None,
          force: bool = False) -> BuildReport:
    """Build the warehouse for ``region`` from ``data_dir`` (or online) into ``out``.

    Atomic: the previous ``out`` is replaced only when the whole build has succeeded. ``out``
    must be a weefsel warehouse or absent, and a build that yields no values, or less than
    half of those of the warehouse it replaces, stops unless ``force`` (safety.py).
    """
    out = Path(out)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    if not region or not str(region).strip():
        raise WeefselError("Give a region: a province, gemeente (name or code) or 'nl'.")
    if not online and data_dir is not None and not Path(data_dir).is_dir():
        raise WeefselError(f"Data folder {data_dir} does not exist. Give --data DIR, or use "
                           "--online to read the CBS sources over the internet.")
    if out.is_dir():
        raise WeefselError(f"--out {out} is a folder; give a file name such as "
                           f"{out / 'weefsel.duckdb'}")
    from weefsel.warehouse.safety import check_out_target, check_replacement, previous_values
    check_out_target(out)
    previous = previous_values(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(out)
    _remove(tmp)
    _remove_orphans(out)
    report = BuildReport(region=region, out=out, data_dir=Path(data_dir) if data_dir else None,
                         online=online)
    context: dict[str, Any] = {"odata_client": odata_client, "pdok_client": pdok_client,
                               "overpass_client": overpass_client, "online": online}
    restore = _terminate_as_exit()
    try:
        with _progress(progress) as prog:
            result = _build_into(tmp, region, data_dir, online, specs, context, report, prog)
        con = result
        check_replacement(report.observations, previous, out, force)
        from weefsel import __version__ as version
        finished = dt.datetime.now(dt.UTC)
        info = {
            "region": region, "region_name": report.region_name,
            "gemeenten": ",".join(report.gemeenten),
            "data_dir": str(Path(data_dir).resolve()) if data_dir and not online else "",
            "online": str(bool(online)).lower(),
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "weefsel_version": version,
            "rows_read": str(report.rows_read),
            "observations": str(report.observations),
        }
        insert_frame(con, "build_info", pd.DataFrame(
            {"key": list(info), "value": list(info.values())}))
        from weefsel.registry.export import carry_over   # a rebuild keeps the registry snapshot
        report.registry = carry_over(out, con)
        if report.registry:
            report.facilities += report.registry["facilities"]
        con.execute("CHECKPOINT")
        con.close()
        _swap(tmp, out)
    except BaseException:
        with contextlib.suppress(Exception):
            con.close()  # type: ignore[possibly-undefined]
        _remove(tmp)
        raise
    finally:
        restore()
    report.seconds = time.perf_counter() - t0
    return report


def _terminate_as_exit() -> Any:
    """Turn SIGTERM (``kill``) into SystemExit while building, so the temporary file is
    removed on the way out; returns a function restoring the previous handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _remove_orphans(out: Path) -> None:
    """Delete ``<out>.tmp-<pid>`` files of builds whose process is gone (SIGKILL, power
    loss): they were never swapped in and nobody else will clean them."""
    for p in out.parent.glob(f"{out.name}.tmp-*"):
        pid = p.name.rsplit("-", 1)[-1].split(".")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove(p)
        except PermissionError:
            pass


def _swap(tmp: Path, out: Path) -> None:
    """Move the finished file onto ``out``; a stale WAL of the old file must not be replayed
    onto the new one, so it is set aside first and restored if the move fails."""
    wal = Path(str(out) + ".wal")
    stale = Path(str(out) + f".wal.stale-{os.getpid()}")
    moved = False
    if wal.exists():
        os.replace(wal, stale)
        moved = True
    try:
        os.replace(tmp, out)
    except BaseException:
        if moved:
            os.replace(stale, wal)
        raise
    if moved:
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _build_into(tmp: Path, region: str, data_dir: Path | None, online: bool,
                specs: list[SourceSpec] | None, context: dict[str, Any],
                report: BuildReport, prog: Any) -> duckdb.DuckDBPyConnection:
    from weefsel.warehouse.validate import run_validation

    gemeenten_hint: list[str] = []
    if online and specs is None:
        gemeenten_hint = _online_gemeenten(region, data_dir, context)
    if specs is None:
        specs = plan_sources(data_dir, online, gemeenten_hint)
    task = prog.add_task("Reading sources", total=len(specs)) if prog else None
    loaded: list[tuple[SourceSpec, SourceFrames, SourceReport]] = []
    area_frames: list[pd.DataFrame] = []
    vparts = VintageParts()
    for spec in specs:
        if prog:
            prog.update(task, description=f"Reading {spec.label[:60]}")
        t = time.perf_counter()
        context["areas"] = merge_areas(area_frames) if spec.kind == "vm" else None
        frames = load_source(spec, context)
        rep = SourceReport(label=spec.label, kind=spec.kind, scope=spec.scope,
                           table_id=spec.table_id, rows_read=int(frames.rows_read or 0),
                           rejected=len(frames.rejections),
                           reasons=Counter(r.reason for r in frames.rejections),
                           observations=len(frames.observations), areas=len(frames.areas),
                           facilities=len(frames.facilities))
        rep.seconds = time.perf_counter() - t
        split_frames(frames, spec.kind, vparts)   # other indelingen: crosswalk only
        area_frames.append(frames.areas)
        loaded.append((spec, frames, rep))
        report.sources.append(rep)
        if prog:
            prog.advance(task)

    steps = prog.add_task("Merging and writing", total=6) if prog else None

    def step(msg: str) -> None:
        if prog:
            prog.update(steps, description=msg)
            prog.advance(steps)

    # Areas: merged, parents completed, provinces by overlay, land present.
    members = pd.concat([_conform(f.members, MEMBER_COLUMNS) for _, f, _ in loaded],
                        ignore_index=True).drop_duplicates()
    areas = lend_geometry(merge_areas(area_frames), vparts.lend)
    # codes seen only in observations still need an area row
    obs_codes: set[str] = set()
    for _, f, _ in loaded:
        if len(f.observations):
            uniq = pd.Series(pd.unique(f.observations["area_code"].astype("object")))
            obs_codes |= set(_norm_codes(uniq).dropna())
    missing = sorted(obs_codes - set(areas["code"]))
    if missing:
        extra = pd.DataFrame({"code": missing})
        extra = _conform(extra, AREA_COLUMNS)
        extra["source"] = "observations"
        areas = complete_parents(pd.concat([areas, extra], ignore_index=True))
        areas = areas[areas["level"].notna()]
    areas, provincie_of = add_provinces(areas)
    step("Resolving the region")

    selection = _resolve(region, areas, provincie_of, members)
    report.region_name = str(getattr(selection, "name", region))
    keep = select_codes(areas, members, selection)
    national = bool(getattr(selection, "is_national", False))
    vintage = None
    if vparts.observations:
        step("Re-expressing other indelingen through the crosswalk")
        vintage = reexpress_all(vparts, areas, _population(loaded), _variables(loaded),
                                keep=None if national else keep)
    areas = areas[areas["code"].isin(keep)].reset_index(drop=True)
    areas = _note_missing_geometry(areas)
    members = members[members["region_code"].isin(keep)]
    report.gemeenten = sorted(areas.loc[areas["level"] == "gemeente", "code"])
    step("Assigning facilities to areas")

    fac_frames = [_conform(f.facilities, FACILITY_COLUMNS) for _, f, _ in loaded]
    if context.get("online") and not getattr(selection, "is_national", False):
        extra = _overpass_facilities(context, areas, report)
        if extra is not None and len(extra):
            fac_frames.append(_conform(extra, FACILITY_COLUMNS))
    facilities = pd.concat(fac_frames, ignore_index=True)
    if len(facilities):
        facilities = facilities.drop_duplicates("facility_id", keep="first")
        polys = areas[areas["geom_rd"].notna()]
        if len(polys):
            from shapely import from_wkb, total_bounds

            from weefsel.sources.osm import assign_areas
            x0, y0, x1, y1 = total_bounds(from_wkb([bytes(g) for g in polys["geom_rd"]]))
            b = BORDER_SUPPLY_M
            x = pd.to_numeric(facilities["x_rd"], errors="coerce")
            y = pd.to_numeric(facilities["y_rd"], errors="coerce")
            facilities = facilities[x.between(x0 - b, x1 + b) & y.between(y0 - b, y1 + b)]
            if len(facilities):
                # points outside the region are expected here (border supply): not a warning
                import logging
                osm_log = logging.getLogger("weefsel.sources.osm")
                level = osm_log.level
                osm_log.setLevel(logging.ERROR)
                try:
                    facilities = assign_areas(facilities, polys)
                finally:
                    osm_log.setLevel(level)
        near = _near_border(facilities, areas)
        facilities = facilities[facilities["area_code"].isin(keep) | near]
    step("Writing the warehouse")

    con = duckdb.connect(str(tmp))
    try:
        create_schema(con)
        insert_frame(con, "areas", areas)
        insert_frame(con, "area_members", members)
        _write_observations(con, loaded, keep, national)
        if vintage is not None:
            _write_vintages(con, vintage, report)
        variables = pd.concat([_conform(f.variables, VARIABLE_COLUMNS) for _, f, _ in loaded],
                              ignore_index=True)
        variables = variables[variables["variable"].notna()].drop_duplicates("variable")
        variables["stem"] = variables["stem"].where(variables["stem"].notna(),
                                                    variables["variable"])
        insert_frame(con, "variables", variables)
        insert_frame(con, "facilities", _conform(facilities, FACILITY_COLUMNS))
        prov = _provenance(loaded)
        if context.get("extra_provenance"):
            prov = pd.concat([prov, pd.DataFrame(context["extra_provenance"])], ignore_index=True)
        insert_frame(con, "provenance", prov)
        step("Validating")
        report.level_counts = dict(con.execute(
            "SELECT level, count(*) FROM areas GROUP BY level").fetchall())
        report.observations = con.execute("SELECT count(*) FROM observations").fetchall()[0][0]
        report.facilities = con.execute("SELECT count(*) FROM facilities").fetchall()[0][0]
        report.validation = run_validation(con, report)
        if vintage is not None and vintage.notes:
            notes = pd.DataFrame(vintage.notes)
            insert_frame(con, "validation", notes)
            report.validation = pd.concat([report.validation, notes], ignore_index=True)
        step("Finishing")
    except BaseException:
        con.close()
        raise
    return con


#: Facilities this close (m) outside the region's gemeenten are kept as supply with area_code
#: NULL: residents cross the border for a school or GP, and CBS's distances count them too.
BORDER_SUPPLY_M = 5000.0


def _near_border(facilities: pd.DataFrame, areas: pd.DataFrame) -> pd.Series:
    """Facilities outside every area of the region but within BORDER_SUPPLY_M of a gemeente."""
    near = pd.Series(False, index=facilities.index)
    outside = facilities["area_code"].isna()
    gem = areas[(areas["level"] == "gemeente") & areas["geom_rd"].notna()]
    if not outside.any() or gem.empty:
        return near
    import shapely
    tree = shapely.STRtree(shapely.from_wkb([bytes(g) for g in gem["geom_rd"]]))
    sub = facilities[outside]
    pts = shapely.points(pd.to_numeric(sub["x_rd"]).to_numpy(float),
                         pd.to_numeric(sub["y_rd"]).to_numpy(float))
    hit, _ = tree.query(pts, predicate="dwithin", distance=BORDER_SUPPLY_M)
    near.loc[sub.index[sorted(set(hit.tolist()))]] = True
    return near


def _scan(obs: pd.DataFrame) -> Any:
    """Hand a frame to DuckDB as Arrow (twice as fast to scan as pandas string columns)."""
    import pyarrow as pa
    try:
        return pa.Table.from_pandas(obs, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return obs


def _write_observations(con: duckdb.DuckDBPyConnection,
                        loaded: list[tuple[SourceSpec, SourceFrames, SourceReport]],
                        keep: set[str], national: bool = False) -> None:
    """Write every source's values in source order (national before subset); a value whose
    (area, period, variable, breakdown) an earlier source already gave is skipped and counted.

    Only sources that share variables with an earlier one are anti-joined, so the big
    national tables go straight in (a full window dedupe over millions of rows took most of
    the build time).
    """
    cols = [*OBSERVATION_COLUMNS, "indeling", "method"]
    keep_raw = list(keep | {alias for alias, code in NATIONAL_ALIASES.items() if code in keep})
    if not national:
        con.execute("CREATE TEMP TABLE _keep (code VARCHAR)")
        con.register("_keep_df", pd.DataFrame({"code": sorted(keep)}))
        con.execute("INSERT INTO _keep SELECT code FROM _keep_df")
        con.unregister("_keep_df")
    seen_vars: set[str] = set()
    for i, (_, frames, rep) in enumerate(loaded):
        obs = frames.observations
        if obs is None or len(obs) == 0:
            continue
        have = set(obs.columns)
        if not {"area_code", "period", "variable"} <= have:
            raise WeefselError(f"loader for {rep.label} returned observations without "
                               "area_code/period/variable")
        if not national:   # regional build: drop other regions before the SQL scan
            obs = obs[obs["area_code"].isin(keep_raw)]
        # normalise in SQL (millions of rows): trimmed codes, NL01 -> NL00, text periods
        expr = {c: (f'"{c}"' if c in have else "NULL") for c in cols}
        code = "trim(CAST(area_code AS VARCHAR))"
        default_source = (rep.table_id or rep.label).replace("'", "''")
        sel = {
            "area_code": f"CASE WHEN {code} = 'NL01' THEN 'NL00' ELSE {code} END",
            "period": "CAST(period AS VARCHAR)",
            "variable": "CAST(variable AS VARCHAR)",
            "breakdown": f"coalesce(CAST({expr['breakdown']} AS VARCHAR), '')",
            "value": f"TRY_CAST({expr['value']} AS DOUBLE)",
            "lower": f"TRY_CAST({expr['lower']} AS DOUBLE)",
            "upper": f"TRY_CAST({expr['upper']} AS DOUBLE)",
            "source": f"coalesce(CAST({expr['source']} AS VARCHAR), '{default_source}')",
            "indeling": (f"coalesce(TRY_CAST(\"indeling\" AS INTEGER), {CURRENT_INDELING})"
                         if "indeling" in have else str(CURRENT_INDELING)),
            "method": ("coalesce(CAST(\"method\" AS VARCHAR), 'published')"
                       if "method" in have else "'published'"),
        }
        variables = set(obs["variable"].dropna().astype(str).unique())
        shared = sorted(variables & seen_vars)
        seen_vars |= variables
        con.register("_frame", _scan(obs))
        norm = (f"SELECT {', '.join(sel[c] + ' AS ' + c for c in cols)} FROM _frame")
        where = "WHERE n.period IS NOT NULL AND n.variable IS NOT NULL"
        if not national:
            where += " AND n.area_code IN (SELECT code FROM _keep)"
        total = con.execute(f"SELECT count(*) FROM ({norm}) n {where}").fetchall()[0][0] \
            if shared else None
        if shared:
            con.register("_shared", pd.DataFrame({"variable": shared}))
            where += (" AND NOT (n.variable IN (SELECT variable FROM _shared) AND EXISTS ("
                      "SELECT 1 FROM observations o WHERE o.area_code = n.area_code AND "
                      "o.period = n.period AND o.variable = n.variable AND "
                      "o.breakdown = n.breakdown))")
        inserted = con.execute(f"INSERT INTO observations ({', '.join(cols)}) "
                               f"SELECT * FROM ({norm}) n {where}").fetchall()[0][0]
        con.unregister("_frame")
        if shared:
            con.unregister("_shared")
        rep.kept = int(inserted)
        rep.duplicates = int(total - inserted) if total is not None else 0
    if not national:
        con.execute("DROP TABLE _keep")


def _population(loaded: list[tuple[SourceSpec, SourceFrames, SourceReport]]) -> dict[str, float]:
    """Current inhabitants per area code (KWB AantalInwoners, newest period first): the
    crosswalk's dasymetric weights."""
    parts = []
    for _, frames, _ in loaded:
        o = frames.observations
        if o is None or not len(o) or "variable" not in o:
            continue
        sel = o[(o["variable"] == "AantalInwoners")
                & (o.get("breakdown", pd.Series("", index=o.index)).fillna("") == "")]
        if len(sel):
            parts.append(sel[["area_code", "period", "value"]])
    if not parts:
        return {}
    pop = pd.concat(parts, ignore_index=True)
    pop["value"] = pd.to_numeric(pop["value"], errors="coerce")
    pop = pop.dropna(subset=["value"])
    pop["area_code"] = _norm_codes(pop["area_code"])
    pop = pop.sort_values("period", ascending=False, kind="stable").drop_duplicates("area_code")
    return dict(zip(pop["area_code"], pop["value"].astype(float)))


def _variables(loaded: list[tuple[SourceSpec, SourceFrames, SourceReport]]) -> pd.DataFrame:
    frames = [_conform(f.variables, VARIABLE_COLUMNS) for _, f, _ in loaded]
    v = pd.concat(frames, ignore_index=True) if frames else empty(VARIABLE_COLUMNS)
    return v[v["variable"].notna()].drop_duplicates("variable")


def _note_missing_geometry(areas: pd.DataFrame) -> pd.DataFrame:
    """Say in Dutch why an area has no polygon (export, profile, map legend)."""
    areas = areas.copy()
    for c in AREA_EXTRA:
        if c not in areas:
            areas[c] = None
    missing = areas["geom_rd"].isna() & areas["level"].isin(
        ["provincie", "gemeente", "wijk", "buurt"])
    areas.loc[missing, "geom_quality"] = None
    areas.loc[missing, "geom_note"] = (
        f"Geen grens bekend: dit gebied staat in geen van de grensbestanden van indeling "
        f"{CURRENT_INDELING} (het wordt wel in tabellen getoond, niet op de kaart).")
    return areas


def _write_vintages(con: duckdb.DuckDBPyConnection, v: Any, report: BuildReport) -> None:
    """Re-expressed values (a published value on the current indeling wins), the originals,
    the crosswalk and the areas of every vintage."""
    from weefsel.warehouse.crosswalk import CROSSWALK_COLUMNS
    obs = v.observations
    if len(obs):
        cols = [*OBSERVATION_COLUMNS, "indeling", "method"]
        have = {r[0] for r in con.execute("SELECT DISTINCT variable FROM observations").fetchall()}
        shared = have & set(pd.unique(obs["variable"]))
        con.register("_re", _scan(obs[cols]))
        where = ("WHERE NOT EXISTS (SELECT 1 FROM observations o WHERE "
                 "o.area_code = n.area_code AND o.period = n.period AND "
                 "o.variable = n.variable AND o.breakdown = n.breakdown)") if shared else ""
        con.execute(f"INSERT INTO observations ({', '.join(cols)}) SELECT {', '.join(cols)} "
                    f"FROM _re n {where}")
        con.unregister("_re")
    orig = v.originals
    if len(orig):
        orig = orig.copy()
        for c in ["breakdown", "lower", "upper", "source"]:
            if c not in orig:
                orig[c] = None
        orig["breakdown"] = orig["breakdown"].fillna("")
        cols = [*OBSERVATION_COLUMNS, "indeling", "method"]
        con.register("_orig", _scan(orig[cols]))
        con.execute(f"INSERT INTO observations_original ({', '.join(cols)}) "
                    f"SELECT {', '.join(cols)} FROM _orig")
        con.unregister("_orig")
    if len(v.crosswalk):
        insert_frame(con, "crosswalk", v.crosswalk[CROSSWALK_COLUMNS])
    if len(v.area_vintages):
        insert_frame(con, "area_vintages", v.area_vintages)


def _provenance(loaded: list[tuple[SourceSpec, SourceFrames, SourceReport]]) -> pd.DataFrame:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for spec, frames, rep in loaded:
        entries = frames.provenance or [{}]
        for e in entries:
            row = {"file": str(spec.path) if spec.path else spec.label,
                   "table_id": spec.table_id, "rows_read": rep.rows_read,
                   "rows_rejected": rep.rejected, "ingested_at": now}
            row.update({k: v for k, v in e.items() if v is not None})
            if row.get("sha256") is None and spec.path is not None:
                from weefsel.sources.base import sha256_of
                row["sha256"] = sha256_of(spec.path)
            rows.append(row)
    frame = pd.DataFrame(rows)
    if "ingested_at" in frame:
        frame["ingested_at"] = pd.to_datetime(frame["ingested_at"], utc=True,
                                              errors="coerce").dt.tz_localize(None)
    return frame


def _online_gemeenten(region: str, data_dir: Path | None,
                      context: dict[str, Any] | None = None) -> list[str]:
    """Gemeente codes of the region, for the OData filter of the online path.

    Resolution needs the gemeente list and provinces: a local region list / boundaries are
    used when present, else the PDOK gemeente and provincie layers (cached for the build).
    'nl' fetches whole tables.
    """
    context = context if context is not None else {}
    if region.strip().lower() in ("nl", "nederland", "nl00"):
        return []
    if data_dir is not None and Path(data_dir).is_dir():
        specs = [s for s in discover(Path(data_dir)) if s.kind in ("region_list", "boundaries")]
        frames = [load_source(s, {}).areas for s in specs]
    else:
        frames = [_pdok(context, "gemeente", PDOK_YEAR).areas,
                  _pdok(context, "provincie", PDOK_YEAR).areas]
    areas, prov = add_provinces(merge_areas(frames))
    sel = _resolve(region, areas, prov)
    return sorted(getattr(sel, "gemeente_codes", []) or [])


def _overpass_facilities(context: dict[str, Any], areas: pd.DataFrame,
                         report: BuildReport) -> pd.DataFrame | None:
    """Facilities of the region from Overpass (online builds of a region, not of 'nl').

    Overpass is often busy: a failure is reported in the validation report and the build
    goes on without facilities rather than failing the CBS part.
    """
    from pyproj import Transformer
    from shapely import wkb

    polys = areas[(areas["level"] == "gemeente") & areas["geom_rd"].notna()]
    if polys.empty:
        return None
    bounds = [wkb.loads(bytes(g)).bounds for g in polys["geom_rd"]]
    x0, y0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    x1, y1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    tr = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)
    (w, s_), (e, n) = tr.transform(x0, y0), tr.transform(x1, y1)
    client = context.get("overpass_client")
    rep = SourceReport(label="Overpass (OpenStreetMap)", kind="overpass", scope="online",
                       table_id="overpass")
    report.sources.append(rep)
    t = time.perf_counter()
    try:
        if client is None:
            from weefsel.sources.osm import OverpassClient
            client = context["overpass_client"] = OverpassClient()
        frames = client.fetch((s_, w, n, e))
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # busy or unreachable Overpass: report, go on without
        rep.rejected = 1
        rep.reasons[f"Overpass not reachable, no facilities: {exc}"] += 1
        return None
    rep.rows_read = int(frames.rows_read or 0)
    rep.rejected = len(frames.rejections)
    rep.reasons = Counter(r.reason for r in frames.rejections)
    rep.facilities = len(frames.facilities)
    rep.seconds = time.perf_counter() - t
    context.setdefault("extra_provenance", []).extend(frames.provenance)
    return frames.facilities
