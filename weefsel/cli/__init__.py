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
    # plain Click help: text in [brackets] is shown as written (Rich markup would swallow
    # it) and flags are listed without a "<bool>" type
    rich_markup_mode=None,
)

COMMAND_MODULES = [
    "weefsel.cli.build_cmd",        # build, info, export            (warehouse)
    "weefsel.cli.index_cmd",        # index                          (indicators, analysis)
    "weefsel.cli.access_cmd",       # access                         (accessibility)
    "weefsel.cli.web_cmd",          # serve, profile                 (web)
    "weefsel.cli.beraad_cmd",       # beraad                         (participation: sortition)
    "weefsel.cli.begroting_cmd",    # begroting                      (participation: budgeting)
    "weefsel.cli.registry_cmd",     # registry                       (registry: initiatives, places, signals)
    "weefsel.cli.vooruit_cmd",      # vooruit, vooruit-vergelijk     (forward monitoring)
    "weefsel.cli.crisis_cmd",       # crisis                         (crisis mode)
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)

err_console = Console(stderr=True, soft_wrap=True)


def main() -> None:
    """Entry point: every error becomes one clear line (weefsel.cli.errors) and an exit code
    other than 0, never a traceback."""
    import os

    from rich.markup import escape

    from weefsel.cli.errors import one_line

    try:
        rv = app(standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - this is the one place that catches all
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):  # click/typer Exit
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "NoArgsIsHelpError" and getattr(exc, "ctx", None) is not None:
            typer.echo(exc.ctx.get_help())
            sys.exit(2)
        if os.environ.get("WEEFSEL_DEBUG"):
            import traceback
            traceback.print_exc()
        try:
            msg, code = one_line(exc)
        except Exception:  # the error line itself must never become a traceback
            msg, code = f"onverwachte fout ({type(exc).__name__})", 1
        err_console.print(f"[bold red]fout:[/] {escape(msg)}")
        sys.exit(code)
    sys.exit(rv if isinstance(rv, int) else 0)
