"""The ``weefsel`` command line. Each stage registers its own commands from its module,
so a newcomer finds ``weefsel index`` in ``cli/index_cmd.py`` and so on."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from weefsel.errors import WeefselError

app = typer.Typer(
    name="weefsel",
    help=(
        "weefsel makes the social fabric (sociaal weefsel) of Dutch neighbourhoods visible: "
        "build a monitor from CBS, PDOK and OpenStreetMap data, compute indicators, "
        "and serve a Dutch dashboard."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = [
    "weefsel.cli.build_cmd",        # build, info, export            (warehouse)
    "weefsel.cli.index_cmd",        # index                          (indicators, analysis)
    "weefsel.cli.access_cmd",       # access                         (accessibility)
    "weefsel.cli.web_cmd",          # serve, profile                 (web)
    "weefsel.cli.beraad_cmd",       # beraad                         (participation: sortition)
    "weefsel.cli.begroting_cmd",    # begroting                      (participation: budgeting)
    "weefsel.cli.crisis_cmd",       # crisis                         (crisis mode)
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)

err_console = Console(stderr=True, soft_wrap=True)


def main() -> None:
    """Entry point: user errors become one clear line and exit code 2, never a traceback."""
    try:
        app()
    except WeefselError as exc:
        err_console.print(f"[bold red]fout:[/] {exc}")
        sys.exit(2)
