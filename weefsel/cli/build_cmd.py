"""CLI commands of the warehouse stage: ``weefsel build``, ``weefsel info``, ``weefsel export``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from weefsel.errors import WeefselError

console = Console()


def build_command(
    region: str = typer.Option(
        ..., "--region", "-r",
        help="Area to build: a province (name or code, e.g. 'flevoland' or PV24), one or more "
             "gemeenten (name or code, e.g. 'Almere' or GM0034), or 'nl' for the whole country."),
    data: Path | None = typer.Option(
        None, "--data", "-d",
        help="Folder with the downloaded source files (CBS, RIVM, PDOK, OSM). Default: "
             "$WEEFSEL_DATA, else ../shared/data when it exists; otherwise the online sources."),
    online: bool = typer.Option(
        False, "--online",
        help="Fetch the CBS tables through the CBS OData API instead of reading files."),
    out: Path = typer.Option(
        None, "--out", "-o",
        help="Warehouse file to write (default: weefsel.duckdb in this folder, or "
             "$WEEFSEL_WAREHOUSE)."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="No progress bars and no printed report."),
    force: bool = typer.Option(
        False, "--force",
        help="Replace the warehouse even when the sources yield no values, or less than half "
             "of the values of the warehouse being replaced (normally the build stops)."),
    facilities: list[Path] | None = typer.Option(
        None, "--facilities", "-f",
        help="A facility or place list (CSV) to add, e.g. a gemeente's own list of buurthuizen; "
             "repeat for more. Coordinates (lat/lon or RD x/y) or a PC6/PC4 postcode; a mapping "
             "file NAME.yaml beside NAME.csv says which column is what (docs/warehouse.md)."),
) -> None:
    """Build the warehouse for a region: read every source, check it, and write one file.

    The new warehouse is written next to the old one and only swapped in when the whole build has succeeded, so a failed or interrupted build leaves the previous warehouse as it was.

    At the end a validation report is printed (rows read and rejected per source, coverage per gemeente and level, and gemeente totals compared with their buurten); it is stored in the warehouse too, and 'weefsel info' shows it again.
    """
    from weefsel.config import DEFAULT_WAREHOUSE, default_data_dir
    from weefsel.warehouse.build import build
    from weefsel.warehouse.validate import print_report

    out = out or DEFAULT_WAREHOUSE
    data_dir = data if data is not None else (None if online else default_data_dir())
    if data is not None and not data.is_dir():
        raise WeefselError(f"Data folder {data} does not exist (give an existing folder with "
                           "--data, or use --online).")
    if data_dir is None and not online:
        if not quiet:
            console.print("No data folder found (../shared/data); using the online sources.")
        online = True
    specs = _with_facility_lists(data_dir, online, facilities) if facilities else None
    from weefsel.warehouse.safety import check_out_target
    check_out_target(out)  # before any work: never overwrite the registry or another file
    try:
        report = build(region, data_dir, out, online=online, progress=not quiet, specs=specs,
                       force=force)
    except WeefselError:
        if data_dir is not None and not online:
            _print_files(data_dir, only_problems=True)
        raise
    if not quiet:
        print_report(report.validation, console)
        if data_dir is not None and not online:
            _print_files(data_dir, read={str(s.label) for s in report.sources})
        counts = ", ".join(f"{n} {lv}" for lv, n in sorted(
            report.level_counts.items(), key=lambda kv: _level_rank(kv[0])))
        console.print(
            f"[bold green]Built[/] {out} for {report.region_name}: {counts}; "
            f"{report.observations:,} values, {report.facilities} facilities, "
            f"{report.rows_read:,} source rows read in {report.seconds:.1f} s.")
    _registry_after_build(out, report, quiet)
    if report.facilities:
        # Issue 4: with facilities in the warehouse the accessibility measures belong to the build.
        from weefsel.analysis.access.warehouse import run_access

        table = run_access(out)
        if not quiet:
            console.print(f"Accessibility: {len(table):,} values written to access_results "
                          "(details: 'weefsel access --help').")


def _registry_after_build(out: Path, report, quiet: bool) -> None:
    """A rebuild keeps the registry's counts: the build carried the last snapshot over; when a
    registry is configured (WEEFSEL_REGISTRY, or weefsel-registry.sqlite here) a fresh snapshot of
    it replaces that, so the monitor shows what the registry holds now (docs/registry.md)."""
    import os

    from weefsel.config import DEFAULT_REGISTRY_URL
    configured = bool(os.environ.get("WEEFSEL_REGISTRY")) or (
        DEFAULT_REGISTRY_URL.startswith("sqlite:///") and Path(DEFAULT_REGISTRY_URL[10:]).is_file())
    if configured:
        try:
            from weefsel.registry.export import snapshot
            from weefsel.registry.ops import OpsStore
            res = snapshot(OpsStore(DEFAULT_REGISTRY_URL), out)
            report.facilities += res["facilities"]
            if not quiet:
                console.print(f"Register: nieuwe momentopname {res['date']} toegepast ({res['observations']} "
                              f"waarden, {res['facilities']} plekken).")
            return
        except Exception as exc:  # the warehouse stands; say why the registry was not read
            console.print(f"Register niet gelezen ({type(exc).__name__}: {str(exc)[:120]}); "
                          + ("de vorige momentopname is overgenomen." if report.registry else
                             "geen momentopname in deze bouw."))
    if report.registry and not quiet:
        r = report.registry
        console.print(f"Register: momentopname van {r['date']} overgenomen uit de vorige bouw "
                      f"({r['observations']} waarden, {r['facilities']} plekken"
                      + (f"; {r['dropped']} waarden van gebieden die niet meer in deze bouw zitten" if r['dropped']
                         else "") + ").")


def _print_files(data_dir: Path, read: set[str] | None = None,
                 only_problems: bool = False) -> None:
    """Every file of the data folder: read, rejected (with the reason) or not recognised."""
    from weefsel.warehouse.safety import inventory

    lines = inventory(data_dir)
    if read is not None:  # what the build actually used wins over what discovery expects
        for ln in lines:
            if ln.status == "gelezen" and not ln.reason and ln.path.name not in read:
                ln.status, ln.reason = "niet gebruikt", "herkend, maar niet nodig voor deze regio"
    shown = [ln for ln in lines if not only_problems or ln.status != "gelezen"]
    if not shown:
        return
    t = Table(title=f"Bestanden in {data_dir}", title_justify="left")
    for c in ("bestand", "status", "reden"):
        t.add_column(c, overflow="fold")
    for ln in shown:
        style = {"afgewezen": "red", "niet herkend": "yellow"}.get(ln.status, "")
        t.add_row(str(ln.path), f"[{style}]{ln.status}[/]" if style else ln.status, ln.reason)
    console.print(t)


def _with_facility_lists(data_dir: Path | None, online: bool, files: list[Path]) -> list:
    """The data folder's sources plus the given facility lists (placed with its postcode tables)."""
    from weefsel.warehouse.discover import SourceSpec, discover

    if online or data_dir is None:
        raise WeefselError("--facilities works with a data folder (--data DIR or ../shared/data), "
                           "not with --online.")
    for f in files:
        if not f.is_file():
            raise WeefselError(f"--facilities {f}: file not found.")
        if f.suffix.lower() != ".csv":
            raise WeefselError(f"--facilities {f}: give a CSV file (see docs/warehouse.md).")
    specs = discover(Path(data_dir))
    postcodes = [s.path for s in specs if s.kind == "postcode"]
    known = {s.path.resolve() for s in specs if s.path is not None}
    extra = [SourceSpec(kind="facility_csv", path=f, scope="national",
                        kwargs={"postcodes": postcodes})
             for f in files if f.resolve() not in known]
    return sorted(specs + extra, key=lambda s: s.rank)


