"""CLI commands of the web stage: ``weefsel serve`` and ``weefsel profile``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from weefsel.config import DEFAULT_WAREHOUSE


def _listen(host: str, port: int):
    """The server's socket, bound now (a taken or not allowed port gives one Dutch line
    before anything else happens) but not yet listening: uvicorn starts listening once the
    app and its first view are in memory, so the first visitor is answered at once."""
    import socket

    from weefsel.errors import WeefselError
    if not 0 < port < 65536:
        raise WeefselError(f"--port {port}: kies een poort tussen 1 en 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise WeefselError(f"--host {host}: onbekend adres") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        why = "is al in gebruik (draait weefsel serve al?)" if exc.errno == 98 else \
            (exc.strerror or str(exc))
        raise WeefselError(f"poort {port} op {host} {why}; kies een andere met --port") from None
    sock.set_inheritable(True)
    return sock


def _note_listening(server, gate) -> None:
    """Open the gate's clock once uvicorn listens (its ``started`` flag)."""
    import time
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    gate.listening.set()


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
        """Serve the REST API and the Dutch dashboard from the warehouse.

        A rebuilt or re-indexed warehouse is picked up without a restart.
        """
        import uvicorn

        from weefsel.web.api import create_app
        from weefsel.web.reload import FollowingApp
        from weefsel.web.startup import QuietGate, announce_ready, announce_start, prime
        sock = _listen(host, port)  # a busy port fails here, before the address is printed
        t0 = announce_start(warehouse, typer.echo)
        # the first view is made before the port listens; the rest waits for a quiet moment
        gate = QuietGate(None)
        application = FollowingApp(lambda p: create_app(p, basemap_url=basemap_url,
                                                        warm_after=gate.wait), warehouse)
        gate.app = application
        prime(gate, host, port)  # the first view's answers as finished bytes, then listen
        import threading

        from weefsel.web.workers import pool

        def workers() -> None:  # worker processes: after the first visitor, in the background
            gate.wait()
            pool().warm()
        threading.Thread(target=workers, daemon=True, name="weefsel-workers").start()
        announce_ready(application, f"http://{host}:{port}/", t0, typer.echo)
        server = uvicorn.Server(uvicorn.Config(gate, log_level="warning"))
        threading.Thread(target=_note_listening, args=(server, gate), daemon=True).start()
        try:
            server.run(sockets=[sock])
        finally:
            application.close()
            pool().shutdown()  # no worker process outlives the server

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
        if not output.parent.is_dir():
            raise InputError(f"de map {output.parent} bestaat niet", where=str(output))
        data = WebData(warehouse)
        try:
            engine = write_profile(data, code, str(output))
        except NotFound as exc:
            raise InputError(str(exc), where=code, expected="een gebiedscode uit het warehouse")
        typer.echo(f"{output} geschreven ({engine})")
