"""CLI of the accessibility stage: ``weefsel access``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from weefsel.config import DEFAULT_WAREHOUSE


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""

    @app.command()
    def access(
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w",
                                       help="Warehouse file (DuckDB); access_results is replaced in it."),
        types: Optional[List[str]] = typer.Option(
            None, "--types", "-t", help="Facility types to include (repeat or comma-separate); default all."),
        detour: float = typer.Option(1.3, help="Detour factor: network ÷ straight-line distance (walking ≈ 1.3)."),
        decay: str = typer.Option("gaussian:1500", help="E2SFCA distance decay: gaussian:SIGMA[:MAX], "
                                  "step:C1=W1,C2=W2,..., uniform:MAX or linear:MAX (metres)."),
        walk: float = typer.Option(1000.0, help="Walking distance (m) for meeting-place variety and reach."),
        demand: Optional[Path] = typer.Option(
            None, help="Optional demand points: CSV x,y,count (RD) or a CBS 100 m grid GeoPackage."),
        compare_cbs: bool = typer.Option(
            False, "--compare-cbs",
            help="Only compare: nearest school and GP distance per buurt/wijk/gemeente against CBS's "
                 "road distances in the KWB (correlation, median difference and ratio, fitted "
                 "detour), per gemeente and overall. access_results is not changed."),
        compare_out: Optional[Path] = typer.Option(
            None, "--compare-out", help="With --compare-cbs: write the per-gemeente figures (CSV)."),
        gemeenten: Optional[str] = typer.Option(
            None, "--gemeenten", help="With --compare-cbs: only these gemeente codes (comma-separated)."),
    ) -> None:
        """Compute accessibility of meeting places (distance, counts, E2SFCA, variety, reach).

        With --compare-cbs, compare the computed school and GP distances with CBS's own instead.
        """
        if compare_cbs:
            from weefsel.analysis.access.cbs_agreement import DEFAULT_TYPES, compare_warehouse

            type_list = tuple(t.strip() for item in (types or []) for t in item.split(",") if t.strip())
            agreement = compare_warehouse(
                warehouse, types=type_list or DEFAULT_TYPES, detour=detour,
                gemeenten=[g.strip() for g in gemeenten.split(",")] if gemeenten else None)
            typer.echo(agreement.text())
            if compare_out is not None:
                agreement.by_gemeente.to_csv(compare_out, index=False)
                typer.echo(f"per-gemeente figures written to {compare_out}")
            return
        from weefsel.analysis.access.decay import parse_decay
        from weefsel.analysis.access.measures import AccessConfig
        from weefsel.analysis.access.warehouse import run_access

        type_list = tuple(t.strip() for item in (types or []) for t in item.split(",") if t.strip())
        cfg = AccessConfig(detour=detour, decay=parse_decay(decay), walk_distance=walk,
                           share_distance=walk, types=type_list or None)
        table = run_access(warehouse, config=cfg, demand_file=demand)
        for note in table.attrs.get("notes", []):
            typer.echo(f"let op: {note}")
        n_missing = int(table["value"].isna().sum())
        typer.echo(f"access_results: {len(table):,} rows ({table['area_code'].nunique():,} areas, "
                   f"{table['measure'].nunique()} measures, {n_missing:,} explicit missing) "
                   f"written to {warehouse}")
