"""CLI of forward monitoring: ``weefsel vooruit SCENARIO`` and ``weefsel vooruit-vergelijk``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from weefsel.config import DEFAULT_WAREHOUSE


def _progress():
    last = [0.0]

    def show(variant: str, k: int, total: int) -> None:
        now = time.monotonic()
        if k in (0, total) or now - last[0] > 2:
            last[0] = now
            print(f"  {variant}: jaar {k}/{total}", file=sys.stderr, flush=True)
    return show


def register(app: typer.Typer) -> None:
    @app.command()
    def vooruit(
        scenario: Path = typer.Argument(..., help="Scenario file (YAML or CSV), e.g. examples/flevoland_scenario.yaml"),
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w", help="Warehouse (DuckDB)."),
        draws: int = typer.Option(1000, min=1, max=100000, help="Monte-Carlo draws."),
        seed: int = typer.Option(42, help="Random seed (same seed = same numbers)."),
        variant: list[str] | None = typer.Option(None, "--variant", help="Only these variants (repeat); default all."),
        norms: Path | None = typer.Option(None, help="Facility norms YAML (default: the shipped norms)."),
        facilities: list[str] | None = typer.Option(
            None, "--facilities", help="Extra facility list TYPE=FILE.csv (lat,lon or x_rd,y_rd[,capacity]); repeat."),
        decay: str = typer.Option("gaussian:1500", help="Catchment decay (as weefsel access)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Folder for tables and plots."),
        fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
        plots: bool = typer.Option(True, help="Write PNG and SVG plots to --out."),
        store: bool = typer.Option(True, help="Store the run in the warehouse (forward_* tables)."),
        what_if: Path | None = typer.Option(None, "--what-if", help="Changes YAML: add/remove/resize a facility, add an estate."),
        name: str | None = typer.Option(None, help="Name to store the run under (default: the scenario's name)."),
        calibrate: bool = typer.Option(True, help="Scale facility capacities so supply meets demand in the base year "
                                       "(facility lists hold counts, not places); --no-calibrate when capacities are real."),
    ) -> None:
        """Forward monitoring: project residents per buurt to the horizon and the facility gap per year."""
        from weefsel.errors import WeefselError
        from weefsel.forward.export import export
        from weefsel.forward.run import run_scenario
        from weefsel.forward.store import write_result, write_whatif
        from weefsel.forward.supply import parse_facility_args

        if fmt not in ("csv", "parquet"):
            raise WeefselError(f"--format: onbekend formaat '{fmt}' (csv of parquet)")
        if not Path(warehouse).exists():
            raise WeefselError(f"{warehouse}: warehouse niet gevonden; bouw eerst met 'weefsel build'")
        fac = parse_facility_args(facilities)
        kw = dict(draws=draws, seed=seed, variants=variant or None, norms=norms, decay=decay,
                  progress=_progress(), calibrate_supply=calibrate)
        t0 = time.perf_counter()
        if what_if:
            from weefsel.forward.whatif import gap_moves, load_changes
            from weefsel.forward.whatif import what_if as run_what_if
            wname, changes = load_changes(what_if)
            before, result, gains = run_what_if(warehouse, scenario, changes, name=name or wname,
                                                file=what_if.name, facilities=fac, **kw)
            moves = gap_moves(before, result)
        else:
            result = run_scenario(warehouse, scenario, facilities=fac, name=name, **kw)
            gains = None
        for note in result.notes:
            typer.echo(f"let op: {note}", err=True)
        if store:
            write_result(warehouse, result)
            if gains is not None and len(gains):
                write_whatif(warehouse, gains)
        if out:
            export(result, out, fmt=fmt, plots=plots)
            if gains is not None:
                gains.to_csv(Path(out) / "wat_als.csv", index=False)
                moves.to_csv(Path(out) / "wat_als_tekort.csv", index=False)
        sc = result.runs["scenario"].iloc[0]
        typer.echo(f"{sc}: {len(result.runs)} variant(en), {draws} trekkingen, "
                   f"{result.areas.shape[0]} gebieden, {result.runs['base_year'].iloc[0]}-"
                   f"{result.runs['horizon'].iloc[0]} in {time.perf_counter() - t0:.1f} s")
        gl = result.gaplist
        for v in result.runs["variant"]:
            part = gl[gl["variant"] == v]
            typer.echo(f"  {v}: {len(part)} gebied/voorziening-combinaties met een waarschijnlijk tekort")
            for r in part.head(5).itertuples():
                typer.echo(f"    {r.area_code}: {r.text_nl}")
        if gains is not None:
            changed = gains.groupby(["norm", "change"])["areas"].max()
            for (norm, ch), n in changed.items():
                typer.echo(f"  wat-als {norm}: {ch} in {n} gebied(en)")
        if store:
            typer.echo(f"opgeslagen in {warehouse} (tabellen forward_*)")
        if out:
            typer.echo(f"tabellen en grafieken in {out}")

    @app.command("vooruit-vergelijk")
    def vooruit_vergelijk(
        names: list[str] = typer.Argument(..., help="Stored scenario names to compare."),
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w"),
        year: list[int] | None = typer.Option(None, "--year", help="Years to show (repeat); default 2030, 2040 and the horizon."),
        out: Path | None = typer.Option(None, "--out", "-o", help="CSV with the comparison."),
    ) -> None:
        """Compare stored forward scenarios side by side (residents, areas with a shortfall)."""
        import duckdb

        from weefsel.errors import WeefselError
        from weefsel.forward.store import scenarios
        from weefsel.forward.whatif import compare

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            known = set(scenarios(con)["scenario"])
            missing = [n for n in names if n not in known]
            if missing:
                raise WeefselError(f"onbekend scenario '{missing[0]}' (opgeslagen: {', '.join(sorted(known)) or 'geen'})")
            tot, gaps = compare(con, names)
        finally:
            con.close()
        years = year or sorted({2030, 2040, int(tot["year"].max())})
        t = tot[tot["year"].isin(years)].groupby(["scenario", "variant", "year"])["p50"].sum().unstack("year")
        g = gaps[gaps["year"].isin(years)].pivot_table(index=["scenario", "variant", "norm"], columns="year",
                                                       values="areas_short", aggfunc="sum")
        typer.echo("Inwoners, alle gebieden samen (mediaan):")
        typer.echo(t.round(0).to_string())
        typer.echo("\nGebieden met kans op tekort ≥ 50%:")
        typer.echo(g.to_string())
        if out:
            g.reset_index().to_csv(out, index=False)
