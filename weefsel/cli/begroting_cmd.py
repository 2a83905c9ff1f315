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

    @app.command("begroting-codes")
    def begroting_codes(
        process: int = typer.Argument(..., help="Number of the burgerbegroting (see /api/begroting/)."),
        n: int = typer.Option(..., "--n", help="How many one-time voting codes to issue (1 to 100000)."),
        output: Path = typer.Option(..., "--output", "-o", help="CSV to write (nummer, stemcode, adres); "
                                    "must not exist yet: codes are shown only once."),
        letters: Path | None = typer.Option(None, "--letters", help="Also write printable letters, one per "
                                            "A4 page: .html or .pdf."),
        url: str = typer.Option("http://localhost:8000", "--url", help="Address of the site residents vote on, "
                                "printed on every letter."),
        registry: str | None = typer.Option(None, "--registry", help="Registry database URL "
                                            "(default: $WEEFSEL_REGISTRY or sqlite:///weefsel-registry.sqlite)."),
        token: str | None = typer.Option(None, "--organisatiecode", envvar="WEEFSEL_ORGANISATIECODE",
                                         help="The organiser token; asked for (hidden) when not given."),
    ) -> None:
        """Issue voting codes for a burgerbegroting: a CSV and, optionally, printable letters.

        Only the hashes of the codes are stored, so this is the only time they are shown:
        keep the files safe, print them, then delete them."""
        from weefsel.config import DEFAULT_REGISTRY_URL
        from weefsel.errors import InputError
        from weefsel.participation.amounts import format_amount, parse_count
        from weefsel.participation.letters import (
            codes_csv,
            letters_html,
            letters_pdf,
            vote_url,
        )
        from weefsel.registry import Registry
        from weefsel.registry.store import MAX_CODES

        parse_count(n, "--n (aantal codes)", maximum=MAX_CODES)
        targets = [output] + ([letters] if letters else [])
        for path in targets:
            if path.exists():
                raise InputError("bestaat al; kies een nieuwe naam (eerder uitgegeven codes gaan anders verloren)",
                                 where=str(path))
            if not path.parent.is_dir():
                raise InputError("map bestaat niet", where=str(path.parent))
        if letters and letters.suffix.lower() not in (".html", ".htm", ".pdf"):
            raise InputError("brieven worden .html of .pdf", where=str(letters))
        reg = Registry(registry or DEFAULT_REGISTRY_URL)
        proc = reg.process(process)
        if proc["eligibility"] != "codes":
            raise InputError(f"burgerbegroting {process} gebruikt geen stemcodes (één stem per browser)")
        address = vote_url(url, process)
        if token is None:
            token = typer.prompt("Organisatiecode", hide_input=True)
        reg.check_organiser(process, token)
        codes = reg.issue_codes(process, n, token)
        _write_atomic(output, codes_csv(codes, address).encode("utf-8"))
        if letters:
            budget = format_amount(proc["budget"], proc["currency"])
            data = (letters_pdf(proc["name"], codes, address, budget=budget) if letters.suffix.lower() == ".pdf"
                    else letters_html(proc["name"], codes, address, budget=budget).encode("utf-8"))
            _write_atomic(letters, data)
        typer.echo(f"{len(codes)} stemcodes voor '{proc['name']}' geschreven naar {output}"
                   + (f" en {letters}" if letters else "") + f"; stemmen op {address}")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write next to the target and rename, so a failure leaves no half-written file."""
    import os
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
