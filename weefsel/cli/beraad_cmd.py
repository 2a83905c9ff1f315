"""CLI of the burgerberaad (sortition): ``weefsel beraad CATEGORIES.csv RESPONDENTS.csv --k 20``."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import typer

from weefsel.config import DEFAULT_WAREHOUSE


def _population(warehouse: Path, gemeente: str, period: str, wijk: bool = True) -> dict:
    """CBS shares (geslacht, leeftijd and, when available, wijk) of a gemeente from the warehouse."""
    from weefsel.errors import InputError
    from weefsel.participation.sortition.quotas import area_shares, wijk_shares
    if not Path(warehouse).is_file():
        raise InputError("warehouse not found (run weefsel build first)", where=str(warehouse))
    from weefsel.warehouse.store import Warehouse
    w = Warehouse(warehouse)
    shares = area_shares(w.wide("gemeente", period=period), gemeente)
    if wijk:
        try:
            shares["wijk"] = wijk_shares(w.wide("wijk", period=period), gemeente)
        except InputError:
            pass                                # no wijk figures: gender and age only
    return shares


def _command_line(categories: Path, respondents: Path, k: int, algorithm: str, seed: int,
                  household_column: str | None, id_column: str | None, samples: int) -> str:
    """The exact command that re-runs this draw (printed in the audit)."""
    parts = ["weefsel", "beraad", str(categories), str(respondents), "--k", str(k),
             "--algorithm", algorithm, "--seed", str(seed)]
    if household_column:
        parts += ["--household-column", household_column]
    if id_column:
        parts += ["--id-column", id_column]
    if algorithm == "legacy":
        parts += ["--samples", str(samples)]
    return shlex.join(parts)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""

    @app.command()
    def beraad(
        categories: Path = typer.Argument(..., help="categories.csv (category,feature,min,max)."),
        respondents: Path = typer.Argument(..., help="respondents.csv (one row per volunteer)."),
        k: int = typer.Option(..., "--k", help="Panel size."),
        algorithm: str = typer.Option("leximin", "--algorithm", "-a", help="leximin | maximin | legacy"),
        seed: int = typer.Option(42, "--seed", help="Published random seed for the draw (PCG64)."),
        household_column: str | None = typer.Option(
            None, "--household-column", help="Column with household/address: at most one per household."),
        id_column: str | None = typer.Option(None, "--id-column", help="Column with person ids."),
        samples: int = typer.Option(2000, "--samples", help="LEGACY only: draws to estimate probabilities."),
        dropouts: str | None = typer.Option(
            None, "--dropouts", help="Comma-separated ids of panel members who dropped out: pick replacements."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object for scripts."),
        report: Path | None = typer.Option(None, "--report", help="Write the audit (Markdown, NL+EN; .json for JSON)."),
        population: str | None = typer.Option(
            None, "--population", help="Gemeente code (e.g. GM0034): compare with its CBS make-up in the audit."),
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w", help="Warehouse for --population."),
        period: str = typer.Option("2024", "--period", help="CBS period for --population."),
    ) -> None:
        """Draw a burgerberaad panel by lot with quotas; print every selection probability and the panel."""
        from rich.progress import Progress

        from weefsel.errors import InputError
        from weefsel.participation.sortition.audit import (
            build_audit,
            render_report,
            to_json,
        )
        from weefsel.participation.sortition.io import load_instance
        from weefsel.participation.sortition.quiet import c_stdout_to_stderr
        from weefsel.participation.sortition.select import replace_dropouts, run_draw
        from weefsel.participation.sortition.stats import summary

        inst = load_instance(categories, respondents, k, household_column=household_column,
                             id_column=id_column)
        algorithm = algorithm.lower()
        # the solver's C banner goes to stderr: stdout carries only our output (pure JSON with --json)
        with c_stdout_to_stderr(), Progress(transient=True, disable=as_json) as bar:
            task = bar.add_task(f"{algorithm} ({inst.n} people, k={k})", total=inst.n if algorithm != "legacy" else samples)
            result = run_draw(inst, algorithm, seed, samples=samples,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))
        replacements: list[int] = []
        if dropouts:
            index = {pid: i for i, pid in enumerate(inst.ids)}
            wanted = [d.strip() for d in dropouts.split(",") if d.strip()]
            missing = [d for d in wanted if d not in index]
            if missing:
                raise InputError(f"unknown id(s) {', '.join(missing)}", where="--dropouts")
            with c_stdout_to_stderr():
                replacements = replace_dropouts(inst, result.panel, [index[d] for d in wanted], seed)
        command = _command_line(categories, respondents, k, algorithm, seed, household_column,
                                id_column, samples)
        shares = _population(warehouse, population, period) if population else None
        audit = build_audit(result, command=command, population=shares)
        if report is not None:
            text = to_json(audit) if report.suffix.lower() == ".json" else render_report(audit)
            report.write_text(text, encoding="utf-8")
        figures = summary(result.probabilities, k)
        panel_ids = [inst.ids[i] for i in result.panel]
        if as_json:
            out = {"probabilities": {pid: float(p) for pid, p in zip(inst.ids, result.probabilities)},
                   "panel": panel_ids, "seed": seed, "algorithm": algorithm,
                   "exact": result.exact, "min_probability": figures["min_probability"],
                   "gini": figures["gini"], "geometric_mean": figures["geometric_mean"],
                   "all_quotas_met": audit["all_quotas_met"],
                   "distribution_sha256": audit["distribution_sha256"],
                   "distribution": audit["distribution"], "command": command}
            if dropouts:
                out["replacements"] = [inst.ids[i] for i in replacements]
            typer.echo(json.dumps(out, ensure_ascii=False))
            return
        kind = "exact" if result.exact else f"estimated from {samples} draws"
        typer.echo(f"# selection probabilities ({algorithm}, {kind})")
        typer.echo("id\tprobability")
        for pid, p in zip(inst.ids, result.probabilities):
            typer.echo(f"{pid}\t{p:.6f}")
        typer.echo(f"# panel (seed {seed}, {len(panel_ids)} people): {', '.join(panel_ids)}")
        if dropouts:
            typer.echo(f"# replacements: {', '.join(inst.ids[i] for i in replacements)}")
        typer.echo(f"# min {figures['min_probability']:.4f}  gini {figures['gini']:.4f}  "
                   f"geometric mean {figures['geometric_mean']:.4f}  (mean k/n {k / inst.n:.4f})")
        typer.echo(f"# re-run: {command}")
        if report is not None:
            typer.echo(f"# audit written to {report}")

    @app.command("beraad-quota")
    def beraad_quota(
        gemeente: str = typer.Argument(..., help="Gemeente code, e.g. GM0034 (Almere)."),
        k: int = typer.Option(..., "--k", help="Panel size."),
        output: Path = typer.Option(Path("categories.csv"), "--output", "-o", help="categories.csv to write."),
        slack: float = typer.Option(0.15, "--slack", help="Widen each target share·k by this fraction."),
        wijk: bool = typer.Option(False, "--wijk/--no-wijk", help="Add a quota per wijk (by population)."),
        warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse", "-w", help="Warehouse file (DuckDB)."),
        period: str = typer.Option("2024", "--period", help="CBS period."),
    ) -> None:
        """Write quotas (categories.csv) from the CBS make-up of a gemeente: gender, age (15+), wijk."""
        from weefsel.participation.sortition.io import write_categories
        from weefsel.participation.sortition.quotas import (
            quota_notes,
            quotas_from_population,
        )
        shares = _population(warehouse, gemeente, period, wijk=wijk)
        quotas = quotas_from_population(shares, k, slack=slack)
        write_categories(quotas, output)
        for q in quotas:
            typer.echo(f"{q.category}\t{q.feature}\t{q.min}\t{q.max}")
        for note in quota_notes(shares, k, slack=slack):
            typer.echo(f"# note: {note}")
        typer.echo(f"# {len(quotas)} quotas for {gemeente} (CBS {period}, k={k}, slack {slack:.0%}) written to {output}")

    @app.command("beraad-verify")
    def beraad_verify(
        published: str = typer.Argument(..., help="JSON from `weefsel beraad --json` or the JSON audit; - reads stdin."),
        seed: int | None = typer.Option(None, "--seed", help="Seed to check (default: the one in the file)."),
    ) -> None:
        """Re-draw the panel from a published distribution and seed (no solver, no pool file needed)."""
        import sys

        from weefsel.errors import InputError
        from weefsel.participation.sortition.select import draw_from_published
        where = "stdin" if published == "-" else published
        try:
            raw = sys.stdin.read() if published == "-" else Path(published).read_text(encoding="utf-8")
            data = json.loads(raw)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the file ({exc.__class__.__name__})", where=where) from None
        except json.JSONDecodeError as exc:
            hint = " (is the HiGHS banner or other text mixed in?)" if raw.lstrip()[:1] not in ("{", "[") else ""
            raise InputError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}",
                             where=where) from None
        dist = data.get("distribution") if isinstance(data, dict) else None
        if not dist:
            raise InputError("no 'distribution' (LEGACY draws publish none)", where=where)
        seed = data.get("seed") if seed is None else seed
        if seed is None:
            raise InputError("no seed in the file; pass --seed", where=where)
        panel = draw_from_published(dist, int(seed))
        typer.echo(f"panel for seed {seed}: {', '.join(panel)}")
        if "panel" in data:
            same = sorted(panel) == sorted(data["panel"])
            typer.echo("OK: the published panel matches the seed" if same
                       else "MISMATCH: the published panel is not what this seed selects")
            raise typer.Exit(0 if same else 1)
