"""``weefsel index``: indicators, stacked vulnerability (SVI), composite index with
Monte-Carlo rank intervals, and inequality, written into the warehouse in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from weefsel.config import DEFAULT_WAREHOUSE


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""

    @app.command("index")
    def index(
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w", help="warehouse file"),
        level: str = typer.Option("buurt", help="buurt | wijk | gemeente | provincie | land "
                                                "(provincie/land: reference values, own figure "
                                                "or summed from the gemeenten)"),
        period: Optional[str] = typer.Option(None, help="reference year (default: latest in the warehouse); "
                                                        "each variable is read at its latest year <= this"),
        reference: str = typer.Option("nl", help="nl = rank against all areas of the level; "
                                                 "province = within each province"),
        normalisation: str = typer.Option("minmax", help="minmax | zscore | percentile | distance"),
        imputation: str = typer.Option("none", help="central choice: none (weights renormalised over "
                                                    "the area's own indicators) | mean | median; the "
                                                    "Monte-Carlo draws vary it either way"),
        weights: str = typer.Option("equal", help="equal | theme | path to a YAML file {indicator: weight}"),
        aggregation: str = typer.Option("arithmetic", help="arithmetic | geometric"),
        draws: int = typer.Option(1000, help="Monte-Carlo draws for the rank intervals"),
        seed: int = typer.Option(42, help="random seed (results are reproducible)"),
        catalogue: Optional[Path] = typer.Option(None, help="indicator catalogue YAML (default: packaged)"),
        skip_missing: bool = typer.Option(False, "--skip-missing",
                                          help="skip (and list) every indicator whose variables the "
                                               "warehouse lacks, instead of stopping with an error"),
        groups: Optional[Path] = typer.Option(None, help="YAML {group: [area codes]}, e.g. gebiedsteams of "
                                                         "wijken: their values are recomputed from counts "
                                                         "into table indicator_groups"),
    ) -> None:
        """Compute indicators, SVI-style flags, the composite with rank intervals and inequality."""
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from weefsel.analysis.composite import CompositeSpec
        from weefsel.errors import WeefselError
        from weefsel.indicators.pipeline import load_groups, load_weights, run_index, summary_lines

        if not warehouse.exists():
            raise WeefselError(f"No warehouse at {warehouse}. Run 'weefsel build --region <name>' first.")
        w = weights if weights in ("equal", "theme") else load_weights(weights)
        spec = CompositeSpec(imputation=imputation, normalisation=normalisation, weights=w,
                             aggregation=aggregation, draws=draws, seed=seed)
        spec.check()
        group_map = load_groups(groups) if groups else None
        console = Console()
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            progress.add_task(f"indicators, SVI, composite ({draws} draws), inequality ...", total=None)
            run = run_index(warehouse, level=level, period=period, reference=reference, spec=spec,
                            catalogue=catalogue, skip_missing=skip_missing, groups=group_map)
        console.print(f"[bold]weefsel index[/] {warehouse} level={level} reference={reference} "
                      f"normalisation={normalisation} weights={weights} aggregation={aggregation}")
        for line in summary_lines(run):
            console.print("  " + line)
        console.print("  written: " + ", ".join(run.tables))