def _placements(w) -> dict[str, str]:
    """Per type, how its points were placed ('exact 199, pc4 3'); empty for older warehouses."""
    cols = {r[0] for r in w.con.execute("SELECT column_name FROM information_schema.columns "
                                        "WHERE table_name = 'facilities'").fetchall()}
    if "placement" not in cols:
        return {}
    out: dict[str, list[str]] = {}
    for r in w.sql("SELECT type, coalesce(placement, 'as given') p, count(*) n FROM facilities "
                   "GROUP BY ALL ORDER BY type, n DESC").itertuples():
        out.setdefault(r.type, []).append(f"{r.p} {r.n}")
    return {k: ", ".join(v) for k, v in out.items()}


def _level_rank(level: str) -> int:
    order = ["land", "provincie", "gemeente", "wijk", "buurt"]
    return order.index(level) if level in order else 9


def info_command(
    warehouse: Path = typer.Option(None, "--warehouse", "-w",
                                   help="Warehouse file (default weefsel.duckdb)."),
    validation: bool = typer.Option(False, "--validation",
                                    help="Print the full stored validation report."),
) -> None:
    """Show what a warehouse holds: sources, periods, levels and counts, facilities per type, and the validation summary of the build that made it."""
    from weefsel.config import DEFAULT_WAREHOUSE
    from weefsel.warehouse.store import Warehouse
    from weefsel.warehouse.validate import print_report, summary_counts

    with Warehouse(warehouse or DEFAULT_WAREHOUSE) as w:
        bi = w.build_info()
        console.print(f"[bold]{w.path}[/]: region {bi.get('region_name') or bi.get('region')} "
                      f"built {bi.get('finished_at', '?')} by weefsel {bi.get('weefsel_version')}"
                      f" from {bi.get('data_dir') or 'the online sources'}")
        t = Table(title="Sources (provenance)", title_justify="left")
        t.add_column("file", overflow="fold", min_width=18)
        t.add_column("table", overflow="fold")
        t.add_column("publisher · licence", overflow="fold")
        t.add_column("rows", justify="right")
        t.add_column("rej.", justify="right")
        prov = w.sql("SELECT file, coalesce(table_id, '') t, coalesce(publisher, '') p, "
                     "coalesce(licence, '') l, coalesce(rows_read, 0) r, "
                     "coalesce(rows_rejected, 0) x FROM provenance ORDER BY file")
        for r in prov.itertuples():
            t.add_row(Path(str(r.file)).name, str(r.t), f"{r.p} · {r.l}".strip(" ·"), f"{r.r}",
                      f"{r.x}")
        console.print(t)
        t = Table(title="Values per source, level and period", title_justify="left")
        for c in ("source", "level", "periods", "areas", "variables", "values"):
            t.add_column(c)
        for r in w.sql("""
                SELECT o.source, a.level, string_agg(DISTINCT o.period, ',' ORDER BY o.period) p,
                       count(DISTINCT o.area_code) n, count(DISTINCT o.variable) v, count(*) c
                FROM observations o JOIN areas a ON a.code = o.area_code
                GROUP BY ALL ORDER BY 1, 2""").itertuples():
            periods = r.p.split(",")
            shown = r.p if len(periods) <= 3 else f"{periods[0]}-{periods[-1]} ({len(periods)})"
            t.add_row(r.source, r.level, shown, f"{r.n}", f"{r.v}", f"{r.c:,}")
        console.print(t)
        t = Table(title="Areas per level", title_justify="left")
        for c in ("level", "areas", "with polygon"):
            t.add_column(c)
        levels = w.sql("SELECT level, count(*) n, count(geom_rd) g FROM areas GROUP BY level")
        for r in sorted(levels.itertuples(), key=lambda r: _level_rank(r.level)):
            t.add_row(r.level, f"{r.n}", f"{r.g}")
        console.print(t)
        fac = w.sql("SELECT type, count(*) n, count(area_code) inside FROM facilities "
                    "GROUP BY type ORDER BY n DESC")
        if len(fac):
            placed = _placements(w)
            t = Table(title="Facilities per type (outside the region: kept as supply near the "
                            "border)", title_justify="left")
            for c in ("type", "count", "in the region", "placement"):
                t.add_column(c)
            for r in fac.itertuples():
                t.add_row(r.type, f"{r.n}", f"{r.inside}", placed.get(r.type, ""))
            console.print(t)
        else:
            console.print("Facilities: none in this region.")
        v = w.sql("SELECT * FROM validation")
        if validation:
            print_report(v, console, max_rows=10_000)
        else:
            t = Table(title="Validation summary (weefsel info --validation for all)",
                      title_justify="left")
            for c in ("check", "severity", "rows"):
                t.add_column(c)
            for r in summary_counts(v).itertuples():
                t.add_row(r.check_name, r.severity, f"{r.n}")
            console.print(t)


