"""``weefsel begroting``: run a participatory-budgeting rule on a Pabulib ``.pb`` file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add ``weefsel begroting`` to the main app."""

    @app.command("begroting")
    def begroting(
        file: Path = typer.Argument(..., help="Pabulib .pb file"),
        rule: str = typer.Option(None, "--rule", help="greedy, equalshares, equalshares/add1, "
                                 "equalshares/add1-first, equalshares/add1-comparison, equalshares/add1u, maxwelfare "
                                 "(default: the file's META rule)"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
        show_explain: bool = typer.Option(False, "--explain", help="a Dutch explanation per project"),
        check: bool = typer.Option(False, "--check", help="compare with the published 'selected' column"),
    ) -> None:
        """Burgerbegroting: which projects are funded, and why (Dutch explanations)."""
        from weefsel.errors import InputError
        from weefsel.participation.budgeting.explain import explain, money, summary
        from weefsel.participation.budgeting.pabulib import format_number, read_pb
        from weefsel.participation.budgeting.rules import run_rule

        pb = read_pb(file)
        outcome = run_rule(pb, rule)
        reasons = explain(pb, outcome)
        official = pb.selected()
        if as_json:
            obj = {
                "file": str(file),
                "rule": outcome.rule,
                "used_rule": outcome.used_rule or outcome.rule,
                "selected": outcome.selected,
                "budget": format_number(outcome.budget),
                "budget_used": format_number(outcome.cost),
                "currency": pb.currency,
                "per_voter_budget": None if outcome.per_voter is None else float(outcome.per_voter),
                "comparison": outcome.comparison,
                "note": outcome.note,
                "official_selected": official,
                "matches_official": None if official is None else sorted(official) == sorted(outcome.selected),
                "explanations": reasons,
            }
            typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))
        else:
            console = Console()
            console.print(summary(pb, outcome))
            table = Table("project", "kosten", "stemmen", "gefinancierd", *(["uitleg"] if show_explain else []))
            chosen = set(outcome.selected)
            for pid, proj in pb.projects.items():
                row = [f"{pid} {proj.fields.get('name', '')}"[:60], money(proj.cost, pb.currency),
                       proj.fields.get("votes", ""), "ja" if pid in chosen else "nee"]
                if show_explain:
                    row.append(reasons[pid])
                table.add_row(*row)
            console.print(table)
            if official is not None:
                same = sorted(official) == sorted(outcome.selected)
                console.print("gelijk aan de officiële uitslag" if same else "WIJKT AF van de officiële uitslag")
        if check:
            if official is None:
                raise InputError("the file publishes no 'selected' column", where=str(file))
            if sorted(official) != sorted(outcome.selected):
                raise typer.Exit(1)
