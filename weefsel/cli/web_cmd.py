"""CLI commands of the web stage: ``weefsel serve`` and ``weefsel profile``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from weefsel.config import DEFAULT_WAREHOUSE


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""

    @app.command()
    def serve(
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w",
                                       help="Warehouse file (DuckDB), opened read-only."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        basemap_url: Optional[str] = typer.Option(
            None, help="Optional raster tile URL ({z}/{x}/{y}) drawn under the boundaries."),
    ) -> None:
        """Serve the REST API and the Dutch dashboard from the warehouse."""
        import uvicorn

        from weefsel.web.api import create_app
        from weefsel.web.startup import announce_ready, announce_start
        t0 = announce_start(warehouse, typer.echo)
        application = create_app(warehouse, basemap_url=basemap_url)
        announce_ready(application, f"http://{host}:{port}/", t0, typer.echo)
        uvicorn.run(application, host=host, port=port, log_level="warning")

    @app.command()
    def profile(
        code: str = typer.Argument(..., help="Area code, e.g. BU00340101 or GM0034."),
        output: Path = typer.Option(..., "--output", "-o", help="profiel.pdf or profiel.html"),
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w",
                                       help="Warehouse file (DuckDB)."),
    ) -> None:
        """Write the printable area profile (wijkprofiel) as A4 PDF or HTML."""
        from weefsel.errors import InputError
        from weefsel.web.data import NotFound, WebData
        from weefsel.web.profile import write_profile
        data = WebData(warehouse)
        try:
            engine = write_profile(data, code, str(output))
        except NotFound as exc:
            raise InputError(str(exc), where=code, expected="een gebiedscode uit het warehouse")
        typer.echo(f"{output} geschreven ({engine})")