def export_command(
    level: str = typer.Option("gemeente", "--level", "-l",
                              help="Area level: land, provincie, gemeente, wijk or buurt."),
    fmt: str = typer.Option("csv", "--format", "-f",
                            help="csv (Excel), parquet, or gpkg (GeoPackage for QGIS, "
                                 "polygons in RD New EPSG:28992)."),
    out: Path = typer.Option(..., "--output", "-o", help="File to write."),
    period: str | None = typer.Option(None, "--period", "-p",
                                         help="Only this year, e.g. 2024 (default: all years, "
                                              "one row per area and year)."),
    variables: str | None = typer.Option(
        None, "--variables", help="Comma-separated variables, e.g. AantalInwoners,Eenzaam "
                                  "(a variable name selects all its breakdowns)."),
    excel: bool = typer.Option(False, "--excel",
                               help="CSV for Dutch Excel: ';' between fields and a decimal "
                                    "comma (default CSV: ',' and a decimal point; both UTF-8 "
                                    "with BOM)."),
    warehouse: Path = typer.Option(None, "--warehouse", "-w",
                                   help="Warehouse file (default weefsel.duckdb)."),
    trends: bool = typer.Option(False, "--trends",
                                help="Write the trend table instead: one row per area, "
                                     "indicator and year, with change, change per year and "
                                     "whether it exceeds the published margin (csv/parquet; "
                                     "needs 'weefsel index')."),
) -> None:
    """Export one level as a table for Excel or QGIS: one row per area and year, one column per variable, with the area code, name, level and gemeente code.

    Breakdowns become columns such as 'Eenzaam[leeftijd=65+]'; indicator, index and accessibility results are added as columns when the warehouse holds them.
    """
    from weefsel.config import DEFAULT_WAREHOUSE
    from weefsel.warehouse.export import export

    if excel and fmt.lower() != "csv":
        raise WeefselError("--excel only applies to --format csv")
    if trends:
        from weefsel.analysis.trends import export_trends
        path, rows, cols = export_trends(warehouse or DEFAULT_WAREHOUSE, level, fmt, out,
                                         excel=excel)
        console.print(f"Wrote {path}: {rows} rows x {cols} columns (trends, {level}, {fmt}).")
        return
    names = [v for v in variables.split(",")] if variables else None
    path, rows, cols = export(warehouse or DEFAULT_WAREHOUSE, level, fmt, out, period=period,
                              variables=names, excel=excel)
    console.print(f"Wrote {path}: {rows} rows x {cols} columns ({level}, {fmt}).")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("build")(build_command)
    app.command("info")(info_command)
    app.command("export")(export_command)
